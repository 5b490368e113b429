"""Poll: wait for a submitted generation, keeping the journal up to date with how it ended.

The schedule starts from the settings' prior and learns from how long this model's earlier jobs
at the same service (``settings.base_url``) took (``reskin/durations.py``); each wait that sees
its job run and complete adds its own.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.polling import (
    JobWatch,
    OnUpdate,
    PollSchedule,
    result_url,
    wait_for_generation,
)
from reskin.durations import FILE_NAME, DurationLog
from reskin.edit.results import reusable_download
from reskin.errors import GenerationFailedError
from reskin.journal import Journal
from reskin.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """A completed generation: its result URL, or the earlier download of it."""

    generation_id: str
    credits_used: float | None
    url: str | None
    #: The result as an earlier run downloaded it; nothing to fetch.
    downloaded: Path | None
    waited_s: float


def schedule_of(settings: Settings, earlier: Iterable[float] = ()) -> PollSchedule:
    """The settings' schedule, its prior moved toward the ``earlier`` durations."""
    return PollSchedule(
        expected_s=settings.poll_expected_s,
        min_interval_s=settings.poll_min_interval_s,
        max_interval_s=settings.poll_max_interval_s,
    ).learned(earlier)


def model_of(generation_id: str, settings: Settings) -> str:
    """The model a generation runs on: ids read ``<uuid>:<model>`` (shared/API.md)."""
    _, sep, model = generation_id.partition(":")
    return model if sep and model else settings.model


def _earlier(settings: Settings, model: str) -> list[float]:
    try:
        return DurationLog(settings.work_dir / FILE_NAME).recent(settings.base_url, model)
    except (sqlite3.Error, OSError) as exc:
        log.warning("durations of earlier jobs unreadable, polling from the settings: %s", exc)
        return []


def _remember(settings: Settings, model: str, watch: JobWatch) -> None:
    if watch.duration_s is None or watch.duration_s <= 0:
        return
    try:
        DurationLog(settings.work_dir / FILE_NAME).add(settings.base_url, model, watch.duration_s)
    except (sqlite3.Error, OSError) as exc:
        log.warning("could not record how long %s took: %s", model, exc)


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
    model = model_of(generation_id, settings)
    watch = JobWatch()
    async with AimlapiClient.from_settings(settings) as client:
        try:
            done = await wait_for_generation(
                client.fetch,
                generation_id,
                deadline_s=settings.poll_deadline_s,
                schedule=schedule_of(settings, _earlier(settings, model)),
                # Wall time, so a resumed wait picks up the schedule where the job stands.
                clock=time.time,
                started_at=accepted_at,
                on_update=on_update,
                watch=watch,
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
    _remember(settings, model, watch)
    return Finished(
        generation_id, done.credits_used, result_url(done), None, time.monotonic() - began
    )
