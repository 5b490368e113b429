"""Join the segments' own sound (``--audio model``) under a stitched long video, in sync to the
frame at every join.

The picture is stitched in units (:func:`reskin.media.stitch.units`); the sound follows the same
units on the stitched video's own clock. Unit *k* shows frames ``F(k) .. F(k+1)`` of the
stitched video, so its sound is exactly the samples ``round(F(k) x 48000 / fps) ..
round(F(k+1) x 48000 / fps)``: its result's sound from the result's start, padded with silence
where it is short (or missing: a result without sound is silence), cut where it is long. A
cross-fade unit fades the sound of the result before into its own over the very frames the
picture fades (``acrossfade``, linear as ``xfade``'s ``fade``). Rounded on one grid, the units'
lengths add up to the whole to the sample: nothing drifts over a hundred joins.

Each unit's sound is one small ffmpeg (the result's sound only: no picture decoded) writing raw
PCM, 16-bit stereo at 48 kHz; the units' PCM is laid end to end and encoded once to AAC under
the stitched picture, which is copied (:func:`sound_mux_command`). Memory stays the same at any
length; the PCM on disk is about 11.5 MB a minute.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NoReturn

import av

from reskin.errors import ProbeError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import AAC_STEREO, FILE_INPUT_GUARDS, GLOBAL_ARGS, MP4_OUT
from reskin.media.probe import OPEN_OPTIONS, MediaInfo, probe, shown_name
from reskin.media.runner import run
from reskin.media.stitch import Piece, expected_frames

log = logging.getLogger(__name__)

#: The joined sound: 16-bit stereo at 48 kHz (AAC_STEREO's rate), 4 bytes a sample.
SAMPLE_RATE = 48_000
_SAMPLE_BYTES = 4
_PCM = ("-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "2")
_FORMAT = "aformat=sample_fmts=s16:channel_layouts=stereo"
_FIX = "stitch it again; if it fails again, report it with the debug log"


@dataclass(frozen=True)
class Snippet:
    """Sound for ``samples`` samples: ``path``'s first audio stream from sample ``start``
    (at 48 kHz, from the file's start), padded with silence past its end; silence when
    ``path`` is None."""

    path: Path | None
    start: int
    samples: int


def unit_bounds(parts: Sequence[Sequence[Piece]], fps: float) -> list[int]:
    """Where each unit's sound starts and the last ends, in samples of the stitched video:
    ``round(F x 48000 / fps)`` of the frame ``F`` each unit starts at."""
    rate = _fraction(fps)
    bounds, frames = [0], 0
    for unit in parts:
        frames += expected_frames(unit)
        bounds.append(round(frames * SAMPLE_RATE / rate))
    return bounds


def unit_snippets(
    unit: Sequence[Piece], samples: int, fps: float, sounded: Sequence[bool]
) -> list[Snippet]:
    """The sound of one unit of ``samples`` samples: its piece's from the start, or (a
    cross-fade unit: the last frames of the piece before, then its own) the two to fade.
    ``sounded``: whether each piece's file has sound at all.

    Under a fade, the sound of the piece before is read from the moment the unit's own piece's
    sound starts, not from the frame of the grid nearest it (:attr:`Piece.offset_s`): faded
    over each other, the two carry the same moments at once (two copies of one sound a
    fraction of a frame apart would blur each other for the whole fade)."""
    if not 1 <= len(unit) <= 2:
        raise ValueError(f"a unit is one or two pieces, got {len(unit)}")
    rate = _fraction(fps)
    own = unit[-1]
    snippets: list[Snippet] = []
    for piece, has in zip(unit, sounded, strict=True):
        if piece is own:
            start, length = 0, samples
        else:
            at_s = piece.skip / rate + own.offset_s - piece.offset_s
            start = max(0, round(at_s * SAMPLE_RATE))
            length = round(piece.frames * SAMPLE_RATE / rate)
        snippets.append(Snippet(piece.path if has else None, start, length))
    return snippets


def unit_sound_command(exe: Path, snippets: Sequence[Snippet], output: Path) -> list[str]:
    """The argv writing ``snippets`` as raw PCM to ``output``: one snippet as it is, two
    cross-faded over the whole first (the second then ends the unit). Numbers only in the
    graph; only the snippets' files are opened, with the input guards of every command."""
    if not 1 <= len(snippets) <= 2:
        raise ValueError(f"a unit's sound is one or two snippets, got {len(snippets)}")
    guards = [part for name, value in FILE_INPUT_GUARDS.items() for part in (f"-{name}", value)]
    inputs: list[str] = []
    opened = 0
    chains: list[str] = []
    for index, snippet in enumerate(snippets):
        if snippet.samples < 1 or snippet.start < 0:
            raise ValueError(f"a snippet needs samples, got {snippet}")
        end = int(snippet.start) + int(snippet.samples)
        if snippet.path is None:
            head = f"anullsrc=r={SAMPLE_RATE}:cl=stereo,{_FORMAT}"
            trim = f"atrim=end_sample={int(snippet.samples)}"
        else:
            head = f"[{opened}:a:0]aresample={SAMPLE_RATE}:first_pts=0,{_FORMAT}"
            trim = f"atrim=start_sample={int(snippet.start)}:end_sample={end}"
            inputs += [*guards, "-i", str(Path(snippet.path).resolve())]
            opened += 1
        chains.append(f"{head},apad,{trim},asetpts=PTS-STARTPTS[s{index}]")
    if len(snippets) == 2:
        fade = int(snippets[0].samples)
        chains.append(f"[s0][s1]acrossfade=ns={fade}:c1=tri:c2=tri[out]")
        last = "[out]"
    else:
        last = "[s0]"
    return [
        str(exe),
        *GLOBAL_ARGS,
        *inputs,
        "-filter_complex",
        ";".join(chains),
        "-map",
        last,
        *_PCM,
        str(Path(output).resolve()),
    ]


