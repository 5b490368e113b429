"""What a batch will pay for, for its approval (:mod:`reskin.edit.approval`): each clip to send
at its billed estimate, as the budget counts it (:func:`reskin.batch.budget.billed_estimate`:
the window, or the local input's probed length as its model bills it; one job's most for an
input whose length only its run will know)."""

from __future__ import annotations

from pathlib import Path

from reskin.batch.budget import billed_estimate
from reskin.batch.plan import Plan
from reskin.batch.request import BatchRequest
from reskin.edit.approval import Estimate, Line, price
from reskin.registry import spec_for
from reskin.settings import Settings


def batch_estimate(batch: BatchRequest, plan: Plan, settings: Settings) -> Estimate:
    """The estimate of the clips ``plan`` will send (those already done cost nothing)."""
    per_second = price(settings)
    lines = []
    for clip in plan.to_send:
        model = clip.request.model or settings.model
        # The plan estimated the clips already when the batch has a budget.
        billed = (
            plan.estimates[clip.index]
            if clip.index in plan.estimates
            else billed_estimate(clip.request, model)
        )
        if billed is None:
            lines.append(Line(clip.label, spec_for(model).billing.max_billed_s, known=False))
        else:
            lines.append(Line(clip.label, billed))
    return Estimate(f"batch {Path(batch.source).name}", "clip", tuple(lines), per_second)
