"""One edit, composed: the nine stages in order, over the services of the run.

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
sound        :func:`reskin.edit.results.sound`       :class:`~reskin.edit.results.Sounded`
deliver      :func:`reskin.edit.outputs.deliver`     :class:`~reskin.edit.outputs.Delivered`
===========  ======================================  ===========================================

:func:`edit` is the only place that orders them. It calls them through a :class:`Stages`:
:data:`DIRECT` calls the functions as they are (benchmarks, tests, any Python caller); the
Prefect flow passes one whose every stage is the task of the same name (``tasks/stages.py``), and
whose job slot is the jobs-in-flight limit shared on the Prefect server. A stage keeps its name in
every layer: function, task, and the key of its time in :attr:`EditResult.timings_s`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Protocol

from reskin.edit import outputs, prepare, results, send, wait
from reskin.edit.outputs import Delivered
from reskin.edit.prepare import Clip, Planned, Taken, ToResume, ToSend
from reskin.edit.request import EditRequest, EditResult
from reskin.edit.results import Fetched, Sounded
from reskin.edit.services import Services
from reskin.edit.wait import Finished
from reskin.storage.upload import Placed
from reskin.submission import Submitted

#: The stages in the order :func:`edit` runs them (``conform`` and ``place`` only when sent).
STAGES = ("take_in", "plan", "conform", "place", "submit", "poll", "fetch", "sound", "deliver")


class Stages(Protocol):
    """How :func:`edit` runs each stage: the same signatures as the core functions."""

    async def take_in(self, request: EditRequest, services: Services) -> Taken: ...

    async def plan(self, request: EditRequest, taken: Taken, services: Services) -> Planned: ...

    async def conform(self, taken: Taken, planned: ToSend, services: Services) -> Clip: ...

    async def place(self, clip: Clip, services: Services) -> Placed: ...

    async def submit(
        self, request: EditRequest, taken: Taken, placed: Placed | None, services: Services
    ) -> Submitted: ...

    async def poll(self, taken: Taken, submitted: Submitted, services: Services) -> Finished: ...

    async def fetch(self, taken: Taken, finished: Finished, services: Services) -> Fetched: ...

    async def sound(
        self,
        request: EditRequest,
        taken: Taken,
        planned: Planned,
        fetched: Fetched,
        services: Services,
    ) -> Sounded: ...

    async def deliver(
        self,
        request: EditRequest,
        taken: Taken,
        planned: Planned,
        sounded: Sounded,
        services: Services,
    ) -> Delivered: ...

    def job_slot(self, services: Services) -> AbstractAsyncContextManager[object]:
        """Held from just before the create to the end of the poll."""
        ...


class Direct:
    """The core functions, called as they are; no job slot beyond the service's own limits."""

    take_in = staticmethod(prepare.take_in)
    plan = staticmethod(prepare.plan)
    conform = staticmethod(prepare.conform)
    place = staticmethod(send.place)
    submit = staticmethod(send.submit)
    fetch = staticmethod(results.fetch)
    sound = staticmethod(results.sound)
    deliver = staticmethod(outputs.deliver)
    poll = staticmethod(wait.poll)

    @staticmethod
    def job_slot(services: Services) -> AbstractAsyncContextManager[object]:
        return nullcontext()


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


async def edit(
    request: EditRequest,
    services: Services,
    stages: Stages = DIRECT,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> EditResult:
    """Run one edit through ``stages``: the result, whole and verified at its output, or an
    error from the stage that failed (a :class:`~reskin.errors.ReskinError` for user and
    service errors). The job folder is removed and an uploaded clip deleted either way."""
    laps = Laps(clock)
    taken = await stages.take_in(request, services)
    laps("take_in")
    placed: Placed | None = None
    try:
        planned = await stages.plan(request, taken, services)
        laps("plan")
        if isinstance(planned, ToSend):
            clip = await stages.conform(taken, planned, services)
            laps("conform")
            # Before anything is paid: room for the result and the final video (one line if not).
            results.ensure_room_to_finish(request, clip, planned, services.settings)
            placed = await stages.place(clip, services)
            laps("place")
        async with stages.job_slot(services):
            submitted = await stages.submit(request, taken, placed, services)
            laps("submit")
            finished = await stages.poll(taken, submitted, services)
            laps("poll")
        fetched = await stages.fetch(taken, finished, services)
        laps("fetch")
        sounded = await stages.sound(request, taken, planned, fetched, services)
        laps("sound")
        delivered = await stages.deliver(request, taken, planned, sounded, services)
        laps("deliver")
    finally:
        shutil.rmtree(taken.job_dir, ignore_errors=True)
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
    )
