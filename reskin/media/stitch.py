"""Join the edited segments of a long video back into one, frame-exact.

The service returns each segment at 24 fps and about as long as it was sent: a frame long or a
frame short is usual, and a segment may come back at another size. So each piece is first made
exactly what the plan counted on (the output's rate, size and pixel format, then exactly
``frames`` frames: the last frame repeated when it is short, the surplus dropped when it is
long), and only then joined: a hard cut (``concat``) or a cross-fade (``xfade``) of ``overlap``
frames. The result has exactly ``sum(frames) - sum(overlap)`` frames, checked after the encode.

At any length the pieces are joined in units (:func:`units`): each exact result is copied as it
is, the others encoded on their own, and all joined by the concat demuxer (:func:`stitch_pieces`).
One MP4 track has one set of H.264 parameters (SPS and PPS), so an encoded unit may join copied
ones only with byte-identical ones: it is encoded with the copied results' own header-deciding
x264 options (read from the SEI x264 writes into every stream it makes: :mod:`reskin.media.x264`)
and checked; when that is not possible (no x264 behind the results, custom matrices) or the check
fails, every unit is encoded instead (what a join of mismatched parameter sets would decode wrong).

Two traps of the graph, both in ffmpeg 5.1 and 9.0: ``concat`` hands on its frames in a
microsecond time base while ``xfade`` refuses inputs whose time bases differ, so every hard cut
is put back on the output's time base (``settb``) before anything else joins it; and the pieces
are padded by a frame count (``tpad=stop``), not a duration, so a fraction of a frame cannot be
rounded away.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import av
import ffmpeg

from reskin.errors import FFmpegError, ProbeError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import (
    MP4_OUT,
    _check_even,
    _checked_word,
    _compile,
    _file_input,
    _path,
    _rate,
)
from reskin.media.probe import OPEN_OPTIONS, MediaInfo, probe, shown_name
from reskin.media.runner import run
from reskin.media.x264 import Matching, matching_options, parameters

log = logging.getLogger(__name__)

_FIX = "stitch it again; if it fails again, report it with the debug log"


@dataclass(frozen=True)
class Piece:
    """One edited segment as the output uses it: ``frames`` frames at the output's rate from its
    first frame, the first ``overlap`` of them cross-faded with the end of what comes before
    (0: a hard cut; always 0 for the first piece)."""

    path: Path
    frames: int
    overlap: int = 0
    #: Frames of the file passed over before the piece starts (a cross-fade's tail, see
    #: :func:`units`).
    skip: int = 0
    #: How far after its first frame's place on the output's frame grid the file's own clock
    #: starts (what it was sent began between two frames of the grid): within a frame. The
    #: picture ignores it; its sound, read to the sample, lines up by it where two pieces
    #: overlap (:mod:`reskin.media.sound_join`).
    offset_s: float = 0.0


def expected_frames(pieces: Sequence[Piece]) -> int:
    """How many frames the stitched video has: every piece's frames, less the overlaps."""
    _check_pieces(pieces)
    return sum(piece.frames - piece.overlap for piece in pieces)


def stitch_command(
    exe: Path,
    pieces: Sequence[Piece],
    output: Path,
    *,
    width: int,
    height: int,
    fps: float,
    preset: str,
    crf: int,
    match: Matching | None = None,
) -> list[str]:
    """The argv joining ``pieces`` in order into ``output``: ``width`` x ``height``, ``fps``
    constant, H.264 yuv420p in MP4 with ``+faststart``, no sound, no metadata; with ``match``,
    encoded to the copied results' H.264 parameters (:mod:`reskin.media.x264`) instead of
    ``crf``'s."""
    _check_pieces(pieces)
    _check_even(width, height)
    rate = _rate(fps)
    sar = 1 if match is None else match.sar
    streams = [_exact_piece(piece, width, height, rate, sar) for piece in pieces]
    quality: dict[str, Any] = {"crf": int(crf)} if match is None else match.output_options()
    out = ffmpeg.output(
        _join(pieces, streams, Fraction(rate)),
        _path(output),
        **MP4_OUT,
        vcodec="libx264",
        preset=_checked_word(preset),
        **quality,
        pix_fmt="yuv420p",
        r=rate,
        fps_mode="cfr",
        an=None,
    )
    return _compile(out, exe)


