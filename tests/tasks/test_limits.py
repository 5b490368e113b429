"""The limits shared by every process on one Prefect server, against a real one (the test
harness's temporary server): made when missing, updated when a setting changes, never skipped;
one job in flight means one, seen from the stand-in; a 429 holds back the other run's
create too, seen at the service's door. Each test has limits of its own (its own prefix)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.exceptions import ObjectNotFound

from flows.edit_video import edit_video
from reskin.errors import ConfigError
from reskin.settings import Settings, load_settings
from reskin.standin.server import StandIn
from tasks.limits import CreatesThrottle, creates_limit, ensure_limits, job_slot, jobs_limit
from tests.conftest import MakeClip
from tests.flows.checks import ask, assert_one_line
from tests.flows.recorder import Recorder

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]


def limits_settings(**values: object) -> Settings:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    return Settings(_env_file=None, limits_prefix=prefix, **values)  # type: ignore[arg-type]


async def read(name: str) -> GlobalConcurrencyLimitResponse:
    async with get_client() as client:
        return await client.read_global_concurrency_limit_by_name(name)


@pytest.fixture
def clip(make_clip: MakeClip) -> Path:
    """The flow tests' clip (same parameters, so it is made once per session)."""
    return make_clip(duration_s=3.0, width=1280, height=720, fps=30)


# --- the limits themselves ---------------------------------------------------------------------


async def test_limits_are_made_when_missing_and_follow_the_settings() -> None:
    settings = limits_settings(max_jobs_in_flight=3, creates_per_minute=12)
    jobs, creates = jobs_limit(settings).name, creates_limit(settings).name

    assert await ensure_limits(settings) == {jobs: "created", creates: "created"}
    made_jobs, made_creates = await read(jobs), await read(creates)
    assert (made_jobs.limit, made_jobs.slot_decay_per_second) == (3, 0.0)
    assert made_creates.limit == 1
    assert made_creates.slot_decay_per_second == pytest.approx(12 / 60)
    assert made_jobs.active
    assert made_creates.active

    # The next run only reads them.
    assert await ensure_limits(settings) == {jobs: "unchanged", creates: "unchanged"}

    changed = settings.model_copy(update={"max_jobs_in_flight": 5, "creates_per_minute": 30.0})
    assert await ensure_limits(changed) == {jobs: "updated", creates: "updated"}
    assert (await read(jobs)).limit == 5
    assert (await read(creates)).slot_decay_per_second == pytest.approx(0.5)


async def test_a_limit_set_to_0_is_switched_off_made_taken_and_asked_for_nothing() -> None:
    settings = limits_settings(max_jobs_in_flight=0, creates_per_minute=0)
    assert await ensure_limits(settings) == {}
    async with job_slot(settings):
        pass
    throttle = CreatesThrottle(settings)
    await throttle.before_create()
    await throttle.after_429(5.0)
    for name in (jobs_limit(settings).name, creates_limit(settings).name):
        with pytest.raises(ObjectNotFound):
            await read(name)

    # One switched off, the other still made.
    half = limits_settings(max_jobs_in_flight=2, creates_per_minute=0)
    assert await ensure_limits(half) == {jobs_limit(half).name: "created"}


async def test_a_missing_limit_is_made_on_the_spot_never_skipped() -> None:
    settings = limits_settings(max_jobs_in_flight=2)  # never ensured: neither limit exists
    await CreatesThrottle(settings).before_create()
    assert (await read(creates_limit(settings).name)).active_slots == 1  # the turn was taken
    async with job_slot(settings):
        held = await read(jobs_limit(settings).name)
        assert (held.limit, held.active_slots) == (2, 1)
    assert (await read(jobs_limit(settings).name)).active_slots == 0


async def test_a_limit_that_cannot_be_used_stops_the_run_in_one_line() -> None:
    settings = limits_settings()
    name = creates_limit(settings).name
    async with get_client() as client:  # changed by hand: a rate limit that never decays
        await client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=1, slot_decay_per_second=0.0)
        )
    with pytest.raises(ConfigError) as refused:
        await CreatesThrottle(settings).before_create()
    assert_one_line(refused.value, name, "PREFECT_API_URL", "rerun")


