"""The client against the real stand-in over HTTP on loopback: every status and fault."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient, Sending
from reskin.aimlapi.models import CreateRequest, JobState
from reskin.aimlapi.polling import PollSchedule, wait_for_generation
from reskin.aimlapi.retry import RetryPolicy
from reskin.download import download
from reskin.errors import (
    AuthenticationError,
    BadRequestError,
    DownloadError,
    GenerationFailedError,
    GenerationTimeoutError,
    InsufficientCreditsError,
    NotFoundError,
    ResultExpiredError,
    ServerError,
    SubmissionUnknownError,
)
from reskin.media.probe import probe
from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri

pytestmark = pytest.mark.anyio

FAST = PollSchedule(expected_s=0.7, min_interval_s=0.05, max_interval_s=0.5)


class RecordingSleep:
    """Records the pauses the client asks for and sleeps only a token amount."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        await asyncio.sleep(0)


def client_for(
    standin: StandIn,
    sleep: RecordingSleep | None = None,
    *,
    key: str | None = None,
    read_timeout_s: float = 30,
    max_retries: int = 4,
) -> AimlapiClient:
    return AimlapiClient(
        standin.base_url,
        SecretStr(key or standin.key),
        timeout=httpx.Timeout(read_timeout_s, connect=5),
        retry=RetryPolicy(max_retries=max_retries, base_delay_s=0.01, max_delay_s=0.05),
        sleep=sleep or RecordingSleep(),
    )


@pytest.fixture
def clip(make_clip) -> Path:
    path: Path = make_clip(duration_s=3.0, width=1280, height=720, fps=30, audio=True)
    return path


def edit(clip: Path, prompt: str = "black and white film", **fields: object) -> CreateRequest:
    return CreateRequest(
        model=DEFAULT_MODEL,
        prompt=prompt,
        video_url=data_uri(clip, max_bytes=50_000_000),
        fields=dict(fields),
    )


async def test_create_wait_download_gives_a_real_24fps_silent_edit(standin, clip, tmp_path):
    async with client_for(standin) as client:
        created = await client.create(edit(clip))
        assert created.state in (JobState.QUEUED, JobState.GENERATING)
        assert created.id.endswith(f":{DEFAULT_MODEL}")
        done = await wait_for_generation(client.fetch, created.id, deadline_s=60, schedule=FAST)
    assert done.video_url is not None
    assert done.credits_used is not None
    assert done.credits_used > 0
    result = tmp_path / "result.mp4"
    size = await download(done.video_url, result, max_bytes=10**9, timeout_s=30)
    assert size == result.stat().st_size > 0
    info = probe(result)
    assert info.fps == pytest.approx(24, abs=0.01)
    assert not info.has_audio
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert standin.stats().jobs_accepted == 1


async def test_two_429_and_a_503_on_create_give_exactly_one_accepted_job(standin, clip):
    standin.set_faults(create_429=2, create_5xx=1, status_5xx=503, retry_after_s=2)
    sleep = RecordingSleep()
    async with client_for(standin, sleep) as client:
        created = await client.create(edit(clip))
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (4, 1)
    assert sleep.pauses[:2] == [2.0, 2.0]  # Retry-After honoured
    assert len(sleep.pauses) == 3
    assert created.id


@pytest.mark.parametrize(
    ("setup", "error", "words"),
    [
        ("wrong_key", AuthenticationError, "AIMLAPI_API_KEY"),
        ("too_short", BadRequestError, "duration"),
        ("no_credits", InsufficientCreditsError, "credits"),
    ],
)
async def test_401_400_403_get_one_attempt_and_a_typed_error(
    standin, make_clip, setup, error, words
):
    clip = make_clip(duration_s=2.0 if setup == "too_short" else 3.0, width=1280, height=720)
    if setup == "no_credits":
        standin.set_faults(out_of_credits=True)
    key = "wrong-key" if setup == "wrong_key" else None
    async with client_for(standin, key=key) as client:
        with pytest.raises(error, match=words) as caught:
            await client.create(edit(clip))
    assert standin.stats().create_calls == 1
    assert standin.stats().jobs_accepted == 0
    assert caught.value.request_id


async def test_the_wild_validation_shape_is_read(standin, make_clip):
    standin.set_faults(detail_errors=True)
    clip = make_clip(duration_s=2.0, width=1280, height=720)
    async with client_for(standin) as client:
        with pytest.raises(BadRequestError, match="duration"):
            await client.create(edit(clip))


