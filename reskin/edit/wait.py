"""``poll``: wait for a submitted generation, keeping the journal up to date with how it ended.

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

from reskin.aimlapi.polling import (
    JobWatch,
    OnUpdate,
    PollSchedule,
    result_url,
    wait_for_generation,
)
from reskin.durations import FILE_NAME, DurationLog
from reskin.edit.prepare import Taken
from reskin.edit.services import Services
from reskin.errors import GenerationFailedError, GenerationLostError, NotFoundError
from reskin.journal import Entry, Phase
from reskin.progress import expected_source, span
from reskin.settings import Settings
from reskin.submission import Submitted, lost_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ready:
    """``poll``: the generation completed; its result waits at ``url`` (download it at once:
    result links expire)."""

    generation_id: str
    credits_used: float | None
    url: str
    waited_s: float


@dataclass(frozen=True)
class Downloaded:
    """``poll``: an earlier run downloaded this request's result already; nothing to fetch."""

    generation_id: str
    credits_used: float | None
    path: Path


Finished = Ready | Downloaded


def schedule_of(settings: Settings, earlier: Iterable[float] = ()) -> PollSchedule:
    """The settings' schedule, its prior moved toward the ``earlier`` durations."""
    return PollSchedule(
        expected_s=settings.poll_expected_s,
        min_interval_s=settings.poll_min_interval_s,
        max_interval_s=settings.poll_max_interval_s,
    ).learned(earlier)


def schedule_for(settings: Settings, model: str) -> PollSchedule:
    """The schedule a wait for a job of ``model`` follows: the settings' prior moved toward
    how long that model's earlier jobs at this service took (reads the durations file)."""
    return schedule_of(settings, _earlier(settings, model))


def expected_words(schedule: PollSchedule) -> str:
    """How long a job is expected to take, and whence: ``about 1 min 10 s expected (learned
    from 12 earlier jobs)``, or ``about 4 min 00 s expected (RESKIN_POLL_EXPECTED_S)`` before
    any job of the model was timed here."""
    return f"about {span(schedule.expected_s)} expected ({expected_source(schedule.learned_from)})"


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


def reusable_download(entry: Entry | None) -> Path | None:
    """The earlier download of this request's result, when it is still on disk."""
    if entry is None or entry.phase not in (Phase.DOWNLOADED, Phase.DONE):
        return None
    if entry.result_path is None or not Path(entry.result_path).is_file():
        return None
    return Path(entry.result_path)


async def poll(
    taken: Taken,
    submitted: Submitted,
    services: Services,
    *,
    on_update: OnUpdate | None = None,
    schedule: PollSchedule | None = None,
) -> Finished:
    """Wait (async, with a deadline) until the generation completes, unless an earlier run
    downloaded its result. ``schedule``: the one :func:`schedule_for` gives, when the caller
    has it already (to show what it expects)."""
    return await wait_for(
        submitted.generation_id,
        taken.fingerprint,
        taken.resolved.spec.id,
        services,
        on_update=on_update,
        schedule=schedule,
    )


async def wait_for(
    generation_id: str,
    fp: str,
    model: str,
    services: Services,
    *,
    on_update: OnUpdate | None = None,
    schedule: PollSchedule | None = None,
) -> Finished:
    """Wait for ``generation_id`` (request ``fp``, on ``model``) to complete, keeping the
    journal up to date with how it ended; on ``schedule`` (by default :func:`schedule_for`)."""
    settings, journal = services.settings, services.journal
    entry = journal.get(fp)
    earlier = reusable_download(entry)
    if earlier is not None and entry is not None:
        log.info("the result was downloaded by an earlier run: not polling")
        return Downloaded(generation_id, entry.credits_used, earlier)
    began = time.monotonic()
    accepted_at = entry.accepted_at if entry is not None else None
    watch = JobWatch()
    try:
        done = await wait_for_generation(
            services.client.fetch,
            generation_id,
            deadline_s=settings.poll_deadline_s,
            schedule=schedule if schedule is not None else schedule_for(settings, model),
            # Wall time, so a resumed wait picks up the schedule where the job stands.
            clock=time.time,
            started_at=accepted_at,
            on_update=on_update,
            watch=watch,
        )
    except NotFoundError as exc:
        # The service forgot the job (a restart, a purge): no rerun can fetch it, so the
        # journal says so at once next time, and only a forced rerun pays for a new one.
        journal.lost(fp, str(exc))
        raise GenerationLostError(lost_line(generation_id), generation_id=generation_id) from exc
    except GenerationFailedError as exc:
        journal.failed(fp, str(exc))
        # The service's words say what went wrong; the user also needs what to do next.
        raise GenerationFailedError(
            f"{str(exc).rstrip('. ')}; change the request, or rerun it with `force` to pay "
            "for a new attempt",
            generation_id=exc.generation_id,
            name=exc.name,
            detail=exc.detail,
        ) from exc
    _remember(settings, model, watch)
    url = result_url(done)
    return Ready(generation_id, done.credits_used, url, time.monotonic() - began)
