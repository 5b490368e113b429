"""One edit, composed: the ten stages in order, over the services of the run.

===========  ======================================  ===========================================
stage        function                                gives
===========  ======================================  ===========================================
take_in      :func:`reskin.edit.prepare.take_in`     :class:`~reskin.edit.prepare.Taken`
plan         :func:`reskin.edit.prepare.plan`        ``ToSend`` or ``ToResume`` (the journal
                                                     already holds a live generation)
conform      :func:`reskin.edit.prepare.conform`     :class:`~reskin.edit.prepare.Clip`
place        :func:`reskin.edit.send.place`          ``Inline``, ``AtUrl`` or ``InS3``
submit       :func:`reskin.edit.send.submit`         :class:`~reskin.submission.Submitted`
poll         :func:`reskin.edit.wait.poll`           ``Ready`` (at a URL) or ``Downloaded``
fetch        :func:`reskin.edit.results.fetch`       :class:`~reskin.edit.results.Fetched`
fidelity     :func:`reskin.edit.fidelity.fidelity`   :class:`~reskin.fidelity.report.Fidelity`
                                                     (or the gate's one-line failure)
sound        :func:`reskin.edit.results.sound`       :class:`~reskin.edit.results.Sounded`
deliver      :func:`reskin.edit.outputs.deliver`     :class:`~reskin.edit.outputs.Delivered`
===========  ======================================  ===========================================

Two things are made ahead, into the job folder, beside the stages that do not need them: the
window's original sound, encoded while ``poll`` waits (``sound`` then copies it), and the
before/after contact sheet, drawn while ``fidelity`` scores and ``sound`` muxes (``deliver``
places it). Neither is a stage: each only moves work off the end of the edit.

:func:`edit` is the only place that orders them. It calls them through a :class:`Stages`:
:data:`DIRECT` calls the functions as they are (benchmarks, tests, any Python caller); the
Prefect flow passes one whose every stage is the task of the same name (``tasks/stages.py``), and
whose job slot is the jobs-in-flight limit shared on the Prefect server. A stage keeps its name in
every layer: function, task, and the key of its time in :attr:`EditResult.timings_s`.

A window longer than the model edits is a long edit (:mod:`reskin.edit.long`): after
``take_in``, ``split`` plans its segments; each segment goes through ``plan`` to ``fetch`` as
above, under the stages :meth:`Stages.segment` gives for it (its tasks are named after it);
``stitch`` joins them; ``fidelity`` (per segment and per join too), ``sound`` and ``deliver``
finish the whole as for a short edit::

    take_in -> split -> [plan -> conform -> place -> submit -> poll -> fetch] x N -> stitch
            -> fidelity -> sound -> deliver
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from pathlib import Path

from reskin import progress
from reskin.edit import fidelity, long, outputs, prepare, results, send, stitch, wait
from reskin.edit.ahead import Held, held_ahead
from reskin.edit.prepare import Taken, ToResume, ToSend
from reskin.edit.request import EditRequest, EditResult, SegmentResult
from reskin.edit.services import Services
from reskin.edit.stages import Stages
from reskin.progress import StageDone, extra
from reskin.storage.upload import Placed

log = logging.getLogger(__name__)

#: The stages in the order :func:`edit` runs them, and those of a long edit: named in
#: :mod:`reskin.progress` (a display knows them without importing the stages).
STAGES, LONG_STAGES = progress.STAGES, progress.LONG_STAGES


class Direct:
    """The core functions, called as they are; no job slot beyond the service's own limits."""

    take_in = staticmethod(prepare.take_in)
    split = staticmethod(long.split)
    stitch = staticmethod(stitch.stitch)
    plan = staticmethod(prepare.plan)
    conform = staticmethod(prepare.conform)
    place = staticmethod(send.place)
    submit = staticmethod(send.submit)
    fetch = staticmethod(results.fetch)
    fidelity = staticmethod(fidelity.fidelity)
    sound = staticmethod(results.sound)
    deliver = staticmethod(outputs.deliver)
    poll = staticmethod(wait.poll)

    @staticmethod
    def job_slot(services: Services) -> AbstractAsyncContextManager[object]:
        return nullcontext()

    def segment(self, name: str) -> Stages:
        return self


DIRECT: Stages = Direct()


