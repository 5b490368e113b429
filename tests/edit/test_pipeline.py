"""The core's whole edit, with no Prefect: what an interrupted or forgotten generation leaves
for the rerun (real stand-in, real ffmpeg)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from reskin.edit.pipeline import edit
from reskin.edit.request import EditRequest
from reskin.edit.services import open_services
from reskin.errors import GenerationLostError
from reskin.journal import Phase
from reskin.media.sound import TRACK_NAME
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.media.marks import audio_seconds

pytestmark = pytest.mark.anyio


async def until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        await asyncio.sleep(0.05)


async def test_cancelled_while_polling_then_forgotten_the_rerun_says_lost_until_forced(
    standin: StandIn, edit_env: Path, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=3.0, width=1280, height=720)
    output = tmp_path / "out.mp4"
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(output))
    config = standin.config
    standin.set_faults(slow_jobs=30 / (config.queued_s + config.generating_s))

    async with open_services(load_settings()) as services:
        running = asyncio.create_task(edit(request, services))
        await until(lambda: standin.stats().jobs_accepted == 1)
        await asyncio.sleep(0.3)
        running.cancel()  # a cancel while polling: the accepted job stays journaled
        with pytest.raises(asyncio.CancelledError):
            await running
        job = max(standin.service.jobs.all(), key=lambda job: job.accepted_at)
        fp = services.journal.fingerprint_of(job.id)
        assert fp is not None
        accepted = services.journal.get(fp)
        assert accepted is not None
        assert accepted.phase is Phase.ACCEPTED  # the rerun would resume it
    standin.forget()  # the service restarts: it no longer knows the job

    async with open_services(load_settings()) as services:
        with pytest.raises(GenerationLostError, match="no longer knows generation") as lost:
            await edit(request, services)
        assert "`force`" in lost.value.said
        fetches = standin.stats().fetch_calls
        # The next rerun says the same at once, from the journal, asking the service nothing.
        with pytest.raises(GenerationLostError, match="`force`"):
            await edit(request, services)
        assert standin.stats().fetch_calls == fetches
        assert not output.exists()
        lost_entry = services.journal.get(fp)
        assert lost_entry is not None
        assert lost_entry.phase is Phase.LOST

        standin.set_faults(slow_jobs=1.0)
        done = await edit(request.model_copy(update={"force": True}), services)
    assert not done.resumed
    assert output.is_file()
    assert standin.stats().jobs_accepted == 2


async def test_the_sound_is_encoded_while_the_service_works_the_sheet_drawn_beside_fidelity(
    standin: StandIn,
    edit_env: Path,
    make_clip: MakeClip,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The window's sound is encoded during the poll, and the final mux copies it; the contact
    sheet is drawn while fidelity scores: the end of the edit waits for neither."""
    clip = make_clip(duration_s=3.0, width=1280, height=720)
    output = tmp_path / "out.mp4"
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(output))
    caplog.set_level(logging.DEBUG, logger="reskin")  # the processes started: debug lines

    async with open_services(load_settings()) as services:
        result = await edit(request, services)

    said = [record.getMessage() for record in caplog.records]
    partial = f".{Path(TRACK_NAME).stem}.part"  # atomic_output's name while it is written
    track = next(
        i for i, line in enumerate(said) if line.startswith("running ") and partial in line
    )
    assert track < said.index(next(line for line in said if line.startswith("poll done")))
    sheet = next(i for i, line in enumerate(said) if line.endswith(".preview.part.png"))
    assert sheet < said.index(next(line for line in said if line.startswith("fidelity done")))
    assert result.preview == str(output.with_name("out.preview.png"))
    assert any(line.endswith("(encoded ahead)") for line in said if line.startswith("sound: "))
    assert result.has_audio
    assert audio_seconds(output) == pytest.approx(3.0, abs=0.03)
