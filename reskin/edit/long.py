"""A long edit: a video longer than its model edits, sent as segments and stitched back.

Two stages of its own, between ``take_in`` and ``sound``:

- ``split`` (:func:`split`): the scene cuts (:mod:`reskin.media.scenes`) and keyframes of the
  window, planned into segments (:mod:`reskin.edit.segments`); the limits checked before anything
  is paid (the longest input, the budget, room on disk).
- ``stitch`` (:func:`reskin.edit.stitch.stitch`): the edited segments, each cut to exactly its
  frames at the model's output rate, joined in order (:mod:`reskin.media.stitch`).

Between them each segment is one edit of its own window, through the same stages as a short
one (``plan``, ``conform``, ``place``, ``submit``, ``poll``, ``fetch``) with a fingerprint of
its own (the source's hash, the segment's window, the prompt, the model, the options, the
references), so the journal pays, resumes and reuses each segment on its own: a rerun after a
crash pays only for the segments that were never accepted.

**One look.** By default (``one_look``) the first segment is edited first and a frame of its
result goes to every other segment as one more reference image, for models that take
references (Kling's ``image_list``, Aleph's ``references``); the others then go at once. Off,
or for models without references, all segments go at once (faster by about one job's time;
the look may drift between segments). Segments run concurrently up to
``RESKIN_MAX_JOBS_IN_FLIGHT`` here, and within the Prefect limits when run by the flow.

The original sound of the whole window is muxed once over the stitched video by ``sound``;
with ``--audio model`` each segment is sent asking for its sound back, and ``stitch`` joins the
results' sound under the picture, unit by unit on the picture's own frames
(:mod:`reskin.media.sound_join`), which ``sound`` then keeps as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence

from reskin.edit import results, send
from reskin.edit.prepare import Clip, Planned, Taken, ToSend, request_fingerprint
from reskin.edit.references import Reference
from reskin.edit.request import EditRequest
from reskin.edit.results import SegmentDone
from reskin.edit.segments import Segment, SegmentPlan, local_rank, plan_segments, single
from reskin.edit.services import Services
from reskin.edit.stages import Stages
from reskin.edit.stitch import piece_thumbs
from reskin.edit.turns import LOCAL_AT_ONCE, Turns
from reskin.errors import InputError, OutOfLimitsError, ReskinError
from reskin.journal import Phase, file_sha256, fingerprint
from reskin.media.conform import plan_conform_file
from reskin.media.images import check_reference_images
from reskin.media.probe import keyframe_times
from reskin.media.scenes import detect_cuts
from reskin.media.stills import grab_still
from reskin.progress import SegmentEnd, Segments, extra
from reskin.registry.spec import ModelSpec
from reskin.settings import Settings
from reskin.space import NOTHING_PAID, PAID_KEPT, ensure_room, writing

log = logging.getLogger(__name__)


#: Creates being built and sent at once: a data URI body is the clip's size and a third on the
#: wire (streamed from the file: bandwidth, no longer memory, is what this bounds).
SENDING_AT_ONCE = 2


@dataclasses.dataclass(frozen=True)
class Bounds:
    """How many segments may do what at once, within one long edit."""

    #: Jobs at the service (``RESKIN_MAX_JOBS_IN_FLIGHT``; the Prefect limit adds its own).
    jobs: asyncio.Semaphore
    #: The local steps (plan, conform, fetch), in :func:`~reskin.edit.segments.local_rank` order.
    local: Turns
    sending: asyncio.Semaphore
    #: Set once a segment is on its way to the service: early conforms wait for it, so they
    #: never hold up the first segment's own.
    under_way: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


def is_long(request: EditRequest, taken: Taken) -> bool:
    """Whether the window asked for is longer than the model edits in one job."""
    start, end = window_of(request, taken)
    return end - start > taken.resolved.spec.limits.max_duration_s + 1e-9


def window_of(request: EditRequest, taken: Taken) -> tuple[float, float]:
    """The part of the source edited, in seconds (the whole video unless a window is asked)."""
    total = taken.info.duration_s
    start = request.start_s or 0.0
    end = total if request.end_s is None else min(request.end_s, total)
    if start >= total:
        raise OutOfLimitsError(
            f"`start_s` {start:.2f} s is at or after the end of the video ({total:.2f} s): "
            "choose an earlier start"
        )
    return start, end


async def split(request: EditRequest, taken: Taken, services: Services) -> SegmentPlan:
    """The segments of this long edit, checked against what may be spent before any is paid."""
    plan = await segment_plan(request, taken, services)
    check_budget(plan, services)
    ensure_room_for(plan, services)
    log.info(
        "split: %d segments over %.2f s (%d scene cuts), %d billed seconds",
        len(plan.segments),
        plan.duration_s,
        len(plan.cuts_s),
        plan.billed_s,
        extra=extra(Segments(len(plan.segments))),
    )
    return plan


async def segment_plan(request: EditRequest, taken: Taken, services: Services) -> SegmentPlan:
    """The segments of the window (one for a short edit), from its scene cuts and keyframes;
    a window over the longest input refused."""
    settings, spec = services.settings, taken.resolved.spec
    start, end = window_of(request, taken)
    if not is_long(request, taken):
        return single(spec, fps=taken.info.fps, start_s=start, end_s=end)
    if end - start > settings.max_input_s + 1e-6:
        raise OutOfLimitsError(
            f"the part to edit lasts {_duration(end - start)}, longer than the "
            f"{_duration(settings.max_input_s)} reskin edits (RESKIN_MAX_INPUT_S): choose a "
            "part with `start_s` and `end_s`, or raise the setting"
        )
    # Both read the whole window (a decode, a demux): side by side, not one after the other.
    cuts, keyframes = await asyncio.gather(
        asyncio.to_thread(scene_cuts, taken, start, end, services),
        asyncio.to_thread(keyframe_times, taken.source, end),
    )
    return plan_segments(
        spec,
        fps=taken.info.fps,
        start_s=start,
        end_s=end,
        cuts_s=cuts,
        keyframes_s=keyframes,
        crossfade_s=settings.crossfade_s if settings.segment_join == "crossfade" else 0.0,
    )


def short_plan(request: EditRequest, taken: Taken, planned: Planned) -> SegmentPlan:
    """A short edit as a plan of one segment: what its job bills (the clip as sent)."""
    conform = planned.conform
    return single(
        taken.resolved.spec,
        fps=taken.info.fps,
        start_s=conform.start_s,
        end_s=conform.start_s + conform.sent_s,
    )


def scene_cuts(taken: Taken, start: float, end: float, services: Services) -> list[float]:
    """The window's scene cuts, in seconds from the source's start: found once per source,
    window and threshold, then kept beside the downloads (a rerun, or ``--dry-run`` then the
    edit, decodes the video once: a minute for ten minutes of 1080p)."""
    settings = services.settings
    key = fingerprint(
        {"source": taken.source_sha256, "window": [start, end], "t": settings.scene_threshold}
    )
    kept = results.results_dir(settings) / f"scenes-{key[:32]}.json"
    try:
        found = json.loads(kept.read_text())
        if isinstance(found, list) and all(isinstance(t, (int, float)) for t in found):
            return [float(t) for t in found]
    except (OSError, ValueError):
        pass
    cuts = [
        start + cut.at_s
        for cut in detect_cuts(
            taken.source,
            services.tools,
            threshold=settings.scene_threshold,
            start_s=start,
            duration_s=end - start,
            timeout_s=settings.ffmpeg_timeout_s,
        )
    ]
    if taken.source_sha256:  # known content: the cuts are its own
        with contextlib.suppress(OSError):
            kept.parent.mkdir(parents=True, exist_ok=True)
            partial = kept.with_name(kept.name + ".part")
            partial.write_text(json.dumps(cuts))
            partial.replace(kept)
    return cuts


def check_budget(plan: SegmentPlan, services: Services) -> None:
    """Refuse, before anything is paid, a plan whose estimated credits exceed the budget."""
    settings = services.settings
    if settings.max_credits is None:
        return
    credits = plan.credits(settings.credits_per_second)
    if credits is None:
        raise InputError(
            "a budget is set (RESKIN_MAX_CREDITS) but no price to estimate with: set "
            "RESKIN_CREDITS_PER_SECOND to what the service bills a second"
        )
    if credits > settings.max_credits + 1e-9:
        raise InputError(
            f"the {len(plan.segments)} segments would bill about {credits:,.0f} credits "
            f"({plan.billed_s} s), over the budget of {settings.max_credits:,.0f} "
            "(RESKIN_MAX_CREDITS): edit a shorter part with `start_s` and `end_s`, or raise "
            "the budget"
        )


def segment_request(request: EditRequest, segment: Segment) -> EditRequest:
    """The request for one segment: the same edit of the window it is sent (its lead too)."""
    return request.model_copy(update={"start_s": segment.sent_start_s, "end_s": segment.end_s})


def segment_taken(
    taken: Taken, request: EditRequest, segment: Segment, refs: tuple[Reference, ...], s: Services
) -> Taken:
    """The segment's own job folder, references and journal key, beside the whole's; no
    thumbnails: the fidelity stage scores the stitched video, so a segment's download needs
    none of its own."""
    job_dir = taken.job_dir / f"segment-{segment.index:03d}"
    job_dir.mkdir(exist_ok=True)
    fp = request_fingerprint(request, taken.resolved, s.settings, taken.source_sha256, refs)
    return dataclasses.replace(taken, job_dir=job_dir, references=refs, fingerprint=fp, thumbs=None)


async def edit_segments(
    request: EditRequest,
    taken: Taken,
    plan: SegmentPlan,
    services: Services,
    stages: Stages,
) -> list[SegmentDone]:
    """Every segment edited (paid, resumed or reused), in order; the first failure raised,
    naming its segment, once the others have ended (what they were paid for is kept)."""
    spec = taken.resolved.spec
    count = len(plan.segments)
    bounds = Bounds(
        jobs=asyncio.Semaphore(services.settings.max_jobs_in_flight or count),
        local=Turns(LOCAL_AT_ONCE),
        sending=asyncio.Semaphore(SENDING_AT_ONCE),
    )

    def one(
        segment: Segment, refs: tuple[Reference, ...], early: asyncio.Task[Clip] | None = None
    ) -> Awaitable[SegmentDone]:
        return _edit_segment(request, taken, segment, refs, plan, services, stages, bounds, early)

    refs = taken.references
    if not (request.one_look and takes_one_more(spec, refs) and count > 1):
        return await _all(plan.segments, count, lambda s: one(s, refs))
    head, *tail = plan.segments
    # A first run (nothing journaled for the first segment) conforms the others while the first
    # is edited: only their journal keys wait for its look, not their clips.
    fresh = services.journal.get(segment_key(request, taken, head, refs, services.settings)) is None
    early = (
        {s.index: _conform_early(request, taken, s, count, services, stages, bounds) for s in tail}
        if fresh
        else {}
    )
    try:
        first = await _named(head, count, one(head, refs))
        look = await style_reference(first, taken, services)
    except BaseException:
        for task in early.values():
            task.cancel()
        raise
    rest = await _all(tail, count, lambda s: one(s, (*refs, look), early.get(s.index)))
    return [first, *rest]


def segment_key(
    request: EditRequest, taken: Taken, segment: Segment, refs: tuple[Reference, ...], s: Settings
) -> str:
    """The journal key of ``segment`` of ``request`` with ``refs`` (the approval's estimate
    reads the journal by it too)."""
    sub = segment_request(request, segment)
    return request_fingerprint(sub, taken.resolved, s, taken.source_sha256, refs)


def _conform_early(
    request: EditRequest,
    taken: Taken,
    segment: Segment,
    count: int,
    services: Services,
    stages: Stages,
    bounds: Bounds,
) -> asyncio.Task[Clip]:
    """Conform ``segment``'s clip now, as its ``plan`` will want it (the same conform plan)."""

    async def conform() -> Clip:
        await bounds.under_way.wait()
        sub = segment_request(request, segment)
        mine = segment_taken(taken, sub, segment, taken.references, services)
        async with bounds.local.turn(local_rank(segment, "plan")):
            conform_plan = await asyncio.to_thread(
                plan_conform_file, taken.info, window=sub.window, limits=taken.resolved.spec.limits
            )
        run = stages.segment(where(segment, count))
        async with bounds.local.turn(local_rank(segment, "conform", conform_plan.action)):
            return await run.conform(mine, ToSend(conform_plan, None), services)

    return asyncio.create_task(conform(), name=f"conform {where(segment, count)}")


