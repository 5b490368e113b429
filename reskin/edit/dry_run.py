"""``--dry-run``: what an edit would send and what it would cost, with nothing sent.

The input is taken in (copied, probed, hashed) and the window planned exactly as the edit
would (:func:`reskin.edit.long.segment_plan`: scene cuts, keyframes, the segments), then the
job folder is removed. No create, no upload, no Prefect run: it answers in the time the
scene detection takes. The budget and the longest input are reported, not enforced, so a plan
over them still shows why.
"""

from __future__ import annotations

import shutil

from pydantic import BaseModel, ConfigDict

from reskin.edit import long, prepare
from reskin.edit.plan_table import plan_summary
from reskin.edit.request import EditRequest
from reskin.edit.services import Services


class PlannedSegment(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    start_s: float
    end_s: float
    duration_s: float
    #: Where the window sent starts (before ``start_s`` when it leads into a cross-fade).
    sent_from_s: float
    starts_at: str
    scene: int
    billed_s: int


class EditPlan(BaseModel):
    """What ``reskin edit --dry-run --json`` prints."""

    model_config = ConfigDict(frozen=True)

    input: str
    model: str
    start_s: float
    end_s: float
    segments: tuple[PlannedSegment, ...]
    scene_cuts_s: tuple[float, ...]
    #: Scene cuts not used: each made a shot shorter than the model's shortest input.
    merged_cuts_s: tuple[float, ...]
    billed_s: int
    usd: float | None
    credits: float | None
    #: The first segment goes first and lends its look to the others.
    one_look: bool
    summary: str
    #: Why this edit would be refused before anything is paid (budget, ...); None if it would go.
    refused: str | None


async def dry_run(request: EditRequest, services: Services) -> EditPlan:
    """The plan of ``request``: its segments, their reasons and the estimate; nothing sent."""
    taken = await prepare.take_in(request, services)
    try:
        plan = await long.segment_plan(request, taken, services)
        refused = None
        try:
            long.check_budget(plan, services)
        except Exception as exc:
            refused = str(exc)
    finally:
        shutil.rmtree(taken.job_dir, ignore_errors=True)
    spec = taken.resolved.spec
    return EditPlan(
        input=request.input,
        model=spec.id,
        start_s=round(plan.start_s, 6),
        end_s=round(plan.end_s, 6),
        segments=tuple(
            PlannedSegment(
                index=segment.index,
                start_s=round(segment.start_s, 6),
                end_s=round(segment.end_s, 6),
                duration_s=round(segment.duration_s, 6),
                sent_from_s=round(segment.sent_start_s, 6),
                starts_at=segment.starts_at,
                scene=segment.scene,
                billed_s=segment.billed_s,
            )
            for segment in plan.segments
        ),
        scene_cuts_s=tuple(round(c, 6) for c in plan.cuts_s),
        merged_cuts_s=tuple(round(c, 6) for c in plan.merged_cuts_s),
        billed_s=plan.billed_s,
        usd=plan.usd,
        credits=plan.credits(services.settings.credits_per_second),
        one_look=request.one_look
        and len(plan.segments) > 1
        and long.takes_one_more(spec, taken.references),
        summary=plan_summary(plan, services.settings),
        refused=refused,
    )
