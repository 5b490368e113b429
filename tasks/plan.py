"""Stage ``plan``: what conforming will do, and whether a live generation is resumed
(:func:`reskin.edit.prepare.plan`)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reskin.edit import prepare
from reskin.edit.prepare import Planned, Taken, ToResume
from reskin.edit.request import EditRequest
from reskin.edit.services import Services


@task(name="plan", task_run_name="plan {request.shown_input}", cache_policy=NO_CACHE)
async def plan(request: EditRequest, taken: Taken, services: Services) -> Planned:
    planned = await prepare.plan(request, taken, services)
    if isinstance(planned, ToResume):
        get_run_logger().info(
            "resuming generation %s: nothing is conformed or sent", planned.generation_id
        )
    else:
        get_run_logger().info("plan: %s", planned.conform.describe())
    return planned
