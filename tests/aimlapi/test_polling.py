from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping

import pytest

from reskin.aimlapi.models import Generation
from reskin.aimlapi.polling import JobWatch, PollSchedule, wait_for_generation
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
    s = PollSchedule(expected_s=240, spread=0.3, max_interval_s=30)
    assert s.dense_from_s == pytest.approx(119.4, abs=0.2)  # the prior's 1st percentile
    assert s.dense_until_s == pytest.approx(482.2, abs=0.2)  # and its 99th
    assert s.next_interval(0) == 30
    assert s.next_interval(s.dense_from_s - 10) == pytest.approx(10)  # no overshoot
    for elapsed in (s.dense_from_s, 240, s.dense_until_s):
        assert s.next_interval(elapsed) == 3.5
    assert 3.5 < s.next_interval(600) < 30
    assert s.next_interval(10_000) == 30


def test_the_dense_requests_keep_pace_with_the_jobs_length():
    # The same requests in the dense window, the same share of a job late, up to 4 minutes: a
    # 24 s job is not polled every 3.5 s, a 4 s one is polled as often as the floor allows.
    long, short = PollSchedule(expected_s=240), PollSchedule(expected_s=24, min_interval_s=0.1)
    assert long.next_interval(240) == pytest.approx(3.5)
    assert short.next_interval(24) == pytest.approx(0.35)
    spans = [
        (s.dense_until_s - s.dense_from_s) / s.next_interval(s.expected_s) for s in (long, short)
    ]
    assert spans[0] == pytest.approx(spans[1])
    four = PollSchedule(expected_s=4, min_interval_s=0.1, max_interval_s=0.5)
    assert four.next_interval(4) == 0.1
    # Jobs longer than the documented 4 minutes are not asked less often than every 3.5 s.
    assert PollSchedule(expected_s=600).next_interval(600) == pytest.approx(3.5)


def test_schedule_respects_its_bounds_whatever_the_prior():
    s = PollSchedule(expected_s=0.7, dense_share=5.0, min_interval_s=0.05, max_interval_s=0.5)
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


async def test_a_wait_that_could_not_run_past_its_deadline_looks_once_more_before_giving_up():
    clock = FakeClock()
    service = Service(clock, done_at=5.0, final=DONE, status="queued")

    async def starved(seconds: float) -> None:  # the process did not run for a whole minute
        await clock.sleep(seconds + 90)

    gen = await wait_for_generation(
        service.fetch,
        GEN_ID,
        deadline_s=60,
        schedule=PollSchedule(expected_s=1),
        clock=clock,
        sleep=starved,
    )
    assert gen.status == "completed"  # the job had finished: no false timeout
    assert service.calls == 2


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


# --- the schedule's properties, and what it learns ------------------------------------------
PRIORS = [
    PollSchedule(),
    PollSchedule(expected_s=240, spread=0.3).learned([60, 600, 75, 330, 520]),
    PollSchedule(expected_s=0.7, min_interval_s=0.05, max_interval_s=0.5),
    PollSchedule(expected_s=3000, spread=1.5, dense_share=10 / 3000, min_interval_s=2),
    PollSchedule(expected_s=5, spread=0.1, dense_share=0.1, max_interval_s=600),
]


@pytest.mark.parametrize("schedule", PRIORS)
def test_every_pause_stays_within_the_bounds(schedule: PollSchedule):
    horizon = schedule.dense_until_s * 4
    pauses = [schedule.next_interval(horizon * i / 2000) for i in range(2001)]
    assert min(pauses) >= schedule.min_interval_s
    assert max(pauses) <= schedule.max_interval_s


def test_requests_are_dense_where_the_prior_puts_its_mass():
    s = PollSchedule(expected_s=240, spread=0.3)
    # Ask the real loop when it polls a job that never ends: where do the requests fall?
    times = [0.0]
    while times[-1] < 1000:
        times.append(times[-1] + s.next_interval(times[-1]))
    inside = [t for t in times if s.dense_from_s <= t <= s.dense_until_s]
    before = [t for t in times if t < s.dense_from_s]
    assert len(before) <= 5  # sparse while the job can hardly be done
    assert len(inside) >= (s.dense_until_s - s.dense_from_s) / 3.5
    gaps = [b - a for a, b in itertools.pairwise(inside)]
    assert max(gaps) == pytest.approx(3.5)