async def _all(
    segments: Sequence[Segment], count: int, run: Callable[[Segment], Awaitable[SegmentDone]]
) -> list[SegmentDone]:
    outcomes = await asyncio.gather(
        *(_named(s, count, run(s)) for s in segments), return_exceptions=True
    )
    done: list[SegmentDone] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        done.append(outcome)
    return done


async def _named(segment: Segment, count: int, work: Awaitable[SegmentDone]) -> SegmentDone:
    try:
        return await work
    except ReskinError as exc:
        exc.within(where(segment, count))
        raise


def where(segment: Segment, count: int) -> str:
    """``segment 3 of 6 (20.00..30.00 s)``: how a message and a task name a segment."""
    return f"segment {segment.index} of {count} ({segment.start_s:.2f}..{segment.end_s:.2f} s)"


async def _edit_segment(
    request: EditRequest,
    taken: Taken,
    segment: Segment,
    refs: tuple[Reference, ...],
    plan: SegmentPlan,
    services: Services,
    stages: Stages,
    bounds: Bounds,
    early: asyncio.Task[Clip] | None = None,
) -> SegmentDone:
    count = len(plan.segments)
    sub = segment_request(request, segment)
    mine = segment_taken(taken, sub, segment, refs, services)
    sub = sub.model_copy(update={"force": forced(request, mine.fingerprint, services)})
    run = stages.segment(where(segment, count))
    placed = None
    try:
        async with bounds.local.turn(local_rank(segment, "plan")):
            planned = await run.plan(sub, mine, services)
        if early is not None and (not isinstance(planned, ToSend) or early.cancelled()):
            early.cancel()
            early = None
        if isinstance(planned, ToSend):
            if early is not None:
                clip = await early
            else:
                rank = local_rank(segment, "conform", planned.conform.action)
                async with bounds.local.turn(rank):
                    clip = await run.conform(mine, planned, services)
            placed = await run.place(clip, services)
        bounds.under_way.set()
        async with bounds.jobs, run.job_slot(services):
            async with bounds.sending:
                submitted = await run.submit(sub, mine, placed, services)
            finished = await run.poll(mine, submitted, services)
        async with bounds.local.turn(local_rank(segment, "fetch")):
            fetched = await run.fetch(mine, finished, services)
            # While the other segments are at the service: this one's share of the stitched
            # video's thumbnails, so the fidelity stage need not decode it all at the end.
            await asyncio.to_thread(piece_thumbs, taken, plan, segment, fetched, services)
    finally:
        await send.unplace(placed, services)
    name = where(segment, count)
    log.info("%s: done", name, extra=extra(SegmentEnd(segment.index, count, name)))
    return SegmentDone(
        segment,
        mine.fingerprint,
        fetched,
        submitted.generation_id,
        finished.credits_used,
        submitted.resumed,
    )


