"""Thumbnails for the fidelity check: small gray frames at a fixed rate, aligned by time.

The fidelity check (:mod:`reskin.fidelity`) compares the source with the result frame by frame,
but the two rarely share a frame rate (the models return 24 fps; sources are 25, 30, 60). Both
are sampled at :data:`THUMB_FPS` on the same grid of times (``fps`` with ``start_time=0``: the
sample ``k`` is the frame showing at ``k / THUMB_FPS`` s), scaled to one size (:func:`thumb_size`
of the source, about 256 px) and kept as raw 8-bit gray: ``frames x height x width`` bytes.

Decoding a 1080p file is what costs, not the thumbnails: so the thumbnails are a second output
of a decode that happens anyway (the full-decode check of the input and of the service's result,
:func:`reskin.media.verify.verify` with ``thumbs=``). :func:`thumbs_command` decodes for them
alone, for a file no check decodes (a stitched long video, a reused download).

A long video's stitched result, when its pieces were joined by stream copy, shows the pieces'
own frames: its thumbnails are then the pieces' samples laid end to end, and each piece's are
made as soon as it is downloaded (:func:`piece_thumbs_command`), while the other segments are
still at the service, instead of decoding the whole stitched video once more at the end. On a
constant ``rate`` that is a whole multiple ``step`` of :data:`THUMB_FPS` (24 fps: 3), the ``fps``
filter's sample ``k`` is frame ``step * k + (step - 1) // 2`` (the latest frame whose time,
rounded to the nearest sample, is not after it): so a piece that starts at frame ``offset`` of
the whole gives the samples of its frames ``j`` with ``(offset + j) % step == (step - 1) // 2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS

#: Samples per second: fine enough for the motion between two samples to be followed by an
#: optical flow at 256 px, coarse enough to cost little (80 samples for 10 s).
THUMB_FPS = 8
#: The long side of a thumbnail, in pixels (V2VBench's metrics run at 256 to 512).
THUMB_LONG_SIDE = 256

#: Thumbnails: ``samples x height x width``; one of them: ``height x width``.
Frames = npt.NDArray[np.uint8]
Frame = npt.NDArray[np.uint8]
#: Samples read from a file at a time by :func:`iter_thumbs`.
_CHUNK = 64


@dataclass(frozen=True)
class ThumbSpec:
    """Where thumbnails go and their size; both sides of a comparison use the same size."""

    path: Path
    width: int
    height: int
    fps: int = THUMB_FPS

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height


def thumb_size(width: int, height: int, *, long_side: int = THUMB_LONG_SIDE) -> tuple[int, int]:
    """The thumbnail size of a picture shown at ``width`` x ``height``: its shape, the long side
    ``long_side``, both even."""
    if width <= 0 or height <= 0:
        raise ValueError(f"no thumbnail size for {width}x{height}")
    scale = long_side / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def thumbs_filter(spec: ThumbSpec) -> str:
    """The filter chain of a thumbnail output (numbers only: nothing of a user's reaches it)."""
    return (
        f"fps=fps={int(spec.fps)}:start_time=0,"
        f"scale={int(spec.width)}:{int(spec.height)}:flags=area,format=gray"
    )


def thumbs_output_args(spec: ThumbSpec) -> list[str]:
    """The arguments of a thumbnail output, for a command that decodes the file anyway (after
    its own outputs): the first video stream, sampled, scaled, raw gray."""
    return [
        "-map",
        "0:v:0",
        "-vf",
        thumbs_filter(spec),
        "-an",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        str(Path(spec.path).resolve()),
    ]


def thumbs_command(exe: Path, source: Path, spec: ThumbSpec) -> list[str]:
    """Decode ``source`` for its thumbnails alone (with the input guards of every command)."""
    guards: list[str] = []
    for option, value in FILE_INPUT_GUARDS.items():
        guards += [f"-{option}", value]
    return [
        str(exe),
        *GLOBAL_ARGS,
        *guards,
        "-i",
        str(Path(source).resolve()),
        *thumbs_output_args(spec),
    ]


@dataclass(frozen=True)
class PieceSamples:
    """Which frames of a piece the whole's thumbnails take: every ``step``-th from ``first``,
    before ``frames``."""

    first: int
    step: int
    frames: int

    @property
    def count(self) -> int:
        return len(range(self.first, self.frames, self.step))


def piece_samples(rate: float, offset: int, frames: int) -> PieceSamples | None:
    """The samples that the thumbnails of a video at ``rate`` fps take from its frames
    ``offset .. offset + frames``, counted from that piece's first frame; None when ``rate``
    is not a whole multiple of :data:`THUMB_FPS` (then only a decode of the whole tells)."""
    step = round(rate / THUMB_FPS)
    if step < 1 or abs(rate - step * THUMB_FPS) > 1e-6 or offset < 0 or frames < 1:
        return None
    return PieceSamples(((step - 1) // 2 - offset) % step, step, frames)


def piece_thumbs_command(
    exe: Path, piece: Path, spec: ThumbSpec, samples: PieceSamples
) -> list[str]:
    """Decode the first ``samples.frames`` frames of ``piece`` for the thumbnails the whole
    takes from them (:func:`piece_samples`), at ``spec``'s size: laid end to end in order,
    the pieces' files are the whole's thumbnails, byte for byte."""
    guards: list[str] = []
    for option, value in FILE_INPUT_GUARDS.items():
        guards += [f"-{option}", value]
    chain = (
        f"trim=start_frame={int(samples.first)}:end_frame={int(samples.frames)},"
        f"framestep=step={int(samples.step)},"
        f"scale={int(spec.width)}:{int(spec.height)}:flags=area,format=gray"
    )
    return [
        str(exe),
        *GLOBAL_ARGS,
        *guards,
        "-i",
        str(Path(piece).resolve()),
        "-map",
        "0:v:0",
        "-vf",
        chain,
        "-fps_mode",
        "passthrough",
        "-an",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        str(Path(spec.path).resolve()),
    ]


def iter_thumbs(spec: ThumbSpec, first: int = 0, count: int | None = None) -> Iterator[Frame]:
    """The thumbnails of ``spec`` from sample ``first``, at most ``count`` of them, read from
    the file a few at a time: memory stays the same whatever the video's length."""
    size = spec.frame_bytes
    left = count
    with Path(spec.path).open("rb") as handle:
        handle.seek(first * size)
        while left is None or left > 0:
            wanted = _CHUNK if left is None else min(_CHUNK, left)
            data = handle.read(wanted * size)
            got = len(data) // size
            if got == 0:
                return
            chunk = np.frombuffer(data[: got * size], dtype=np.uint8)
            yield from chunk.reshape(got, spec.height, spec.width)
            if left is not None:
                left -= got
