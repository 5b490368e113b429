"""The fidelity of one result as it is reported (``--json``, :class:`EditResult`, the run's
summary) and the gate that fails a run below the minimum.

A long video's scores come for the whole and for each of its segments (the spans of the
result each one made) and each join; the gate looks at the whole and at every segment, and
names the lowest score below the minimum. Seams are reported, not gated: see
``docs/fidelity.md`` for why.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from reskin.errors import FidelityError

if TYPE_CHECKING:
    # Only a type here: the models of this module are read by every `reskin edit` (its result,
    # its --json), which should not import numpy and OpenCV to print a mistake.
    from reskin.fidelity.scores import Measures

#: The blocks of :func:`strip`, from a score of 0 to 1.
_BLOCKS = "▁▂▃▄▅▆▇█"
#: The most characters a strip has.
STRIP_WIDTH = 60
#: What a score tells of the result when it is low.
_KEPT = {"motion": "motion", "structure": "layout"}


class Timing(BaseModel):
    """The result's timing against the source window's."""

    model_config = ConfigDict(frozen=True)

    #: The result's length minus the window's, in seconds.
    duration_difference_s: float
    #: How far the result's picture runs behind (+) or ahead of (-) the source's, in seconds,
    #: at the resolution of the samples.
    lag_s: float


class SegmentFidelity(BaseModel):
    """The scores of one segment of a long video (its span of the result)."""

    model_config = ConfigDict(frozen=True)

    index: int
    start_s: float
    end_s: float
    motion: float
    structure: float


class SeamFidelity(BaseModel):
    """The score of the join after segment ``after``."""

    model_config = ConfigDict(frozen=True)

    after: int
    at_s: float
    score: float


class Fidelity(BaseModel):
    """How well the result kept the source's motion and layout: each score 0..1, higher is
    better (``docs/fidelity.md`` defines them)."""

    model_config = ConfigDict(frozen=True)

    motion: float
    structure: float
    timing: Timing
    #: Samples compared (8 a second).
    samples: int
    #: How much the source moves (mean flow per pixel between two samples, in pixels of a
    #: 256 px thumbnail); under 0.5 it is still and ``motion`` says little.
    source_motion_px: float = 0.0
    #: The scores along the video, as :func:`strip` draws them (lowest block: 0).
    motion_strip: str = ""
    structure_strip: str = ""
    segments: tuple[SegmentFidelity, ...] = ()
    seams: tuple[SeamFidelity, ...] = ()

    def describe(self) -> str:
        """One line: the two scores, the lag if any, a long video's lowest segment and seam."""
        line = f"motion {self.motion:.2f}, structure {self.structure:.2f}"
        if self.timing.lag_s:
            when = "late" if self.timing.lag_s > 0 else "early"
            line += f", the picture runs {abs(self.timing.lag_s):.3f} s {when}"
        if self.segments:
            worst = min(self.segments, key=lambda s: min(s.motion, s.structure))
            line += (
                f"; lowest segment {worst.index}: motion {worst.motion:.2f}, "
                f"structure {worst.structure:.2f}"
            )
        if self.seams:
            line += f"; lowest seam {min(seam.score for seam in self.seams):.2f}"
        return line


@dataclass(frozen=True)
class Span:
    """A segment's part of the result, in seconds from its start."""

    index: int
    start_s: float
    end_s: float


def report(
    measures: Measures,
    *,
    fps: int,
    window_s: float,
    result_s: float,
    spans: Sequence[Span] = (),
) -> Fidelity:
    """The scores of ``measures`` (sampled at ``fps``), per span too; seams between spans."""
    segments = tuple(
        SegmentFidelity(
            index=span.index,
            start_s=round(span.start_s, 3),
            end_s=round(span.end_s, 3),
            motion=measures.motion(*_samples(span, fps)),
            structure=measures.structure_score(*_samples(span, fps)),
        )
        for span in spans
    )
    seams = tuple(
        SeamFidelity(
            after=span.index, at_s=round(span.end_s, 3), score=measures.seam(_at(span, fps))
        )
        for span in spans[:-1]
    )
    return Fidelity(
        motion=measures.motion(),
        structure=measures.structure_score(),
        timing=Timing(
            duration_difference_s=round(result_s - window_s, 3),
            lag_s=round(measures.lag / fps, 3),
        ),
        samples=measures.samples,
        source_motion_px=measures.source_motion_px(),
        motion_strip=strip(measures.motion_per_pair().tolist()),
        structure_strip=strip(measures.structure.tolist()),
        segments=segments,
        seams=seams,
    )


def gate(fidelity: Fidelity, minimum: float) -> None:
    """Raise :class:`FidelityError` when the whole, or a segment, scores below ``minimum``
    (the lowest such score is named); nothing when ``minimum`` is 0."""
    if minimum <= 0:
        return
    low: list[tuple[float, str, str]] = [
        (fidelity.motion, "motion", ""),
        (fidelity.structure, "structure", ""),
    ]
    total = len(fidelity.segments)
    for segment in fidelity.segments:
        where = (
            f" in segment {segment.index} of {total} ({segment.start_s:.2f}..{segment.end_s:.2f} s)"
        )
        low += [(segment.motion, "motion", where), (segment.structure, "structure", where)]
    value, score, where = min(low)
    if value >= minimum:
        return
    raise FidelityError(
        f"the result's {score} score {value:.2f} is below the minimum fidelity {minimum:.2f}"
        f"{where}: the edit did not keep the source's {_KEPT[score]}; nothing was written and "
        "the paid result is kept: rerun with `min_fidelity` 0 to write it anyway (nothing is "
        "paid again), or change the prompt and rerun",
        score=score,
        value=value,
        minimum=minimum,
    )


def strip(values: Sequence[float], *, width: int = STRIP_WIDTH) -> str:
    """A line of block characters, one per stretch of time (at most ``width``): each the
    lowest score of its stretch, from the lowest block (0) to the full one (1). Shown in the
    run's summary and the terminal alike, where a dip is quicker seen than read."""
    if not values:
        return ""
    import numpy as np

    buckets = min(width, len(values))
    edges = np.linspace(0, len(values), buckets + 1).round().astype(int)
    lows = [min(values[a:b]) for a, b in itertools.pairwise(edges.tolist()) if b > a]
    top = len(_BLOCKS) - 1
    return "".join(_BLOCKS[round(min(1.0, max(0.0, low)) * top)] for low in lows)


def _samples(span: Span, fps: int) -> tuple[int, int]:
    return round(span.start_s * fps), round(span.end_s * fps)


def _at(span: Span, fps: int) -> int:
    return round(span.end_s * fps)
