"""``reskin edit``'s approval before a big spend, asked before Prefect starts.

An edit estimated over ``RESKIN_APPROVE_ABOVE_CREDITS`` is asked about on the terminal;
``--yes`` approves it unasked; with no terminal and no ``--yes`` it is refused in one line. The
estimate is the run's own rule (:func:`reskin.edit.approval.estimate_edit`): the plan the run
will make, less what the journal already holds (a rerun after a crash asks only for the rest,
one after success asks nothing). It reads a local input where it is, without the copy and the
full decode that the run's ``take_in`` makes, and the scene cuts it finds (its one full
decode) are kept for the run's ``split``, which then only reads the keyframes again: the
input's costly planning is done once, here, not once here and once more in the run (before,
the question took the input in as the dry run does: one copy and one full decode more).

An approved edit runs with the estimate as ``approved_credits`` (data, like the request: the
flow runs here or in the reskin runner), so its flow run does not pause for the same question
(``reskin/edit/approval.py``); ``RESKIN_MAX_CREDITS`` still refuses it, whatever was answered.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.markup import escape
from rich.prompt import Confirm

from reskin.cli.console import err
from reskin.edit.approval import Estimate, needs_approval, price
from reskin.edit.kept import discard
from reskin.edit.request import EditRequest
from reskin.errors import NotApprovedError
from reskin.settings import Settings

Planner = Callable[[EditRequest, Settings], Estimate]


def estimate_here(request: EditRequest, settings: Settings) -> Estimate:
    """What ``request`` would pay now, found in this process (no Prefect); nothing is sent."""
    import asyncio

    from reskin.edit.approval import estimate_edit
    from reskin.edit.services import open_services

    async def estimated() -> Estimate:
        async with open_services(settings) as services:
            return await estimate_edit(request, services)

    return asyncio.run(estimated())


def approve_on_terminal(
    request: EditRequest,
    settings: Settings,
    *,
    yes: bool,
    plan_of: Planner = estimate_here,
    is_terminal: Callable[[], bool] = lambda: sys.stdin.isatty(),  # the stdin of the call
) -> float | None:
    """The credits ``request`` is approved for, None when it needs no approval (no threshold,
    or under it). Raises :class:`~reskin.errors.NotApprovedError` when the user says no, or
    cannot be asked; the budget's refusal (``RESKIN_MAX_CREDITS``) as the run would."""
    if settings.approve_above_credits is None:
        return None
    price(settings)  # no price, no estimate: one line saying so, before any planning
    estimate = plan_of(request, settings)
    if not needs_approval(estimate.credits, settings, None):
        return None
    what = (
        f"this edit ({estimate.counted()}, {estimate.billed_s:,.0f} billed seconds) would cost "
        f"about {estimate.credits:,.0f} credits, over RESKIN_APPROVE_ABOVE_CREDITS "
        f"({settings.approve_above_credits:,.0f})"
    )
    if yes:
        return estimate.credits
    try:
        _ask(what, estimate, is_terminal)
    except BaseException:  # no run follows (a no, no terminal, Ctrl-C): its download goes
        discard(settings.work_dir, request.input)
        raise
    return estimate.credits


def _ask(what: str, estimate: Estimate, is_terminal: Callable[[], bool]) -> None:
    """Return on a yes on the terminal; else :class:`~reskin.errors.NotApprovedError`."""
    if not is_terminal():
        raise NotApprovedError(
            f"{what}, and there is no terminal to ask on: pass --yes to approve it (see the "
            "plan with --dry-run); nothing was sent"
        )
    err.print(f"plan: {escape(estimate.summary())}")
    if not Confirm.ask(f"{escape(what)}. Send it?", console=err, default=False):
        raise NotApprovedError(f"{what}: not approved, nothing was sent")
