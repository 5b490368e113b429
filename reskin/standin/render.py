"""Making a job's result: the ffmpeg renderer, behind a one-method interface.

The job store only calls a :class:`Renderer`. Load mode (thousands of jobs in flight, no
encoding) renders nothing per job: ``load.py`` prepares one result at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reskin.media.binaries import FFmpegTools
from reskin.media.commands import fit_size, render_command
from reskin.media.runner import run
from reskin.standin.looks import Look


@dataclass(frozen=True)
class RenderTask:
    """One result to make: the source as probed, the look, where to write."""

    source: Path
    result: Path
    look: Look
    display_width: int
    display_height: int
    keep_audio: bool


class Renderer(Protocol):
    def __call__(self, task: RenderTask) -> None:
        """Write ``task.result``; raise on failure."""


@dataclass(frozen=True)
class FFmpegRenderer:
    """Renders with ffmpeg: the look, the output box, 24 fps, H.264."""

    tools: FFmpegTools
    long_side: int
    short_side: int
    preset: str
    timeout_s: float

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        return fit_size(width, height, long_side=self.long_side, short_side=self.short_side)

    def __call__(self, task: RenderTask) -> None:
        width, height = self.output_size(task.display_width, task.display_height)
        partial = task.result.with_name(task.result.stem + ".part.mp4")
        argv = render_command(
            self.tools.ffmpeg,
            task.source,
            partial,
            filters=task.look.filters,
            width=width,
            height=height,
            fps=24,
            keep_audio=task.keep_audio,
            preset=self.preset,
        )
        run(argv, timeout_s=self.timeout_s)
        # The result URL must never serve a half-written file: publish by rename.
        partial.replace(task.result)
