"""take_in and plan: the journal decides before anything is conformed, so a refusal costs no
ffmpeg run; a failed take_in leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from reskin.edit.prepare import ToResume, ToSend, plan, take_in
from reskin.edit.request import EditRequest
from reskin.edit.services import Services
from reskin.errors import GenerationFailedError, ReskinError
from reskin.media.binaries import FFmpegTools
from reskin.settings import Settings
from tests.conftest import MakeClip

pytestmark = pytest.mark.anyio


async def test_a_failed_request_is_refused_before_its_clip_is_conformed(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})
    services = Services(settings, tools=ffmpeg_tools)
    journal = services.journal
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(tmp_path / "o.mp4"))

    first = await take_in(request, services)
    assert isinstance(await plan(request, first, services), ToSend)  # nothing journaled yet
    journal.reserve(first.fingerprint)
    journal.accepted(first.fingerprint, "gen-1")
    again = await take_in(request, services)
    assert again.fingerprint == first.fingerprint
    resumed = await plan(request, again, services)
    assert isinstance(resumed, ToResume)  # a live generation needs no clip
    assert resumed.generation_id == "gen-1"
    journal.failed(first.fingerprint, "generation_failed: boom")

    with pytest.raises(GenerationFailedError, match="`force`"):
        await plan(request, again, services)
    # Only what take_in made is there: plan refused before any conform.
    assert not (again.job_dir / "clip.mp4").exists()

    forced = request.model_copy(update={"force": True})
    assert isinstance(await plan(forced, again, services), ToSend)


async def test_take_in_leaves_no_job_folder_when_it_fails(
    ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})
    services = Services(settings, tools=ffmpeg_tools)
    request = EditRequest(
        input=str(tmp_path / "missing.mp4"), prompt="sepia", output=str(tmp_path / "o.mp4")
    )
    with pytest.raises(ReskinError):
        await take_in(request, services)
    assert list((tmp_path / "work" / "jobs").iterdir()) == []
