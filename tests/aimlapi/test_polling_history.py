"""The durations of earlier jobs: kept per model in one small file, learned by the next wait."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest
from reskin.durations import FILE_NAME, DurationLog
from reskin.edit.wait import model_of, schedule_of, wait
from reskin.journal import Journal
from reskin.settings import DEFAULT_MODEL, Settings
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri

pytestmark = pytest.mark.anyio


def test_the_log_keeps_the_latest_durations_of_each_model(tmp_path: Path):
    ticks = iter(range(1000))
    log = DurationLog(tmp_path / FILE_NAME, keep=3, clock=lambda: float(next(ticks)))
    for seconds in (10.0, 20.0, 30.0, 40.0):
        log.add("model-a", seconds)
    log.add("model-b", 99.0)
    # Another process (another instance) sees the same file.
    other = DurationLog(tmp_path / FILE_NAME)
    assert other.recent("model-a") == [20.0, 30.0, 40.0]
    assert other.recent("model-a", limit=2) == [30.0, 40.0]
    assert other.recent("model-b") == [99.0]
    assert other.recent("model-c") == []
    with pytest.raises(ValueError, match="positive"):
        log.add("model-a", 0.0)


def test_the_model_comes_from_the_generation_id():
    settings = Settings(_env_file=None, model="fallback/model")
    assert model_of(f"0e6d:{DEFAULT_MODEL}", settings) == DEFAULT_MODEL
    assert model_of("no-model-in-it", settings) == "fallback/model"


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
    journal = Journal(work / "journal.sqlite3")

    # An unusable durations file costs the learning, never the wait.
    (work / FILE_NAME).mkdir(parents=True)
    caplog.set_level(logging.WARNING, logger="reskin.edit.wait")
    first = await wait(await submit(standin, clip), "fp-1", journal, settings)
    assert first.url is not None
    assert "durations of earlier jobs unreadable" in caplog.text
    assert "could not record how long" in caplog.text
    (work / FILE_NAME).rmdir()

    generation_id = await submit(standin, clip)
    second = await wait(generation_id, "fp-2", journal, settings)
    assert second.url is not None
    seen = DurationLog(work / FILE_NAME).recent(model_of(generation_id, settings))
    assert len(seen) == 1
    # Measured from leaving the queue (0.2 s) to completion: the stand-in's 0.5 s of work
    # and its render, give or take half a pause.
    assert 0.2 < seen[0] < second.waited_s
    learned = schedule_of(settings, seen)
    assert learned.expected_s < settings.poll_expected_s
    # A wait that finds its job already done adds nothing.
    await wait(generation_id, "fp-2", journal, settings)
    assert len(DurationLog(work / FILE_NAME).recent(DEFAULT_MODEL)) == 1
