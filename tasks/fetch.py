"""Stage ``fetch``: the result downloaded at once and decoded whole, or an earlier download
reused (:func:`reskin.edit.results.fetch`)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reskin.edit import results
from reskin.edit.prepare import Taken
from reskin.edit.results import Fetched
from reskin.edit.services import Services
from reskin.edit.wait import Finished


@task(name="fetch", task_run_name="fetch {finished.generation_id}", cache_policy=NO_CACHE)
async def fetch(taken: Taken, finished: Finished, services: Services) -> Fetched:
    fetched = await results.fetch(taken, finished, services)
    if fetched.reused:
        get_run_logger().info("the result was downloaded by an earlier run: reused")
    return fetched
