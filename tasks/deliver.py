"""Stage ``deliver``: the preview drawn, the output and its preview put where the request wants
them (a local folder or S3), the request journaled as done
(:func:`reskin.edit.outputs.deliver`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reskin.edit import outputs
from reskin.edit.outputs import Delivered
from reskin.edit.prepare import Planned, Taken
from reskin.edit.request import EditRequest
from reskin.edit.results import Sounded
from reskin.edit.services import Services


@task(name="deliver", task_run_name="deliver {request.output}", cache_policy=NO_CACHE)
async def deliver(
    request: EditRequest, taken: Taken, planned: Planned, sounded: Sounded, services: Services
) -> Delivered:
    return await outputs.deliver(request, taken, planned, sounded, services)
