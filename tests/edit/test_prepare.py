"""Preprocess decides with the journal before it conforms: a refusal costs no ffmpeg run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reskin.edit.prepare import journal_of, prepare
from reskin.edit.request import EditRequest
from reskin.errors import GenerationFailedError
from reskin.media.binaries import FFmpegTools
from reskin.settings import Settings
from tests.conftest import MakeClip

pytestmark = pytest.mark.anyio


async def test_a_failed_request_is_refused_before_its_clip_is_conformed(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})
    journal = journal_of(settings)
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(tmp_path / "o.mp4"))

    first = await prepare(request, settings, ffmpeg_tools, journal)
    assert first.clip is not None  # nothing journaled yet: the clip is conformed
    journal.reserve(first.fingerprint)
    journal.accepted(first.fingerprint, "gen-1")
    resumed = await prepare(request, settings, ffmpeg_tools, journal)
    assert resumed.resumable
    assert resumed.clip is None  # a live generation needs no clip
    journal.failed(first.fingerprint, "generation_failed: boom")

    with pytest.raises(GenerationFailedError, match="--force"):
        await prepare(request, settings, ffmpeg_tools, journal)
    # The refused run left no job folder of its own behind.
    assert set((tmp_path / "work" / "jobs").iterdir()) == {first.job_dir, resumed.job_dir}

    forced = await prepare(
        request.model_copy(update={"force": True}), settings, ffmpeg_tools, journal
    )
    assert forced.clip is not None
