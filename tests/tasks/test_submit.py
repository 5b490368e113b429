"""The submit task's retry layer: which failures it sends again (those after which no job can
exist at the service), checked on the states Prefect builds and on real task runs against the
stand-in, with the client's own retries off so each task attempt is one create. (That a lost
answer is not sent again by the task is checked through the flow, in tests/flows.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import cast

import pytest
from prefect import Task, flow
from prefect.client.schemas.objects import State, TaskRun
from prefect.results import ResultStore
from prefect.states import exception_to_failed_state

from reskin.edit.prepare import ToSend, conform, plan, take_in
from reskin.edit.request import EditRequest
from reskin.edit.send import place
from reskin.edit.services import open_services
from reskin.errors import (
    ApiConnectionError,
    AuthenticationError,
    BadRequestError,
    GenerationFailedError,
    InputError,
    InsufficientCreditsError,
    RateLimitError,
    ServerError,
    SubmissionUnknownError,
)
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from reskin.submission import Submitted
from tasks.submit import submit, surely_not_accepted
from tests.conftest import MakeClip

# The failed states are built as the engine builds them, with a result store: that needs an API.
pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]

NOT_ACCEPTED = [
    ApiConnectionError("cannot reach the service"),
    RateLimitError("429", status_code=429, retry_after_s=1.0),
    ServerError("503", status_code=503),
    ServerError("500", status_code=500),
]
MAYBE_ACCEPTED_OR_FINAL = [
    SubmissionUnknownError("the answer was lost"),
    AuthenticationError("401", status_code=401),
    InsufficientCreditsError("403", status_code=403),
    BadRequestError("400", status_code=400),
    GenerationFailedError("failed before", generation_id="g", name="error", detail="d"),
    InputError("the clip was not prepared"),
    ValueError("a bug"),
]


async def _condition(exc: BaseException) -> bool:
    # The failed state as the task engine builds it: the exception in a result record.
    state = await exception_to_failed_state(exc, result_store=ResultStore())
    task = cast("Task[..., object]", submit)
    run = TaskRun(task_key="submit", dynamic_key="0")
    return await surely_not_accepted(task, run, cast("State[object]", state))


@pytest.mark.parametrize("exc", NOT_ACCEPTED, ids=lambda e: type(e).__name__)
async def test_failures_before_acceptance_are_retried(exc: BaseException) -> None:
    assert await _condition(exc) is True


@pytest.mark.parametrize("exc", MAYBE_ACCEPTED_OR_FINAL, ids=lambda e: type(e).__name__)
async def test_a_possible_job_or_a_final_answer_is_not_retried(exc: BaseException) -> None:
    assert await _condition(exc) is False


def test_the_task_declares_its_retries_and_condition() -> None:
    assert submit.retries == 2
    assert submit.retry_condition_fn is surely_not_accepted


# --- real task runs ----------------------------------------------------------------------------


@flow(persist_result=False)
async def submit_only(request: EditRequest) -> Submitted:
    """The stages up to the submit task, with its retries at once instead of 10 and 30 s."""
    async with open_services(load_settings()) as services:
        taken = await take_in(request, services)
        try:
            planned = await plan(request, taken, services)
            assert isinstance(planned, ToSend)
            placed = await place(await conform(taken, planned, services), services)
            retry_now = submit.with_options(retry_delay_seconds=0)
            return await retry_now(request, taken, placed, services)
        finally:
            shutil.rmtree(taken.job_dir, ignore_errors=True)


@pytest.fixture
def request_(
    edit_env: Path, make_clip: MakeClip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> EditRequest:
    monkeypatch.setenv("RESKIN_MAX_RETRIES", "0")  # one create per task attempt
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    return EditRequest(input=str(clip), prompt="sepia film", output=str(tmp_path / "o.mp4"))


async def test_a_5xx_create_is_retried_by_the_task_and_pays_once(
    standin: StandIn, request_: EditRequest
) -> None:
    standin.set_faults(create_5xx=1)
    submitted = await submit_only(request_)
    assert not submitted.resumed
    stats = standin.stats()
    assert stats.create_calls == 2
    assert stats.jobs_accepted == 1


async def test_the_task_gives_up_after_two_retries(standin: StandIn, request_: EditRequest) -> None:
    standin.set_faults(create_429=10, retry_after_s=0)
    with pytest.raises(RateLimitError):
        await submit_only(request_)
    stats = standin.stats()
    assert stats.create_calls == 3
    assert stats.jobs_accepted == 0
