"""Never pay twice: submit_once against the real stand-in, counting the jobs it accepted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest
from reskin.aimlapi.retry import RetryPolicy
from reskin.errors import (
    BadRequestError,
    GenerationFailedError,
    GenerationLostError,
    SubmissionUnknownError,
)
from reskin.journal import Journal, Phase
from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri
from reskin.submission import LIVE_S, earlier_generation, submit_once

pytestmark = pytest.mark.anyio
DAY = 24 * 3600.0


@pytest.fixture
def clip(make_clip) -> Path:
    path: Path = make_clip(duration_s=3.0, width=1280, height=720)
    return path


def client_for(standin: StandIn, read_timeout_s: float = 30) -> AimlapiClient:
    return AimlapiClient(
        standin.base_url,
        SecretStr(standin.key),
        timeout=httpx.Timeout(read_timeout_s, connect=5),
        retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.02, retry_after_max_s=5),
    )


def builder(clip: Path, calls: list[int]):
    def build() -> CreateRequest:
        calls.append(1)
        return CreateRequest(
            model=DEFAULT_MODEL, prompt="sepia", video_url=data_uri(clip, max_bytes=10**8)
        )

    return build


async def test_a_rerun_resumes_the_same_generation_without_a_second_job(standin, clip, tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    built: list[int] = []
    async with client_for(standin) as client:
        first = await submit_once(client, journal, "fp", builder(clip, built), retention_s=DAY)
        again = await submit_once(client, journal, "fp", builder(clip, built), retention_s=DAY)
    assert (first.resumed, again.resumed) == (False, True)
    assert first.generation_id == again.generation_id
    assert standin.stats().jobs_accepted == 1
    assert len(built) == 1  # the data URI was built once, for the one real create


async def test_transient_faults_then_success_record_one_job(standin, clip, tmp_path):
    standin.set_faults(create_429=2, create_5xx=1, retry_after_s=0)
    journal = Journal(tmp_path / "j.sqlite")
    async with client_for(standin) as client:
        done = await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
    entry = journal.get("fp")
    assert entry is not None
    assert (entry.phase, entry.generation_id) == (Phase.ACCEPTED, done.generation_id)
    assert standin.stats().jobs_accepted == 1


async def test_a_refused_create_is_released_so_a_fixed_rerun_may_send(standin, make_clip, tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    short = make_clip(duration_s=2.0, width=1280, height=720)
    async with client_for(standin) as client:
        with pytest.raises(BadRequestError):
            await submit_once(client, journal, "fp", builder(short, []), retention_s=DAY)
    assert journal.get("fp") is None


async def test_a_lost_answer_keeps_the_reservation_and_a_rerun_refuses_to_pay_again(
    standin, clip, tmp_path
):
    standin.set_faults(lost_answer=1, lost_answer_delay_s=5)
    journal = Journal(tmp_path / "j.sqlite")
    async with client_for(standin, read_timeout_s=1) as client:
        with pytest.raises(SubmissionUnknownError, match="may have accepted"):
            await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        # Refused at once: the run that sent it said it gave up, so nobody waits for its answer.
        with pytest.raises(SubmissionUnknownError, match="`force`"):
            await submit_once(
                client, journal, "fp", builder(clip, []), retention_s=DAY, sleep=never
            )
        assert standin.stats().jobs_accepted == 1
        forced = await submit_once(
            client, journal, "fp", builder(clip, []), force=True, retention_s=DAY
        )
    assert not forced.resumed
    assert standin.stats().jobs_accepted == 2


async def test_a_failed_job_is_not_resubmitted_unless_forced(standin, clip, tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    async with client_for(standin) as client:
        first = await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        journal.failed("fp", "generation_failed: the model gave up")
        with pytest.raises(GenerationFailedError, match="`force`"):
            await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        again = await submit_once(
            client, journal, "fp", builder(clip, []), force=True, retention_s=DAY
        )
    assert again.generation_id != first.generation_id
    assert standin.stats().jobs_accepted == 2


async def test_past_retention_a_new_job_is_made(standin, clip, tmp_path):
    now = [1_000_000.0]
    journal = Journal(tmp_path / "j.sqlite", clock=lambda: now[0])
    async with client_for(standin) as client:
        first = await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        now[0] += DAY + 1
        second = await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
    assert not second.resumed
    assert second.generation_id != first.generation_id


async def never(seconds: float) -> None:
    raise AssertionError(f"waited {seconds} s for a run that had already given up")


async def wait_for(condition, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never met"
        await asyncio.sleep(0.05)


async def test_cancelled_during_a_retry_after_wait_leaves_no_reservation(standin, clip, tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    standin.set_faults(create_429=1, retry_after_s=30)
    patient = AimlapiClient(
        standin.base_url,
        SecretStr(standin.key),
        retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.02, retry_after_max_s=60),
    )
    async with patient as client:
        sending = asyncio.create_task(
            submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        )
        await wait_for(lambda: standin.stats().create_calls == 1)
        await asyncio.sleep(0.2)  # inside the 30 s Retry-After wait
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        assert journal.get("fp") is None  # nothing reached the service: nothing held
        again = await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
    assert not again.resumed
    assert standin.stats().jobs_accepted == 1


class Gate:
    """A throttle that holds every create until it is opened."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.opened = asyncio.Event()

    async def before_create(self) -> None:
        self.waiting.set()
        await self.opened.wait()

    async def after_429(self, delay_s: float) -> None:
        return None


