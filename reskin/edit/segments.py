"""The plan of a long edit: which windows of the video are sent as separate jobs, and why.

A video (or window) longer than the model edits is split into segments, each one job. The plan
is pure data, computed from facts alone (:func:`plan_segments`): the window, the source's frame
rate, the scene cuts found (:mod:`reskin.media.scenes`), the keyframes, and the model's spec.

How the cuts are chosen, in order:

1. **Frames, not seconds.** Every boundary is a frame of the source (``frame / fps``), so the
   segments tile the window exactly and the stitched result keeps its timing to the frame.
2. **Scenes.** A scene cut is always a boundary: a segment never spans two scenes, so a model
   never blends them. A shot shorter than the model's shortest input is the exception: it joins
   the neighbour that makes the shorter segment (it could not be sent alone without paying
   for seconds it does not have, nor be padded without a visible freeze).
3. **Balance.** A shot longer than the model's longest input is split into the fewest parts
   that fit (``ceil(length / longest)``), of about equal length: no 1 s tail billed as 3 s.
4. **Keyframes.** An inner boundary moves to a keyframe within :data:`KEYFRAME_REACH` of a part's
   length of its even place, if the parts still fit and bill no more whole seconds: a segment
   that starts on a keyframe is sent as a stream copy (no re-encode, a few hundredths of a
   second), one that does not is re-encoded.

**The order of the local work** (:func:`local_rank`). Every job takes about as long at the
service, so a long edit ends a job's time after its *last* create: the local steps go plans and
fetches first (milliseconds, and a fetch is on the way to the end), then the stream copies
(their creates go out at once and fill the first jobs in flight), then the re-encodes, longest
first (the fewest seconds left to the last one on two cores).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from reskin.errors import OutOfLimitsError
from reskin.media.conform_plan import Action
from reskin.registry.spec import ModelSpec

#: How far (a share of a part's length) an inner boundary may move to land on a keyframe.
KEYFRAME_REACH = 0.15

#: Why a segment starts where it does.
StartReason = Literal["start", "scene cut", "keyframe", "even split"]


@dataclass(frozen=True)
class Segment:
    """One job of a long edit: source frames ``[start_frame, end_frame)``."""

    #: 1-based, in order.
    index: int
    start_frame: int
    end_frame: int
    fps: float
    #: Why it starts where it does; ``scene`` counts the shots from 1.
    starts_at: StartReason
    scene: int
    #: Seconds the service bills for it, each started second whole.
    billed_s: int
    #: Frames sent before ``start_frame`` to cross-fade with the segment before (0: a hard cut).
    lead_frames: int = 0

    @property
    def sent_start_s(self) -> float:
        """Where the window sent to the model starts (before ``start_s`` by the lead)."""
        return (self.start_frame - self.lead_frames) / self.fps

    @property
    def start_s(self) -> float:
        return self.start_frame / self.fps

    @property
    def end_s(self) -> float:
        return self.end_frame / self.fps

    @property
    def duration_s(self) -> float:
        return (self.end_frame - self.start_frame) / self.fps

    @property
    def label(self) -> str:
        """``3/6``-style, for task names and messages (with the count, see the plan)."""
        return f"segment {self.index}"

    @property
    def sent_s(self) -> float:
        return (self.end_frame - self.start_frame + self.lead_frames) / self.fps

    def describe(self) -> str:
        lead = f", {self.lead_frames} frames lead" if self.lead_frames else ""
        return (
            f"{self.start_s:.3f} .. {self.end_s:.3f} s ({self.duration_s:.3f} s, "
            f"scene {self.scene}, {self.starts_at}{lead})"
        )


@dataclass(frozen=True)
class SegmentPlan:
    """The segments of one long edit, with what they are expected to cost."""

    model: str
    fps: float
    segments: tuple[Segment, ...]
    #: The scene cuts found in the window (seconds from the source's start), all of them.
    cuts_s: tuple[float, ...]
    #: Cuts not used as boundaries: each made a shot shorter than the model's shortest input.
    merged_cuts_s: tuple[float, ...]
    #: US dollars per billed second by the registry; None when the model has no published price.
    usd_per_s: float | None

    @property
    def start_s(self) -> float:
        return self.segments[0].start_s

    @property
    def end_s(self) -> float:
        return self.segments[-1].end_s

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def billed_s(self) -> int:
        return sum(segment.billed_s for segment in self.segments)

    @property
    def usd(self) -> float | None:
        return None if self.usd_per_s is None else round(self.billed_s * self.usd_per_s, 2)

    def credits(self, per_second: float | None) -> float | None:
        """The estimated credits at ``per_second`` credits per billed second; None unknown."""
        return None if per_second is None else self.billed_s * per_second

    def joins_in_shot(self) -> list[bool]:
        """For each join (between segment i and i+1): whether it lies inside one shot."""
        return [b.starts_at != "scene cut" for b in self.segments[1:]]


def longest_s(spec: ModelSpec) -> float:
    """The longest segment sent to ``spec``'s model: its input limit, no more than it edits,
    rounded down to a tenth (the registry's limits carry 0.05 s of slack for rounding)."""
    most = min(spec.limits.max_duration_s, spec.output.max_s)
    return math.floor(most * 10 + 1e-6) / 10


def plan_segments(
    spec: ModelSpec,
    *,
    fps: float,
    start_s: float,
    end_s: float,
    cuts_s: Sequence[float] = (),
    keyframes_s: Sequence[float] = (),
    crossfade_s: float = 0.0,
) -> SegmentPlan:
    """Split ``start_s .. end_s`` of a ``fps`` video into segments for ``spec``'s model.

    ``cuts_s`` are the first frames of new scenes and ``keyframes_s`` the keyframes, both in
    seconds from the source's start. With ``crossfade_s``, a segment that starts inside a shot
    is sent that much earlier (its lead), so the stitch can cross-fade it over the end of the
    one before; parts are then planned that much shorter, so that what is sent still fits.
    Raises :class:`OutOfLimitsError` when the rate is unknown.
    """
    if not math.isfinite(fps) or fps <= 0:
        raise OutOfLimitsError("the video's frame rate is unknown: export it again at a fixed rate")
    first, last = round(start_s * fps), round(end_s * fps)
    lead = max(0, round(crossfade_s * fps))
    most = math.floor(longest_s(spec) * fps + 1e-6) - lead
    least = max(1, math.ceil(spec.limits.min_duration_s * fps - 1e-6))
    cuts = sorted({round(c * fps) for c in cuts_s if first < round(c * fps) < last})
    kept, merged = _shots(first, last, cuts, least)
    keyframes = sorted({round(k * fps) for k in keyframes_s})
    segments: list[Segment] = []
    for scene, (a, b) in enumerate(itertools.pairwise(kept), start=1):
        bounds, reasons = _split(a, b, most, least, keyframes, fps, spec)
        for (s, e), why in zip(itertools.pairwise(bounds), reasons, strict=True):
            starts_at: StartReason = why
            if s == a:
                starts_at = "start" if a == first else "scene cut"
            lead_frames = lead if starts_at in ("keyframe", "even split") else 0
            segments.append(
                Segment(
                    index=len(segments) + 1,
                    start_frame=s,
                    end_frame=e,
                    fps=fps,
                    starts_at=starts_at,
                    scene=scene,
                    billed_s=spec.billing.billed_whole_seconds((e - s + lead_frames) / fps),
                    lead_frames=lead_frames,
                )
            )
    return SegmentPlan(
        model=spec.id,
        fps=fps,
        segments=tuple(segments),
        cuts_s=tuple(c / fps for c in cuts),
        merged_cuts_s=tuple(c / fps for c in merged),
        usd_per_s=spec.billing.usd_per_s,
    )


#: What a segment's local step is, for its turn (:func:`local_rank`).
LocalStep = Literal["plan", "conform", "fetch"]


def local_rank(
    segment: Segment, step: LocalStep, action: Action | None = None
) -> tuple[float, ...]:
    """Where ``segment``'s local ``step`` (a conform doing ``action``) stands in the queue of
    the edit's local work, lowest first: plans and fetches, then stream copies (and
    passthroughs), then re-encodes, the longest first; in order of the segments within each."""
    if step != "conform":
        return (0, 0.0, segment.index)
    if action is Action.ENCODE:
        return (2, -segment.sent_s, segment.index)
    return (1, 0.0, segment.index)


def billed_estimate_s(spec: ModelSpec, duration_s: float, fps: float = 30.0) -> float:
    """Seconds a video of ``duration_s`` bills on ``spec``'s model before its scenes are known:
    one job when it fits, else the balanced segments of one shot (each scene cut found later
    can add a segment, so this is a floor for long videos)."""
    if duration_s <= spec.limits.max_duration_s:
        return spec.billing.billed_seconds(duration_s)
    rate = fps if math.isfinite(fps) and fps > 0 else 30.0
    return float(plan_segments(spec, fps=rate, start_s=0.0, end_s=duration_s).billed_s)


def single(spec: ModelSpec, *, fps: float, start_s: float, end_s: float) -> SegmentPlan:
    """The plan of a short edit: the window as one segment (what ``--dry-run`` shows for it)."""
    rate = fps if math.isfinite(fps) and fps > 0 else spec.limits.min_fps
    first, last = round(start_s * rate), max(round(end_s * rate), round(start_s * rate) + 1)
    segment = Segment(
        index=1,
        start_frame=first,
        end_frame=last,
        fps=rate,
        starts_at="start",
        scene=1,
        billed_s=spec.billing.billed_whole_seconds(end_s - start_s),
    )
    return SegmentPlan(spec.id, rate, (segment,), (), (), spec.billing.usd_per_s)


def _shots(first: int, last: int, cuts: list[int], least: int) -> tuple[list[int], list[int]]:
    """The shot boundaries once every shot shorter than ``least`` frames joined a neighbour
    (the one that makes the shorter shot), and the cuts that were dropped for it."""
    bounds = [first, *cuts, last]
    dropped: list[int] = []
    while len(bounds) > 2:
        lengths = [b - a for a, b in itertools.pairwise(bounds)]
        shortest = min(range(len(lengths)), key=lengths.__getitem__)
        if lengths[shortest] >= least:
            break
        # Join the shorter neighbour: drop the cut between this shot and it.
        left = lengths[shortest - 1] if shortest > 0 else math.inf
        right = lengths[shortest + 1] if shortest + 1 < len(lengths) else math.inf
        cut = shortest if left <= right else shortest + 1
        dropped.append(bounds.pop(cut))
    return bounds, sorted(dropped)


def _split(
    a: int,
    b: int,
    most: int,
    least: int,
    keyframes: list[int],
    fps: float,
    spec: ModelSpec,
) -> tuple[list[int], list[StartReason]]:
    """Boundaries splitting frames ``[a, b)`` into the fewest parts of at most ``most`` frames,
    balanced, inner ones moved to keyframes when that bills no more; and why each part starts."""
    parts = max(1, math.ceil((b - a) / most))
    even = [a + round(k * (b - a) / parts) for k in range(parts + 1)]
    if parts == 1:
        return even, ["start"]
    moved = list(even)
    evenly: list[StartReason] = ["start" if k == 0 else "even split" for k in range(parts)]
    reasons = list(evenly)
    reach = KEYFRAME_REACH * (b - a) / parts
    for k in range(1, parts):
        # Room left: every later part must still fit between `least` and `most` frames.
        low = max(moved[k - 1] + least, b - (parts - k) * most, even[k] - reach)
        high = min(moved[k - 1] + most, b - (parts - k) * least, even[k] + reach)
        near = [f for f in keyframes if low <= f <= high]
        if near:
            moved[k] = min(near, key=lambda f: abs(f - even[k]))
            reasons[k] = "keyframe"
        else:
            moved[k] = min(max(even[k], math.ceil(low)), math.floor(high))

    def billed(bounds: list[int]) -> int:
        return sum(
            spec.billing.billed_whole_seconds((e - s) / fps) for s, e in itertools.pairwise(bounds)
        )

    if billed(moved) > billed(even):
        return even, evenly
    return moved, reasons
