"""Approval before big spends, the Prefect side: a run over ``RESKIN_APPROVE_ABOVE_CREDITS``
shows its plan and estimate (a markdown artifact, and the description of the resume form) and
pauses, waiting for an :class:`Approval`, before its first create.

Approve in the UI (the run's **Resume** button, approve on) or through the API::

    from prefect.flow_runs import resume_flow_run
    resume_flow_run(run_id, run_input={"approve": True, "note": "ok for the launch"})

Resumed with approve off, or not answered within ``RESKIN_APPROVAL_TIMEOUT_S``, the run ends
with one line (:class:`~reskin.errors.NotApprovedError`) and nothing paid. What is estimated and
when it asks is the core's (:mod:`reskin.edit.approval`).
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import apause_flow_run
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_base_key
from prefect.runtime import flow_run
from pydantic import Field

from reskin.batch.approval import batch_estimate
from reskin.batch.plan import Plan
from reskin.batch.request import BatchRequest
from reskin.edit.approval import (
    Estimate,
    Gate,
    approval_markdown,
    needs_approval,
    not_approved,
)
from reskin.edit.services import journal_of
from reskin.settings import Settings

#: The key of the approval's pause, so its answer can be read after the wait ran out.
PAUSE_KEY = "approval"
#: Seconds the server keeps a pause after the run stopped waiting (``_answer``).
EXPIRY_GRACE_S = 60


class Approval(RunInput):
    """The answer a paused run waits for: the form of its Resume button."""

    approve: bool = Field(
        default=False,
        title="Approve",
        description="On: send the run and pay about the credits shown. Off: end it, nothing paid.",
    )
    note: str | None = Field(
        default=None,
        max_length=500,
        title="Note",
        description="Why (kept in the run's logs and, for a rejection, in its failure).",
    )


async def ask_approval(estimate: Estimate, settings: Settings) -> None:
    """Show ``estimate`` and pause this flow run until it is answered: return on a yes; raise
    :class:`~reskin.errors.NotApprovedError` on a no or once ``approval_timeout_s`` passed."""
    logger = get_run_logger()
    markdown = approval_markdown(estimate, settings)
    await acreate_markdown_artifact(
        markdown, description=f"Waiting for approval: {estimate.title}: {estimate.summary()}"
    )
    logger.warning(
        "%s: %s, over RESKIN_APPROVE_ABOVE_CREDITS (%g): paused until approved in the Prefect "
        "UI (at most %d s); nothing is sent before",
        estimate.title,
        estimate.summary(),
        settings.approve_above_credits,
        settings.approval_timeout_s,
    )
    answer = await _answer(markdown, settings)
    if answer is None:
        raise not_approved(estimate, timed_out_s=settings.approval_timeout_s, note=None)
    if not answer.approve:
        raise not_approved(estimate, timed_out_s=None, note=answer.note)
    said = f" ({answer.note})" if answer.note else ""
    logger.info("%s: approved%s: sending", estimate.title, said)


async def _answer(markdown: str, settings: Settings) -> Approval | None:
    """The answer to the pause, None when none came within ``approval_timeout_s``.

    The run stops waiting on its own clock, before the server's pause expires
    (:data:`EXPIRY_GRACE_S` later): a run the server expired would end with Prefect's "never
    resumed" rather than the line saying what to do. An answer given as the wait ran out is
    still read, once."""
    try:
        async with asyncio.timeout(settings.approval_timeout_s):
            return await apause_flow_run(
                wait_for_input=Approval.with_initial_data(description=markdown),
                timeout=settings.approval_timeout_s + EXPIRY_GRACE_S,
                poll_interval=settings.approval_poll_s,
                key=PAUSE_KEY,
            )
    except (TimeoutError, FlowPauseTimeout):
        pass
    run_id = flow_run.get_id()
    async with get_client() as client:
        run = await client.read_flow_run(UUID(run_id)) if run_id else None
    if run is None or run.state is None or not run.state.is_running():
        return None
    return await Approval.aload(keyset_from_base_key(f"paused-{PAUSE_KEY}"))


def gate_of(settings: Settings) -> Gate:
    """The gate an edit's :class:`~reskin.edit.approval.Approving` stages ask through."""

    async def gate(estimate: Estimate) -> None:
        await ask_approval(estimate, settings)

    return gate


async def approve_batch(
    batch: BatchRequest, plan: Plan, settings: Settings, approved_credits: float | None
) -> float | None:
    """Ask for the batch's spend when it needs it; the credits its clips' runs are approved
    for (so that none of them asks again), None when nothing was approved."""
    if settings.approve_above_credits is None or not plan.to_send:
        return approved_credits
    estimate = await asyncio.to_thread(_batch_estimate, batch, plan, settings)
    if not needs_approval(estimate.credits, settings, approved_credits):
        get_run_logger().info("%s: no approval needed (%s)", estimate.title, estimate.summary())
        return approved_credits
    await ask_approval(estimate, settings)
    return estimate.credits


def _batch_estimate(batch: BatchRequest, plan: Plan, settings: Settings) -> Estimate:
    """The batch's estimate, less the clips this run's journal holds as accepted or done."""
    with journal_of(settings) as journal:
        return batch_estimate(batch, plan, settings, journal)
