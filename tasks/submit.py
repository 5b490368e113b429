"""Stage 3, submit: create the generation at most once per request.

Two layers retry, and they do not multiply blindly: the client retries each HTTP call (a create
only while the service surely has not accepted it), and this task retries the whole submission
twice more, only after errors that prove nothing was accepted (the journal reservation was
released). A lost answer, a refusal or a bad key is never retried here.

Every create sent (retries included) first takes its turn from the creates rate limit shared by
all processes on the Prefect server, and a 429 pauses them all (``tasks/limits.py``); a run that
resumes its generation sends nothing and takes no turn.
"""

from __future__ import annotations

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from reskin.edit.prepare import Prepared, journal_of
from reskin.edit.request import EditRequest
from reskin.edit.send import send
from reskin.errors import ApiConnectionError, RateLimitError, ServerError
from reskin.settings import load_settings
from reskin.storage.upload import Placed
from reskin.submission import Submitted
from tasks.limits import CreatesThrottle


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
async def submit(request: EditRequest, prepared: Prepared, placed: Placed | None) -> Submitted:
    """The generation id: resumed from the journal, or created (and journaled) now."""
    settings = load_settings()
    submitted = await send(
        request,
        prepared,
        placed,
        settings,
        journal_of(settings),
        throttle=CreatesThrottle(settings),
    )
    verb = "resumed" if submitted.resumed else "submitted"
    get_run_logger().info("%s generation %s", verb, submitted.generation_id)
    return submitted