async def test_unknown_generation_is_404_without_retry(standin):
    async with client_for(standin) as client:
        with pytest.raises(NotFoundError):
            await client.fetch(f"00000000-0000-4000-8000-000000000000:{DEFAULT_MODEL}")
    assert standin.stats().fetch_calls == 1


async def test_fetch_5xx_is_retried(standin, clip):
    async with client_for(standin) as client:
        created = await client.create(edit(clip))
        standin.set_faults(fetch_5xx=2, status_5xx=502)
        again = await client.fetch(created.id)
    assert again.id == created.id
    assert standin.stats().fetch_calls == 3


async def test_persistent_5xx_ends_in_a_server_error(standin, clip):
    standin.set_faults(create_5xx=10, status_5xx=500)
    async with client_for(standin, max_retries=2) as client:
        with pytest.raises(ServerError, match="500"):
            await client.create(edit(clip))
    assert standin.stats().create_calls == 3
    assert standin.stats().jobs_accepted == 0


async def test_a_lost_answer_is_not_retried_and_says_the_job_may_exist(standin, clip):
    standin.set_faults(lost_answer=1, lost_answer_delay_s=5)
    async with client_for(standin, read_timeout_s=1.0) as client:
        with pytest.raises(SubmissionUnknownError, match="may have accepted"):
            await client.create(edit(clip))
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (1, 1)


async def test_a_job_error_ends_the_wait_with_the_services_words(standin, clip):
    standin.set_faults(job_error=1)
    async with client_for(standin) as client:
        created = await client.create(edit(clip))
        with pytest.raises(GenerationFailedError, match="failed at the service"):
            await wait_for_generation(client.fetch, created.id, deadline_s=30, schedule=FAST)


async def test_an_unknown_status_does_not_loop_past_the_deadline(standin, clip):
    standin.set_faults(unknown_status=1)
    async with client_for(standin) as client:
        created = await client.create(edit(clip))
        started = time.monotonic()
        with pytest.raises(GenerationTimeoutError) as caught:
            await wait_for_generation(client.fetch, created.id, deadline_s=2.0, schedule=FAST)
    assert 2.0 <= time.monotonic() - started < 3.5  # the deadline, plus one last status call
    assert caught.value.last_status == standin.faults.unknown_status_word


async def test_keep_audio_returns_sound(standin, clip, tmp_path):
    async with client_for(standin) as client:
        created = await client.create(edit(clip, keep_audio=True))
        done = await wait_for_generation(client.fetch, created.id, deadline_s=60, schedule=FAST)
    assert done.video_url is not None
    await download(done.video_url, tmp_path / "r.mp4", max_bytes=10**9, timeout_s=30)
    assert probe(tmp_path / "r.mp4").has_audio


async def finished(standin: StandIn, clip: Path) -> str:
    async with client_for(standin) as client:
        created = await client.create(edit(clip))
        done = await wait_for_generation(client.fetch, created.id, deadline_s=60, schedule=FAST)
    assert done.video_url is not None
    return done.video_url


async def test_an_expired_result_is_a_clear_error_and_leaves_no_file(standin, clip, tmp_path):
    url = await finished(standin, clip)
    standin.set_faults(expired_result=1)
    with pytest.raises(ResultExpiredError, match="no longer"):
        await download(url, tmp_path / "r.mp4", max_bytes=10**9, timeout_s=30)
    assert list(tmp_path.iterdir()) == []


async def test_a_cut_download_is_retried_then_fails_cleanly(standin, clip, tmp_path):
    url = await finished(standin, clip)
    fast = RetryPolicy(max_retries=2, base_delay_s=0.01)
    standin.set_faults(cut_download=1)
    await download(url, tmp_path / "ok.mp4", max_bytes=10**9, timeout_s=30, retry=fast)
    assert probe(tmp_path / "ok.mp4").fps == pytest.approx(24, abs=0.01)

    standin.set_faults(cut_download=5)
    with pytest.raises(DownloadError, match="3 time"):
        await download(url, tmp_path / "cut.mp4", max_bytes=10**9, timeout_s=30, retry=fast)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.mp4"]


async def test_sending_says_whether_a_create_may_have_reached_the_service(standin, clip):
    refused, accepted = Sending(), Sending()
    standin.set_faults(out_of_credits=True)
    async with client_for(standin) as client:
        with pytest.raises(InsufficientCreditsError):
            await client.create(edit(clip), refused)
        standin.set_faults(out_of_credits=False)
        await client.create(edit(clip), accepted)
    assert refused.may_have_arrived is False  # a 403 answer: surely not taken
    assert accepted.may_have_arrived is True
