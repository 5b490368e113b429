from __future__ import annotations

from collections.abc import Mapping

import pytest

from reskin.aimlapi.models import Generation
from reskin.aimlapi.polling import PollSchedule, wait_for_generation
from reskin.errors import (
    AuthenticationError,
    GenerationFailedError,
    GenerationTimeoutError,
    InvalidResponseError,
    ServerError,
)

from .fakes import FakeClock

pytestmark = pytest.mark.anyio

GEN_ID = "g-1:klingai/video-o1-video-to-video-edit"


class Service:
    """A job that reports ``status`` until ``done_at`` on the fake clock, then ``final``."""

    def __init__(
        self,
        clock: FakeClock,
        done_at: float,
        final: Mapping[str, object],
        status: str = "generating",
    ) -> None:
        self.clock = clock
        self.done_at = clock.now + done_at
        self.final = final
        self.status = status
        self.calls = 0
        self.failures: list[Exception] = []

    async def fetch(self, generation_id: str) -> Generation:
        assert generation_id == GEN_ID
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        if self.clock.now >= self.done_at:
            return Generation.model_validate({"id": GEN_ID, **self.final})
        return Generation(id=GEN_ID, status=self.status)


DONE = {"status": "completed", "video": {"url": "https://cdn.test/r.mp4"}}


async def test_a_finished_job_is_seen_soon_after_it_ends_with_few_requests():
    clock = FakeClock()
    service = Service(clock, done_at=250.0, final=DONE)
    schedule = PollSchedule(expected_s=240)
    gen = await wait_for_generation(
        service.fetch, GEN_ID, deadline_s=1200, schedule=schedule, clock=clock, sleep=clock.sleep
    )
    assert gen.video_url == "https://cdn.test/r.mp4"
    delay = clock.now - service.done_at
    assert 0 <= delay <= schedule.dense_interval_s
    fixed_5s_requests = 250 / 5
    assert service.calls < fixed_5s_requests


def test_schedule_is_sparse_early_dense_around_the_prior_and_backs_off_after():
    s = PollSchedule(expected_s=240, spread=0.3, dense_interval_s=3.5, max_interval_s=30)
    assert s.dense_from_s == pytest.approx(119.4, abs=0.2)  # the prior's 1st percentile
    assert s.dense_until_s == pytest.approx(482.2, abs=0.2)  # and its 99th
    assert s.next_interval(0) == 30
    assert s.next_interval(s.dense_from_s - 10) == pytest.approx(10)  # no overshoot
    for elapsed in (s.dense_from_s, 240, s.dense_until_s):
        assert s.next_interval(elapsed) == 3.5
    assert 3.5 < s.next_interval(600) < 30
    assert s.next_interval(10_000) == 30


def test_schedule_respects_its_bounds_whatever_the_prior():
    s = PollSchedule(expected_s=0.7, dense_interval_s=3.5, min_interval_s=0.05, max_interval_s=0.5)
    assert all(0.05 <= s.next_interval(t / 10) <= 0.5 for t in range(0, 1000))


async def test_unknown_status_never_loops_past_the_deadline(caplog):
    clock = FakeClock()
    service = Service(clock, done_at=10**9, final=DONE, status="waiting")
    start = clock.now
    with pytest.raises(GenerationTimeoutError, match="within 60s") as caught:
        await wait_for_generation(
            service.fetch,
            GEN_ID,
            deadline_s=60,
            schedule=PollSchedule(expected_s=20),
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.now - start == pytest.approx(60)
    assert caught.value.last_status == "waiting"
    assert service.calls < 60
    assert caplog.text.count("undocumented status 'waiting'") == 1


async def test_job_error_raises_with_the_services_words():
    clock = FakeClock()
    final = {"status": "error", "error": {"name": "ContentPolicy", "message": "refused"}}
    service = Service(clock, done_at=5, final=final)
    with pytest.raises(GenerationFailedError, match="ContentPolicy: refused") as caught:
        await wait_for_generation(
            service.fetch, GEN_ID, deadline_s=100, clock=clock, sleep=clock.sleep
        )
    assert caught.value.generation_id == GEN_ID


async def test_completed_without_url_is_a_failure_not_a_success():
    clock = FakeClock()
    service = Service(clock, done_at=0, final={"status": "completed", "video": None})
    with pytest.raises(InvalidResponseError, match="without a video URL"):
        await wait_for_generation(
            service.fetch, GEN_ID, deadline_s=100, clock=clock, sleep=clock.sleep
        )


async def test_transient_status_failures_keep_waiting_but_auth_failures_stop():
    clock = FakeClock()
    service = Service(clock, done_at=3, final=DONE)
    service.failures = [ServerError("down", status_code=503)] * 2
    gen = await wait_for_generation(
        service.fetch,
        GEN_ID,
        deadline_s=100,
        schedule=PollSchedule(expected_s=3),
        clock=clock,
        sleep=clock.sleep,
    )
    assert gen.state.value == "completed"

    service = Service(clock, done_at=3, final=DONE)
    service.failures = [AuthenticationError("bad key", status_code=401)]
    with pytest.raises(AuthenticationError):
        await wait_for_generation(
            service.fetch, GEN_ID, deadline_s=100, clock=clock, sleep=clock.sleep
        )
    assert service.calls == 1


async def test_progress_callback_sees_every_status_with_elapsed_time():
    clock = FakeClock()
    service = Service(clock, done_at=10, final=DONE)
    seen: list[tuple[str, float]] = []
    await wait_for_generation(
        service.fetch,
        GEN_ID,
        deadline_s=100,
        schedule=PollSchedule(expected_s=10),
        clock=clock,
        sleep=clock.sleep,
        on_update=lambda g, t: seen.append((g.status, t)),
    )
    assert seen[0] == ("generating", 0.0)
    assert seen[-1][0] == "completed"
    assert [t for _, t in seen] == sorted(t for _, t in seen)


async def test_a_resumed_wait_gets_a_fresh_deadline():
    clock = FakeClock()
    began = clock.now
    service = Service(clock, done_at=10**9, final=DONE)
    with pytest.raises(GenerationTimeoutError):
        await wait_for_generation(
            service.fetch,
            GEN_ID,
            deadline_s=100,
            started_at=clock.now - 5000,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.now - began == pytest.approx(100)


async def test_a_resumed_wait_keeps_its_place_in_the_schedule():
    # Accepted 240 s ago: the wait is already in the dense window, so it asks every few
    # seconds at once instead of starting with the sparse early pauses.
    clock = FakeClock()
    service = Service(clock, done_at=10, final=DONE)
    schedule = PollSchedule(expected_s=240)
    await wait_for_generation(
        service.fetch,
        GEN_ID,
        deadline_s=100,
        schedule=schedule,
        started_at=clock.now - 240,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.now - service.done_at < schedule.dense_interval_s + 1e-9