def stitch(
    pieces: Sequence[Piece],
    output: Path,
    tools: FFmpegTools,
    *,
    width: int,
    height: int,
    fps: float,
    preset: str,
    crf: int,
    timeout_s: float,
    match: Matching | None = None,
) -> MediaInfo:
    """Write ``pieces`` joined to ``output`` (in place: the caller makes it atomic) and return
    its probe (``match``: see :func:`stitch_command`). Raises
    :class:`~reskin.errors.FFmpegError` when ffmpeg fails, and
    :class:`~reskin.errors.VerificationError` (one line) when the result does not read back or
    is not :func:`expected_frames` long within half a frame. How short a piece may be before
    repeating its last frame is no longer a fix is the caller's to decide (it knows their
    lengths)."""
    argv = stitch_command(
        tools.ffmpeg,
        pieces,
        output,
        width=width,
        height=height,
        fps=fps,
        preset=preset,
        crf=crf,
        match=match,
    )
    done = run(argv, timeout_s=timeout_s)
    info = _read_back(output, expected_frames(pieces), fps, tools, timeout_s)
    shown = shown_name(Path(output).name)
    log.debug("stitched %d pieces into %s in %.2f s", len(pieces), shown, done.elapsed_s)
    return info


def units(pieces: Sequence[Piece]) -> list[list[Piece]]:
    """The pieces as units that can be encoded apart and joined by stream copy: unit *i* is
    piece *i* up to where the next one starts fading in, preceded, when it fades in itself, by
    the last ``overlap`` frames of the piece before (the cross-fade is made inside the unit).
    Their lengths add up to :func:`expected_frames`."""
    _check_pieces(pieces)
    made: list[list[Piece]] = []
    for index, piece in enumerate(pieces):
        after = pieces[index + 1].overlap if index + 1 < len(pieces) else 0
        own = Piece(piece.path, piece.frames - after, piece.overlap, offset_s=piece.offset_s)
        if piece.overlap:
            before = pieces[index - 1]
            skip = before.frames - piece.overlap
            tail = Piece(before.path, piece.overlap, skip=skip, offset_s=before.offset_s)
            made.append([tail, own])
        else:
            made.append([own])
    return made


def concat_list(
    names: Sequence[str],
    durations_s: Sequence[float],
    *,
    cut: bool | Sequence[bool] = False,
    starts_s: Sequence[float] | None = None,
    frame_s: float = 0.0,
) -> str:
    """The concat demuxer's list of the files ``names``, beside the list, each with its exact
    duration (without it the demuxer takes each file's container duration, a millisecond or two
    off with x264's edit lists, which adds up over a hundred units). With ``cut`` (for every
    file, or one flag a file: a copied result), the file is read from its picture's first frame
    (an inpoint at its time, ``starts_s``, 0 by default: else the demuxer starts the file at its
    earliest stream, a result's sound primed before 0, and the picture slips by that) to half
    a frame (``frame_s``) before its duration's end (an outpoint, the packets after it dropped:
    its surplus frames; half a frame, so no rounding can keep one). Plain names only, as its
    safe mode wants (no folder, no ``..``; anything else is refused)."""
    cuts = [cut] * len(names) if isinstance(cut, bool) else list(cut)
    starts = [0.0] * len(names) if starts_s is None else list(starts_s)
    lines = ["ffconcat version 1.0"]
    for name, seconds, cut_here, start in zip(names, durations_s, cuts, starts, strict=True):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"not a plain file name: {name!r}")
        lines += [f"file '{name}'"]
        if cut_here:
            # Down to the microsecond: the first frame's own time is never before the inpoint.
            inpoint = math.floor(start * 1e6 + 1e-6) / 1e6
            lines += [f"inpoint {inpoint:.6f}", f"outpoint {start + seconds - frame_s / 2:.6f}"]
        lines += [f"duration {seconds:.6f}"]
    return "\n".join(lines) + "\n"


