"""The fidelity scores of a result against its source: numbers from thumbnails, nothing else.

Both inputs are thumbnails (:mod:`reskin.media.thumbs`): gray, one size, sample ``k`` of each
showing time ``k / fps``. :func:`measure` computes, once, what every score is made of; the
:class:`Measures` then give a score for the whole or for any span of samples (a segment of a
long video), and the seam at any join.

**motion** follows V2VBench's motion alignment (the end-point error between the optical flow
of the source and that of the edit), made a 0..1 score that needs no scale: with ``Fs`` and
``Fr`` the flows (OpenCV's DIS) between two consecutive samples of the source and of the result,
summed over the pixels of one pair::

    pair = 1 - sum |Fr - Fs| / (sum |Fs| + sum |Fr| + pixels * MOTION_FLOOR_PX)

and ``motion`` is the median of the pairs of a span, pairs across a scene cut of the source left
out. 1 is the same motion; 0 is motion unrelated to the source's, or reversed (``Fr = -Fs``
gives ``|Fr - Fs| = |Fs| + |Fr|``). The floor keeps a still shot, whose flows are noise, near
1; the median keeps a flash or a cut a frame off from weighing like lost motion.

**structure** is edge similarity: the Pearson correlation of the gradient magnitudes (Sobel, on
frames blurred a little so a new texture weighs less than an outline) of the source's sample and
the result's, per sample, below 0 counted as 0, averaged over the span. A new look keeps the
outlines where they were; a shifted, zoomed or other picture does not.

**timing**: the lag, in samples within :data:`MAX_LAG`, at which the result's gradients agree
best with the source's (0 when the result keeps the source's timing).

**seam** (a join of a long video, at sample ``j``): the result's change across the join
(mean absolute difference of samples ``j - 1`` and ``j``) against the larger of the source's
change at the same place and the result's usual change around it (the median over
:data:`SEAM_AROUND` pairs on each side): ``min(1, (usual + 1) / (change + 1))``, in gray levels.
1 is a join no more visible than the shot's own motion; 0.5 a jump twice as large.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from reskin.media.thumbs import Frame

#: Flow per pixel, between two samples, below which motion counts as none (in pixels of a
#: 256 px thumbnail): the noise of DIS on a still, re-graded picture stays under it.
MOTION_FLOOR_PX = 0.5
#: Samples of lag tried each way for the timing (at 8 samples a second: a quarter second).
MAX_LAG = 2
#: A source's change between two samples (mean absolute difference, in gray levels) that is a
#: scene cut, when it is also this many times the clip's median change.
CUT_LEVEL = 30.0
CUT_FACTOR = 4.0
#: Pairs of samples on each side of a join that give a shot's usual change.
SEAM_AROUND = 4
#: The blur before the gradients (sigma, in pixels of a thumbnail).
EDGE_BLUR_SIGMA = 1.0

Floats = npt.NDArray[np.float64]
Edges = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Measures:
    """What the scores are made of, per sample (``structure``) or per pair of consecutive
    samples (the rest: pair ``k`` is samples ``k`` and ``k + 1``)."""

    #: Sum over pixels of ``|Fr - Fs|``, ``|Fs|`` and ``|Fr|``.
    flow_apart: Floats
    flow_source: Floats
    flow_result: Floats
    #: Pixels of one sample.
    pixels: int
    structure: Floats
    #: Mean absolute difference of consecutive samples, in gray levels.
    change_source: Floats
    change_result: Floats
    #: The lag (in samples) at which the result agrees best with the source.
    lag: int

    @property
    def samples(self) -> int:
        return len(self.structure)

    def motion(self, first: int = 0, end: int | None = None) -> float:
        """The motion score of samples ``first`` to ``end``: the median of its pairs' own scores
        (:meth:`motion_per_pair`), leaving out the pairs across a scene cut of the source (no
        flow follows a cut). The median, so that a moment no flow follows either (a flash, a
        frame early or late at a cut) does not weigh like a second of lost motion, while a
        result that lost the motion loses it in most pairs."""
        pairs = slice(first, max(first, (self.samples if end is None else end) - 1))
        kept = self.motion_per_pair()[pairs][~self.cuts()[pairs]]
        return _unit(float(np.median(kept))) if len(kept) else 1.0

    def cuts(self) -> npt.NDArray[np.bool_]:
        """The pairs across a scene cut of the source: a change of at least
        :data:`CUT_LEVEL` gray levels and :data:`CUT_FACTOR` times the clip's median change."""
        if not len(self.change_source):
            return np.zeros(0, dtype=bool)
        usual = float(np.median(self.change_source))
        cut: npt.NDArray[np.bool_] = self.change_source >= max(CUT_LEVEL, CUT_FACTOR * usual)
        return cut

    def source_motion_px(self) -> float:
        """How much the source moves: its mean flow per pixel between two samples. Below
        :data:`MOTION_FLOOR_PX` it is still, and ``motion`` says little (a still picture
        reversed is the same picture)."""
        count = len(self.flow_source)
        return round(float(self.flow_source.sum()) / (count * self.pixels), 3) if count else 0.0

    def motion_per_pair(self) -> Floats:
        """The motion score of each pair alone: ``1 - |Fr - Fs| / (|Fs| + |Fr| + floor)``, sums
        over its pixels."""
        floor = self.pixels * MOTION_FLOOR_PX
        score: Floats = 1.0 - self.flow_apart / (self.flow_source + self.flow_result + floor)
        return np.clip(score, 0.0, 1.0)

    def structure_score(self, first: int = 0, end: int | None = None) -> float:
        """The structure score of samples ``first`` to ``end``."""
        span = self.structure[first:end]
        return _unit(float(span.mean())) if len(span) else 1.0

    def seam(self, at: int) -> float:
        """The score of a join between samples ``at - 1`` and ``at``."""
        if not 1 <= at < self.samples:
            return 1.0
        pair = at - 1
        around = np.concatenate(
            [
                self.change_result[max(0, pair - SEAM_AROUND) : pair],
                self.change_result[pair + 1 : pair + 1 + SEAM_AROUND],
            ]
        )
        usual = float(np.median(around)) if len(around) else 0.0
        usual = max(usual, float(self.change_source[pair]))
        return _unit((usual + 1.0) / (float(self.change_result[pair]) + 1.0))