def sound_mux_command(
    exe: Path, picture: Path, pcm: Path, output: Path, *, duration_s: float
) -> list[str]:
    """The argv putting the raw PCM ``pcm`` (as :func:`unit_sound_command` writes it) as AAC
    stereo under ``picture``'s first video stream (copied) into an MP4, ``duration_s`` long."""
    guards = [part for name, value in FILE_INPUT_GUARDS.items() for part in (f"-{name}", value)]
    out: list[str] = []
    for option, value in {**MP4_OUT, **AAC_STEREO}.items():
        out += [f"-{option}", str(value)]
    return [
        str(exe),
        *GLOBAL_ARGS,
        *guards,
        "-i",
        str(Path(picture).resolve()),
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        "s16le",
        *_PCM,
        "-i",
        str(Path(pcm).resolve()),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
        *out,
        "-t",
        f"{duration_s:.6f}",
        str(Path(output).resolve()),
    ]


def has_sound(path: Path) -> bool:
    """Whether ``path`` has an audio stream (a result the service returned without sound has
    none)."""
    try:
        with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
            return bool(box.streams.audio)
    except av.FFmpegError:
        return False


def join_sound(
    parts: Sequence[Sequence[Piece]],
    picture: Path,
    work: Path,
    output: Path,
    tools: FFmpegTools,
    *,
    fps: float,
    timeout_s: float,
    workers: int = 2,
) -> MediaInfo | None:
    """Write ``picture`` (the stitched units ``parts``, checked exact) with its units' own sound
    joined under it (see the module) to ``output``, and return its probe; None, writing
    nothing, when no piece has sound. Raises :class:`~reskin.errors.FFmpegError` when ffmpeg
    fails and :class:`~reskin.errors.VerificationError` (one line) when the file made is not
    as long as the picture, picture and sound, within a frame."""
    files = sorted({Path(piece.path) for unit in parts for piece in unit})
    sounded = {path: has_sound(path) for path in files}
    if not any(sounded.values()):
        log.debug("no segment's result has sound: the stitched video stays silent")
        return None
    work.mkdir(parents=True, exist_ok=True)
    bounds = unit_bounds(parts, fps)
    pcms = [work / f"sound-{index:05d}.pcm" for index in range(len(parts))]

    def one(index: int) -> None:
        unit = parts[index]
        samples = bounds[index + 1] - bounds[index]
        flags = [sounded[Path(piece.path)] for piece in unit]
        snippets = unit_snippets(unit, samples, fps, flags)
        run(unit_sound_command(tools.ffmpeg, snippets, pcms[index]), timeout_s=timeout_s)
        got = pcms[index].stat().st_size
        if got != samples * _SAMPLE_BYTES:
            _fail(output, f"unit {index} has {got // _SAMPLE_BYTES} samples, expected {samples}")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, range(len(parts))))
    joined = work / "sound.pcm"
    with joined.open("wb") as out:
        for pcm in pcms:
            with pcm.open("rb") as part:
                shutil.copyfileobj(part, out)
            pcm.unlink()
    frames = sum(expected_frames(unit) for unit in parts)
    duration_s = float(frames / _fraction(fps))
    try:
        run(
            sound_mux_command(tools.ffmpeg, picture, joined, output, duration_s=duration_s),
            timeout_s=timeout_s,
        )
    finally:
        joined.unlink(missing_ok=True)
    try:
        info = probe(output, tools=tools, timeout_s=timeout_s)
    except ProbeError as exc:
        _fail(output, "does not read back as a video", exc)
    _check(info, duration_s, fps)
    log.debug("joined the sound of %d units, %.3f s", len(parts), duration_s)
    return info


def _check(info: MediaInfo, duration_s: float, fps: float) -> None:
    """Picture and sound each as long as the stitched video, within a frame."""
    frame = 1 / float(_fraction(fps))
    sound_s = _audio_seconds(info.path)
    if not info.has_audio or abs(sound_s - duration_s) > frame:
        _fail(info.path, f"has {sound_s:.3f} s of sound, expected {duration_s:.3f} s")
    if abs(info.duration_s - duration_s) > frame:
        _fail(info.path, f"lasts {info.duration_s:.3f} s, expected {duration_s:.3f} s")


def _audio_seconds(path: Path) -> float:
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
        if not box.streams.audio:
            return 0.0
        stream = box.streams.audio[0]
        if stream.duration is None or stream.time_base is None:
            return 0.0
        return float(stream.duration * stream.time_base)


def _fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def _fail(path: Path, reason: str, cause: Exception | None = None) -> NoReturn:
    shown = shown_name(Path(path).name)
    raise VerificationError(f"{shown} {reason}: {_FIX}", path=Path(path), reason=reason) from cause
