"""Poll: wait for a submitted generation, keeping the journal up to date with how it ended."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.polling import OnUpdate, PollSchedule, result_url, wait_for_generation
from reskin.edit.results import reusable_download
from reskin.errors import GenerationFailedError
from reskin.journal import Journal
from reskin.settings import Settings


@dataclass(frozen=True)
class Finished:
    """A completed generation: its result URL, or the earlier download of it."""

    generation_id: str
    credits_used: float | None
    url: str | None
    #: The result as an earlier run downloaded it; nothing to fetch.
    downloaded: Path | None
    waited_s: float


def schedule_of(settings: Settings) -> PollSchedule:
    return PollSchedule(
        expected_s=settings.poll_expected_s,
        min_interval_s=settings.poll_min_interval_s,
        max_interval_s=settings.poll_max_interval_s,
    )


async def wait(
    generation_id: str,
    fp: str,
    journal: Journal,
    settings: Settings,
    *,
    on_update: OnUpdate | None = None,
) -> Finished:
    """Wait for ``generation_id`` (request ``fp``) to complete, unless it was downloaded."""
    entry = journal.get(fp)
    earlier = reusable_download(entry)
    if earlier is not None and entry is not None:
        return Finished(generation_id, entry.credits_used, None, earlier, 0.0)
    began = time.monotonic()
    accepted_at = entry.accepted_at if entry is not None else None
    async with AimlapiClient.from_settings(settings) as client:
        try:
            done = await wait_for_generation(
                client.fetch,
                generation_id,
                deadline_s=settings.poll_deadline_s,
                schedule=schedule_of(settings),
                # Wall time, so a resumed wait picks up the schedule where the job stands.
                clock=time.time,
                started_at=accepted_at,
                on_update=on_update,
            )
        except GenerationFailedError as exc:
            journal.failed(fp, str(exc))
            # The service's words say what went wrong; the user also needs what to do next.
            raise GenerationFailedError(
                f"{str(exc).rstrip('. ')}; change the request, or rerun it with --force to pay "
                "for a new attempt",
                generation_id=exc.generation_id,
                name=exc.name,
                detail=exc.detail,
            ) from exc
    return Finished(
        generation_id, done.credits_used, result_url(done), None, time.monotonic() - began
    )
