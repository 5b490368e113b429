"""``reskin edit``'s approval before a big spend, asked before Prefect starts.

An edit estimated over ``RESKIN_APPROVE_ABOVE_CREDITS`` (by the dry run's own planning, so the
numbers are the ones ``--dry-run`` prints) is asked about on the terminal; ``--yes`` approves it
unasked; with no terminal and no ``--yes`` it is refused in one line. An approved edit runs with
the estimate as ``approved_credits``, so its flow run does not pause for the same question
(``reskin/edit/approval.py``); ``RESKIN_MAX_CREDITS`` still refuses it, whatever was answered.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.markup import escape
from rich.prompt import Confirm

from reskin.cli.console import err
from reskin.edit.approval import needs_approval, price
from reskin.edit.dry_run import EditPlan
from reskin.edit.request import EditRequest
from reskin.errors import NotApprovedError
from reskin.settings import Settings

Planner = Callable[[EditRequest, Settings], EditPlan]


def approve_on_terminal(
    request: EditRequest,
    settings: Settings,
    *,
    yes: bool,
    plan_of: Planner,
    is_terminal: Callable[[], bool] = sys.stdin.isatty,
) -> float | None:
    """The credits ``request`` is approved for, None when it needs no approval (no threshold,
    under it, or refused anyway by the budget, which the run then says). Raises
    :class:`~reskin.errors.NotApprovedError` when the user says no, or cannot be asked."""
    if settings.approve_above_credits is None:
        return None
    price(settings)  # no price, no estimate: one line saying so, before any planning
    plan = plan_of(request, settings)
    if plan.credits is None or plan.refused is not None:
        return None
    if not needs_approval(plan.credits, settings, None):
        return None
    what = (
        f"this edit ({len(plan.segments)} segment{'' if len(plan.segments) == 1 else 's'}, "
        f"{plan.billed_s} billed seconds) would cost about {plan.credits:,.0f} credits, over "
        f"RESKIN_APPROVE_ABOVE_CREDITS ({settings.approve_above_credits:,.0f})"
    )
    if yes:
        return plan.credits
    if not is_terminal():
        raise NotApprovedError(
            f"{what}, and there is no terminal to ask on: pass --yes to approve it (see the "
            "plan with --dry-run); nothing was sent"
        )
    err.print(f"plan: {escape(plan.summary)}")
    if not Confirm.ask(f"{escape(what)}. Send it?", console=err, default=False):
        raise NotApprovedError(f"{what}: not approved, nothing was sent")
    return plan.credits
