"""Stage ``sound``: the final video with the sound asked for, in sync, written whole and
verified (:func:`reskin.edit.results.sound`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reskin.edit import results
from reskin.edit.prepare import Planned, Taken
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched, Sounded
from reskin.edit.services import Services


@task(name="sound", task_run_name="sound {request.audio.value}", cache_policy=NO_CACHE)
async def sound(
    request: EditRequest, taken: Taken, planned: Planned, fetched: Fetched, services: Services
) -> Sounded:
    return await results.sound(request, taken, planned, fetched, services)
