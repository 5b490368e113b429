"""Making a job's result: the ffmpeg renderer, behind a one-method interface.

The job store only calls a :class:`Renderer`. What a result looks like (its size, frame rate,
length and sound) is decided from the model's spec when the job is accepted (``service.py``);
the renderer only carries it out. Load mode (thousands of jobs in flight, no encoding) renders
nothing per job: ``load.py`` prepares one result at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reskin.media.binaries import FFmpegTools
from reskin.media.commands import render_command
from reskin.media.runner import run
from reskin.standin.looks import Look


@dataclass(frozen=True)
class RenderTask:
    """One result to make: the source, the look, the result as the model makes it, where to
    write."""

    source: Path
    result: Path
    look: Look
    width: int
    height: int
    fps: float
    #: The most seconds of the source the result covers (the model's ``Output.max_s``).
    max_s: float
    keep_audio: bool


class Renderer(Protocol):
    def __call__(self, task: RenderTask) -> None:
        """Write ``task.result``; raise on failure."""


@dataclass(frozen=True)
class FFmpegRenderer:
    """Renders with ffmpeg: the look, the task's size, frame rate and length, H.264."""

    tools: FFmpegTools
    preset: str
    timeout_s: float

    def __call__(self, task: RenderTask) -> None:
        partial = task.result.with_name(task.result.stem + ".part.mp4")
        argv = render_command(
            self.tools.ffmpeg,
            task.source,
            partial,
            filters=task.look.filters,
            width=task.width,
            height=task.height,
            fps=task.fps,
            keep_audio=task.keep_audio,
            preset=self.preset,
            max_duration_s=task.max_s,
        )
        run(argv, timeout_s=self.timeout_s)
        # The result URL must never serve a half-written file: publish by rename.
        partial.replace(task.result)
