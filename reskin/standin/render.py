"""Making a job's result: the ffmpeg renderer, behind a one-method interface.

The job store only calls a :class:`Renderer`. What a result looks like (its size, frame rate,
length and sound) is decided from the model's spec when the job is accepted (``service.py``);
the renderer only carries it out. Load mode (thousands of jobs in flight, no encoding) renders
nothing per job: ``load.py`` prepares one result at start.

A :data:`Distortion` (set by a fault, see ``faults.py``) makes a result with the look applied,
as long and as large as the right one, but with the motion or the layout changed:

- ``reversed``: the frames in reverse order (ffmpeg's ``reverse``);
- ``other_scene``: another, moving scene instead of the source's picture (lavfi ``life``);
- ``shifted``: the picture cropped to :data:`SHIFT_CROP` of its width and height at its top
  right corner and scaled back: a third larger, grown from that corner (the centre moves to a
  third of the width and two thirds of the height).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FilterStep, SceneName, render_command
from reskin.media.runner import run
from reskin.standin.looks import Look

#: How a fault makes a result wrong while it keeps its look, length and size.
Distortion = Literal["reversed", "other_scene", "shifted"]
#: The share of the width and of the height a ``shifted`` result keeps.
SHIFT_CROP = 0.75
#: The scene an ``other_scene`` result shows: random cells that live and die, every frame.
OTHER_SCENE: SceneName = "life"


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
    #: A fault's wrong result (``None``: the right one).
    distortion: Distortion | None = None
    #: The look_drift fault's filters, run after the look's (empty: the look as it is).
    drift: tuple[FilterStep, ...] = ()


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
            filters=(*_layout(task), *task.look.filters, *task.drift),
            width=task.width,
            height=task.height,
            fps=task.fps,
            keep_audio=task.keep_audio,
            preset=self.preset,
            max_duration_s=task.max_s,
            scene=OTHER_SCENE if task.distortion == "other_scene" else None,
            reverse=task.distortion == "reversed",
        )
        run(argv, timeout_s=self.timeout_s)
        # The result URL must never serve a half-written file: publish by rename.
        partial.replace(task.result)


def _layout(task: RenderTask) -> tuple[FilterStep, ...]:
    """The filters that move a ``shifted`` result's picture (none for any other): crop
    :data:`SHIFT_CROP` of it at the top right corner (even sizes) and scale it back."""
    if task.distortion != "shifted":
        return ()
    width = int(task.width * SHIFT_CROP) // 2 * 2
    height = int(task.height * SHIFT_CROP) // 2 * 2
    return (
        ("crop", {"w": width, "h": height, "x": task.width - width, "y": 0}),
        ("scale", {"w": task.width, "h": task.height}),
        ("setsar", {"sar": 1}),
    )
