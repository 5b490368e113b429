"""The result is a real video: 24 fps H.264, the service's size, same length, sound on request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reskin.media.probe import probe
from reskin.standin.server import StandIn

from ..frames import read_frame_stats
from .wire import Api


def test_the_result_is_24fps_h264_without_audio_and_as_long_as_the_input(
    standin: StandIn, api: Api, make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_clip(fps=30, audio=True)  # 30 fps with sound in; 24 fps and silent out
    generation_id = api.create_from(clip, prompt="anything at all")
    body = api.wait(generation_id)

    answer = api.http.get(body["video"]["url"])

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "video/mp4"
    assert int(answer.headers["content-length"]) == len(answer.content)
    result = tmp_path / "result.mp4"
    result.write_bytes(answer.content)
    info, source = probe(result), probe(clip)
    assert info.container == "mp4"
    assert info.video_codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert info.fps == pytest.approx(24.0)
    assert info.variable_fps is False
    assert info.has_audio is False
    assert info.duration_s == pytest.approx(source.duration_s, abs=0.1)
    assert (info.width, info.height) == (720, 720)
    assert answer.content.find(b"moov") < answer.content.find(b"mdat")  # +faststart
    assert standin.stats().result_downloads == 1


def test_keep_audio_keeps_the_sound_as_aac_stereo(
    api: Api, make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_clip(audio=True, audio_channels=1)

    result = api.result(api.create_from(clip, keep_audio=True), tmp_path)

    info = probe(result)
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 2)
    assert info.fps == pytest.approx(24.0)


def test_keep_audio_on_a_silent_clip_still_completes(
    api: Api, make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    result = api.result(api.create_from(make_clip(audio=False), keep_audio=True), tmp_path)

    assert probe(result).has_audio is False


def test_a_rotated_1080p_clip_comes_back_upright_in_a_portrait_box(
    api: Api, make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    # A phone clip: coded 1920x1080, played turned to 1080x1920.
    clip = make_clip(width=1920, height=1080, rotation=90, audio=False)

    result = api.result(api.create_from(clip), tmp_path)

    info = probe(result)
    assert (info.width, info.height, info.rotation) == (720, 1280, 0)


def test_the_result_differs_visibly_from_the_input(
    api: Api, make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_clip(audio=False)

    result = api.result(api.create_from(clip, prompt="make it look like a painting"), tmp_path)

    before, after = read_frame_stats(clip), read_frame_stats(result)
    assert after.diff(before) > 40
