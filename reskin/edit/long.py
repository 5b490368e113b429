"""A long edit: a video longer than its model edits, sent as segments and stitched back.

Two stages of its own, between ``take_in`` and ``sound``:

- ``split`` (:func:`split`): the scene cuts (:mod:`reskin.media.scenes`) and keyframes of the
  window, planned into segments (:mod:`reskin.edit.segments`); the limits checked before anything
  is paid (the longest input, the budget, room on disk).
- ``stitch`` (:func:`stitch`): the edited segments, each cut to exactly its frames at the
  model's output rate, joined in order (:mod:`reskin.media.stitch`).

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

The original sound of the whole window is muxed once over the stitched video by ``sound``.

**Thumbnails for the fidelity check.** Results the stitch can join by stream copy show their own
frames in the stitched video, so each one's share of its thumbnails is made from the result as
soon as it is downloaded, while the other segments are still at the service (:func:`piece_thumbs`),
and ``stitch`` lays them end to end (:func:`stitched_thumbs`): the fidelity stage then decodes
nothing at the end (for ten minutes of 720p, a decode of about 20 s of CPU). Results that must be
re-encoded to be stitched leave it to the fidelity stage, which decodes the stitched video.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from reskin.edit import results, send
from reskin.edit.prepare import Clip, Planned, Taken, ToSend, request_fingerprint
from reskin.edit.references import Reference
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched, SegmentDone
from reskin.edit.segments import Segment, SegmentPlan, plan_segments, single
from reskin.edit.services import Services
from reskin.edit.stages import Stages
from reskin.errors import InputError, OutOfLimitsError, ReskinError
from reskin.fidelity.report import Span
from reskin.journal import Phase, file_sha256, fingerprint
from reskin.media.conform import Action, ConformPlan, plan_conform_file
from reskin.media.images import check_reference_images
from reskin.media.probe import keyframe_times, probe
from reskin.media.runner import run
from reskin.media.scenes import detect_cuts
from reskin.media.sound import AudioMode
from reskin.media.stills import grab_still
from reskin.media.stitch import Piece, copyable, stitch_units
from reskin.media.thumbs import PieceSamples, ThumbSpec, piece_samples, piece_thumbs_command
from reskin.progress import SegmentEnd, Segments, extra
from reskin.registry.spec import ModelSpec
from reskin.space import NOTHING_PAID, PAID_KEPT, ensure_room, writing

log = logging.getLogger(__name__)


#: Segments conformed, or fetched and decoded, at once: local work, one ffmpeg each, as many
#: as the machine has cores (a ten-minute video has a hundred segments).
LOCAL_AT_ONCE = max(1, os.cpu_count() or 1)
#: Creates being built and sent at once: a data URI body is the clip's size and a third.
SENDING_AT_ONCE = 2


@dataclasses.dataclass(frozen=True)
class Bounds:
    """How many segments may do what at once, within one long edit."""

    #: Jobs at the service (``RESKIN_MAX_JOBS_IN_FLIGHT``; the Prefect limit adds its own).
    jobs: asyncio.Semaphore
    local: asyncio.Semaphore
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
    a window over the longest input, or a long one asking for the model's sound, refused."""
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
    if request.audio is AudioMode.MODEL:
        raise InputError(
            f"the model's own sound cannot be joined across the segments of a video longer "
            f"than {spec.limits.max_duration_s:g} s yet: choose `audio` restore or none"
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
    fp = _key(request, taken, refs, s)
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
        local=asyncio.Semaphore(LOCAL_AT_ONCE),
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
    fresh = (
        services.journal.get(_key(segment_request(request, head), taken, refs, services)) is None
    )
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


def _key(request: EditRequest, taken: Taken, refs: tuple[Reference, ...], s: Services) -> str:
    """The journal key of a segment's ``request`` (:func:`segment_request`) with ``refs``."""
    return request_fingerprint(request, taken.resolved, s.settings, taken.source_sha256, refs)


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
        async with bounds.local:
            conform_plan = await asyncio.to_thread(
                plan_conform_file, taken.info, window=sub.window, limits=taken.resolved.spec.limits
            )
            run = stages.segment(where(segment, count))
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
        async with bounds.local:
            planned = await run.plan(sub, mine, services)
        if early is not None and (not isinstance(planned, ToSend) or early.cancelled()):
            early.cancel()
            early = None
        if isinstance(planned, ToSend):
            if early is not None:
                clip = await early
            else:
                async with bounds.local:
                    clip = await run.conform(mine, planned, services)
            placed = await run.place(clip, services)
        bounds.under_way.set()
        async with bounds.jobs, run.job_slot(services):
            async with bounds.sending:
                submitted = await run.submit(sub, mine, placed, services)
            finished = await run.poll(mine, submitted, services)
        async with bounds.local:
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


def piece_thumb_spec(
    taken: Taken, plan: SegmentPlan, segment: Segment, result: Path
) -> tuple[ThumbSpec, PieceSamples] | None:
    """Where the thumbnails that ``segment``'s ``result`` gives the stitched video are kept
    (beside the result, so a rerun reuses them, and pruned with it), and which of its frames
    they are; None when it gives none that can be made apart (a cross-fade's lead, a rate
    the thumbnails' does not divide, no thumbnails of the source to score against)."""
    source = taken.thumbs
    fps = taken.resolved.spec.output.fps
    if source is None or segment.lead_frames:
        return None
    offset = round((segment.start_s - plan.start_s) * fps)
    frames = round((segment.end_s - plan.start_s) * fps) - offset
    samples = piece_samples(fps, offset, frames)
    if samples is None:
        return None
    name = (
        f"{result.stem}.{samples.first}-{samples.step}-{samples.frames}."
        f"{source.width}x{source.height}.thumbs"
    )
    return ThumbSpec(result.with_name(name), source.width, source.height, source.fps), samples


def piece_thumbs(
    taken: Taken, plan: SegmentPlan, segment: Segment, fetched: Fetched, services: Services
) -> None:
    """Make ``segment``'s share of the stitched video's thumbnails from its own result, when
    the stitch can join that result as it is (:func:`~reskin.media.stitch.copyable`): the
    stitched video then shows its very frames. Best effort: without them, the fidelity stage
    decodes the stitched video."""
    found = piece_thumb_spec(taken, plan, segment, fetched.path)
    if found is None:
        return
    spec, samples = found
    info, fps = fetched.info, taken.resolved.spec.output.fps
    if spec.path.is_file() or not copyable(
        [Piece(fetched.path, samples.frames)], width=info.width, height=info.height, fps=fps
    ):
        return
    staged = spec.path.with_name(spec.path.name + ".part")
    try:
        run(
            piece_thumbs_command(
                services.tools.ffmpeg, fetched.path, dataclasses.replace(spec, path=staged), samples
            ),
            timeout_s=services.settings.ffmpeg_timeout_s,
        )
        if staged.stat().st_size != samples.count * spec.frame_bytes:
            log.debug("%s: not the thumbnails expected; the stitch will be decoded", spec.path)
            return
        staged.replace(spec.path)
    except (ReskinError, OSError) as exc:
        log.debug("no thumbnails of %s apart (%s): the stitch will be decoded", segment, exc)
    finally:
        staged.unlink(missing_ok=True)


def stitched_thumbs(
    taken: Taken, plan: SegmentPlan, done: Sequence[SegmentDone], stitched: Path
) -> None:
    """Lay the segments' thumbnails (:func:`piece_thumbs`) end to end as the stitched video's,
    where the fidelity stage looks for them; nothing when any is missing."""
    source = taken.thumbs
    if source is None:
        return
    parts: list[Path] = []
    for item in done:
        found = piece_thumb_spec(taken, plan, item.segment, item.fetched.path)
        if found is None or not found[0].path.is_file():
            return
        parts.append(found[0].path)
    target = results.result_thumbs(stitched, source.width, source.height).path
    staged = target.with_name(target.name + ".part")
    try:
        with staged.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out)
        staged.replace(target)
    except OSError as exc:
        log.debug("the stitched video's thumbnails were not laid out (%s): it will be decoded", exc)
    finally:
        staged.unlink(missing_ok=True)
    log.debug("stitch: the thumbnails of %d pieces laid end to end", len(parts))


