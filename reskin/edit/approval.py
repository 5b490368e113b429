"""Approval before big spends (issue 17): a run whose estimate is over
``RESKIN_APPROVE_ABOVE_CREDITS`` waits for a yes before its first create.

Prefect-free: what a run will pay for (:class:`Estimate`, one :class:`Line` per clip of a batch
or segment of an edit), whether it must ask (:func:`needs_approval`), what it shows while it
waits (:func:`approval_markdown`) and how it ends when the answer is no
(:func:`not_approved`). Who asks is the caller's: the flows pause in the Prefect UI
(``tasks/approval.py``), ``reskin edit`` asks on its terminal (``reskin/cli/approval.py``).

An edit asks from inside the pipeline, through :class:`Approving`: it wraps the run's
:class:`~reskin.edit.stages.Stages` so that the estimate is the plan the run really follows
(``split``'s segments; a short edit's clip as conformed) and is asked for once, after the
spend caps (``RESKIN_MAX_CREDITS``) were checked and before anything is sent. An edit the
journal resumes asks nothing: it pays nothing new.

A pre-approval (``approved_credits``: the flows' parameter, what ``reskin edit --yes`` passes)
skips the question for an estimate up to that many credits; it lifts no cap: the budget is
checked before the question, whatever the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from reskin.edit import long
from reskin.edit.outputs import Delivered
from reskin.edit.prepare import Clip, Planned, Taken, ToSend
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched, SegmentDone, Sounded
from reskin.edit.segments import SegmentPlan
from reskin.edit.services import Services
from reskin.edit.stages import Stages
from reskin.edit.wait import Finished
from reskin.errors import ConfigError, NotApprovedError
from reskin.fidelity.report import Fidelity, Span
from reskin.settings import Settings
from reskin.storage.upload import Placed
from reskin.submission import Submitted

log = logging.getLogger(__name__)

#: Rows of the plan shown while a run waits (a batch may hold thousands of clips).
SHOWN_LINES = 50


@dataclass(frozen=True)
class Line:
    """One thing a run will pay for: a clip of a batch, or a segment of an edit."""

    label: str
    billed_s: float
    #: False when the length is known only once the run has it (a URL, an ``s3://`` object):
    #: the model's most for one job is counted.
    known: bool = True


@dataclass(frozen=True)
class Estimate:
    """What a run will pay for, known before its first create."""

    #: What runs: ``batch inbox``, ``edit clip.mp4``.
    title: str
    #: ``clip`` or ``segment``: what one line is.
    unit: str
    lines: tuple[Line, ...]
    credits_per_second: float

    @property
    def billed_s(self) -> float:
        return sum(line.billed_s for line in self.lines)

    @property
    def credits(self) -> float:
        return self.billed_s * self.credits_per_second

    @property
    def unknown(self) -> int:
        """Lines whose length is not known yet (counted at the model's most)."""
        return sum(not line.known for line in self.lines)

    def summary(self) -> str:
        """``4 clips, 12 billed seconds, about 1,200 credits``."""
        count = len(self.lines)
        parts = [
            f"{count} {self.unit}{'' if count == 1 else 's'}",
            f"{self.billed_s:,.0f} billed seconds",
            f"about {self.credits:,.0f} credits",
        ]
        if self.unknown:
            parts.append(f"{self.unknown} of unknown length counted at one job's most")
        return ", ".join(parts)


def price(settings: Settings) -> float:
    """Credits per billed second, which an approval threshold needs to estimate with."""
    if settings.credits_per_second is None:
        raise ConfigError(
            "an approval threshold is set (RESKIN_APPROVE_ABOVE_CREDITS) but no price to "
            "estimate with: set RESKIN_CREDITS_PER_SECOND to what the service bills a second"
        )
    return settings.credits_per_second


def needs_approval(credits: float, settings: Settings, approved_credits: float | None) -> bool:
    """Whether a run estimated at ``credits`` must wait for a yes: over the threshold, and over
    what was approved beforehand (``approved_credits``), if anything was."""
    threshold = settings.approve_above_credits
    if threshold is None or credits <= threshold + 1e-9:
        return False
    return approved_credits is None or credits > approved_credits + 1e-9


def plan_estimate(plan: SegmentPlan, title: str, settings: Settings) -> Estimate:
    """The estimate of one edit from its plan of segments (one for a short edit)."""
    count = len(plan.segments)
    lines = tuple(
        Line(f"{s.index} of {count} ({s.start_s:.2f}..{s.end_s:.2f} s)", float(s.billed_s))
        for s in plan.segments
    )
    return Estimate(title, "segment", lines, price(settings))


def approval_markdown(estimate: Estimate, settings: Settings) -> str:
    """The plan and the estimate as the Prefect UI shows them (the artifact and the pause's
    form): what would be paid, and what each answer does."""
    threshold = settings.approve_above_credits or 0.0
    shown = estimate.lines[:SHOWN_LINES]
    rows = [f"| {_cell(line.label)} | {_seconds(line)} |" for line in shown]
    if len(estimate.lines) > len(shown):
        rows.append(f"| ... and {len(estimate.lines) - len(shown)} more | |")
    return "\n".join(
        [
            f"# Approve about {estimate.credits:,.0f} credits?",
            "",
            f"**{_cell(estimate.title)}**: {estimate.summary()}, over the "
            f"{threshold:,.0f} credits above which a run asks first "
            "(RESKIN_APPROVE_ABOVE_CREDITS). Nothing has been sent or paid yet.",
            "",
            f"| {estimate.unit} | billed s |",
            "|---|---:|",
            *rows,
            "",
            "Resume the run with **approve** on to send it and pay. Resume it with approve "
            f"off, or leave it paused {_wait(settings.approval_timeout_s)} "
            "(RESKIN_APPROVAL_TIMEOUT_S), and it ends with nothing paid. The caps still apply "
            "either way: RESKIN_MAX_CREDITS for each edit, a batch's own budget.",
        ]
    )


def not_approved(
    estimate: Estimate, *, timed_out_s: int | None, note: str | None
) -> NotApprovedError:
    """How a run that was refused, or never answered, ends: one line, nothing paid."""
    what = f"{estimate.title} ({estimate.summary()})"
    if timed_out_s is not None:
        return NotApprovedError(
            f"{what} was not approved within {_wait(timed_out_s)} "
            "(RESKIN_APPROVAL_TIMEOUT_S): nothing was paid; run it again and approve it in "
            "the Prefect UI while it waits"
        )
    why = f" ({' '.join(note.split())})" if note and note.strip() else ""
    return NotApprovedError(
        f"{what} was rejected{why}: nothing was paid; run it again to ask again, with a "
        "shorter part or fewer clips to spend less"
    )


Gate = Callable[[Estimate], Awaitable[None]]


class Approving:
    """``stages`` with the approval step: before the first create of an edit whose estimate
    needs it, ``gate`` is awaited once with that estimate (it returns on a yes and raises
    :class:`~reskin.errors.NotApprovedError` otherwise). Every stage is ``stages``' own."""

    def __init__(
        self,
        stages: Stages,
        request: EditRequest,
        *,
        approved_credits: float | None,
        gate: Gate,
    ) -> None:
        self._stages = stages
        self._request = request
        self._approved_credits = approved_credits
        self._gate = gate
        self._asked = False

    async def _approve(self, plan: SegmentPlan, services: Services) -> None:
        settings = services.settings
        if self._asked or settings.approve_above_credits is None:
            return
        self._asked = True
        long.check_budget(plan, services)  # the cap first: no answer lifts it
        estimate = plan_estimate(plan, f"edit {self._request.shown_input}", settings)
        if not needs_approval(estimate.credits, settings, self._approved_credits):
            log.info("%s: no approval needed (%s)", estimate.title, estimate.summary())
            return
        await self._gate(estimate)

    async def split(self, request: EditRequest, taken: Taken, services: Services) -> SegmentPlan:
        plan = await self._stages.split(request, taken, services)
        await self._approve(plan, services)
        return plan

    async def conform(self, taken: Taken, planned: ToSend, services: Services) -> Clip:
        # A short edit conforms only what it sends: what it will bill is known here.
        await self._approve(long.short_plan(self._request, taken, planned), services)
        return await self._stages.conform(taken, planned, services)

    async def take_in(self, request: EditRequest, services: Services) -> Taken:
        return await self._stages.take_in(request, services)

    async def stitch(
        self,
        request: EditRequest,
        taken: Taken,
        plan: SegmentPlan,
        done: list[SegmentDone],
        services: Services,
    ) -> Fetched:
        return await self._stages.stitch(request, taken, plan, done, services)

    async def plan(self, request: EditRequest, taken: Taken, services: Services) -> Planned:
        return await self._stages.plan(request, taken, services)

    async def place(self, clip: Clip, services: Services) -> Placed:
        return await self._stages.place(clip, services)

    async def submit(
        self, request: EditRequest, taken: Taken, placed: Placed | None, services: Services
    ) -> Submitted:
        return await self._stages.submit(request, taken, placed, services)

    async def poll(self, taken: Taken, submitted: Submitted, services: Services) -> Finished:
        return await self._stages.poll(taken, submitted, services)

    async def fetch(self, taken: Taken, finished: Finished, services: Services) -> Fetched:
        return await self._stages.fetch(taken, finished, services)

    async def fidelity(
        self,
        request: EditRequest,
        taken: Taken,
        planned: Planned,
        fetched: Fetched,
        services: Services,
        spans: Sequence[Span] = (),
    ) -> Fidelity:
        return await self._stages.fidelity(request, taken, planned, fetched, services, spans)

    async def sound(
        self,
        request: EditRequest,
        taken: Taken,
        planned: Planned,
        fetched: Fetched,
        services: Services,
    ) -> Sounded:
        return await self._stages.sound(request, taken, planned, fetched, services)

    async def deliver(
        self,
        request: EditRequest,
        taken: Taken,
        planned: Planned,
        sounded: Sounded,
        services: Services,
    ) -> Delivered:
        return await self._stages.deliver(request, taken, planned, sounded, services)

    def job_slot(self, services: Services) -> AbstractAsyncContextManager[object]:
        return self._stages.job_slot(services)

    def segment(self, name: str) -> Stages:
        # A segment runs after split, where the whole edit was approved.
        return self._stages.segment(name)


def _cell(text: str) -> str:
    """``text`` safe in one markdown table cell or bold span."""
    return " ".join(text.split()).replace("|", "\\|").replace("*", "\\*")


def _seconds(line: Line) -> str:
    return f"{line.billed_s:g}" if line.known else f"{line.billed_s:g} (length unknown)"


def _wait(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
