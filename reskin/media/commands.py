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

import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, NamedTuple

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
#: Where a sync mark shows: the whole picture, or a box in its top-left corner.
MarkShape = Literal["full", "corner"]
#: A moving scene of :data:`_SCENE_SOURCES` by name, drawn instead of a render's source picture.
SceneName = Literal["mandelbrot", "life", "testsrc", "testsrc2", "gradients"]
VideoCodec = Literal["libx264", "libx265", "mpeg4", "libvpx-vp9"]
AudioCodec = Literal["aac", "libopus"]
ClipContainer = Literal["mp4", "mov", "mkv"]
#: What a remux does with the first audio stream: drop it, copy it, or make it AAC stereo.
AudioOut = Literal["none", "copy", "aac"]

#: Every sound reskin writes: AAC stereo at 48 kHz (5.1 is downmixed, Opus decoded).
AAC_STEREO: dict[str, Any] = {"c:a": "aac", "ac": 2, "ar": 48000, "b:a": "160k"}
#: Every MP4 reskin writes: index first (a service can start reading before the end arrives),
#: no metadata and no chapters from the source (phone GPS and names stay home).
MP4_OUT: dict[str, Any] = {
    "f": "mp4",
    "movflags": "+faststart",
    "map_metadata": -1,
    "map_chapters": -1,
}
#: A sync mark: a white picture and a 1 kHz beep during the first 0.1 s of every whole second.
SYNC_MARK_S = 0.1

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MUXERS: dict[str, str] = {"mp4": "mp4", "mov": "mov", "mkv": "matroska"}
_PATTERNS = frozenset({"testsrc2", "smptebars"})
_MARKS = frozenset({"full", "corner"})


class _SceneSource(NamedTuple):
    """A lavfi source of a scene: its name, its options (``:name=value``...), how many times
    smaller it is drawn than the clip, how it is scaled up, and the filters (without options)
    it is seen through."""

    name: str
    options: str
    shrink: int = 1
    scaler: str = "neighbor"
    through: tuple[str, ...] = ()


#: The scenes after the first, in turn: moving lavfi sources (all in ffmpeg 5.1), each unlike
#: the ones beside it, seeded so every run draws the same. The costly ones are drawn at 1/n of
#: the size and scaled up (life with square cells). ffmpeg's scene score finds every cut from
#: one to the next (0.45 to 1) and nothing inside them (under 0.15, marks included); sources
#: that change every pixel every frame (cellauto) or jump about (sierpinski) fail that.
_SCENE_SOURCES: tuple[_SceneSource, ...] = (
    _SceneSource("mandelbrot", ":maxiter=256:end_pts=1600", 2, "bilinear"),  # a slow zoom
    _SceneSource("life", ":random_seed=7:mold=10:life_color=yellow:death_color=darkred", 8),
    _SceneSource("testsrc", ""),  # a scrolling test card with a counter
    _SceneSource("testsrc2", "", through=("hflip", "negate")),  # mirrored, inverted
    _SceneSource("gradients", ":seed=7:speed=0.05", 2, "bilinear"),  # turning colours
)


