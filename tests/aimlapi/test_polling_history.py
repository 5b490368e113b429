"""The durations of earlier jobs: kept per service and model in one small file, learned by the
next wait."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest
from reskin.durations import FILE_NAME, MAX_AGE_S, DurationLog
from reskin.edit.services import Services
from reskin.edit.wait import Ready, expected_words, schedule_for, schedule_of, wait_for
from reskin.journal import Journal
from reskin.progress import span
from reskin.registry import DEFAULT_MODEL
from reskin.settings import Settings
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri

pytestmark = pytest.mark.anyio


REAL = "https://api.aimlapi.com"
LOCAL = "http://127.0.0.1:8000"


def test_the_log_keeps_the_latest_durations_of_each_model_at_each_service(tmp_path: Path):
    ticks = iter(range(1000))
    log = DurationLog(tmp_path / FILE_NAME, keep=3, clock=lambda: float(next(ticks)))
    for seconds in (100.0, 200.0, 300.0, 400.0):
        log.add(REAL, "model-a", seconds)
    log.add(REAL, "model-b", 99.0)
    # The stand-in's seconds-long jobs of the same model are kept apart, and trimmed apart.
    log.add(LOCAL + "/", "model-a", 2.0)
    # Another process (another instance) sees the same file.
    other = DurationLog(tmp_path / FILE_NAME)
    assert other.recent(REAL, "model-a") == [200.0, 300.0, 400.0]
    assert other.recent(REAL + "/", "model-a", limit=2) == [300.0, 400.0]
    assert other.recent(REAL, "model-b") == [99.0]
    assert other.recent(LOCAL, "model-a") == [2.0]
    assert other.recent(LOCAL, "model-b") == []
    assert other.recent(REAL, "model-c") == []
    with pytest.raises(ValueError, match="positive"):
        log.add(REAL, "model-a", 0.0)


def test_rows_older_than_the_age_limit_go_whatever_their_service(tmp_path: Path):
    now = [0.0]
    log = DurationLog(tmp_path / FILE_NAME, clock=lambda: now[0])
    log.add(LOCAL, "model-a", 2.0)  # a demo's stand-in, on a port never used again
    log.add(REAL, "model-a", 250.0)
    now[0] = MAX_AGE_S / 2
    log.add(REAL, "model-a", 260.0)
    now[0] = MAX_AGE_S + 1.0
    log.add(REAL, "model-b", 30.0)
    assert log.recent(LOCAL, "model-a") == []
    assert log.recent(REAL, "model-a") == [260.0]
    assert log.recent(REAL, "model-b") == [30.0]


def test_a_file_of_the_old_shape_still_opens_and_its_rows_are_not_learned(tmp_path: Path):
    # Before the service was recorded: one table keyed by model alone.
    with closing(sqlite3.connect(tmp_path / FILE_NAME)) as db, db:
        db.execute("CREATE TABLE durations (model TEXT, duration_s REAL, at REAL)")
        db.execute("INSERT INTO durations VALUES ('model-a', 2.0, 1.0)")
    log = DurationLog(tmp_path / FILE_NAME)
    # Its jobs may have run at any service: none of them is taken for the real one.
    assert log.recent(REAL, "model-a") == []
    log.add(REAL, "model-a", 250.0)
    assert DurationLog(tmp_path / FILE_NAME).recent(REAL, "model-a") == [250.0]


def settings_for(standin: StandIn, work: Path) -> Settings:
    return Settings(
        _env_file=None,
        api_key=SecretStr(standin.key),
        base_url=standin.base_url,
        work_dir=work,
        poll_expected_s=5.0,
        poll_min_interval_s=0.05,
        poll_max_interval_s=0.5,
        poll_deadline_s=60,
    )


async def submit(standin: StandIn, clip: Path) -> str:
    request = CreateRequest(
        model=DEFAULT_MODEL, prompt="sepia", video_url=data_uri(clip, max_bytes=50_000_000)
    )
    async with AimlapiClient(standin.base_url, SecretStr(standin.key)) as client:
        return (await client.create(request)).id


async def test_a_wait_records_its_job_and_the_next_schedule_learns_from_it(
    standin: StandIn, make_clip, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    clip = make_clip(duration_s=3.0, width=720, height=720, audio=False)
    work = tmp_path / "work"
    settings = settings_for(standin, work)
    services = Services(settings, journal=Journal(work / "journal.sqlite3"))
    try:
        # An unusable durations file costs the learning, never the wait.
        (work / FILE_NAME).mkdir(parents=True)
        caplog.set_level(logging.WARNING, logger="reskin.edit.wait")
        # Nothing learned yet: a wait expects the setting, and says so.
        unlearned = schedule_for(settings, DEFAULT_MODEL)
        assert (unlearned.expected_s, unlearned.learned_from) == (5.0, 0)
        assert expected_words(unlearned) == "about 5.0 s expected (RESKIN_POLL_EXPECTED_S)"
        first = await wait_for(await submit(standin, clip), "fp-1", DEFAULT_MODEL, services)
        assert isinstance(first, Ready)
        assert "durations of earlier jobs unreadable" in caplog.text
        assert "could not record how long" in caplog.text
        (work / FILE_NAME).rmdir()

        generation_id = await submit(standin, clip)
        second = await wait_for(generation_id, "fp-2", DEFAULT_MODEL, services)
        assert isinstance(second, Ready)
        seen = DurationLog(work / FILE_NAME).recent(settings.base_url, DEFAULT_MODEL)
        assert len(seen) == 1
        # Measured from leaving the queue (0.2 s) to completion: the stand-in's 0.5 s of work
        # and its render, give or take half a pause.
        assert 0.2 < seen[0] < second.waited_s
        learned = schedule_of(settings, seen)
        assert learned.expected_s < settings.poll_expected_s
        # What the next wait follows, and shows: the median learned from that one job.
        shown = schedule_for(settings, DEFAULT_MODEL)
        assert shown == learned
        assert expected_words(shown) == (
            f"about {span(learned.expected_s)} expected (learned from 1 earlier job)"
        )
        # A wait that finds its job already done adds nothing.
        await wait_for(generation_id, "fp-2", DEFAULT_MODEL, services)
        assert len(DurationLog(work / FILE_NAME).recent(settings.base_url, DEFAULT_MODEL)) == 1
        # Nor does another service learn from it.
        assert DurationLog(work / FILE_NAME).recent(REAL, DEFAULT_MODEL) == []
    finally:
        await services.aclose()
