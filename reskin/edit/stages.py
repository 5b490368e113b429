"""How :func:`reskin.edit.pipeline.edit` runs each stage: the :class:`Stages` protocol.

:data:`reskin.edit.pipeline.DIRECT` calls the core functions as they are; the flow's
``tasks/stages.py`` runs each as the Prefect task of the same name. Kept apart from the
pipeline so the long edit (:mod:`reskin.edit.long`), which the pipeline calls, can take stages
too without an import cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from reskin.edit.outputs import Delivered
from reskin.edit.prepare import Clip, Planned, Taken, ToSend
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched, SegmentDone, Sounded
from reskin.edit.segments import SegmentPlan
from reskin.edit.services import Services
from reskin.edit.wait import Finished
from reskin.fidelity.report import Fidelity, Span
from reskin.storage.upload import Placed
from reskin.submission import Submitted


class Stages(Protocol):
    """How :func:`edit` runs each stage: the same signatures as the core functions."""

    async def take_in(self, request: EditRequest, services: Services) -> Taken: ...

    async def split(
        self, request: EditRequest, taken: Taken, services: Services
    ) -> SegmentPlan: ...

    async def stitch(
        self,
        request: EditRequest,
        taken: Taken,
        plan: SegmentPlan,
        done: list[SegmentDone],
        services: Services,
    ) -> Fetched: ...

    async def plan(self, request: EditRequest, taken: Taken, services: Services) -> Planned: ...

    async def conform(self, taken: Taken, planned: ToSend, services: Services) -> Clip: ...

    async def place(self, clip: Clip, services: Services) -> Placed: ...

    async def submit(
        self, request: EditRequest, taken: Taken, placed: Placed | None, services: Services
    ) -> Submitted: ...

    async def poll(self, taken: Taken, submitted: Submitted, services: Services) -> Finished: ...

    async def fetch(self, taken: Taken, finished: Finished, services: Services) -> Fetched: ...

    async def fidelity(
        self,
        request: EditRequest,
        taken: Taken,
        planned: Planned,
        fetched: Fetched,
        services: Services,
        spans: Sequence[Span] = (),
    ) -> Fidelity: ...

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

    def segment(self, name: str) -> Stages:
        """The stages for one segment of a long edit, ``name`` naming it (in task names)."""
        ...
