"""Stage ``split``: a long video's segments (:func:`reskin.edit.long.split`), shown as a table
artifact before anything is paid, so a UI run shows its plan and estimate first."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from reskin.edit import long
from reskin.edit.plan_table import plan_rows, plan_summary
from reskin.edit.prepare import Taken
from reskin.edit.request import EditRequest
from reskin.edit.segments import SegmentPlan
from reskin.edit.services import Services


@task(name="split", task_run_name="split {request.shown_input}", cache_policy=NO_CACHE)
async def split(request: EditRequest, taken: Taken, services: Services) -> SegmentPlan:
    plan = await long.split(request, taken, services)
    summary = plan_summary(plan, services.settings)
    get_run_logger().info("plan: %s", summary)
    await acreate_table_artifact(
        key="segment-plan",
        table=plan_rows(plan),
        description=f"**Plan** of {request.shown_input}: {summary}",
    )
    return plan
