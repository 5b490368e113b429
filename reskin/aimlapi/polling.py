"""Waiting for a generation: an adaptive interval and a loop with a hard deadline.

The loop takes its clock and sleep as arguments, so tests and the benchmark run hours of
simulated waiting in milliseconds. Unknown status words count as "still running" and are
logged once each; the deadline ends every wait, whatever the service says.
"""

from __future__ import annotations

import asyncio
import logging
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
OnUpdate = Callable[[Generation, float], None]

# Failures a status request may meet while the job itself keeps running at the service: the
# client has already retried them, and the deadline still bounds the wait.
_TRANSIENT = (ApiConnectionError, ApiTimeoutError, ServerError, RateLimitError)


@dataclass(frozen=True)
class PollSchedule:
    """When to ask next: sparse while the job cannot be done yet, dense around its expected end.

    ``expected_s`` is the prior for how long a job takes (the documented one took about 4 min).
    Before it, the pause is half of the time still expected; after it, the pause grows slowly
    from the minimum, because a late job is as likely to finish in any of the next seconds.
    """

    expected_s: float = 240.0
    min_interval_s: float = 1.0
    max_interval_s: float = 30.0

    def next_interval(self, elapsed_s: float) -> float:
        if elapsed_s < self.expected_s:
            pause = (self.expected_s - elapsed_s) * 0.5
        else:
            pause = self.min_interval_s + (elapsed_s - self.expected_s) * 0.05
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

    ``started_at`` (a ``clock()`` reading) lets a resumed wait keep its original timeline.
    Raises :class:`GenerationFailedError`, :class:`GenerationTimeoutError` or
    :class:`InvalidResponseError` (completed without a video URL).
    """
    schedule = schedule or PollSchedule()
    start = clock() if started_at is None else started_at
    end = start + deadline_s
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
                on_update(generation, clock() - start)
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
