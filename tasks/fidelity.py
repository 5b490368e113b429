"""Stage ``fidelity``: the result measured against its source, and the gate
(:func:`reskin.edit.fidelity.fidelity`)."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from reskin.edit import fidelity as core
from reskin.edit.prepare import Planned, Taken
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched
from reskin.edit.services import Services
from reskin.fidelity.report import Fidelity, Span


@task(name="fidelity", task_run_name="fidelity {fetched.path.name}", cache_policy=NO_CACHE)
async def fidelity(
    request: EditRequest,
    taken: Taken,
    planned: Planned,
    fetched: Fetched,
    services: Services,
    spans: Sequence[Span] = (),
) -> Fidelity:
    return await core.fidelity(request, taken, planned, fetched, services, spans)
