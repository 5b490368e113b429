"""Inputs given by URL: downloaded (capped) to be checked, then handed to the service as they
are when they already conform, or conformed and sent inline when they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.edit_video import edit_video
from reskin.errors import InputError
from reskin.media.binaries import FFmpegTools
from reskin.media.probe import probe
from reskin.settings import Settings
from reskin.standin.server import StandIn
from reskin.storage.upload import put_standin_file
from tests.flows.checks import ask, assert_no_output, assert_one_line, conformed
from tests.flows.recorder import Recorder

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]


async def _served(path: Path, standin: StandIn) -> str:
    """``path`` put on the stand-in's file server: an http URL anyone on loopback can fetch."""
    settings = Settings.model_validate({"base_url": standin.base_url, "api_key": standin.key})
    return await put_standin_file(path, settings)


async def test_a_conforming_url_is_handed_to_the_service_as_it_is(
    edit_env: Path,
    standin: StandIn,
    clip: Path,
    output: Path,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ready = conformed(clip, tmp_path / "ready.mp4", ffmpeg_tools)
    url = await _served(ready, standin)
    with Recorder(standin.base_url) as relay:
        monkeypatch.setenv("AIMLAPI_BASE_URL", relay.base_url)
        result = await edit_video(ask(url, output))  # type: ignore[arg-type]
    (create,) = relay.creates
    assert create["video_url"] == url
    assert result.has_audio  # the sound restored from the downloaded copy
    assert probe(output).duration_s == pytest.approx(3.0, abs=0.1)


async def test_a_url_that_needs_conforming_is_conformed_and_sent_inline(
    edit_env: Path, standin: StandIn, clip: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await _served(clip, standin)
    with Recorder(standin.base_url) as relay:
        monkeypatch.setenv("AIMLAPI_BASE_URL", relay.base_url)
        await edit_video(ask(url, output))  # type: ignore[arg-type]
    (create,) = relay.creates
    assert create["video_url"].startswith("data:video/mp4;base64,")
    assert probe(output).has_audio


async def test_a_missing_or_oversized_url_is_refused_before_anything_is_paid(
    edit_env: Path, standin: StandIn, clip: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError) as missing:
        await edit_video(ask(f"{standin.base_url}/files/nothing-here.mp4", output))  # type: ignore[arg-type]
    assert_one_line(missing.value, "nothing-here.mp4", "404", "check the URL")
    url = await _served(clip, standin)
    monkeypatch.setenv("RESKIN_DOWNLOAD_MAX_BYTES", "10000")
    with pytest.raises(InputError) as big:
        await edit_video(ask(url, output))  # type: ignore[arg-type]
    assert_one_line(big.value, "RESKIN_DOWNLOAD_MAX_BYTES")
    assert standin.stats().create_calls == 0
    assert_no_output(output, edit_env)
