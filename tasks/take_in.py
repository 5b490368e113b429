"""Stage ``take_in``: the input and its reference images into a job folder, the request
identified (:func:`reskin.edit.prepare.take_in`)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reskin.edit import prepare
from reskin.edit.prepare import Taken
from reskin.edit.request import EditRequest
from reskin.edit.services import Services


@task(name="take_in", task_run_name="take_in {request.shown_input}", cache_policy=NO_CACHE)
async def take_in(request: EditRequest, services: Services) -> Taken:
    taken = await prepare.take_in(request, services)
    info = taken.info
    get_run_logger().info(
        "input %s: %dx%d, %.2f s, %s; model %s",
        request.shown_input,
        info.display_width,
        info.display_height,
        info.duration_s,
        "with sound" if info.has_audio else "silent",
        taken.resolved.spec.id,
    )
    return taken