def pieces(plan: SegmentPlan, done: Sequence[SegmentDone], fps: float) -> list[Piece]:
    """Each result's share of the stitched video, in frames at ``fps`` counted on the window's
    own grid, so the joins add no drift: segment i covers frames round(start x fps) to
    round(end x fps), and its lead (a cross-fade) the frames before that it was sent."""
    origin = plan.start_s

    def frame(seconds: float) -> int:
        return round((seconds - origin) * fps)

    return [
        Piece(
            path=item.fetched.path,
            frames=frame(item.segment.end_s) - frame(item.segment.sent_start_s),
            overlap=frame(item.segment.start_s) - frame(item.segment.sent_start_s),
        )
        for item in done
    ]


async def stitch(
    request: EditRequest,
    taken: Taken,
    plan: SegmentPlan,
    done: Sequence[SegmentDone],
    services: Services,
) -> Fetched:
    """The edited segments joined in order at the model's output rate and the first result's
    size: one video exactly as long as the window (to the frame), without sound.

    Kept beside the downloads under a name made of the segments' keys, so a rerun of the same
    edit (another output, another sound) reuses it instead of encoding it again."""
    settings = services.settings
    fps = taken.resolved.spec.output.fps
    first = done[0].fetched.info
    width = first.display_width - first.display_width % 2
    height = first.display_height - first.display_height % 2
    key = fingerprint({"segments": [item.fingerprint for item in done], "size": [width, height]})
    kept = results.results_dir(settings) / f"stitched-{key[:32]}.mp4"
    if kept.is_file():
        try:
            info = await asyncio.to_thread(probe, kept)
        except ReskinError:
            kept.unlink(missing_ok=True)
        else:
            log.info("stitch: reused the earlier run's %s", kept.name)
            return Fetched(info, reused=True)
    partial = kept.with_name(kept.stem + ".part.mp4")
    size = sum(item.fetched.info.size_bytes for item in done)
    joined = pieces(plan, done, fps)
    exact = await asyncio.to_thread(copyable, joined, width=width, height=height, fps=fps)
    with writing(settings.work_dir, size, what="the stitched video", note=PAID_KEPT):
        try:
            made = await asyncio.to_thread(
                stitch_units,
                joined,
                taken.job_dir / "units",
                partial,
                services.tools,
                width=width,
                height=height,
                fps=fps,
                preset=settings.conform_preset,
                crf=settings.conform_crf,
                timeout_s=settings.ffmpeg_timeout_s,
                allow_copy=exact,
            )
            partial.replace(kept)
        finally:
            partial.unlink(missing_ok=True)
    if exact:  # the stitched video shows the results' own frames
        await asyncio.to_thread(stitched_thumbs, taken, plan, done, kept)
    info = dataclasses.replace(made, path=kept)
    log.info("stitch: %d segments, %.3f s at %g fps", len(done), info.duration_s, fps)
    return Fetched(info, reused=all(item.fetched.reused for item in done))


def spans(plan: SegmentPlan) -> tuple[Span, ...]:
    """Each segment's part of the stitched result, in seconds from its start (for the
    fidelity check's per-segment and per-join scores)."""
    return tuple(
        Span(segment.index, segment.start_s - plan.start_s, segment.end_s - plan.start_s)
        for segment in plan.segments
    )


def whole_window(plan: SegmentPlan, taken: Taken, stitched: Fetched) -> ToSend:
    """The window as one plan, for ``sound`` (the original sound from its start, as long as
    it) and ``deliver``: what a short edit's ``plan`` gives."""
    info = stitched.info
    conform = ConformPlan(
        action=Action.ENCODE,
        reasons=(f"{len(plan.segments)} segments",),
        start_s=plan.start_s,
        duration_s=plan.duration_s,
        read_s=plan.duration_s,
        pad_to_s=None,
        width=info.display_width,
        height=info.display_height,
        fps=info.fps,
        audio="aac" if taken.info.has_audio else "none",
    )
    return ToSend(conform, None)


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