async def test_cancelled_while_waiting_for_a_turn_leaves_no_reservation(standin, clip, tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    gate = Gate()
    client = AimlapiClient(standin.base_url, SecretStr(standin.key), throttle=gate)
    async with client:
        sending = asyncio.create_task(
            submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        )
        await gate.waiting.wait()
        assert journal.get("fp") is not None  # reserved while it waits
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
    assert journal.get("fp") is None
    assert standin.stats().create_calls == 0


async def test_cancelled_while_the_body_is_at_the_service_keeps_the_reservation(
    standin, clip, tmp_path
):
    now = [1_000_000.0]
    journal = Journal(tmp_path / "j.sqlite", clock=lambda: now[0])
    standin.set_faults(lost_answer=1, lost_answer_delay_s=10)
    async with client_for(standin) as client:
        sending = asyncio.create_task(
            submit_once(
                client, journal, "fp", builder(clip, []), retention_s=DAY, clock=lambda: now[0]
            )
        )
        await wait_for(lambda: standin.stats().jobs_accepted == 1)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        entry = journal.get("fp")
        assert entry is not None
        assert entry.phase is Phase.RESERVED  # the job may exist
        # Refused at once, the clock not moved: the cancelled run said nobody sends it now.
        with pytest.raises(SubmissionUnknownError, match="`force`"):
            await submit_once(
                client,
                journal,
                "fp",
                builder(clip, []),
                retention_s=DAY,
                clock=lambda: now[0],
                sleep=never,
            )
    assert standin.stats().jobs_accepted == 1


async def test_the_same_request_sent_twice_at_once_is_paid_once(standin, clip, tmp_path):
    first_journal = Journal(tmp_path / "j.sqlite")
    second_journal = Journal(tmp_path / "j.sqlite")  # another process would open its own
    # The answer comes 2 s late: the second run finds the first one's reservation live.
    standin.set_faults(lost_answer=1, lost_answer_delay_s=2)
    async with client_for(standin) as one, client_for(standin) as two:
        first = asyncio.create_task(
            submit_once(one, first_journal, "fp", builder(clip, []), retention_s=DAY)
        )
        await wait_for(lambda: standin.stats().jobs_accepted == 1)
        second = await submit_once(two, second_journal, "fp", builder(clip, []), retention_s=DAY)
        done = await first
    assert second.generation_id == done.generation_id
    assert second.resumed
    assert not done.resumed
    assert standin.stats().jobs_accepted == 1


async def test_a_lost_generation_is_refused_until_forced(standin, clip, tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    async with client_for(standin) as client:
        first = await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        # What the poll does on a 404 (tests/edit/test_pipeline.py goes through it).
        journal.lost("fp", "the AI/ML API answered 404")
        with pytest.raises(GenerationLostError, match=r"no longer knows .*`force`"):
            await earlier_generation(journal, "fp", force=False, retention_s=DAY)
        with pytest.raises(GenerationLostError):
            await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
        forced = await submit_once(
            client, journal, "fp", builder(clip, []), force=True, retention_s=DAY
        )
    assert forced.generation_id != first.generation_id
    assert standin.stats().jobs_accepted == 2


async def test_a_create_in_flight_keeps_its_reservation_fresh(standin, clip, tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    standin.set_faults(lost_answer=1, lost_answer_delay_s=2)

    async def quick(seconds: float) -> None:  # heartbeats 50 times as often
        await asyncio.sleep(seconds / 50)

    async with client_for(standin) as client:
        sending = asyncio.create_task(
            submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY, sleep=quick)
        )
        await wait_for(lambda: standin.stats().jobs_accepted == 1)
        first = journal.get("fp")
        await asyncio.sleep(0.5)
        later = journal.get("fp")
        done = await sending
    assert first is not None
    assert later is not None
    assert later.phase is Phase.RESERVED  # still waiting for the answer...
    assert first.updated_at is not None
    assert later.updated_at is not None
    assert later.updated_at > first.updated_at  # ...and saying so
    assert not done.resumed


async def test_a_reservation_left_by_a_killed_run_is_waited_for_until_it_goes_silent(
    standin, clip, tmp_path
):
    now = [1_000_000.0]
    journal = Journal(tmp_path / "j.sqlite", clock=lambda: now[0])
    assert journal.reserve("fp")  # a run killed while sending: it never says it gave up
    waits: list[float] = []

    async def waiting(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    async with client_for(standin) as client:
        with pytest.raises(SubmissionUnknownError, match="`force`"):
            await submit_once(
                client,
                journal,
                "fp",
                builder(clip, []),
                retention_s=DAY,
                clock=lambda: now[0],
                sleep=waiting,
            )
    assert LIVE_S <= sum(waits) < LIVE_S + 1  # its heartbeat was waited for, then no longer
    assert standin.stats().create_calls == 0