def concat_command(exe: Path, listing: Path, output: Path) -> list[str]:
    """The argv joining the files listed in ``listing`` by stream copy (no re-encode): they
    must share codec, size, rate and encoder settings, as the units of :func:`stitch_pieces`
    do. Only the concat demuxer and MP4 files can be opened, local files only."""
    source = ffmpeg.input(
        _path(listing),
        f="concat",
        safe=1,
        protocol_whitelist="file",
        format_whitelist="concat,mov",
    )
    out = ffmpeg.output(source["v:0"], _path(output), **MP4_OUT, c="copy", an=None)
    return _compile(out, exe)


@dataclass(frozen=True)
class Stitched:
    """What :func:`stitch_pieces` wrote: its probe, and for each of :func:`units` whether it
    is the result itself, copied (True), or was encoded (False)."""

    info: MediaInfo
    copied: tuple[bool, ...]
    #: Each unit's file in the work folder (a copied one is a link to its result).
    units: tuple[Path, ...]


def stitch_pieces(
    pieces: Sequence[Piece],
    work: Path,
    output: Path,
    tools: FFmpegTools,
    *,
    width: int,
    height: int,
    fps: float,
    preset: str,
    crf: int,
    timeout_s: float,
    workers: int = 2,
    allow_copy: bool = True,
) -> Stitched:
    """:func:`stitch` in bounded memory at any length: each of :func:`units` made on its own in
    ``work``, then all joined by stream copy (the concat demuxer). A unit that is one exact
    result (:func:`exact_result`; with ``allow_copy``) is the result itself, copied; the
    others are encoded (``workers`` at a time; one ffmpeg holds at most two decoders, where one
    command over every piece would hold one per segment: a hundred for ten minutes of Aleph),
    to the copied results' H.264 parameters when there are any (:mod:`reskin.media.x264`).
    When those cannot be matched, every unit is encoded. Same checks and errors as
    :func:`stitch`."""
    work.mkdir(parents=True, exist_ok=True)
    parts = units(pieces)
    paths = [work / f"unit-{index:05d}.mp4" for index in range(len(parts))]
    rate = _rate(fps)
    found = [
        exact_result(unit[0], width=width, height=height, rate=rate)
        if allow_copy and len(unit) == 1 and not unit[0].overlap
        else None
        for unit in parts
    ]
    # The parameters most exact results share; a result exact but encoded otherwise is odd.
    common = Counter(item.parameters for item in found if item is not None).most_common(1)
    reference = common[0][0] if common else None
    copy = [item is not None and item.parameters == reference for item in found]
    match: Matching | None = None
    if any(copy) and not all(copy):
        source = parts[copy.index(True)][0].path
        match = matching_options(source)
        if match is None:
            log.debug("stitch: %s is not x264's with options to match: all encoded", source)
            copy = [False] * len(parts)

    def encode(index: int) -> MediaInfo:
        paths[index].unlink(missing_ok=True)
        return stitch(
            parts[index],
            paths[index],
            tools,
            width=width,
            height=height,
            fps=fps,
            preset=preset,
            crf=crf,
            timeout_s=timeout_s,
            match=match,
        )

    def encode_all(indices: Sequence[int]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(encode, indices))

    try:
        encode_all([index for index, copied in enumerate(copy) if not copied])
    except FFmpegError as exc:
        if match is None:
            raise
        # What was read back does not make a command this ffmpeg runs: encoded as before.
        log.debug("stitch: ffmpeg refused the copied results' options (%s): all encoded", exc)
        match, copy = None, [False] * len(parts)
        encode_all(range(len(parts)))
    if any(copy) and not all(copy):
        odd = [
            index
            for index, copied in enumerate(copy)
            if not copied and parameters(paths[index]) != reference
        ]
        if odd:
            log.debug("stitch: unit %d did not match the copied results': all encoded", odd[0])
            copy, was = [False] * len(parts), copy
            encode_all([index for index, copied in enumerate(was) if copied])
    for unit, path, copied in zip(parts, paths, copy, strict=True):
        if copied:
            path.unlink(missing_ok=True)
            path.symlink_to(Path(unit[0].path).resolve())
    log.debug("stitch: %d of %d units copied, the others encoded", sum(copy), len(copy))
    starts = [item.start_s if item is not None and copied else 0.0
              for item, copied in zip(found, copy, strict=True)]  # fmt: skip
    info = _join_units(
        parts, paths, work, output, tools, fps=fps, timeout_s=timeout_s, cut=copy, starts_s=starts
    )
    return Stitched(info, tuple(copy), tuple(paths))


