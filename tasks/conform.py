"""Stage ``conform``: the clip the service gets (:func:`reskin.edit.prepare.conform`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reskin.edit import prepare
from reskin.edit.prepare import Clip, Taken, ToSend
from reskin.edit.services import Services


@task(name="conform", task_run_name="conform {planned.conform.action.value}", cache_policy=NO_CACHE)
async def conform(taken: Taken, planned: ToSend, services: Services) -> Clip:
    return await prepare.conform(taken, planned, services)
