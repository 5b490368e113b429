"""Pure functions that build ffmpeg argv lists with ffmpeg-python; nothing here runs ffmpeg.

Every command starts with the same global flags (``-nostdin``: ffmpeg must never wait for a
keypress) and opens every *file* input through :func:`_file_input`, which adds the hostile-input
guards of ``shared/MEDIA.md``: ``-protocol_whitelist file -format_whitelist mov,matroska``, so a
file can neither pull in another file or a URL (HLS playlists, concat lists) nor be read by an
image or audio demuxer. Outputs drop the source's metadata (``-map_metadata -1``: phone GPS stays
home), and audio is mapped with an optional selector (``a:0?``) so silent sources do not fail.

Filter arguments are numbers only (see :data:`FilterStep`), so no text from a user can reach a
filter string. Paths are made absolute so a name can never be read as an option or a protocol.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import ffmpeg

from reskin.media.probe import ALLOWED_FORMATS

GLOBAL_ARGS: tuple[str, ...] = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y")
FILE_INPUT_GUARDS: dict[str, str] = {
    "protocol_whitelist": "file",
    "format_whitelist": ALLOWED_FORMATS,
}

#: One filter of a chain: its name and numeric options, e.g. ``("eq", {"saturation": 1.2})``.
FilterStep = tuple[str, Mapping[str, float]]

Pattern = Literal["testsrc2", "smptebars"]
VideoCodec = Literal["libx264", "libx265", "mpeg4", "libvpx-vp9"]
AudioCodec = Literal["aac", "libopus"]
ClipContainer = Literal["mp4", "mov", "mkv"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MUXERS: dict[str, str] = {"mp4": "mp4", "mov": "mov", "mkv": "matroska"}
_PATTERNS = frozenset({"testsrc2", "smptebars"})


def render_command(
    exe: Path,
    source: Path,
    output: Path,
    *,
    filters: Sequence[FilterStep],
    width: int,
    height: int,
    fps: int = 24,
    keep_audio: bool = False,
    preset: str = "veryfast",
    crf: int = 23,
) -> list[str]:
    """Re-encode ``source`` through a look: scaled to ``width`` x ``height`` (even numbers, the
    displayed orientation: ffmpeg auto-rotates), the filter chain, ``fps`` constant frame rate,
    H.264 yuv420p in MP4 with ``+faststart``; no audio unless ``keep_audio``, then the source's
    first audio stream (if any) as AAC stereo."""
    _check_even(width, height)
    src = _file_input(source)
    # Scale first: the look then runs on at most the output size, not on a 4K source.
    video = src["v:0"].filter("scale", width, height).filter("setsar", 1)
    for name, options in filters:
        video = video.filter(_checked_name(name), **_numeric(name, options))
    video = video.filter("fps", fps).filter("format", "yuv420p")
    streams: list[Any] = [video]
    audio: dict[str, Any] = {"an": None}
    if keep_audio:
        streams.append(src["a:0?"])
        audio = {"c:a": "aac", "ac": 2, "b:a": "128k"}
    out = ffmpeg.output(
        *streams,
        _path(output),
        f="mp4",
        vcodec="libx264",
        preset=preset,
        crf=crf,
        pix_fmt="yuv420p",
        r=fps,
        fps_mode="cfr",
        movflags="+faststart",
        map_metadata=-1,
        **audio,
    )
    return _compile(out, exe)


def synthetic_clip_command(
    exe: Path,
    output: Path,
    *,
    duration_s: float = 3.0,
    width: int = 720,
    height: int = 720,
    fps: float = 24,
    audio: bool = True,
    audio_channels: int = 2,
    vcodec: VideoCodec = "libx264",
    acodec: AudioCodec = "aac",
    container: ClipContainer = "mp4",
    pattern: Pattern = "testsrc2",
    pix_fmt: str = "yuv420p",
    variable_fps: bool = False,
    preset: str = "ultrafast",
) -> list[str]:
    """A generated clip (lavfi ``pattern`` plus a 440 Hz sine) for fixtures and the demo.

    ``variable_fps`` drops every third frame and keeps the gaps, so the average rate is two
    thirds of the nominal ``fps``.
    """
    if pattern not in _PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}")
    if not re.fullmatch(r"[a-z0-9]+", pix_fmt):
        raise ValueError(f"bad pix_fmt {pix_fmt!r}")
    # lavfi inputs are graphs, not files: they get the lavfi demuxer and nothing else.
    video = ffmpeg.input(
        f"{pattern}=size={int(width)}x{int(height)}:rate={float(fps):g}:duration={float(duration_s):g}",
        f="lavfi",
        format_whitelist="lavfi",
    ).video
    options: dict[str, Any] = {
        "f": _MUXERS[container],
        "vcodec": vcodec,
        "pix_fmt": pix_fmt,
        "t": f"{float(duration_s):g}",
        "map_metadata": -1,
    }
    if vcodec in ("libx264", "libx265"):
        options["preset"] = preset
    if variable_fps:
        video = video.filter("select", "mod(n,3)")
        options["fps_mode"] = "vfr"
    streams: list[Any] = [video]
    if audio:
        streams.append(
            ffmpeg.input(
                f"sine=frequency=440:sample_rate=48000:duration={float(duration_s):g}",
                f="lavfi",
                format_whitelist="lavfi",
            ).audio
        )
        options.update({"acodec": acodec, "ac": int(audio_channels)})
    return _compile(ffmpeg.output(*streams, _path(output), **options), exe)


def tag_rotation_command(exe: Path, source: Path, output: Path, *, degrees: int) -> list[str]:
    """Copy ``source`` with a display rotation of ``degrees`` (counter-clockwise), as a phone
    would write it; no re-encode. Used to make rotated fixtures."""
    if degrees % 90:
        raise ValueError("rotation must be a multiple of 90 degrees")
    src = _file_input(source, display_rotation=int(degrees))
    out = ffmpeg.output(src["v:0"], src["a:0?"], _path(output), c="copy", map_metadata=-1)
    return _compile(out, exe)


def fit_size(width: int, height: int, *, long_side: int, short_side: int) -> tuple[int, int]:
    """The largest even size within a ``long_side`` x ``short_side`` box turned like the input
    (landscape or portrait), keeping the aspect ratio and never upscaling."""
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    box_w, box_h = (long_side, short_side) if width >= height else (short_side, long_side)
    scale = min(1.0, box_w / width, box_h / height)
    return _even(width * scale, box_w), _even(height * scale, box_h)


def _even(value: float, limit: int) -> int:
    # Down to even (never upscale by a pixel), but float error must not turn 1280.0 into 1278.
    return max(2, min(limit - limit % 2, int(value + 1e-6) // 2 * 2))


def _file_input(path: Path, **options: Any) -> Any:
    return ffmpeg.input(_path(path), **FILE_INPUT_GUARDS, **options)


def _compile(out: Any, exe: Path) -> list[str]:
    argv: list[str] = out.compile(cmd=[str(exe), *GLOBAL_ARGS])
    return argv


def _path(path: Path) -> str:
    return str(Path(path).resolve())


def _check_even(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"yuv420p needs a positive even size, got {width}x{height}")


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"bad filter name {name!r}")
    return name


def _numeric(filter_name: str, options: Mapping[str, float]) -> dict[str, float]:
    checked: dict[str, float] = {}
    for key, value in options.items():
        if not _NAME.match(key) or isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"filter {filter_name}: option {key!r} must be a number")
        checked[key] = value
    return checked
