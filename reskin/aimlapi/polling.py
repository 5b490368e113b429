"""Waiting for a generation: an adaptive interval and a loop with a hard deadline.

The schedule is dense where the prior on job lengths puts its mass and learns that prior from
the durations of earlier jobs (``bench/poll_policy.py`` measures it against fixed pollers). The
loop takes its clock and sleep as arguments, so tests and the benchmark run hours of
simulated waiting in milliseconds. Unknown status words count as "still running" and are
logged once each; the deadline ends every wait, whatever the service says.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from reskin.aimlapi.models import Generation, JobState
from reskin.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    GenerationFailedError,
    GenerationTimeoutError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
)

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[Generation]]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
OnUpdate = Callable[[Generation, float], Awaitable[None] | None]

# Failures a status request may meet while the job itself keeps running at the service: the
# client has already retried them, and the deadline still bounds the wait.
_TRANSIENT = (ApiConnectionError, ApiTimeoutError, ServerError, RateLimitError)
_Z99 = 2.326  # standard normal 99th percentile
#: Bounds of a learned spread: never so narrow that ordinary jitter leaves the dense window,
#: never so wide that the window stops meaning anything.
MIN_SPREAD = 0.1
MAX_SPREAD = 1.5
#: Durations needed before their own extremes may widen the dense window.
TAIL_SAMPLES = 20
#: The dense requests' spacing for jobs of the documented 4 minutes and longer.
DENSE_MAX_S = 3.5


@dataclass(frozen=True)
class PollSchedule:
    """When to ask next, from a prior on how long jobs take.

    Job lengths are taken as log-normal with median ``expected_s`` and shape ``spread`` (the
    documented job took about 4 min). Before the prior's 1st percentile the job is almost surely
    still running, so requests are sparse (``max_interval_s``, never overshooting into the dense
    window); through the 99th percentile they come every ``dense_interval_s`` (a share of
    ``expected_s``), so a finished job is seen about ``dense_interval_s / 2`` later; past it
    the pause grows with the overrun, because a job that late says the prior was wrong.
    :meth:`learned` moves the prior to the durations of earlier jobs, so the dense window (and
    its pace) follows what the service really does; where those durations reach further than
    the fitted log-normal (jobs that are not log-normal), the window reaches as far as they do
    (``seen_low_s``, ``seen_high_s``).
    """

    expected_s: float = 240.0
    spread: float = 0.3
    #: The dense requests' spacing, as a share of ``expected_s``, up to ``dense_max_s``:
    #: 3.5 s for the documented 4-minute job and longer ones, 0.35 s for a 24 s one (then at
    #: least ``min_interval_s``). A short job is seen the same share of its length late, with
    #: the same number of requests in the dense window, where a fixed 3.5 s made a 4 s job
    #: wait 1.75 s more; a longer one is not asked less often than before (bench/poll_policy.py:
    #: on jobs of 1 to 10 minutes a pace of 1.46 % of the median, 4.7 s, was seen late).
    dense_share: float = DENSE_MAX_S / 240.0
    dense_max_s: float = DENSE_MAX_S
    min_interval_s: float = 1.0
    max_interval_s: float = 30.0
    #: The 2nd and 98th percentiles of the durations learned from, once there are enough.
    seen_low_s: float | None = None
    seen_high_s: float | None = None
    #: How many durations of earlier jobs moved ``expected_s`` from the configured prior (0:
    #: ``expected_s`` is the prior itself, ``RESKIN_POLL_EXPECTED_S``).
    learned_from: int = 0

    @property
    def dense_interval_s(self) -> float:
        return min(self.expected_s * self.dense_share, self.dense_max_s)

    @property
    def dense_from_s(self) -> float:
        fitted = self.expected_s * math.exp(-_Z99 * self.spread)
        return fitted if self.seen_low_s is None else min(fitted, self.seen_low_s)

    @property
    def dense_until_s(self) -> float:
        fitted = self.expected_s * math.exp(_Z99 * self.spread)
        return fitted if self.seen_high_s is None else max(fitted, self.seen_high_s)

    def next_interval(self, elapsed_s: float) -> float:
        dense = min(max(self.dense_interval_s, self.min_interval_s), self.max_interval_s)
        if elapsed_s < self.dense_from_s:
            pause = min(self.max_interval_s, self.dense_from_s - elapsed_s)
        elif elapsed_s <= self.dense_until_s:
            pause = dense
        else:
            overrun = (elapsed_s - self.dense_until_s) / max(self.expected_s, 1e-9)
            pause = dense * (1.0 + overrun)
        return min(max(pause, self.min_interval_s), self.max_interval_s)

    def learned(self, durations: Iterable[float], *, prior_weight: float = 5.0) -> PollSchedule:
        """This schedule with its prior moved toward ``durations`` (seconds of earlier jobs).

        A conjugate update of the log-normal: the configured prior counts as ``prior_weight``
        jobs, so a few odd jobs barely move it and a hundred set it. Durations far from the
        prior widen the spread as well as moving the median, so the dense window covers both
        until the evidence settles. The spread stays within ``[MIN_SPREAD, MAX_SPREAD]``. From
        :data:`TAIL_SAMPLES` durations on, their own 2nd and 98th percentiles (the 2nd
        smallest and largest of a hundred, so one stray job moves nothing) widen the window
        where the log-normal would leave some of them outside it: a log-normal fitted to jobs
        of 1 to 10 min starts its window at 83 s, after 4% of them have ended. The new
        ``expected_s`` is the median learned (what a wait shows it expects), and
        ``learned_from`` counts the durations behind it.
        """
        seen = sorted(d for d in durations if d > 0 and math.isfinite(d))
        if not seen:
            return self
        logs = [math.log(d) for d in seen]
        n = len(logs)
        mean = math.fsum(logs) / n
        scatter = math.fsum((x - mean) ** 2 for x in logs)
        mu0 = math.log(max(self.expected_s, 1e-9))
        k0 = prior_weight
        mu = (k0 * mu0 + n * mean) / (k0 + n)
        variance = (k0 * self.spread**2 + scatter + k0 * n / (k0 + n) * (mean - mu0) ** 2) / (
            k0 + n
        )
        spread = min(max(math.sqrt(variance), MIN_SPREAD), MAX_SPREAD)
        low = high = None
        if n >= TAIL_SAMPLES:
            rank = max(2, math.ceil(0.02 * n))
            low, high = seen[rank - 1], seen[n - rank]
        return replace(
            self,
            expected_s=math.exp(mu),
            spread=spread,
            seen_low_s=low,
            seen_high_s=high,
            learned_from=self.learned_from + n,
        )


@dataclass
class JobWatch:
    """What one wait has seen of its job: when it left the queue, when it was seen done.

    Elapsed times are seconds since the wait's start (the job's acceptance). A job the service
    still calls ``queued`` has not begun its work, so the schedule runs from :attr:`origin_s`,
    the last time it was seen queued (0 when never), and :attr:`duration_s` is measured from
    there too: the quantity :meth:`PollSchedule.learned` learns. The job ended between the
    last "running" answer and the first "completed" one; :attr:`duration_s` is the middle of
    that gap, or ``None`` when the job was never seen running after its queue (a resumed wait
    that found it done says nothing about its length).
    """

    origin_s: float = 0.0
    last_running_s: float | None = None
    completed_s: float | None = None

    def see(self, generation: Generation, elapsed_s: float) -> None:
        state = generation.state
        if state is JobState.QUEUED:
            if self.last_running_s is None:
                self.origin_s = max(self.origin_s, elapsed_s)
        elif state is JobState.COMPLETED:
            if self.completed_s is None:
                self.completed_s = elapsed_s
        elif state is not JobState.ERROR:
            self.last_running_s = elapsed_s

    @property
    def duration_s(self) -> float | None:
        if self.completed_s is None or self.last_running_s is None:
            return None
        return (self.last_running_s + self.completed_s) / 2 - self.origin_s


def result_url(generation: Generation) -> str:
    """The video URL of a completed generation; "completed" without one is a failure."""
    if generation.video_url is None:
        raise InvalidResponseError(
            f"generation {generation.id} completed without a video URL; "
            "the service lost the result: submit again with `force`"
        )
    return generation.video_url


async def wait_for_generation(
    fetch: Fetch,
    generation_id: str,
    *,
    deadline_s: float,
    schedule: PollSchedule | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    on_update: OnUpdate | None = None,
    started_at: float | None = None,
    watch: JobWatch | None = None,
) -> Generation:
    """Poll until the generation completes; return it with its video URL.

    ``started_at`` (a ``clock()`` reading, when the job was accepted) lets a resumed wait keep
    its place in the schedule; the deadline always counts from this call, so a rerun after a
    timeout waits again rather than giving up at once. ``watch`` (a fresh :class:`JobWatch`)
    collects when the job left the queue and how long it took; the schedule runs from the
    former. Raises :class:`GenerationFailedError`, :class:`GenerationTimeoutError` or
    :class:`InvalidResponseError` (completed without a video URL).
    """
    schedule = schedule or PollSchedule()
    watch = watch if watch is not None else JobWatch()
    now = clock()
    start = now if started_at is None else min(started_at, now)
    end = now + deadline_s
    seen_unknown: set[str] = set()
    last_status = "not yet seen"
    while True:
        # Past the deadline, the service is still asked once more before giving up: a process
        # that could not run for a while (a busy machine, CI once for a whole minute) must not
        # call a job that finished meanwhile unfinished without looking.
        overdue = clock() >= end
        asked = clock()
        try:
            generation = await fetch(generation_id)
        except _TRANSIENT as exc:
            log.warning("status of %s unavailable, still waiting: %s", generation_id, exc)
            # The client has spent its retries: pause in full before asking again.
            asked = clock()
        else:
            last_status = generation.status
            state = generation.state
            elapsed = clock() - start
            watch.see(generation, elapsed)
            if on_update is not None:
                pending = on_update(generation, elapsed)
                if pending is not None:
                    await pending
            if state is JobState.COMPLETED:
                result_url(generation)
                return generation
            if state is JobState.ERROR:
                error = generation.error
                name = error.name if error else "error"
                detail = error.message if error else "no detail given"
                raise GenerationFailedError(
                    f"generation {generation_id} failed at the service: {name}: {detail}",
                    generation_id=generation_id,
                    name=name,
                    detail=detail,
                )
            if state is JobState.UNKNOWN and generation.status not in seen_unknown:
                seen_unknown.add(generation.status)
                log.warning(
                    "generation %s reports an undocumented status %r; treating it as running",
                    generation_id,
                    generation.status,
                )
        if overdue:
            raise GenerationTimeoutError(
                f"generation {generation_id} did not finish within {deadline_s:.0f}s (last "
                f"status: {last_status}); rerun the same request later to resume waiting, or "
                "raise RESKIN_POLL_DEADLINE_S",
                generation_id=generation_id,
                deadline_s=deadline_s,
                last_status=last_status,
            )
        # The pause runs from when this request was sent, so the service's answer time does
        # not stretch the schedule (at 0.3 s an answer, a 3.5 s pause would become 3.8 s).
        pause = schedule.next_interval(asked - start - watch.origin_s)
        now = clock()
        # Never sleep past the deadline, but do make one last check right at it.
        await sleep(max(min(asked + pause, end) - now, 0.0))
