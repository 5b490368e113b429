"""The conform plan: what to do to a clip so the model takes it, decided from facts alone.

:func:`plan_conform` is pure: from what the probe found (:class:`MediaInfo`), the part the user
asked for (:class:`Window`), the model's :class:`~reskin.registry.spec.InputLimits` and, when
known, the file's :class:`Layout`, it chooses one of three actions, each with its reasons in a
few words:

- ``passthrough``: the file goes as it is (a hard link): MP4, H.264 yuv420p, even sizes within
  the limits, a constant rate within them, index first (or anywhere, for a clip sent inline as
  a data URI), nothing private in its metadata;
- ``copy``: the streams are copied into a new MP4 (a few hundredths of a second): a Matroska or
  QuickTime container, metadata to strip, the index at the end of a clip the service fetches by
  URL, a window that starts on a
  keyframe, Opus or 5.1 sound (which alone is re-encoded, to AAC stereo);
- ``encode``: libx264 yuv420p: rotation to bake in, a variable or out-of-range frame rate, odd
  or out-of-range sizes, another codec or pixel format, a clip to pad, a window that does not
  start on a keyframe (a copied cut can only start on one, see ``conform_copy_command``).

A clip shorter than the model's minimum is sent longer and the result cut back afterwards: with
more of the clip when there is more after the window, else by repeating the last frame (and
padding the sound with silence). A clip longer than the maximum needs a window: long videos are
refused with a hint until they can be split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from reskin.errors import OutOfLimitsError
from reskin.registry.spec import InputLimits

if TYPE_CHECKING:  # annotations only: the command line's request imports this module
    from reskin.media.commands import AudioOut
    from reskin.media.probe import MediaInfo

#: How far a conformed clip's length may stray from the plan: a copied cut ends on a packet.
DURATION_TOLERANCE_S = 0.1
#: An ``end`` this little past the clip's end is taken to mean "to the end".
END_SLACK_S = 0.1

_CODEC_NAMES = {
    "h264": "H.264",
    "hevc": "HEVC",
    "vp9": "VP9",
    "vp8": "VP8",
    "av1": "AV1",
    "mpeg4": "MPEG-4 part 2",
    "prores": "ProRes",
    "mjpeg": "Motion JPEG",
}
_CONTAINER_NAMES = {"matroska": "Matroska", "mov": "QuickTime", "mp4": "MP4"}
_AUDIO_NAMES = {"aac": "AAC", "opus": "Opus", "mp3": "MP3", "ac3": "AC-3", "vorbis": "Vorbis"}


class Action(StrEnum):
    """What conforming does to the video stream."""

    PASSTHROUGH = "passthrough"
    COPY = "copy"
    ENCODE = "encode"


@dataclass(frozen=True)
class Window:
    """The part of the clip to edit, in seconds from its start; ``end_s`` None: to the end."""

    start_s: float = 0.0
    end_s: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("`start_s`", self.start_s), ("`end_s`", self.end_s)):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise OutOfLimitsError(f"{name} must be a number of seconds, 0 or more")


@dataclass(frozen=True)
class Layout:
    """What the demuxer tells beyond :class:`MediaInfo`: where a copy may start and whether the
    file may leave as it is (read by ``reskin.media.conform.read_layout``)."""

    #: Times of the video keyframes, from the start of the clip.
    keyframes_s: tuple[float, ...] = ()
    #: The MP4 index (``moov``) comes before the data, so a reader can start at once.
    faststart: bool = False
    #: Metadata keys that may say who or where (creation time, location, titles...).
    private_tags: tuple[str, ...] = ()
    #: Streams beyond the first video and the first audio (subtitles, timecode, a second track).
    extra_streams: int = 0


@dataclass(frozen=True)
class ConformPlan:
    """What ``reskin.media.conform.conform`` will do, and why."""

    action: Action
    reasons: tuple[str, ...]
    #: Where the part sent to the model starts in the source.
    start_s: float
    #: How long the final video must last: the window (or the whole clip).
    duration_s: float
    #: How much of the source is sent: more than ``duration_s`` when a short window is extended.
    read_s: float
    #: The length of the clip sent, when the last frame is repeated to reach it.
    pad_to_s: float | None
    #: The picture as displayed: even, within the model's sides, the source's aspect kept.
    width: int
    height: int
    #: A constant frame rate within the model's range.
    fps: float
    audio: AudioOut

    @property
    def sent_s(self) -> float:
        """The length of the conformed clip: what the model receives."""
        return self.pad_to_s if self.pad_to_s is not None else self.read_s

    @property
    def cut_back(self) -> bool:
        """The result must be cut back to ``duration_s`` afterwards."""
        return self.sent_s > self.duration_s + 1e-6

    def describe(self) -> str:
        """One line for the log: the action and its reasons."""
        if self.action is Action.PASSTHROUGH:
            return "passthrough (already conforms)"
        label = "stream copy, no re-encode" if self.action is Action.COPY else "re-encode"
        return f"{label} ({'; '.join(self.reasons)})"


def plan_conform(
    info: MediaInfo,
    *,
    window: Window | None = None,
    limits: InputLimits,
    layout: Layout | None = None,
    inline: bool = False,
) -> ConformPlan:
    """Decide how to make ``info``'s clip (or its ``window``) acceptable to the model.

    ``layout`` (from ``reskin.media.conform.read_layout``) allows a passthrough and a copied cut
    that does not start at 0; without it the plan assumes the worst of the file. ``inline``:
    the clip goes in the create's body as a data URI, read whole before anything is decoded,
    so an index at the end is no reason to copy it (a URL's reader may start at the front).
    Raises :class:`OutOfLimitsError` for what only the user can settle: a clip over the maximum
    length without a window, a window outside the clip or too long, a picture too narrow for
    any size the model allows.
    """
    start, length = _window(info, window, limits)
    read = length
    pad_to: float | None = None
    encode: list[str] = []
    if length < limits.min_duration_s:
        read = min(limits.min_duration_s, info.duration_s - start)
        if read < limits.min_duration_s - 1e-6:
            pad_to = limits.min_duration_s
            encode.append(
                f"{read:.2f} s is under {limits.min_duration_s:g} s: pad to "
                f"{limits.min_duration_s:g} s with the last frame, cut back after"
            )
    width, height = conform_size(info.display_width, info.display_height, limits)
    fps = conform_fps(info.fps, variable=info.variable_fps, limits=limits)
    encode += _picture_reasons(info, width, height, fps, limits)
    estimated = info.size_bytes * read / info.duration_s if info.duration_s > 0 else 0.0
    if estimated > limits.max_bytes:
        encode.append(
            f"about {estimated / 1e6:.0f} MB, over the {limits.max_bytes / 1e6:g} MB limit"
        )
    copy_start = start
    if start > 0 and not encode:
        keyframe = _keyframe_at(start, layout, fps)
        if keyframe is None:
            encode.append(f"window starts at {start:.2f} s, between keyframes")
        else:
            copy_start = keyframe
    if encode and pad_to is None and read > length + 1e-6:
        encode.append(_extended(length, read, limits))
    if encode:
        return ConformPlan(
            action=Action.ENCODE,
            reasons=tuple(encode + _audio_reasons(info, "aac")),
            start_s=start,
            duration_s=length,
            read_s=read,
            pad_to_s=pad_to,
            width=width,
            height=height,
            fps=fps,
            audio="aac" if info.has_audio else "none",
        )
    audio = _copied_audio(info)
    copy = _copy_reasons(
        info, layout, start=copy_start, length=length, read=read, limits=limits, inline=inline
    )
    copy += _audio_reasons(info, audio)
    return ConformPlan(
        action=Action.COPY if copy else Action.PASSTHROUGH,
        reasons=tuple(copy) or ("already conforms",),
        start_s=copy_start,
        duration_s=length,
        read_s=read,
        pad_to_s=None,
        width=width,
        height=height,
        fps=fps,
        audio=audio,
    )


def conform_size(width: int, height: int, limits: InputLimits) -> tuple[int, int]:
    """The displayed ``width`` x ``height`` made even and within the model's sides, its aspect
    kept as closely as even numbers allow: small pictures are scaled up, large ones down."""
    if width <= 0 or height <= 0:
        raise OutOfLimitsError(f"the picture is {width}x{height}: export the video again")
    short, long = min(width, height), max(width, height)
    if long / short > limits.max_aspect + 1e-9:
        raise OutOfLimitsError(
            f"the picture is {width}x{height}, longer than {limits.max_aspect:g}:1, so no size "
            f"within {limits.min_side}..{limits.max_side} px keeps its shape: crop it"
        )
    scale = 1.0
    if short < limits.min_side:
        scale = limits.min_side / short
    if long * scale > limits.max_side:
        scale = limits.max_side / long
    aspect = width / height
    wanted_w, wanted_h = width * scale, height * scale
    candidates = [
        (w, h)
        for w in _evens_near(wanted_w, limits.min_side, limits.max_side)
        for h in _evens_near(wanted_h, limits.min_side, limits.max_side)
    ]
    return min(
        candidates,
        key=lambda size: (
            round(abs(size[0] / size[1] - aspect) / aspect, 6),
            abs(size[0] - wanted_w) + abs(size[1] - wanted_h),
        ),
    )


def conform_fps(fps: float, *, variable: bool, limits: InputLimits) -> float:
    """The constant rate to encode at: the source's (a variable one rounded to whole frames),
    clamped into the model's range; 23.976 becomes 24, 120 becomes 60."""
    if not math.isfinite(fps) or fps <= 0:
        return limits.min_fps  # unknown: the slowest rate the model takes
    rate = float(round(fps)) if variable else fps
    return min(max(rate, limits.min_fps), limits.max_fps)


def _window(info: MediaInfo, window: Window | None, limits: InputLimits) -> tuple[float, float]:
    total = info.duration_s
    most = limits.max_duration_s
    if window is None:
        if total > most:
            raise OutOfLimitsError(
                f"the video lasts {total:.2f} s and {limits.model} edits at most {most:g} s: "
                f"choose a part of it of at most {most:g} s with `start_s` and `end_s`, or a model "
                "that edits longer clips"
            )
        return 0.0, total
    start = window.start_s
    end = total if window.end_s is None else window.end_s
    if start >= total:
        raise OutOfLimitsError(
            f"`start_s` {start:.2f} s is at or after the end of the video ({total:.2f} s): "
            "choose an earlier start"
        )
    if end <= start:
        raise OutOfLimitsError(
            f"`end_s` {end:.2f} s is not after `start_s` {start:.2f} s: choose a later end"
        )
    if end > total + END_SLACK_S:
        raise OutOfLimitsError(
            f"`end_s` {end:.2f} s is after the end of the video ({total:.2f} s): "
            f"choose `end_s` {total:.2f} or less"
        )
    end = min(end, total)
    if end - start > most:
        raise OutOfLimitsError(
            f"the part from {start:.2f} s to {end:.2f} s lasts {end - start:.2f} s and "
            f"{limits.model} edits at most {most:g} s: choose `start_s` and `end_s` at most "
            f"{most:g} s apart"
        )
    return start, end - start


def _picture_reasons(
    info: MediaInfo, width: int, height: int, fps: float, limits: InputLimits
) -> list[str]:
    reasons: list[str] = []
    if info.rotation:
        reasons.append(f"rotated {info.rotation}°: re-encode to bake the rotation")
    shown_w, shown_h = info.display_width, info.display_height
    if (width, height) != (shown_w, shown_h):
        if shown_w % 2 or shown_h % 2:
            why = "odd size"
        elif min(shown_w, shown_h) < limits.min_side:
            why = f"under {limits.min_side} px"
        else:
            why = f"over {limits.max_side} px"
        reasons.append(f"{shown_w}x{shown_h} {why}: {width}x{height}")
    if info.variable_fps:
        reasons.append(f"VFR (avg {_fps_text(info.fps)} fps): {_fps_text(fps)} fps constant")
    elif abs(fps - info.fps) > 1e-6:
        reasons.append(
            f"{_fps_text(info.fps)} fps outside {limits.min_fps:g}..{limits.max_fps:g}: "
            f"{_fps_text(fps)} fps"
        )
    codec = _CODEC_NAMES.get(info.video_codec, info.video_codec)
    pix_fmt = info.pix_fmt or "unknown pixels"
    if info.video_codec != "h264":
        reasons.append(f"{codec}{_depth(pix_fmt)}: H.264 yuv420p")
    elif pix_fmt != "yuv420p":
        reasons.append(f"H.264 {pix_fmt}: yuv420p")
    return reasons


def _copy_reasons(
    info: MediaInfo,
    layout: Layout | None,
    *,
    start: float,
    length: float,
    read: float,
    limits: InputLimits,
    inline: bool,
) -> list[str]:
    reasons: list[str] = []
    if info.container != "mp4":
        reasons.append(f"{_CONTAINER_NAMES.get(info.container, info.container)} container")
    if start > 0 or read < info.duration_s - DURATION_TOLERANCE_S:
        reasons.append(f"window {start:.2f}..{start + length:.2f} s of {info.duration_s:.2f} s")
    if read > length + 1e-6:
        reasons.append(_extended(length, read, limits))
    if layout is None:
        reasons.append("file layout not read: remux to be sure of it")
        return reasons
    if not layout.faststart and info.container == "mp4" and not inline:
        reasons.append("index at the end: move it to the front")
    if layout.private_tags:
        reasons.append(f"metadata to strip ({', '.join(layout.private_tags[:4])})")
    if layout.extra_streams:
        reasons.append(f"{layout.extra_streams} extra stream(s) to drop")
    return reasons


def _extended(length: float, read: float, limits: InputLimits) -> str:
    return (
        f"{length:.2f} s is under {limits.min_duration_s:g} s: send {read:.2f} s of the clip, "
        "cut back after"
    )


def _copied_audio(info: MediaInfo) -> AudioOut:
    if not info.has_audio:
        return "none"
    if info.audio_codec == "aac" and (info.audio_channels or 0) <= 2:
        return "copy"
    return "aac"


def _audio_reasons(info: MediaInfo, audio: AudioOut) -> list[str]:
    if audio != "aac" or not info.has_audio:
        return []
    if info.audio_codec == "aac" and (info.audio_channels or 0) <= 2:
        return []  # re-encoded along with the video, not for its own sake
    codec = _AUDIO_NAMES.get(info.audio_codec or "", info.audio_codec or "unknown")
    return [f"{codec} {info.audio_channels}-channel sound: AAC stereo"]


def _keyframe_at(start: float, layout: Layout | None, fps: float) -> float | None:
    """The keyframe time within half a frame of ``start``, if there is one."""
    if layout is None:
        return None
    half_frame = 0.5 / fps
    near = [t for t in layout.keyframes_s if abs(t - start) <= half_frame]
    return min(near, key=lambda t: abs(t - start)) if near else None


def _evens_near(value: float, low: int, high: int) -> list[int]:
    below = math.floor(value / 2) * 2
    lowest, highest = low + low % 2, high - high % 2
    return sorted({min(max(candidate, lowest), highest) for candidate in (below, below + 2)})


def _depth(pix_fmt: str) -> str:
    for bits in ("10", "12"):
        if bits in pix_fmt:
            return f" {bits}-bit"
    return f" {pix_fmt}" if pix_fmt != "yuv420p" else ""


def _fps_text(fps: float) -> str:
    return f"{fps:.3f}".rstrip("0").rstrip(".")
