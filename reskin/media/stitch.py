"""Join the edited segments of a long video back into one, frame-exact.

The service returns each segment at 24 fps and about as long as it was sent: a frame long or a
frame short is usual, and a segment may come back at another size. So each piece is first made
exactly what the plan counted on (the output's rate, size and pixel format, then exactly
``frames`` frames: the last frame repeated when it is short, the surplus dropped when it is
long), and only then joined: a hard cut (``concat``) or a cross-fade (``xfade``) of ``overlap``
frames. The result has exactly ``sum(frames) - sum(overlap)`` frames, checked after the encode.

Two traps of the graph, both in ffmpeg 5.1 and 9.0: ``concat`` hands on its frames in a
microsecond time base while ``xfade`` refuses inputs whose time bases differ, so every hard cut
is put back on the output's time base (``settb``) before anything else joins it; and the pieces
are padded by a frame count (``tpad=stop``), not a duration, so a fraction of a frame cannot be
rounded away.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import av
import ffmpeg

from reskin.errors import ProbeError, VerificationError
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
) -> list[str]:
    """The argv joining ``pieces`` in order into ``output``: ``width`` x ``height``, ``fps``
    constant, H.264 yuv420p in MP4 with ``+faststart``, no sound, no metadata."""
    _check_pieces(pieces)
    _check_even(width, height)
    rate = _rate(fps)
    streams = [_exact_piece(piece, width, height, rate) for piece in pieces]
    out = ffmpeg.output(
        _join(pieces, streams, Fraction(rate)),
        _path(output),
        **MP4_OUT,
        vcodec="libx264",
        preset=_checked_word(preset),
        crf=int(crf),
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
) -> MediaInfo:
    """Write ``pieces`` joined to ``output`` (in place: the caller makes it atomic) and return
    its probe. Raises :class:`~reskin.errors.FFmpegError` when ffmpeg fails, and
    :class:`~reskin.errors.VerificationError` (one line) when the result does not read back or
    is not :func:`expected_frames` long within half a frame. How short a piece may be before
    repeating its last frame is no longer a fix is the caller's to decide (it knows their
    lengths)."""
    argv = stitch_command(
        tools.ffmpeg, pieces, output, width=width, height=height, fps=fps, preset=preset, crf=crf
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
        own = Piece(piece.path, piece.frames - after, piece.overlap)
        if piece.overlap:
            before = pieces[index - 1]
            tail = Piece(before.path, piece.overlap, skip=before.frames - piece.overlap)
            made.append([tail, own])
        else:
            made.append([own])
    return made


def concat_list(names: Sequence[str], durations_s: Sequence[float], *, cut: bool = False) -> str:
    """The concat demuxer's list of the files ``names``, beside the list, each with its exact
    duration (without it the demuxer takes each file's container duration, a millisecond or two
    off with x264's edit lists, which adds up over a hundred units), and with ``cut`` an
    outpoint there too (the packets after it dropped: a copied piece's surplus frames). Plain
    names only, as its safe mode wants (no folder, no ``..``; anything else is refused)."""
    lines = ["ffconcat version 1.0"]
    for name, seconds in zip(names, durations_s, strict=True):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"not a plain file name: {name!r}")
        lines += [f"file '{name}'"]
        if cut:
            lines += [f"outpoint {seconds:.6f}"]
        lines += [f"duration {seconds:.6f}"]
    return "\n".join(lines) + "\n"


def concat_command(exe: Path, listing: Path, output: Path) -> list[str]:
    """The argv joining the files listed in ``listing`` by stream copy (no re-encode): they
    must share codec, size, rate and encoder settings, as the units of :func:`stitch_units`
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


def stitch_units(
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
) -> MediaInfo:
    """:func:`stitch` in bounded memory at any length: each of :func:`units` encoded on its own
    into ``work`` (``workers`` at a time; one ffmpeg holds at most two decoders, where one
    command over every piece would hold one per segment: a hundred for ten minutes of Aleph),
    then joined by stream copy; when every piece is :func:`copyable` (and ``allow_copy``),
    nothing is encoded at all. Same checks and errors as :func:`stitch`."""
    work.mkdir(parents=True, exist_ok=True)
    parts = units(pieces)
    paths = [work / f"unit-{index:05d}.mp4" for index in range(len(parts))]
    if allow_copy and copyable(pieces, width=width, height=height, fps=fps):
        # Every result is already exactly what its unit would be: joined as they are.
        for piece, path in zip(pieces, paths, strict=True):
            path.unlink(missing_ok=True)
            path.symlink_to(Path(piece.path).resolve())
        log.debug("every piece is exact: joined by copy, nothing encoded")
        return _join_units(
            parts, paths, work, output, tools, fps=fps, timeout_s=timeout_s, cut=True
        )

    def encode(index: int) -> MediaInfo:
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
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(encode, range(len(parts))))
    return _join_units(parts, paths, work, output, tools, fps=fps, timeout_s=timeout_s)


#: Trailing frames a copied piece may drop (at its outpoint): only from a stream without
#: B-frames, where the last frames in display order are the last ones decoded too.
MAX_DROPPED = 2


def copyable(pieces: Sequence[Piece], *, width: int, height: int, fps: float) -> bool:
    """Whether ``pieces`` can be joined as they are, nothing encoded: hard cuts only, each file
    H.264 yuv420p at exactly ``width`` x ``height`` and ``fps`` with exactly its ``frames`` (or
    up to :data:`MAX_DROPPED` more, without B-frames: cut at the outpoint), and all with the
    same codec parameters (the same SPS and PPS: one MP4 track has one set, so a file encoded
    otherwise would decode wrong after the join). A service whose results are exact this way
    costs the stitch a copy; any other is re-encoded piece by piece."""
    if any(piece.overlap or piece.skip for piece in pieces):
        return False
    rate = Fraction(_rate(fps))
    seen: set[bytes] = set()
    for piece in pieces:
        try:
            with av.open(str(piece.path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
                if len(box.streams.video) != 1:
                    return False
                stream = box.streams.video[0]
                context = stream.codec_context
                extra = stream.frames - piece.frames
                exact = (
                    context.name == "h264"
                    and context.format is not None
                    and context.format.name == "yuv420p"
                    and (context.width, context.height) == (width, height)
                    and stream.average_rate == rate
                    and (extra == 0 or (0 < extra <= MAX_DROPPED and not context.has_b_frames))
                    and not stream.metadata.get("rotate")
                )
                if not exact:
                    return False
                seen.add(bytes(context.extradata or b""))
        except av.FFmpegError:
            return False
    return len(seen) == 1 and b"" not in seen


def _join_units(
    parts: Sequence[Sequence[Piece]],
    paths: Sequence[Path],
    work: Path,
    output: Path,
    tools: FFmpegTools,
    *,
    fps: float,
    timeout_s: float,
    cut: bool = False,
) -> MediaInfo:
    listing = work / "units.ffconcat"
    rate = Fraction(_rate(fps))
    durations = [float(expected_frames(unit) / rate) for unit in parts]
    listing.write_text(concat_list([path.name for path in paths], durations, cut=cut))
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


def _exact_piece(piece: Piece, width: int, height: int, rate: str) -> Any:
    """The first video stream of ``piece`` at the output's rate, size and format, exactly
    ``piece.frames`` long, its first frame at 0."""
    video = (
        _file_input(piece.path)["v:0"]
        .filter("fps", rate)
        .filter("scale", int(width), int(height))
        .filter("setsar", 1)
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