#: Trailing frames a copied piece may drop (at its outpoint): only from a stream without
#: B-frames, where the last frames in display order are the last ones decoded too.
MAX_DROPPED = 2


def copyable(pieces: Sequence[Piece], *, width: int, height: int, fps: float) -> bool:
    """Whether ``pieces`` can be joined as they are, nothing encoded: hard cuts only, each one
    exact (:func:`exact_result`), and all with the same codec parameters (the same SPS and
    PPS: one MP4 track has one set, so a file encoded otherwise would decode wrong after the
    join)."""
    if any(piece.overlap or piece.skip for piece in pieces):
        return False
    rate = _rate(fps)
    found = [exact_result(piece, width=width, height=height, rate=rate) for piece in pieces]
    return None not in found and len({item.parameters for item in found if item}) == 1


@dataclass(frozen=True)
class Exact:
    """A result that can stand in the stitched video as it is (:func:`exact_result`)."""

    #: Its H.264 parameters: the MP4's ``avcC`` (its SPS and PPS).
    parameters: bytes
    #: Its picture's first frame's time in the file (a result's sound may start before it).
    start_s: float


def exact_result(piece: Piece, *, width: int, height: int, rate: str) -> Exact | None:
    """``piece``'s file as the stitched video can show it, copied: H.264 yuv420p at exactly
    ``width`` x ``height`` and ``rate``, not rotated, with exactly its ``frames`` (or up to
    :data:`MAX_DROPPED` more, without B-frames: cut at the outpoint); None when it is not."""
    if piece.skip:
        return None
    try:
        with av.open(str(piece.path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
            if len(box.streams.video) != 1:
                return None
            stream = box.streams.video[0]
            context = stream.codec_context
            extra = stream.frames - piece.frames
            start, base = stream.start_time, stream.time_base
            if start is None or base is None or start < 0:
                return None
            exact = (
                context.name == "h264"
                and context.format is not None
                and context.format.name == "yuv420p"
                and (context.width, context.height) == (width, height)
                and stream.average_rate == Fraction(rate)
                and (extra == 0 or (0 < extra <= MAX_DROPPED and not context.has_b_frames))
                and not stream.metadata.get("rotate")
            )
            params = bytes(context.extradata or b"")
    except av.FFmpegError:
        return None
    return Exact(params, float(start * base)) if exact and params else None


def _join_units(
    parts: Sequence[Sequence[Piece]],
    paths: Sequence[Path],
    work: Path,
    output: Path,
    tools: FFmpegTools,
    *,
    fps: float,
    timeout_s: float,
    cut: bool | Sequence[bool] = False,
    starts_s: Sequence[float] | None = None,
) -> MediaInfo:
    listing = work / "units.ffconcat"
    rate = Fraction(_rate(fps))
    durations = [float(expected_frames(unit) / rate) for unit in parts]
    names = [path.name for path in paths]
    frame_s = float(1 / rate)
    listing.write_text(concat_list(names, durations, cut=cut, starts_s=starts_s, frame_s=frame_s))
    done = run(concat_command(tools.ffmpeg, listing, output), timeout_s=timeout_s)
    total = sum(expected_frames(unit) for unit in parts)
    info = _read_back(output, total, fps, tools, timeout_s)
    log.debug("joined %d units in %.2f s", len(parts), done.elapsed_s)
    return info


def _read_back(
    output: Path, frames: int, fps: float, tools: FFmpegTools, timeout_s: float
) -> MediaInfo:
    """The probe of what was written, checked to be ``frames`` long (one line if not)."""
    try:
        info = probe(output, tools=tools, timeout_s=timeout_s)
    except ProbeError as exc:
        _fail(output, "does not read back as a video", exc)
    _check_length(info, frames, float(Fraction(_rate(fps))))
    return info


def _exact_piece(piece: Piece, width: int, height: int, rate: str, sar: int = 1) -> Any:
    """The first video stream of ``piece`` at the output's rate, size and format, exactly
    ``piece.frames`` long, its first frame at 0."""
    video = (
        _file_input(piece.path)["v:0"]
        .filter("fps", rate)
        .filter("scale", int(width), int(height))
        .filter("setsar", int(sar))
        .filter("format", "yuv420p")
    )
    # Padding by the whole count is always enough; the trim drops the surplus.
    end = piece.skip + piece.frames
    video = video.filter("tpad", stop_mode="clone", stop=end)
    trimmed = (
        video.filter("trim", start_frame=piece.skip, end_frame=end)
        if piece.skip
        else (video.filter("trim", end_frame=end))
    )
    return trimmed.filter("setpts", "PTS-STARTPTS")


def _join(pieces: Sequence[Piece], streams: Sequence[Any], rate: Fraction) -> Any:
    joined = streams[0]
    frames = pieces[0].frames
    for piece, stream in zip(pieces[1:], streams[1:], strict=True):
        if piece.overlap:
            joined = ffmpeg.filter(
                [joined, stream],
                "xfade",
                transition="fade",
                duration=_seconds(piece.overlap, rate),
                offset=_seconds(frames - piece.overlap, rate),
            )
        else:
            # concat hands on a microsecond time base; xfade wants both inputs on the same one.
            joined = ffmpeg.concat(joined, stream, v=1, a=0).filter("settb", str(1 / rate))
        frames += piece.frames - piece.overlap
    return joined


def _seconds(frames: int, rate: Fraction) -> str:
    return f"{float(frames / rate):.6f}"


def _check_pieces(pieces: Sequence[Piece]) -> None:
    if not pieces:
        raise ValueError("nothing to stitch: no pieces")
    if pieces[0].overlap:
        raise ValueError("the first piece cannot overlap what comes before it")
    for index, piece in enumerate(pieces):
        _check_count(piece.frames, f"piece {index}: frames", minimum=1)
        _check_count(piece.overlap, f"piece {index}: overlap", minimum=0)
        _check_count(piece.skip, f"piece {index}: skip", minimum=0)
        if index and piece.overlap > min(piece.frames, pieces[index - 1].frames):
            raise ValueError(f"piece {index}: overlaps by more frames than a piece it joins has")
    # ffmpeg-python merges equal nodes: a file twice would become one input with two outputs.
    if len({_path(piece.path) for piece in pieces}) < len(pieces):
        raise ValueError("each piece must be a file of its own")


def _check_count(value: int, what: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be a whole number of at least {minimum}, got {value!r}")


def _check_length(info: MediaInfo, frames: int, fps: float) -> None:
    expected_s = frames / fps
    if abs(info.duration_s - expected_s) > 0.5 / fps:
        got = round(info.duration_s * fps)
        _fail(
            info.path,
            f"has {got} frames ({info.duration_s:.3f} s), expected {frames} ({expected_s:.3f} s)",
        )


def _fail(path: Path, reason: str, cause: Exception | None = None) -> NoReturn:
    shown = shown_name(Path(path).name)
    raise VerificationError(f"{shown} {reason}: {_FIX}", path=Path(path), reason=reason) from cause
