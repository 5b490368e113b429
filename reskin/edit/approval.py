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
spend caps (``RESKIN_MAX_CREDITS``) were checked and before anything is sent.

The estimate is what would be paid now (:func:`to_pay`): what the journal holds as accepted,
downloaded or done is resumed or reused, not paid again, so a rerun after a crash asks only for
the rest and a rerun after success asks nothing. With one look (:mod:`reskin.edit.long`) the
other segments' journal keys hold the first one's look: when the first is journaled with its
result on disk, that look is taken from it now, as the run will take it; when the first is to
be paid, its new look makes every other segment new too.

``reskin edit`` asks before Prefect starts, with :func:`estimate_edit`: the same plan and the
same rule, but the input read where it is (probed and hashed, no copy, no decode check), so the
one full decode of its plan (the scene cuts, kept beside the downloads) is the run's too.

A pre-approval (``approved_credits``: the flows' parameter, what ``reskin edit --yes`` passes)
skips the question for an estimate up to that many credits; it lifts no cap: the budget is
checked before the question, whatever the answer.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from reskin.access import Access, check_path
from reskin.edit import long, prepare
from reskin.edit.kept import keep
from reskin.edit.outputs import Delivered
from reskin.edit.prepare import Clip, Planned, Taken, ToSend, request_fingerprint
from reskin.edit.references import Reference, take_references
from reskin.edit.request import EditRequest, resolve
from reskin.edit.results import Fetched, SegmentDone, Sounded
from reskin.edit.segments import Segment, SegmentPlan
from reskin.edit.services import Services
from reskin.edit.source import is_remote
from reskin.edit.stages import Stages
from reskin.edit.wait import Finished, reusable_download
from reskin.errors import ConfigError, NotApprovedError, ReskinError
from reskin.fidelity.report import Fidelity, Span
from reskin.journal import Journal, Phase, file_sha256
from reskin.media.intake import make_job_dir
from reskin.media.probe import probe
from reskin.settings import Settings
from reskin.space import NOTHING_PAID, writing
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
    #: Clips or segments left out: the journal holds them as accepted, downloaded or done, so
    #: the run resumes or reuses them and pays nothing for them again.
    free: int = 0

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

    def counted(self) -> str:
        """``4 clips``, or ``2 of 6 segments`` when the journal holds the others."""
        count, total = len(self.lines), len(self.lines) + self.free
        what = f"{self.unit}{'' if total == 1 else 's'}"
        return f"{count} {what}" if not self.free else f"{count} of {total} {what}"

    def summary(self) -> str:
        """``4 clips, 12 billed seconds, about 1,200 credits``."""
        parts = [
            self.counted(),
            f"{self.billed_s:,.0f} billed seconds",
            f"about {self.credits:,.0f} credits",
        ]
        if self.unknown:
            parts.append(f"{self.unknown} of unknown length counted at one job's most")
        if self.free:
            parts.append(
                f"{self.free} already accepted or done by an earlier run (the journal's), "
                "not paid again"
            )
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


def plan_estimate(
    plan: SegmentPlan, title: str, settings: Settings, paid: Sequence[Segment] | None = None
) -> Estimate:
    """The estimate of one edit from its plan of segments (one for a short edit): the
    segments ``paid`` (:func:`to_pay`; all of them when None)."""
    count = len(plan.segments)
    paying = plan.segments if paid is None else tuple(paid)
    lines = tuple(
        Line(f"{s.index} of {count} ({s.start_s:.2f}..{s.end_s:.2f} s)", float(s.billed_s))
        for s in paying
    )
    return Estimate(title, "segment", lines, price(settings), free=count - len(paying))


async def to_pay(
    request: EditRequest, taken: Taken, plan: SegmentPlan, services: Services
) -> tuple[Segment, ...]:
    """The segments of ``plan`` this run would pay for now, by the journal: one it holds as
    accepted, downloaded or done (within the retention, not forced again), or being sent by a
    live run, is resumed or reused, so it is left out; the rest is counted. A short edit is its
    one segment under its own key. One the journal holds as failed or lost is counted too,
    though the run refuses it unless forced: the estimate may be more, never less."""

    def segment_free(segment: Segment, refs: tuple[Reference, ...]) -> bool:
        fp = long.segment_key(request, taken, segment, refs, services.settings)
        return is_free(fp, long.forced(request, fp, services), services.journal, services.settings)

    if not long.is_long(request, taken):
        free = is_free(taken.fingerprint, request.force, services.journal, services.settings)
        return () if free else plan.segments
    refs, spec = taken.references, taken.resolved.spec
    if not (request.one_look and long.takes_one_more(spec, refs) and len(plan.segments) > 1):
        return tuple(s for s in plan.segments if not segment_free(s, refs))
    head, *tail = plan.segments
    if not segment_free(head, refs):  # a new first result lends a new look: all are new
        return plan.segments
    look = await _earlier_look(request, taken, head, services)
    if look is None:  # its result is not on disk: the others were never sent with its look
        return tuple(tail)
    return tuple(s for s in tail if not segment_free(s, (*refs, look)))


def is_free(fp: str, forced: bool, journal: Journal, settings: Settings) -> bool:
    """Whether request ``fp`` costs nothing again: the journal holds it as accepted,
    downloaded or done within the retention (or a run is sending it), and it is not forced."""
    entry = journal.get(fp)
    if entry is None or forced or entry.phase in _REFUSED:
        return False
    return not journal.is_stale(entry, retention_s=settings.result_retention_h * 3600)


#: What the journal refuses to send again unless forced (and a forced run pays for).
_REFUSED = (Phase.FAILED, Phase.LOST)


async def _earlier_look(
    request: EditRequest, taken: Taken, head: Segment, services: Services
) -> Reference | None:
    """The look the first segment's journaled result lends the others (the frame the run
    will take from it: :func:`reskin.edit.long.style_reference`), None when it is not on
    disk."""
    fp = long.segment_key(request, taken, head, taken.references, services.settings)
    entry = services.journal.get(fp)
    path = reusable_download(entry)
    if entry is None or path is None:
        return None
    try:
        info = await asyncio.to_thread(probe, path)
        first = SegmentDone(
            head,
            fp,
            Fetched(info, reused=True),
            entry.generation_id or "",
            entry.credits_used,
            True,
        )
        return await long.style_reference(first, taken, services)
    except ReskinError as exc:  # the run will say what is wrong with it; here: count the others
        log.debug("no look from the first segment's earlier result %s: %s", path, exc)
        return None


async def estimate_edit(request: EditRequest, services: Services) -> Estimate:
    """What ``request`` would pay now, before Prefect starts (``reskin edit``'s question):
    the plan the run will make (:func:`reskin.edit.long.segment_plan`), the budget checked,
    the journal asked (:func:`to_pay`). A local input is read where it is, probed and hashed,
    not copied nor decoded whole (the run's ``take_in`` does that); a URL or ``s3://`` input
    is taken in as the run takes it, and its copy kept for the run's ``take_in``
    (:mod:`reskin.edit.kept`). The scene cuts found here are kept for the run's ``split``.
    Nothing is sent; the job folder made for the references is removed."""
    settings = services.settings
    remote = is_remote(request.input)
    if remote:
        taken = await prepare.take_in(request, services)
    else:
        taken = await _read_in_place(request, services)
    try:
        plan = await long.segment_plan(request, taken, services)
        long.check_budget(plan, services)  # the cap first, as in the run: no answer lifts it
        paid = await to_pay(request, taken, plan, services)
        if remote:  # the run's take_in takes this copy: one download, of what was approved
            keep(settings.work_dir, request.input, taken.source)
    finally:
        shutil.rmtree(taken.job_dir, ignore_errors=True)
    return plan_estimate(plan, f"edit {request.shown_input}", settings, paid)


async def _read_in_place(request: EditRequest, services: Services) -> Taken:
    """A local input as :func:`reskin.edit.prepare.take_in` would take it, but read where it
    is: what the plan and the journal's keys need (its probe, its content hash, the reference
    images), in a job folder holding only the references."""
    settings = services.settings
    resolved = resolve(request, settings.model)
    source = check_path(request.input, Access.from_settings(settings), what="input")
    with writing(settings.work_dir, what="the job folder", note=NOTHING_PAID):
        job_dir = make_job_dir(settings.work_dir / "jobs")
    try:
        name = Path(request.input).name
        info, sha = await asyncio.gather(
            asyncio.to_thread(
                probe, source, tools=services.tools, name=name, timeout_s=settings.ffmpeg_timeout_s
            ),
            asyncio.to_thread(file_sha256, source),
        )
        refs = await take_references(
            request.reference_images, job_dir, resolved.spec.references, settings
        )
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    return Taken(
        job_dir=job_dir,
        source=source,
        info=info,
        references=refs,
        resolved=resolved,
        fingerprint=request_fingerprint(request, resolved, settings, sha, refs),
        source_sha256=sha,
    )


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

    async def _approve(
        self, plan: SegmentPlan, services: Services, taken: Taken | None = None
    ) -> None:
        """Ask about ``plan`` once: all of it (a short edit's clip, about to be sent), or, given
        the whole edit's ``taken``, what the journal does not hold (:func:`to_pay`)."""
        settings = services.settings
        if self._asked or settings.approve_above_credits is None:
            return
        self._asked = True
        long.check_budget(plan, services)  # the cap first: no answer lifts it
        paid = None if taken is None else await to_pay(self._request, taken, plan, services)
        estimate = plan_estimate(plan, f"edit {self._request.shown_input}", settings, paid)
        if not needs_approval(estimate.credits, settings, self._approved_credits):
            log.info("%s: no approval needed (%s)", estimate.title, estimate.summary())
            return
        await self._gate(estimate)

    async def split(self, request: EditRequest, taken: Taken, services: Services) -> SegmentPlan:
        plan = await self._stages.split(request, taken, services)
        # Before any segment is planned: what the journal already holds is not asked for.
        await self._approve(plan, services, taken)
        return plan

    async def conform(self, taken: Taken, planned: ToSend, services: Services) -> Clip:
        # A short edit conforms only what it sends (its plan read the journal): what it will
        # bill is known here.
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
