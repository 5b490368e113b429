"""The edit_video flow end to end: real ffmpeg, the real stand-in over HTTP, a Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.edit_video import edit_video
from reskin.edit.request import EditRequest
from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import MakeClip

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]


async def test_a_clip_with_sound_is_edited_and_keeps_its_sound(
    edit_env: Path, standin: StandIn, make_clip: MakeClip, tmp_path: Path
):
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    output = tmp_path / "out" / "edited.mp4"
    result = await edit_video(EditRequest(input=str(clip), prompt="sepia film", output=str(output)))
    info = probe(output)
    assert info.has_audio
    assert info.fps == 24
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert result.output == str(output)
    assert result.credits_used == 300
    assert not result.resumed
    assert standin.stats().jobs_accepted == 1