#: What ``force`` pays again for, segment by segment: the rest is resumed as it is.
_FORCED = (Phase.FAILED, Phase.LOST, Phase.RESERVED)


def forced(request: EditRequest, fp: str, services: Services) -> bool:
    """Whether segment ``fp`` is forced: only when the request is and its journal entry is one
    ``force`` exists for (failed, lost, or sent without an answer). A forced rerun of a long
    video pays again for what went wrong, never for the segments already accepted or done."""
    if not request.force:
        return False
    entry = services.journal.get(fp)
    return entry is None or entry.phase in _FORCED


def takes_one_more(spec: ModelSpec, refs: tuple[Reference, ...]) -> bool:
    return spec.references is not None and len(refs) < spec.references.max_count


async def style_reference(first: SegmentDone, taken: Taken, services: Services) -> Reference:
    """A frame from the middle of the first segment's result, as a reference image: the same
    bytes on every rerun (the same result, the same frame), so later segments keep their keys."""
    limits = taken.resolved.spec.references
    if limits is None:  # only called for models that take references
        raise InputError(f"{taken.resolved.spec.id} takes no reference images")
    path = taken.job_dir / "look.jpg"
    with writing(services.settings.work_dir, what="the style reference", note=PAID_KEPT):
        await asyncio.to_thread(
            grab_still,
            services.tools.ffmpeg,
            first.fetched.path,
            path,
            # From the plan, not the probe: the same moment whether the result was just
            # downloaded or reused, so the same bytes and the same keys for the others.
            at_s=first.segment.sent_s / 2,
            timeout_s=services.settings.ffmpeg_timeout_s,
        )
    (info,) = await asyncio.to_thread(
        check_reference_images, [path], limits, names=["the first segment's frame"]
    )
    return Reference(path, None, await asyncio.to_thread(file_sha256, path), info)


def ensure_room_for(plan: SegmentPlan, services: Services) -> None:
    """Before any segment is paid: room for every result, the stitched video and the final
    one (each about :data:`results.RESULT_BYTES_PER_S` a second)."""
    settings = services.settings
    seconds = sum(s.sent_s for s in plan.segments) + 2 * plan.duration_s
    needed = math.ceil(seconds * results.RESULT_BYTES_PER_S)
    ensure_room(settings.work_dir, needed, what="the segments' results", note=NOTHING_PAID)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"
