"""Stage ``stitch``: a long edit's segments joined in order (:func:`reskin.edit.stitch.stitch`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reskin.edit import stitch as core
from reskin.edit.prepare import Taken
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched, SegmentDone
from reskin.edit.segments import SegmentPlan
from reskin.edit.services import Services


@task(name="stitch", task_run_name="stitch {request.shown_input}", cache_policy=NO_CACHE)
async def stitch(
    request: EditRequest,
    taken: Taken,
    plan: SegmentPlan,
    done: list[SegmentDone],
    services: Services,
) -> Fetched:
    return await core.stitch(request, taken, plan, done, services)
