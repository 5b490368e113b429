"""Never pay twice: submit_once against the real stand-in, counting the jobs it accepted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest
from reskin.aimlapi.retry import RetryPolicy
from reskin.errors import BadRequestError, GenerationFailedError, SubmissionUnknownError
from reskin.journal import Journal, Phase
from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri
from reskin.submission import submit_once

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
        with pytest.raises(SubmissionUnknownError, match="`force`"):
            await submit_once(client, journal, "fp", builder(clip, []), retention_s=DAY)
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