def measure(source: Iterable[Frame], result: Iterable[Frame]) -> Measures:
    """Measure ``result`` against ``source`` over the samples both have (one frame size).

    One pass over both, holding a few frames at a time: a 10-minute video's 4,800 samples take
    no more memory than 10 seconds' 80 (the frames may come straight from the files)."""
    dis = cv2.DISOpticalFlow.create(cv2.DISOpticalFlow_PRESET_ULTRAFAST)
    apart: list[float] = []
    moved_source: list[float] = []
    moved_result: list[float] = []
    change_source: list[float] = []
    change_result: list[float] = []
    structure: list[float] = []
    lags = _Lags()
    last: tuple[Frame, Frame] | None = None
    for index, (now_source, now_result) in enumerate(zip(source, result, strict=False)):
        if now_source.shape != now_result.shape:
            raise ValueError(f"thumbnails of two sizes: {now_source.shape} and {now_result.shape}")
        if last is not None:
            # DIS at its fastest preset: about a millisecond a pair at 256x144, and the one
            # dense flow OpenCV keeps fast on a CPU (Farneback is several times slower here).
            flow_source = _flow(dis, last[0], now_source)
            flow_result = _flow(dis, last[1], now_result)
            apart.append(_length(flow_result - flow_source))
            moved_source.append(_length(flow_source))
            moved_result.append(_length(flow_result))
            change_source.append(float(cv2.absdiff(last[0], now_source).mean()))
            change_result.append(float(cv2.absdiff(last[1], now_result).mean()))
        edges_source, edges_result = _edges(now_source), _edges(now_result)
        structure.append(_agreement(edges_source, edges_result))
        lags.add(index, edges_source, edges_result)
        last = (now_source, now_result)
    if last is None:
        raise ValueError("no thumbnails to compare")
    return Measures(
        flow_apart=np.array(apart),
        flow_source=np.array(moved_source),
        flow_result=np.array(moved_result),
        pixels=last[0].shape[0] * last[0].shape[1],
        structure=np.clip(np.array(structure), 0.0, 1.0),
        change_source=np.array(change_source),
        change_result=np.array(change_result),
        lag=lags.best(),
    )


class _Lags:
    """The lag at which the result's gradients agree best with the source's, from every fourth
    sample (``result[k + lag]`` shows ``source[k]``), keeping only the gradients a lag can
    still reach."""

    def __init__(self) -> None:
        self.source: dict[int, Edges] = {}
        self.result: dict[int, Edges] = {}
        self.sums = dict.fromkeys(range(-MAX_LAG, MAX_LAG + 1), 0.0)
        self.counts = dict.fromkeys(range(-MAX_LAG, MAX_LAG + 1), 0)

    def add(self, index: int, source: Edges, result: Edges) -> None:
        if index % 4 == 0:
            self.source[index] = source
            for earlier in range(index - MAX_LAG, index):  # the result ahead: lags below 0
                if earlier in self.result:
                    self._meet(earlier - index, source, self.result[earlier])
        self.result[index] = result
        for key in range(index - MAX_LAG, index + 1):  # the result behind: lags from 0
            if key in self.source:
                self._meet(index - key, self.source[key], result)
        for old in [k for k in self.source if k < index - MAX_LAG]:
            del self.source[old]
        for old in [k for k in self.result if k < index - MAX_LAG]:
            del self.result[old]

    def _meet(self, lag: int, source: Edges, result: Edges) -> None:
        self.sums[lag] += _agreement(source, result)
        self.counts[lag] += 1

    def best(self) -> int:
        best, best_at = -2.0, 0
        for lag in sorted(self.sums, key=abs):  # ties go to the smaller lag
            if self.counts[lag] and self.sums[lag] / self.counts[lag] > best + 1e-3:
                best, best_at = self.sums[lag] / self.counts[lag], lag
        return best_at


def _flow(dis: cv2.DISOpticalFlow, first: Frame, second: Frame) -> npt.NDArray[np.float32]:
    # DIS starts from zero (no initial flow is set): the array only receives the flow.
    flow = dis.calc(first, second, np.zeros((*first.shape, 2), np.float32))
    return np.asarray(flow, dtype=np.float32)


def _length(flow: npt.NDArray[np.float32]) -> float:
    """The sum over pixels of the flow's length."""
    return float(cv2.magnitude(flow[..., 0], flow[..., 1]).sum())


def _edges(frame: Frame) -> Edges:
    blurred = cv2.GaussianBlur(frame, (0, 0), EDGE_BLUR_SIGMA)
    dx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(cv2.magnitude(dx, dy), dtype=np.float32)


def _agreement(a: Edges, b: Edges) -> float:
    """Pearson correlation of two gradient maps; 1 for two flat pictures, 0 for one flat."""
    a_centred = a - a.mean()
    b_centred = b - b.mean()
    spread = float(np.sqrt((a_centred * a_centred).sum() * (b_centred * b_centred).sum()))
    if spread == 0.0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float((a_centred * b_centred).sum()) / spread


def _unit(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)
