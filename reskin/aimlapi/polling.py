"""Waiting for a generation: an adaptive interval and a loop with a hard deadline.

The loop takes its clock and sleep as arguments, so tests and the benchmark run hours of
simulated waiting in milliseconds. Unknown status words count as "still running" and are
logged once each; the deadline ends every wait, whatever the service says.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PollSchedule:
    """When to ask next, from a prior on how long jobs take.

    Job lengths are taken as log-normal with median ``expected_s`` and shape ``spread`` (the
    documented job took about 4 min). Before the prior's 1st percentile the job is almost surely
    still running, so requests are sparse (``max_interval_s``, never overshooting into the dense
    window); through the 99th percentile they come every ``dense_interval_s``, so a finished job
    is seen about ``dense_interval_s / 2`` later; past it the pause grows with the overrun,
    because a job that late says the prior was wrong.
    """

    expected_s: float = 240.0
    spread: float = 0.3
    dense_interval_s: float = 3.5
    min_interval_s: float = 1.0
    max_interval_s: float = 30.0

    @property
    def dense_from_s(self) -> float:
        return self.expected_s * math.exp(-_Z99 * self.spread)

    @property
    def dense_until_s(self) -> float:
        return self.expected_s * math.exp(_Z99 * self.spread)

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


def result_url(generation: Generation) -> str:
    """The video URL of a completed generation; "completed" without one is a failure."""
    if generation.video_url is None:
        raise InvalidResponseError(
            f"generation {generation.id} completed without a video URL; "
            "the service lost the result: submit again with --force"
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
) -> Generation:
    """Poll until the generation completes; return it with its video URL.

    ``started_at`` (a ``clock()`` reading, when the job was accepted) lets a resumed wait keep
    its place in the schedule; the deadline always counts from this call, so a rerun after a
    timeout waits again rather than giving up at once. Raises :class:`GenerationFailedError`,
    :class:`GenerationTimeoutError` or :class:`InvalidResponseError` (completed without a
    video URL).
    """
    schedule = schedule or PollSchedule()
    now = clock()
    start = now if started_at is None else min(started_at, now)
    end = now + deadline_s
    seen_unknown: set[str] = set()
    last_status = "not yet seen"
    while True:
        if clock() >= end:
            raise GenerationTimeoutError(
                f"generation {generation_id} did not finish within {deadline_s:.0f}s (last "
                f"status: {last_status}); rerun the same request later to resume waiting, or "
                "raise RESKIN_POLL_DEADLINE_S",
                generation_id=generation_id,
                deadline_s=deadline_s,
                last_status=last_status,
            )
        try:
            generation = await fetch(generation_id)
        except _TRANSIENT as exc:
            log.warning("status of %s unavailable, still waiting: %s", generation_id, exc)
        else:
            last_status = generation.status
            state = generation.state
            if on_update is not None:
                pending = on_update(generation, clock() - start)
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
        now = clock()
        pause = schedule.next_interval(now - start)
        # Never sleep past the deadline, but do make one last check right at it.
        await sleep(max(min(pause, end - now), 0.0))
