"""Probe a local video file: what it holds, as a :class:`MediaInfo`.

Two backends give the same record. PyAV is the default: the pip-shipped ffmpeg has no ffprobe,
and PyAV answers in a few milliseconds. When an ffprobe sits beside the chosen ffmpeg (see
:mod:`reskin.media.binaries`) and the caller passes those tools, ffprobe is run instead, twice at
once: format and streams as JSON (small, whatever the length), and the timing of every packet as
CSV, one line each, read as it comes (:func:`reskin.media.runner.run_lines`) and never held
whole: a 10-minute video has some 45,000 packets, 7.7 MB as JSON. Either way the file is opened
with the demuxer whitelists of ``shared/MEDIA.md`` (``protocol_whitelist=file``,
``format_whitelist=mov,matroska``), so a PNG, WAV, text file, HLS playlist or concat list renamed
``.mp4`` is refused before any demuxer reads it, and nothing but the local file is ever opened.
Only local paths are accepted: download URLs first.

Every packet of the file is read once through the demuxer (no decoding, a few milliseconds per
thousand packets) because two traps only show there:

- a file cut short whose index sits at the start: the index promises 4 s, the data stops at
  1.9 s, and a transcode of it "succeeds" with a short result. The end of the last packet is
  compared with the stated duration;
- a variable frame rate that Matroska hides (its average and nominal rates come out equal): the
  spread of the gaps between video timestamps is measured instead.

Both backends gather these in constant memory (:class:`_Timeline`): running figures, a window of
:data:`REORDER_WINDOW` video times put back in presentation order, and the gaps between them
counted by length, of which a steady rate has two or three.

With PyAV, rotation comes from the display matrix of the first decoded frame, and decoding that
frame also proves the video can be decoded at all. ffprobe states rotation in the stream's side
data and decodes nothing: the full-decode check of :mod:`reskin.media.verify` covers both.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from reskin.errors import FFmpegError, MediaError, ProbeError
from reskin.media.binaries import FFmpegTools
from reskin.media.runner import run, run_lines

if TYPE_CHECKING:
    import av.container
    import av.video.stream

# PyAV itself (about 50 ms to import) only where a file is opened with it: what only reads
# ffprobe's answers, or only needs this module's constants and types (the request, the command
# line's thin client, the ffmpeg commands), does not load it.

log = logging.getLogger(__name__)

Container = Literal["mp4", "mov", "matroska"]

#: Demuxers a probe (and every ffmpeg input, see commands.py) may use: MP4/MOV and Matroska/WebM.
ALLOWED_FORMATS = "mov,matroska"
OPEN_OPTIONS: dict[str, str] = {"protocol_whitelist": "file", "format_whitelist": ALLOWED_FORMATS}

#: Average and nominal rates further apart than this (relative) suggest a variable frame rate.
VFR_TOLERANCE = 0.02
#: Gaps between frames that differ by more than this share of the typical gap mean a variable
#: frame rate. Matroska stores milliseconds, so 24 fps comes out as gaps of 41 and 42 ms: the
#: rounding of a constant rate must stay under it, a dropped frame (a gap twice as long) above.
VFR_GAP_SPREAD = 0.2
#: Timestamps rounded to milliseconds can differ by this much at any rate (240 fps: 4 and 5 ms).
_ROUNDING_S = 0.0015
#: Data that stops this much earlier than the stated duration means the file was cut short.
TRUNCATION_TOLERANCE_S = 0.5
#: How long one ffprobe run may take; it reads packets only, so seconds are plenty.
PROBE_TIMEOUT_S = 60.0
#: The packet columns ffprobe is asked for, in the order it prints them (its own, whatever the
#: order asked): a CSV row is read by position.
PACKET_COLUMNS = ("stream_index", "pts_time", "dts_time", "duration_time")
#: Video packets come in decoding order, their presentation times a few frames out of order
#: (H.264 and HEVC reorder at most 16). The timeline puts them back in order through a window
#: this wide; a time that comes back further than that is a clock that jumps back: not regular.
REORDER_WINDOW = 256

_FIX = "export it as an MP4 (H.264) video and try again"
_CUT_FIX = "copy or export the whole file again and try again"
_NAME_CHARS = 80
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


@dataclass(frozen=True)
class MediaInfo:
    """What a probe found in one file. Sizes are in pixels as coded; see ``display_*``."""

    path: Path
    format_name: str
    container: Container
    size_bytes: int
    duration_s: float
    width: int
    height: int
    #: Counter-clockwise degrees the player turns the picture: 0, 90, 180 or 270.
    rotation: int
    fps: float
    variable_fps: bool
    video_codec: str
    pix_fmt: str | None
    has_audio: bool
    audio_codec: str | None
    audio_channels: int | None

    @property
    def display_width(self) -> int:
        return self.height if self.rotation in (90, 270) else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation in (90, 270) else self.height


def shown_name(name: str) -> str:
    """``name`` made safe for a one-line message: no control characters, not too long."""
    clean = "".join(char if char.isprintable() else "?" for char in name)
    if len(clean) > _NAME_CHARS:
        clean = clean[: _NAME_CHARS - 3] + "..."
    return clean or "(no name)"


def probe(
    path: Path,
    *,
    tools: FFmpegTools | None = None,
    name: str | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> MediaInfo:
    """Read ``path``; raise :class:`ProbeError` (one line: what is wrong, what to do) when it is
    missing, empty, not MP4/MOV/Matroska, has no video, cannot be decoded or was cut short.

    ffprobe is used when ``tools`` has one, else PyAV. ``name`` is what messages call the file
    (the user's own file name when ``path`` is a job-local copy). A failure of ffprobe itself
    (timeout, cannot start, output not JSON) is a :class:`MediaError`, not the user's fault.
    """
    path = Path(path)
    shown = shown_name(name if name is not None else path.name)
    size = _checked_size(path, shown)
    if tools is not None and tools.ffprobe is not None:
        log.debug("probing %s with ffprobe at %s", shown, tools.ffprobe)
        return _run_ffprobe(tools.ffprobe, path, size, shown, timeout_s)
    log.debug("probing %s with PyAV", shown)
    import av

    try:
        container = av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS))
    except av.FFmpegError as exc:
        raise ProbeError(_unreadable(path, shown)) from exc
    try:
        facts = _pyav_facts(container, shown)
    finally:
        container.close()
    return _media_info(path, size, facts, shown)


def keyframe_times(path: Path, limit_s: float) -> list[float]:
    """Times of the video keyframes up to ``limit_s``, ascending, read from the demuxer without
    decoding. A stream copy can only start cleanly at one of these.

    Times count from the container's start, as ffmpeg's input ``-ss`` does: a file whose first
    frame is stamped 1.4 s still has a keyframe at 0.0.
    """
    import av

    path = Path(path)
    shown = shown_name(path.name)
    try:
        container = av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS))
    except av.FFmpegError as exc:
        raise ProbeError(_unreadable(path, shown)) from exc
    try:
        if not container.streams.video:
            raise ProbeError(f"{shown} has no video stream: {_FIX}")
        video = container.streams.video[0]
        start = _seconds(container.start_time)
        found: list[float] = []
        for packet in container.demux(video):
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None or packet.time_base is None:
                continue
            at = float(pts * packet.time_base) - start
            # Packets come in decode order, a little ahead of presentation: read on a little.
            if at > limit_s + 1.0:
                break
            if packet.is_keyframe and at <= limit_s:
                found.append(max(at, 0.0))
    except av.FFmpegError as exc:
        raise ProbeError(f"{shown} is damaged (its packets cannot be read): {_CUT_FIX}") from exc
    finally:
        container.close()
    return sorted(set(found))


# --- ffprobe backend ------------------------------------------------------------------------


def ffprobe_streams_command(exe: Path, path: Path) -> list[str]:
    """The ffprobe argv for the format and the streams of ``path``, as JSON: a few KB."""
    return [
        *_ffprobe_guards(exe),
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-i",
        str(Path(path).resolve()),
    ]


def ffprobe_packets_command(exe: Path, path: Path) -> list[str]:
    """The ffprobe argv for the timing of every packet of ``path``: one CSV line each, the
    :data:`PACKET_COLUMNS` and no header (read by :func:`packet_from_csv`)."""
    return [
        *_ffprobe_guards(exe),
        "-print_format",
        "csv=p=0",
        "-show_entries",
        "packet=" + ",".join(PACKET_COLUMNS),
        "-i",
        str(Path(path).resolve()),
    ]


def _ffprobe_guards(exe: Path) -> list[str]:
    """The head of both ffprobe commands: the same guards on the input as every ffmpeg input."""
    return [
        str(exe),
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        ALLOWED_FORMATS,
    ]


class PacketTime(NamedTuple):
    """One packet's timing, from a row of :func:`ffprobe_packets_command`."""

    stream_index: int
    #: Its presentation time, else its decoding time; None when ffprobe knows neither.
    at_s: float | None
    duration_s: float


def packet_from_csv(line: str) -> PacketTime | None:
    """A row of :func:`ffprobe_packets_command`'s output, read by column position; None for a
    line that is no packet: the empty line ffprobe prints after a packet with side data (whose
    own row then ends with a comma), or anything else without a stream index and three more
    columns. Unknown times ("N/A" or empty) count as unknown, as missing keys did in JSON; a
    column past the fourth is ignored."""
    fields = line.strip().split(",", len(PACKET_COLUMNS))
    if len(fields) < len(PACKET_COLUMNS):
        return None
    index = fields[0]
    if not (index.isascii() and index.isdigit()):
        return None
    at = _number(fields[1])
    if at is None:
        at = _number(fields[2])
    return PacketTime(int(index), at, _number(fields[3]) or 0.0)


def media_info_from_ffprobe(
    path: Path,
    size_bytes: int,
    data: Mapping[str, Any],
    packet_rows: Iterable[str],
    *,
    name: str | None = None,
) -> MediaInfo:
    """Turn ffprobe's JSON of format and streams (:func:`ffprobe_streams_command`) and its CSV
    rows of packets (:func:`ffprobe_packets_command`, read one at a time, never kept) into a
    :class:`MediaInfo`, with the same checks as the PyAV backend. The rows are read only once
    the streams show a video."""
    shown = shown_name(name if name is not None else Path(path).name)
    fmt: Mapping[str, Any] = data.get("format") or {}
    streams: list[Mapping[str, Any]] = list(data.get("streams") or [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise ProbeError(f"{shown} has no video stream: {_FIX}")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    tags: Mapping[str, Any] = fmt.get("tags") or {}
    timeline = _Timeline()
    kinds = {int(s.get("index", -1)): str(s.get("codec_type", "")) for s in streams}
    video_index = int(video.get("index", -1))
    for row in packet_rows:
        packet = packet_from_csv(row)
        if packet is None:
            continue
        timeline.add(
            is_video=packet.stream_index == video_index,
            known=kinds.get(packet.stream_index) in ("video", "audio"),
            at_s=packet.at_s,
            duration_s=packet.duration_s,
        )
    facts = _Facts(
        format_name=str(fmt.get("format_name", "")),
        brand=str(tags.get("major_brand", "")),
        duration_s=_number(fmt.get("duration")),
        start_s=_number(fmt.get("start_time")) or 0.0,
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        rotation=_stream_rotation(video),
        video_codec=str(video.get("codec_name", "")),
        pix_fmt=video.get("pix_fmt"),
        average_fps=_ratio(video.get("avg_frame_rate")),
        nominal_fps=_ratio(video.get("r_frame_rate")),
        video_duration_s=_number(video.get("duration")),
        decoded_a_frame=None,
        audio_codec=str(audio.get("codec_name", "")) if audio else None,
        audio_channels=int(audio.get("channels") or 0) if audio else None,
        timeline=timeline,
    )
    return _media_info(Path(path), size_bytes, facts, shown)


def _run_ffprobe(exe: Path, path: Path, size: int, shown: str, timeout_s: float) -> MediaInfo:
    """The two ffprobe runs side by side: the packets' run starts first (once its rows fill the
    pipe, 64 KB or some 25 s of video, it waits for them to be read), the streams' run beside
    it; then the rows are read as they come."""
    try:
        with run_lines(ffprobe_packets_command(exe, path), timeout_s=timeout_s) as rows:
            done = run(ffprobe_streams_command(exe, path), timeout_s=timeout_s)
            data = _json_object(done.stdout_text, exe)
            return media_info_from_ffprobe(path, size, data, rows, name=shown)
    except FFmpegError as exc:
        if exc.returncode is None:
            raise  # ffprobe could not run or ran too long: our problem, not the file's
        raise ProbeError(_unreadable(path, shown)) from exc


def _json_object(text: str, exe: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MediaError(f"ffprobe at {exe} printed something that is not JSON") from exc
    if not isinstance(data, dict):
        raise MediaError(f"ffprobe at {exe} printed JSON that is not an object")
    return data


def _stream_rotation(stream: Mapping[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return _quarter_turn(float(side["rotation"]))
    # ffprobe before 5 (and some muxers) state it as a tag instead, clockwise.
    tag = (stream.get("tags") or {}).get("rotate")
    return _quarter_turn(-float(tag)) if tag is not None else 0


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # ffprobe writes "N/A" or leaves the key out
    return number if math.isfinite(number) else None


def _ratio(value: Any) -> float:
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return 0.0  # "0/0": unknown
    return float(rate) if rate > 0 else 0.0


# --- PyAV backend ---------------------------------------------------------------------------


def _pyav_facts(container: av.container.InputContainer, shown: str) -> _Facts:
    if not container.streams.video:
        raise ProbeError(f"{shown} has no video stream: {_FIX}")
    video = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    timeline, rotation = _pyav_scan(container, video, shown)
    codec = video.codec_context
    brand = str(container.metadata.get("major_brand", ""))
    video_duration = (
        float(video.duration * video.time_base)
        if video.duration is not None and video.time_base is not None
        else None
    )
    return _Facts(
        format_name=container.format.name,
        brand=brand,
        duration_s=_seconds(container.duration) if container.duration else None,
        start_s=_seconds(container.start_time),
        width=codec.width,
        height=codec.height,
        rotation=rotation if rotation is not None else 0,
        video_codec=codec.name,
        pix_fmt=codec.pix_fmt,
        average_fps=_rate(video.average_rate),
        nominal_fps=_rate(video.guessed_rate) or _rate(video.base_rate),
        video_duration_s=video_duration,
        decoded_a_frame=rotation is not None,
        audio_codec=audio.codec_context.name if audio else None,
        audio_channels=audio.codec_context.layout.nb_channels if audio else None,
        timeline=timeline,
    )


def _pyav_scan(
    container: av.container.InputContainer, video: av.video.stream.VideoStream, shown: str
) -> tuple[_Timeline, int | None]:
    """One pass over every packet; the video decoder runs only until its first frame."""
    import av

    timeline = _Timeline()
    rotation: int | None = None
    flushed = False
    try:
        for packet in container.demux():
            is_video = packet.stream.index == video.index
            if is_video and rotation is None and not flushed:
                rotation = _first_rotation(video, packet, shown)
                # The empty packet that ends a stream flushes its decoder; once is all it takes.
                flushed = packet.size == 0
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None or packet.time_base is None:
                continue
            timeline.add(
                is_video=is_video,
                known=packet.stream.type in ("video", "audio"),
                at_s=float(pts * packet.time_base),
                duration_s=float(packet.duration * packet.time_base) if packet.duration else 0.0,
            )
        if rotation is None and not flushed:
            rotation = _first_rotation(video, None, shown)  # frames the decoder still holds
    except av.FFmpegError as exc:
        raise ProbeError(f"{shown} is damaged (its packets cannot be read): {_CUT_FIX}") from exc
    return timeline, rotation


def _first_rotation(
    video: av.video.stream.VideoStream, packet: av.Packet[Any] | None, shown: str
) -> int | None:
    import av

    try:
        frames = video.decode(packet)
    except av.EOFError:
        return None  # the decoder was already drained: it holds no frame
    except av.FFmpegError as exc:
        raise ProbeError(f"{shown}: its video cannot be decoded: {_FIX}") from exc
    if not frames:
        return None
    # The display matrix can state any angle (and -90 for 270); players snap to quarter turns.
    return _quarter_turn(frames[0].rotation)


def _seconds(av_time: int | None) -> float:
    import av

    return av_time / av.time_base if av_time else 0.0


def _rate(rate: Fraction | None) -> float:
    return float(rate) if rate else 0.0


# --- shared by both backends ----------------------------------------------------------------


@dataclass
class _Timeline:
    """Packet timing gathered while demuxing, in constant memory: enough to spot cut files and
    uneven frame gaps.

    Video times arrive in decoding order; a heap of :data:`REORDER_WINDOW` of them gives them
    back in presentation order, and the gap from each to the next is counted by its length in
    nanoseconds (finer than the clocks of containers; a steady rate has two or three lengths).
    That is ``sorted(times)``'s gaps, as long as no time arrives further back than the window:
    a clock that jumps back so far is flagged ``out_of_order``.
    """

    data_end_s: float | None = None
    video_count: int = 0
    first_video_s: float = math.inf
    last_video_s: float = -math.inf
    out_of_order: bool = False
    _window: list[float] = field(default_factory=list)
    _released_s: float | None = None
    _gaps_ns: Counter[int] = field(default_factory=Counter)
    _smallest_gap_s: float = math.inf
    _largest_gap_s: float = -math.inf

    def add(self, *, is_video: bool, known: bool, at_s: float | None, duration_s: float) -> None:
        # Comparisons rather than min() and max(): this runs for every packet of the file.
        if at_s is None:
            return
        if is_video:
            self.video_count += 1
            if at_s < self.first_video_s:
                self.first_video_s = at_s
            if at_s > self.last_video_s:
                self.last_video_s = at_s
            if len(self._window) < REORDER_WINDOW:
                heapq.heappush(self._window, at_s)
            else:
                self._release(heapq.heappushpop(self._window, at_s))
        if known:
            end = at_s + duration_s if duration_s > 0 else at_s
            if self.data_end_s is None or end > self.data_end_s:
                self.data_end_s = end

    def gaps(self) -> _Gaps | None:
        """The gaps between the video times in presentation order; None for fewer than three
        frames. Call it after the last :meth:`add`: it empties the window."""
        while self._window:
            self._release(heapq.heappop(self._window))
        count = self._gaps_ns.total()
        if count < 2:
            return None
        seen = 0
        for length_ns, times in sorted(self._gaps_ns.items()):
            seen += times
            if seen > count // 2:  # the upper median, as sorted(gaps)[count // 2] picks it
                return _Gaps(self._smallest_gap_s, self._largest_gap_s, length_ns / 1e9)
        return None  # not reached: the counts add up to count

    def _release(self, at_s: float) -> None:
        before = self._released_s
        if before is None:
            self._released_s = at_s
            return
        if at_s < before:
            self.out_of_order = True
            return
        self._released_s = at_s
        gap = at_s - before
        self._gaps_ns[round(gap * 1e9)] += 1
        if gap < self._smallest_gap_s:
            self._smallest_gap_s = gap
        if gap > self._largest_gap_s:
            self._largest_gap_s = gap


@dataclass(frozen=True)
class _Gaps:
    """The gaps between consecutive video frames, in presentation order."""

    smallest_s: float
    largest_s: float
    #: The median, to within a nanosecond.
    typical_s: float


@dataclass(frozen=True)
class _Facts:
    """What a backend read, before the checks that are the same for both."""

    format_name: str
    brand: str
    duration_s: float | None
    start_s: float
    width: int
    height: int
    rotation: int
    video_codec: str
    pix_fmt: str | None
    average_fps: float
    nominal_fps: float
    video_duration_s: float | None
    #: True or False when the backend tried to decode a frame; None when it cannot (ffprobe).
    decoded_a_frame: bool | None
    audio_codec: str | None
    audio_channels: int | None
    timeline: _Timeline


def _media_info(path: Path, size: int, facts: _Facts, shown: str) -> MediaInfo:
    timeline = facts.timeline
    if facts.decoded_a_frame is False or timeline.video_count == 0:
        raise ProbeError(f"{shown} has no video frames: {_FIX}")
    duration = _duration(facts, shown)
    _check_not_cut(facts, duration, shown)
    gaps_vary = timeline.out_of_order or _gaps_vary(timeline.gaps())
    fps = facts.average_fps or facts.nominal_fps
    if gaps_vary:
        fps = _measured_fps(timeline) or fps
    info = MediaInfo(
        path=path,
        format_name=facts.format_name,
        container=_container(facts.format_name, facts.brand),
        size_bytes=size,
        duration_s=duration,
        width=facts.width,
        height=facts.height,
        rotation=facts.rotation,
        fps=fps,
        variable_fps=gaps_vary or _rates_differ(facts.average_fps, facts.nominal_fps),
        video_codec=facts.video_codec,
        pix_fmt=facts.pix_fmt,
        has_audio=facts.audio_codec is not None,
        audio_codec=facts.audio_codec,
        audio_channels=facts.audio_channels,
    )
    log.debug("probed %s: %s", shown, info)
    return info


def _checked_size(path: Path, shown: str) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProbeError(f"{shown}: cannot read the file ({exc.strerror}): check the path") from exc
    if not path.is_file():
        raise ProbeError(f"{shown} is not a file: give the path of a video file")
    if size == 0:
        raise ProbeError(f"{shown} is empty: {_FIX}")
    return size


def _unreadable(path: Path, shown: str) -> str:
    """The refusal for a file no allowed demuxer would open: damaged, or not a video at all."""
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except OSError:
        head = b""
    # An MP4/MOV starts with a box (ftyp, or moov/mdat/free/wide in old QuickTime), Matroska
    # with the EBML magic: such a file was meant to be a video, and lost its index on the way.
    if head[4:8] in _MP4_BOXES or head.startswith(_EBML_MAGIC):
        return f"{shown} is damaged or cut short (its index cannot be read): {_CUT_FIX}"
    return f"{shown} is not an MP4, MOV or Matroska video: {_FIX}"


def _duration(facts: _Facts, shown: str) -> float:
    if facts.duration_s is not None and facts.duration_s > 0:
        return facts.duration_s
    if facts.video_duration_s is not None and facts.video_duration_s > 0:
        return facts.video_duration_s
    raise ProbeError(f"{shown} does not state its duration: {_FIX}")


def _check_not_cut(facts: _Facts, duration: float, shown: str) -> None:
    end = facts.timeline.data_end_s
    if end is None:
        return
    # Both are measured from the container's start: a file need not begin at zero.
    held = end - facts.start_s
    if duration - held > TRUNCATION_TOLERANCE_S:
        raise ProbeError(
            f"{shown} is cut short: it states {duration:.1f} s but its data stops at "
            f"{max(held, 0.0):.1f} s: {_CUT_FIX}"
        )


def _gaps_vary(gaps: _Gaps | None) -> bool:
    if gaps is None:
        return False
    if gaps.typical_s <= 0:
        return True  # frames sharing a timestamp: nothing regular about it
    return gaps.largest_s - gaps.smallest_s > max(VFR_GAP_SPREAD * gaps.typical_s, _ROUNDING_S)


def _measured_fps(timeline: _Timeline) -> float:
    span = timeline.last_video_s - timeline.first_video_s
    count = timeline.video_count
    return (count - 1) / span if span > 0 and count > 1 else 0.0


def _rates_differ(average: float, nominal: float) -> bool:
    if average <= 0 or nominal <= 0:
        return False
    return abs(average - nominal) / nominal > VFR_TOLERANCE


def _container(format_name: str, brand: str) -> Container:
    if format_name.startswith("matroska"):
        return "matroska"
    # The mov demuxer reads MP4 and QuickTime alike; only the brand tells them apart.
    return "mov" if brand.strip().lower() == "qt" else "mp4"


def _quarter_turn(degrees: float) -> int:
    return (round(degrees / 90) * 90) % 360