async def test_a_429_puts_the_creates_limit_in_debt_for_its_delay() -> None:
    settings = limits_settings(creates_per_minute=60)  # one slot, decaying 1 per second
    await ensure_limits(settings)
    throttle = CreatesThrottle(settings)

    await throttle.before_create()  # the create that will meet the 429
    await throttle.after_429(5.0)
    # Five slots owed, decaying one a second: no turn for anyone (read well within 4 s).
    assert (await read(throttle.name)).active_slots >= 4

    # A shorter delay met later never shortens the debt.
    await throttle.after_429(1.0)
    assert (await read(throttle.name)).active_slots >= 4


# --- across runs -------------------------------------------------------------------------------


async def test_one_job_in_flight_means_the_second_is_created_after_the_first_is_done(
    edit_env: Path,
    standin: StandIn,
    clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESKIN_MAX_JOBS_IN_FLIGHT", "1")
    monkeypatch.setenv("RESKIN_CREATES_PER_MINUTE", "600")  # the rate limit out of the way
    monkeypatch.setenv("RESKIN_LIMITS_PREFIX", f"test-{uuid.uuid4().hex[:10]}")
    standin.set_faults(slow_jobs=4)  # queued 0.8 s, then generating 2 s at least

    results = await asyncio.gather(
        edit_video(ask(clip, tmp_path / "a.mp4", prompt="sepia film")),
        edit_video(ask(clip, tmp_path / "b.mp4", prompt="snowy winter night")),
    )

    # Seen from the service: a job is in flight from its acceptance until at least its queued
    # and generating times have passed (it reports "completed" no earlier). The second job was
    # accepted only after the first could have been seen completed.
    jobs = [standin.service.jobs.get(result.generation_id) for result in results]
    first, second = sorted((job for job in jobs if job is not None), key=lambda j: j.accepted_at)
    assert second.accepted_at >= first.accepted_at + first.queued_s + first.generating_s
    assert standin.stats().jobs_accepted == 2


class StampedRecorder(Recorder):
    """The relay of the flow tests, noting when each create reached the service's door."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.create_times: list[float] = []

    def record(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path.startswith("/v2/video/generations"):
            self.create_times.append(time.monotonic())
        super().record(method, path, body)


async def debt_of(name: str) -> int:
    """The creates limit's active slots once a 429 has put it in debt (more than one slot)."""
    for _ in range(400):  # 20 s at most
        with contextlib.suppress(ObjectNotFound):  # the run has not made the limit yet
            active = (await read(name)).active_slots
            if active > 1:
                return active
        await asyncio.sleep(0.05)
    pytest.fail(f"no run put the Prefect limit {name} in debt after the 429")


async def test_a_429_holds_back_the_other_runs_create_for_its_retry_after(
    edit_env: Path,
    standin: StandIn,
    clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    retry_after_s = 3
    # Creates 0.1 s apart: without the debt, nothing would hold the second run's create back.
    monkeypatch.setenv("RESKIN_CREATES_PER_MINUTE", "600")
    monkeypatch.setenv("RESKIN_LIMITS_PREFIX", f"test-{uuid.uuid4().hex[:10]}")
    standin.set_faults(create_429=1, retry_after_s=retry_after_s)

    with StampedRecorder(standin.base_url) as relay:
        monkeypatch.setenv("AIMLAPI_BASE_URL", relay.base_url)
        first = asyncio.create_task(edit_video(ask(clip, tmp_path / "a.mp4", prompt="sepia")))
        # Read from the Prefect server right after the 429: the first run has put the shared
        # limit in debt, 10 slots a second for 3 s (less what decayed before this read).
        assert await debt_of(creates_limit(load_settings()).name) > 10
        # Only now does the other run start: its create would be sent at once without the debt.
        other = await edit_video(ask(clip, tmp_path / "b.mp4", prompt="snowy winter night"))
        result = await first

    assert result.generation_id != other.generation_id
    assert standin.stats().create_calls == 3  # the 429, its retry, the other run's create
    assert standin.stats().jobs_accepted == 2
    # The first create to reach the service met the 429; neither its retry nor the other run's
    # create reached it before the Retry-After had passed.
    met_429, *later = relay.create_times
    assert len(later) == 2
    assert all(when >= met_429 + retry_after_s for when in later)