def render_command(
    exe: Path,
    source: Path,
    output: Path,
    *,
    filters: Sequence[FilterStep],
    width: int,
    height: int,
    fps: float = 24,
    keep_audio: bool = False,
    preset: str = "veryfast",
    crf: int = 23,
    max_duration_s: float | None = None,
    scene: SceneName | None = None,
    reverse: bool = False,
) -> list[str]:
    """Re-encode ``source`` through a look: scaled to ``width`` x ``height`` (even numbers, the
    displayed orientation: ffmpeg auto-rotates), the filter chain, ``fps`` constant frame rate,
    H.264 yuv420p in MP4 with ``+faststart``; no audio unless ``keep_audio``, then the source's
    first audio stream (if any) as AAC stereo. ``max_duration_s`` keeps only that many seconds
    from the start (``-t``; a shorter source stays as long as it is).

    Two ways to make a wrong result on purpose (the stand-in's faults): ``scene`` draws that
    moving scene of :data:`_SCENE_SOURCES` over the whole picture, the source's frames only
    setting the clock (``overlay`` ending with them), so the result lasts as long but shows
    something else; ``reverse`` plays the frames backwards (``reverse``, after ``trim`` to
    ``max_duration_s``: it holds every frame of the output in memory, so short clips only). The
    sound, when kept, stays as it is."""
    _check_even(width, height)
    rate = _rate(fps)
    src = _file_input(source)
    # Scale first: the look then runs on at most the output size, not on a 4K source.
    video = src["v:0"].filter("scale", width, height).filter("setsar", 1)
    if scene is not None:
        # At the output's rate before the overlay: an fps after it drops the last frame (the
        # overlay ends at the last frame's time, not after its duration).
        video = video.filter("fps", rate).overlay(
            _scene_picture(scene, width, height, rate), shortest=1
        )
    for name, options in filters:
        video = video.filter(_checked_name(name), **_numeric(name, options))
    if scene is None:
        video = video.filter("fps", rate)
    video = video.filter("format", "yuv420p")
    if reverse:
        if max_duration_s is not None:  # reverse only what -t keeps, not the source's tail
            video = video.filter("trim", duration=_span(max_duration_s))
        video = video.filter("reverse")
    streams: list[Any] = [video]
    output_options: dict[str, Any] = {"an": None}
    if keep_audio:
        streams.append(src["a:0?"])
        output_options = {"c:a": "aac", "ac": 2, "b:a": "128k"}
    if max_duration_s is not None:
        output_options["t"] = _span(max_duration_s)
    out = ffmpeg.output(
        *streams,
        _path(output),
        f="mp4",
        vcodec="libx264",
        preset=preset,
        crf=crf,
        pix_fmt="yuv420p",
        r=rate,
        fps_mode="cfr",
        movflags="+faststart",
        map_metadata=-1,
        **output_options,
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
    sync_marks: bool = False,
    keyint: int | None = None,
    scenes: tuple[float, ...] = (),
    mark: MarkShape = "full",
) -> list[str]:
    """A generated clip (lavfi ``pattern`` plus a 440 Hz sine) for fixtures and the demo.

    ``variable_fps`` drops every third frame and keeps the gaps, so the average rate is two
    thirds of the nominal ``fps``. ``sync_marks`` replaces the sine with silence and a 1 kHz beep
    at each whole second, and turns the picture white for that beep's :data:`SYNC_MARK_S`, so a
    test can measure audio against video: the whole picture (``mark="full"``), or only a box in
    the top-left corner a quarter of the width and of the height (``mark="corner"``), which a
    scene detector does not take for a cut (ffmpeg's scene score of its onset is about 0.1,
    where a whole white frame scores 1). ``keyint`` fixes the distance between keyframes (in
    frames) and turns scene-cut keyframes off, so the keyframe times are known.

    ``scenes`` are the times (ascending, inside the clip) where the picture cuts to another
    scene: ``pattern`` until the first cut, then in turn the moving sources of
    :data:`_SCENE_SOURCES`, each unlike the scenes beside it (ffmpeg's scene score of every cut
    is 0.45 or more, of every other frame under 0.15). Each cut is moved to the nearest frame
    boundary, ``round(cut * fps) / fps``, so a scene holds whole frames and the clip still lasts
    ``duration_s``; a cut must leave at least one frame on each side. Unless ``keyint`` is
    given, a keyframe is forced on the first frame of every scene (x264's ``ultrafast`` turns
    its own scene-cut detection off).
    """
    if pattern not in _PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}")
    if mark not in _MARKS:
        raise ValueError(f"unknown mark {mark!r}")
    if not re.fullmatch(r"[a-z0-9]+", pix_fmt):
        raise ValueError(f"bad pix_fmt {pix_fmt!r}")
    bounds = _scene_bounds(scenes, duration_s=duration_s, fps=fps) if scenes else []
    cuts = bounds[1:-1]
    if cuts:
        video = _scenes_video(bounds, pattern, size=(width, height), fps=fps)
    else:
        # lavfi inputs are graphs, not files: they get the lavfi demuxer and nothing else.
        video = _lavfi(
            f"{pattern}=size={int(width)}x{int(height)}:rate={float(fps):g}"
            f":duration={float(duration_s):g}"
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
    if keyint is not None:
        options.update({"g": int(keyint), "sc_threshold": 0})
    elif cuts:
        options["force_key_frames"] = _frames_at(cuts, fps)
    marked = f"lt(mod(t,1),{SYNC_MARK_S:g})"
    if sync_marks:
        box: dict[str, Any] = {"w": "iw", "h": "ih"}
        if mark == "corner":
            box = {"w": max(int(width) // 4, 1), "h": max(int(height) // 4, 1)}
        video = video.filter("drawbox", x=0, y=0, **box, color="white", t="fill", enable=marked)
    if variable_fps:
        video = video.filter("select", "mod(n,3)")
        options["fps_mode"] = "vfr"
    streams: list[Any] = [video]
    if audio:
        tone = "frequency=440:sample_rate=48000"
        if sync_marks:
            # 48-sample frames: the volume expression is evaluated per frame, so a beep starts
            # within 1 ms of its second instead of within one default 1024-sample frame (21 ms).
            tone = "frequency=1000:sample_rate=48000:samples_per_frame=48"
        sound = _lavfi(f"sine={tone}:duration={float(duration_s):g}").audio
        if sync_marks:
            sound = sound.filter("volume", volume=marked, eval="frame")
        streams.append(sound)
        options.update({"acodec": acodec, "ac": int(audio_channels)})
    return _compile(ffmpeg.output(*streams, _path(output), **options), exe)


def _scene_picture(name: SceneName, width: int, height: int, rate: str) -> Any:
    """The moving scene ``name`` of :data:`_SCENE_SOURCES`, endless, at ``width`` x ``height``."""
    found = [source for source in _SCENE_SOURCES if source.name == name]
    if not found:
        raise ValueError(f"unknown scene {name!r}")
    source = found[0]
    drawn = f"{max(width // source.shrink, 16)}x{max(height // source.shrink, 16)}"
    picture = _lavfi(f"{source.name}=size={drawn}:rate={rate}{source.options}").video
    picture = picture.filter("scale", width, height, flags=source.scaler)
    for step in source.through:
        picture = picture.filter(step)
    return picture.filter("setsar", 1)


def _lavfi(graph: str) -> Any:
    """A lavfi source: a graph, not a file, so it gets the lavfi demuxer and nothing else."""
    return ffmpeg.input(graph, f="lavfi", format_whitelist="lavfi")


def _scene_bounds(scenes: Sequence[float], *, duration_s: float, fps: float) -> list[int]:
    """The first frame of every scene, then the clip's frame count: each cut is rounded to the
    nearest frame, and must leave at least one frame to each side of it."""
    total = math.ceil(_finite(duration_s, "duration") * _finite(fps, "frame rate") - 1e-6)
    bounds = [0, *(round(_finite(cut, "scene cut") * fps) for cut in scenes), total]
    if any(later <= earlier for earlier, later in pairwise(bounds)):
        raise ValueError(
            f"scene cuts must ascend inside the clip, a frame apart at {fps:g} fps: {scenes!r}"
        )
    return bounds


def _frames_at(frames: Sequence[int], fps: float) -> str:
    """A ``-force_key_frames`` expression true for exactly these frames (CFR): each frame's time
    is tested against a window a frame wide around it, so no rounding of a time, in whatever
    time base the encoder counts (5.1 and 6.0+ differ), lands on the frame beside it."""
    windows = (
        f"gte(t,{(frame - 0.5) / fps:.6f})*lt(t,{(frame + 0.5) / fps:.6f})" for frame in frames
    )
    return "expr:" + "+".join(windows)


def _scenes_video(bounds: Sequence[int], pattern: str, *, size: tuple[int, int], fps: float) -> Any:
    """``pattern`` up to the first cut, then the :data:`_SCENE_SOURCES` in turn, each cut to
    its whole frames (``trim``) and joined end to end (``concat``)."""
    width, height = int(size[0]), int(size[1])
    parts: list[Any] = []
    for index, (start, end) in enumerate(pairwise(bounds)):
        source = (
            _SceneSource(pattern, "")
            if index == 0
            else _SCENE_SOURCES[(index - 1) % len(_SCENE_SOURCES)]
        )
        drawn = f"{max(width // source.shrink, 16)}x{max(height // source.shrink, 16)}"
        part = _lavfi(f"{source.name}=size={drawn}:rate={_rate(fps)}{source.options}").video
        # A later scene skips its first second (life's first generations die off in a flash).
        lead_in = 0 if index == 0 else math.ceil(fps)
        part = part.filter("trim", start_frame=lead_in, end_frame=lead_in + end - start)
        part = part.filter("setpts", "PTS-STARTPTS")
        if source.shrink > 1:
            part = part.filter("scale", width, height, flags=source.scaler)
        for name in source.through:
            part = part.filter(name)
        parts.append(part.filter("setsar", 1))
    # Frame n at n / fps in a time base of 1 / fps, as a single source stamps it: concat's own
    # stamps are rounded to the microsecond, and a whole second stamped a hair early would
    # start its mark (``lt(mod(t,1),0.1)``) a frame late.
    tick = 1 / Fraction(_rate(fps))
    joined = ffmpeg.concat(*parts, v=1, a=0)
    return joined.filter("settb", f"{tick.numerator}/{tick.denominator}").filter("setpts", "N")


def tag_rotation_command(exe: Path, source: Path, output: Path, *, degrees: int) -> list[str]:
    """Copy ``source`` with a display rotation of ``degrees`` (counter-clockwise), as a phone
    would write it; no re-encode. Used to make rotated fixtures."""
    if degrees % 90:
        raise ValueError("rotation must be a multiple of 90 degrees")
    src = _file_input(source, display_rotation=int(degrees))
    out = ffmpeg.output(src["v:0"], src["a:0?"], _path(output), c="copy", map_metadata=-1)
    return _compile(out, exe)


def conform_copy_command(
    exe: Path,
    source: Path,
    output: Path,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    audio: AudioOut = "copy",
) -> list[str]:
    """Remux the first video stream of ``source`` (copied: never re-encoded) and its first audio
    stream into an MP4 with ``+faststart`` and no metadata, from ``start_s`` for ``duration_s``.

    A copy can only start on a keyframe: ffmpeg seeks to the keyframe at or before ``start_s``
    and hides the frames before ``start_s`` behind an edit list, so a ``start_s`` that is not a
    keyframe time gives a file whose first GOP is partly invisible. The caller decides when a
    copy is exact (see :mod:`reskin.media.conform_plan`); the seek is rounded up to the
    microsecond so a keyframe time written in decimals never lands on the keyframe before it.
    """
    src = _file_input(source, **_window_options(start_s, duration_s))
    streams: list[Any] = [src["v:0"]]
    options: dict[str, Any] = {**MP4_OUT, "c:v": "copy"}
    if audio == "none":
        options["an"] = None
    else:
        streams.append(src["a:0?"])
        options.update({"c:a": "copy"} if audio == "copy" else AAC_STEREO)
    return _compile(ffmpeg.output(*streams, _path(output), **options), exe)


def conform_encode_command(
    exe: Path,
    source: Path,
    output: Path,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    width: int,
    height: int,
    fps: float,
    pad_to_s: float | None = None,
    audio: bool = True,
    preset: str = "veryfast",
    crf: int = 20,
) -> list[str]:
    """Re-encode ``start_s`` .. ``start_s + duration_s`` of ``source`` to what the model takes:
    ``width`` x ``height`` as displayed (ffmpeg turns a rotated picture upright before the
    filters and writes no rotation), ``fps`` constant, H.264 yuv420p (forced: a 10-bit or 4:4:4
    source would otherwise give High 10 or 4:4:4 H.264), AAC stereo, MP4 ``+faststart``.

    The seek decodes from the keyframe before ``start_s`` and drops frames up to it, so the cut is
    exact. ``pad_to_s`` makes a short clip that long: the last frame is repeated (``tpad``) and
    the sound padded with silence (``apad``); the caller cuts the result back.
    """
    _check_even(width, height)
    src = _file_input(source, **_window_options(start_s, duration_s))
    video = src["v:0"].filter("scale", int(width), int(height)).filter("setsar", 1)
    video = video.filter("fps", _rate(fps))
    output_options: dict[str, Any] = {}
    if pad_to_s is not None:
        # Padding by the whole target is always enough; -t cuts the surplus.
        video = video.filter("tpad", stop_mode="clone", stop_duration=_span(pad_to_s))
        output_options["t"] = _span(pad_to_s)
    elif duration_s is not None:
        # The input's -t alone is not enough: ffmpeg 5.1 (not 9.0) went 0.7 s past it after a
        # seek deep into a long file (478.5 s in: 241 frames for 224), failing the conform.
        output_options["t"] = _span(duration_s)
    video = video.filter("format", "yuv420p")
    streams: list[Any] = [video]
    if audio:
        sound = src["a:0"].filter("apad") if pad_to_s is not None else src["a:0?"]
        streams.append(sound)
        output_options.update(AAC_STEREO)
    else:
        output_options["an"] = None
    out = ffmpeg.output(
        *streams,
        _path(output),
        **MP4_OUT,
        vcodec="libx264",
        preset=_checked_word(preset),
        crf=int(crf),
        pix_fmt="yuv420p",
        r=_rate(fps),
        fps_mode="cfr",
        **output_options,
    )
    return _compile(out, exe)


def mux_sound_command(
    exe: Path,
    video: Path,
    sound: Path,
    output: Path,
    *,
    duration_s: float,
    sound_start_s: float = 0.0,
    sound_duration_s: float | None = None,
    tempo: float | None = None,
) -> list[str]:
    """Put ``sound_start_s`` .. ``+ sound_duration_s`` (None: to its end) of the first audio
    stream of ``sound`` under the first video stream of ``video`` (copied), lasting exactly
    ``duration_s``.

    The sound's seek decodes, so it starts on the sample. It is stretched by ``tempo`` (``atempo``:
    above 1 is faster) only when asked, then padded with silence without end and cut by
    ``-t``, which also cuts a longer video: the output lasts ``duration_s`` whichever stream was
    short. ``-t`` rather than ``-shortest``, which ends at the shortest stream *after* padding
    and muxer buffering, and so drifts by up to a frame or two.
    """
    picture = _file_input(video)
    src = _file_input(sound, **_window_options(sound_start_s, sound_duration_s))
    audio = src["a:0"]
    if tempo is not None:
        if not 0.5 <= tempo <= 2.0:
            raise ValueError(f"atempo takes 0.5..2, got {tempo!r}")
        audio = audio.filter("atempo", _number(tempo))
    audio = audio.filter("apad")
    out = ffmpeg.output(
        picture["v:0"],
        audio,
        _path(output),
        **MP4_OUT,
        **AAC_STEREO,
        **{"c:v": "copy"},
        t=_span(duration_s),
    )
    return _compile(out, exe)


def sound_track_command(
    exe: Path, sound: Path, output: Path, *, start_s: float, duration_s: float
) -> list[str]:
    """``start_s`` .. ``+ duration_s`` of the first audio stream of ``sound`` as an MP4 of its
    own (sound only), encoded as :func:`mux_sound_command` encodes it: the same samples (a
    decoding seek, padded with silence, cut by ``-t``) into the same AAC, so that a mux of it
    with :func:`copy_track_command` copies what the mux itself would have made."""
    src = _file_input(sound, **_window_options(start_s, duration_s))
    out = ffmpeg.output(
        src["a:0"].filter("apad"),
        _path(output),
        **MP4_OUT,
        **AAC_STEREO,
        t=_span(duration_s),
    )
    return _compile(out, exe)


def copy_track_command(
    exe: Path, video: Path, track: Path, output: Path, *, duration_s: float
) -> list[str]:
    """The first video stream of ``video`` and the sound of ``track``
    (:func:`sound_track_command`), both copied, cut to ``duration_s``: the final file of a
    restore whose sound was encoded ahead."""
    out = ffmpeg.output(
        _file_input(video)["v:0"],
        _file_input(track)["a:0"],
        _path(output),
        **MP4_OUT,
        c="copy",
        t=_span(duration_s),
    )
    return _compile(out, exe)


def keep_video_command(
    exe: Path,
    video: Path,
    output: Path,
    *,
    duration_s: float | None = None,
    keep_audio: bool = False,
) -> list[str]:
    """Copy the first video stream of ``video`` (and its first audio stream, as it is, when
    ``keep_audio``) into an MP4 with ``+faststart`` and no metadata, cut to ``duration_s``."""
    src = _file_input(video)
    streams: list[Any] = [src["v:0"]]
    options: dict[str, Any] = {**MP4_OUT, "c": "copy"}
    if keep_audio:
        streams.append(src["a:0?"])
    else:
        options["an"] = None
    if duration_s is not None:
        options["t"] = _span(duration_s)
    return _compile(ffmpeg.output(*streams, _path(output), **options), exe)


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


def _window_options(start_s: float, duration_s: float | None) -> dict[str, str]:
    options: dict[str, str] = {}
    if _finite(start_s, "start") > 0:
        options["ss"] = _seek(start_s)
    if duration_s is not None:
        options["t"] = _span(duration_s)
    return options


def _seek(seconds: float) -> str:
    return f"{math.ceil(_finite(seconds, 'start') * 1e6 - 1e-6) / 1e6:.6f}"


def _span(seconds: float) -> str:
    if _finite(seconds, "duration") <= 0:
        raise ValueError(f"a duration must be positive, got {seconds!r}")
    return f"{seconds:.6f}"


def _rate(fps: float) -> str:
    """``fps`` as ffmpeg reads it exactly: 24 as ``24``, 29.97... as ``30000/1001``."""
    if _finite(fps, "frame rate") <= 0:
        raise ValueError(f"a frame rate must be positive, got {fps!r}")
    return str(Fraction(fps).limit_denominator(1001))


def _number(value: float) -> str:
    return f"{_finite(value, 'value'):.6g}"


def _finite(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return float(value)


def _checked_word(word: str) -> str:
    if not re.fullmatch(r"[a-z0-9]+", word):
        raise ValueError(f"bad option value {word!r}")
    return word


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
