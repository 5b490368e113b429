"""Stage ``submit``: create the generation at most once per request.

Two layers retry, and they do not multiply blindly: the client retries each HTTP call (a create
only while the service surely has not accepted it), and this task retries the whole submission
twice more, only after errors that prove nothing was accepted (the journal reservation was
released). A lost answer, a refusal or a bad key is never retried here.

Every create sent (retries included) first takes its turn from the creates rate limit shared by
all processes on the Prefect server, and a 429 pauses them all (``tasks/limits.py``); a run that
resumes its generation sends nothing and takes no turn.
"""

from __future__ import annotations

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from reskin.edit import send
from reskin.edit.prepare import Taken
from reskin.edit.request import EditRequest
from reskin.edit.services import Services
from reskin.errors import ApiConnectionError, RateLimitError, ServerError
from reskin.storage.upload import Placed
from reskin.submission import Submitted


async def surely_not_accepted(
    task: Task[..., object], task_run: TaskRun, state: State[object]
) -> bool:
    """Retry only failures after which no job can exist at the service."""
    # Async, as the task is: a sync condition would get an un-awaited result and retry anyway.
    failure = await state.aresult(raise_on_failure=False)
    return isinstance(failure, (ApiConnectionError, RateLimitError, ServerError))


@task(
    name="submit",
    task_run_name="submit {request.shown_input}",
    retries=2,
    retry_delay_seconds=[10, 30],
    retry_condition_fn=surely_not_accepted,
    cache_policy=NO_CACHE,
)
async def submit(
    request: EditRequest, taken: Taken, placed: Placed | None, services: Services
) -> Submitted:
    """The generation id: resumed from the journal, or created (and journaled) now; every
    create sent takes its turn of the shared creates limit (the run's client's throttle)."""
    # The core says "submitted generation ..." or "resuming generation ..." in this task run.
    return await send.submit(request, taken, placed, services)
