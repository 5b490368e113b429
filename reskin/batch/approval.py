"""What a batch will pay for, for its approval (:mod:`reskin.edit.approval`): each clip to send
at its billed estimate, as the budget counts it (:func:`reskin.batch.budget.billed_estimate`:
the window, or the local input's probed length as its model bills it; one job's most for an
input whose length only its run will know).

What would be paid now, as for an edit: a clip the plan did not skip (its output is missing, or
the results manifest of a batch that crashed never got its row) whose request the journal holds
as accepted, downloaded or done is resumed or reused by its run, so it is left out of the
estimate. Its key is known here for a local input (its content hash, no reference images:
:func:`reskin.batch.reuse.local_fingerprint`); a URL or ``s3://`` input, and a long clip (the
journal holds its segments, each under a key of its own), are counted whole.
"""

from __future__ import annotations

from pathlib import Path

from reskin.batch.budget import billed_estimate
from reskin.batch.plan import Plan
from reskin.batch.request import BatchRequest
from reskin.batch.reuse import local_fingerprint
from reskin.edit.approval import Estimate, Line, is_free, price
from reskin.journal import Journal
from reskin.registry import spec_for
from reskin.settings import Settings


def batch_estimate(
    batch: BatchRequest, plan: Plan, settings: Settings, journal: Journal | None = None
) -> Estimate:
    """The estimate of the clips ``plan`` will send (those already done cost nothing), less
    those ``journal`` holds as accepted or done (their runs pay nothing again)."""
    per_second = price(settings)
    lines = []
    free = 0
    for clip in plan.to_send:
        if journal is not None:
            fp = local_fingerprint(clip.request, settings)
            if fp is not None and is_free(fp, clip.request.force, journal, settings):
                free += 1
                continue
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
    title = f"batch {Path(batch.source).name}"
    return Estimate(title, "clip", tuple(lines), per_second, free=free)