class Laps:
    """Seconds per stage, each from the end of the one before."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: str) -> None:
        now = self._clock()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now
        event = StageDone(stage, self.seconds[stage])
        log.info("%s done in %.2f s", stage, event.seconds, extra=extra(event))


async def edit(
    request: EditRequest,
    services: Services,
    stages: Stages = DIRECT,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> EditResult:
    """Run one edit through ``stages``: the result, whole and verified at its output, or an
    error from the stage that failed (a :class:`~reskin.errors.ReskinError` for user and
    service errors). The job folder is removed and an uploaded clip deleted either way.

    The job slot is asked for while ``take_in`` works and given back while ``fetch`` does
    (:mod:`reskin.edit.ahead`); a run that may pause for approval asks for it only once past
    the approval (a slot is never held while a person is asked)."""
    ahead = services.settings.approve_above_credits is None
    async with held_ahead(stages.job_slot(services), ahead=ahead) as slot:
        return await _edit(request, services, stages, slot, Laps(clock))


async def _edit(
    request: EditRequest, services: Services, stages: Stages, slot: Held, laps: Laps
) -> EditResult:
    taken = await stages.take_in(request, services)
    laps("take_in")
    try:
        is_long = long.is_long(request, taken)
    except BaseException:
        shutil.rmtree(taken.job_dir, ignore_errors=True)
        raise
    if is_long:
        slot.give_back()  # a long edit holds one per segment
        return await _edit_long(request, taken, services, stages, laps)
    placed: Placed | None = None
    # Made ahead into the job folder, beside the stages: the original sound (for sound to
    # copy) and the before/after contact sheet (for deliver to place).
    ahead: asyncio.Task[Path | None] | None = None
    sheet: asyncio.Task[Path | None] | None = None
    try:
        planned = await stages.plan(request, taken, services)
        laps("plan")
        if isinstance(planned, ToSend):
            clip = await stages.conform(taken, planned, services)
            laps("conform")
            # Before anything is paid: room for the result and the final video (one line if not),
            # and the budget (RESKIN_MAX_CREDITS).
            results.ensure_room_to_finish(request, clip, planned, services.settings)
            long.check_budget(long.short_plan(request, taken, planned), services)
            placed = await stages.place(clip, services)
            laps("place")
        async with slot:  # held from here to the end of poll, given back beside fetch
            submitted = await stages.submit(request, taken, placed, services)
            laps("submit")
            # The original sound, encoded while the service works: sound then only copies it.
            ahead = asyncio.create_task(
                results.encode_sound_ahead(request, taken, planned, services)
            )
            finished = await stages.poll(taken, submitted, services)
            laps("poll")
        fetched = await stages.fetch(taken, finished, services)
        laps("fetch")
        # The before/after contact sheet, drawn beside fidelity and sound: deliver places it.
        sheet = asyncio.create_task(
            results.draw_sheet_ahead(request, taken, planned, fetched, services)
        )
        checked = await stages.fidelity(request, taken, planned, fetched, services)
        laps("fidelity")
        await ahead
        sounded = await stages.sound(request, taken, planned, fetched, services)
        laps("sound")
        await sheet
        delivered = await stages.deliver(request, taken, planned, sounded, services)
        laps("deliver")
    finally:
        await _remove_job_dir(taken, ahead, sheet)
        # Whatever the outcome: the presigned URL the service had has expired or soon will.
        await send.unplace(placed, services)
    info = sounded.info
    return EditResult(
        output=delivered.output,
        preview=delivered.preview,
        model=taken.resolved.spec.id,
        generation_id=submitted.generation_id,
        credits_used=finished.credits_used,
        resumed=submitted.resumed,
        reused_download=fetched.reused,
        input_duration_s=planned.conform.duration_s,
        output_duration_s=info.duration_s,
        width=info.width,
        height=info.height,
        has_audio=info.has_audio,
        conform=(
            "not needed (resumed)" if isinstance(planned, ToResume) else planned.conform.describe()
        ),
        sound=request.audio.value,
        timings_s=laps.seconds,
        fidelity=checked,
    )


async def _edit_long(
    request: EditRequest, taken: Taken, services: Services, stages: Stages, laps: Laps
) -> EditResult:
    """A long edit: split, every segment edited, stitched, then sound and deliver as one."""
    sheet: asyncio.Task[Path | None] | None = None
    try:
        plan = await stages.split(request, taken, services)
        laps("split")
        done = await long.edit_segments(request, taken, plan, services, stages)
        laps("segments")
        stitched = await stages.stitch(request, taken, plan, done, services)
        laps("stitch")
        planned = stitch.whole_window(plan, taken, stitched)
        sheet = asyncio.create_task(
            results.draw_sheet_ahead(request, taken, planned, stitched, services)
        )
        checked = await stages.fidelity(
            request, taken, planned, stitched, services, stitch.spans(plan)
        )
        laps("fidelity")
        sounded = await stages.sound(request, taken, planned, stitched, services)
        laps("sound")
        await sheet
        whole = dataclasses.replace(taken, segment_keys=tuple(item.fingerprint for item in done))
        delivered = await stages.deliver(request, whole, planned, sounded, services)
        laps("deliver")
    finally:
        await _remove_job_dir(taken, sheet)
    info = sounded.info
    credits = [item.credits_used for item in done]
    return EditResult(
        output=delivered.output,
        preview=delivered.preview,
        model=taken.resolved.spec.id,
        generation_id=",".join(item.generation_id for item in done),
        credits_used=None if None in credits else sum(c for c in credits if c is not None),
        resumed=all(item.resumed for item in done),
        reused_download=stitched.reused,
        input_duration_s=plan.duration_s,
        output_duration_s=info.duration_s,
        width=info.width,
        height=info.height,
        has_audio=info.has_audio,
        conform=f"{len(done)} segments ({len(plan.cuts_s)} scene cuts)",
        sound=request.audio.value,
        timings_s=laps.seconds,
        segments=tuple(
            SegmentResult(
                index=item.segment.index,
                start_s=round(item.segment.start_s, 6),
                end_s=round(item.segment.end_s, 6),
                generation_id=item.generation_id,
                credits_used=item.credits_used,
                resumed=item.resumed,
                reused_download=item.fetched.reused,
            )
            for item in done
        ),
        fidelity=checked,
    )


async def _remove_job_dir(taken: Taken, *ahead: asyncio.Task[Path | None] | None) -> None:
    """Remove the job folder once the work made ahead into it has ended (its ffmpeg done), or
    at once when there is none; removed whatever that wait meets."""
    try:
        running = {task for task in ahead if task is not None}
        if running:
            await asyncio.wait(running)
    finally:
        shutil.rmtree(taken.job_dir, ignore_errors=True)
