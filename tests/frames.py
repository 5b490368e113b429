"""Colour statistics of one decoded frame, to tell whether a result really changed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from reskin.media.probe import OPEN_OPTIONS


@dataclass(frozen=True)
class FrameStats:
    """Mean colour of one frame, shrunk to a few pixels (no numpy here)."""

    r: float
    g: float
    b: float
    saturation: float
    pixels: tuple[tuple[int, int, int], ...]

    @property
    def luma(self) -> float:
        return 0.299 * self.r + 0.587 * self.g + 0.114 * self.b

    def diff(self, other: FrameStats) -> float:
        """Mean absolute difference per channel, 0..255."""
        total = sum(
            abs(a - b)
            for mine, theirs in zip(self.pixels, other.pixels, strict=True)
            for a, b in zip(mine, theirs, strict=True)
        )
        return total / (3 * len(self.pixels))


def read_frame_stats(path: Path, at_s: float = 1.5, size: int = 48) -> FrameStats:
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        stream = container.streams.video[0]
        frame = None
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= at_s:
                break
        assert frame is not None, f"{path} has no frames"
        small = frame.reformat(width=size, height=size, format="rgb24")
    plane = small.planes[0]
    data = bytes(plane)
    pixels = tuple(
        (data[o], data[o + 1], data[o + 2])
        for y in range(size)
        for o in range(y * plane.line_size, y * plane.line_size + 3 * size, 3)
    )
    count = len(pixels)
    saturation = sum((max(p) - min(p)) / max(p) if max(p) else 0.0 for p in pixels) / count
    return FrameStats(
        r=sum(p[0] for p in pixels) / count,
        g=sum(p[1] for p in pixels) / count,
        b=sum(p[2] for p in pixels) / count,
        saturation=saturation,
        pixels=pixels,
    )