def test_learning_moves_the_prior_to_the_durations_seen():
    prior = PollSchedule(expected_s=240, spread=0.3)
    assert prior.learned([]) == prior
    fast = prior.learned([100.0] * 100)
    assert fast.expected_s == pytest.approx(100, rel=0.05)
    # The window followed the jobs, and still allows for the prior having been so wrong.
    assert fast.dense_from_s < 100 < fast.dense_until_s < prior.expected_s
    # Jobs spread from 1 to 10 min widen the window to cover them.
    wide = prior.learned([60.0 + 540 * i / 99 for i in range(100)])
    assert wide.spread > prior.spread
    assert wide.dense_from_s < 90
    assert wide.dense_until_s > 600
    # One odd job barely moves a prior worth five jobs; many move it all the way.
    one = prior.learned([480.0])
    assert prior.expected_s < one.expected_s < 300
    # Each says what it learned from (what a wait shows beside the median it expects).
    assert (prior.learned_from, one.learned_from, fast.learned_from) == (0, 1, 100)
    assert one.learned([0.0, -1.0, float("nan"), 200.0]).learned_from == 2  # the usable ones


def test_jobs_that_are_not_log_normal_still_end_inside_the_window():
    uniform = [60.0 + 540 * i / 99 for i in range(100)]  # jobs of 1 to 10 min
    learned = PollSchedule().learned(uniform)
    fitted = dataclasses.replace(learned, seen_low_s=None, seen_high_s=None)
    assert sum(d < fitted.dense_from_s for d in uniform) >= 3  # the log-normal alone
    assert sum(not learned.dense_from_s <= d <= learned.dense_until_s for d in uniform) <= 2
    # One stray job widens the fit a little but does not drag the window down to it; nor do
    # the extremes of a few jobs count until there are 20.
    stray = PollSchedule().learned([5.0, *uniform[1:]])
    assert stray.seen_low_s == learned.seen_low_s
    assert stray.dense_from_s > 50
    assert PollSchedule().learned([5.0, 240, 250]).seen_low_s is None


def test_a_learned_spread_stays_within_its_bounds():
    same = PollSchedule().learned([200.0] * 500)
    assert same.spread == pytest.approx(0.1)  # MIN_SPREAD: jitter must not leave the window
    wild = PollSchedule().learned([1.0, 10_000.0] * 50)
    assert wild.spread == pytest.approx(1.5)
    assert PollSchedule().learned([0.0, -3.0, float("nan")]) == PollSchedule()


async def test_a_queued_job_is_scheduled_from_when_it_started_generating():
    # Queued for 300 s, then 240 s of work: the dense window belongs to the work, so the
    # queue costs a sparse request every 30 s instead of dense ones.
    clock = FakeClock()
    begun = clock.now
    service = Service(clock, done_at=540, final=DONE)
    service.status = "queued"

    async def fetch(generation_id: str) -> Generation:
        service.status = "queued" if clock.now - begun < 300 else "generating"
        return await service.fetch(generation_id)

    watch = JobWatch()
    await wait_for_generation(
        fetch,
        GEN_ID,
        deadline_s=2000,
        schedule=PollSchedule(expected_s=240),
        clock=clock,
        sleep=clock.sleep,
        watch=watch,
    )
    assert clock.now - service.done_at <= 3.5
    assert service.calls < 60  # from acceptance, the window would have cost about 120
    assert 270 <= watch.origin_s < 300
    assert watch.duration_s is not None
    assert 240 <= watch.duration_s <= 240 + 30 + 3.5


def test_a_watch_measures_from_the_queue_to_the_middle_of_the_last_gap():
    watch = JobWatch()
    assert watch.duration_s is None
    for status, at in [("queued", 0), ("queued", 30), ("generating", 60), ("active", 100)]:
        watch.see(Generation(id=GEN_ID, status=status), at)
    watch.see(Generation.model_validate({"id": GEN_ID, **DONE}), 104)
    watch.see(Generation.model_validate({"id": GEN_ID, **DONE}), 200)
    assert watch.origin_s == 30
    assert watch.duration_s == pytest.approx(102 - 30)
    # A resumed wait that finds the job already done learns nothing about its length.
    late = JobWatch()
    late.see(Generation.model_validate({"id": GEN_ID, **DONE}), 500)
    assert late.duration_s is None


async def test_the_pause_runs_from_when_the_request_was_sent():
    clock = FakeClock()
    service = Service(clock, done_at=300, final=DONE)
    asked: list[float] = []

    async def slow_fetch(generation_id: str) -> Generation:
        asked.append(clock.now)
        clock.now += 1.0  # each answer takes a second
        return await service.fetch(generation_id)

    schedule = PollSchedule(expected_s=240)
    await wait_for_generation(
        slow_fetch, GEN_ID, deadline_s=1000, schedule=schedule, clock=clock, sleep=clock.sleep
    )
    dense = [t for t in asked if t - asked[0] > schedule.dense_from_s]
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(dense)}
    assert gaps == {3.5}
