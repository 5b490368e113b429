"""Stage ``poll``: wait for the generation, showing progress in the UI and the log."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE

from reskin.aimlapi.models import Generation, JobState
from reskin.edit import wait
from reskin.edit.prepare import Taken
from reskin.edit.services import Services
from reskin.edit.wait import Downloaded, Finished
from reskin.progress import JobStatus, extra, span
from reskin.submission import Submitted

#: A log line at least this often while the status stays the same.
LOG_EVERY_S = 30.0
#: The progress artifact at least this often while the status stays the same. Not at every
#: answer: each update is a write to the Prefect server's database, where (under SQLite) writes
#: now and then collide and cost seconds (docs/bench.md, orchestration).
PROGRESS_EVERY_S = 10.0


@dataclass
class Every:
    """Whether to report a status answer: a new status, the end, or ``period_s`` since the last."""

    period_s: float
    status: str | None = None
    at_s: float = 0.0

    def due(self, status: str, elapsed_s: float, *, done: bool) -> bool:
        if status == self.status and elapsed_s - self.at_s < self.period_s and not done:
            return False
        self.status, self.at_s = status, elapsed_s
        return True


@task(name="poll", task_run_name="poll {submitted.short_id}", cache_policy=NO_CACHE)
async def poll(taken: Taken, submitted: Submitted, services: Services) -> Finished:
    """Wait (async, with a deadline) until the generation completes, showing its progress."""
    logger = get_run_logger()
    # The median the schedule learned from this model's earlier jobs (else the setting).
    schedule = await asyncio.to_thread(wait.schedule_for, services.settings, taken.resolved.spec.id)
    expected = schedule.expected_s
    artifact = await acreate_progress_artifact(
        progress=0.0, description=f"generation {submitted.generation_id}: waiting"
    )
    log_line, show = Every(LOG_EVERY_S), Every(PROGRESS_EVERY_S)

    async def progress(generation: Generation, elapsed_s: float) -> None:
        done = generation.state is JobState.COMPLETED
        if log_line.due(generation.status, elapsed_s, done=done):
            # In words for the UI, as data for the terminal's display (reskin.progress).
            logger.info(
                "%s, %s elapsed, %s",
                generation.status,
                span(elapsed_s),
                wait.expected_words(schedule),
                extra=extra(
                    JobStatus(generation.status, elapsed_s, expected, schedule.learned_from)
                ),
            )
        if not show.due(generation.status, elapsed_s, done=done):
            return
        # An estimate from the expected job length: it never claims done before the service.
        share = 100.0 if done else min(95.0, 100.0 * elapsed_s / expected)
        await aupdate_progress_artifact(
            artifact,
            share,
            description=f"generation {submitted.generation_id}: {generation.status}, "
            f"{elapsed_s:.0f} s elapsed",
        )

    finished = await wait.poll(taken, submitted, services, on_update=progress, schedule=schedule)
    if isinstance(finished, Downloaded):
        await aupdate_progress_artifact(artifact, 100.0, description="downloaded earlier")
    return finished
