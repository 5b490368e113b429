"""Choosing how the clip reaches the service, and the stand-in's file server over real HTTP."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from reskin.errors import ApiConnectionError, ConfigError, InputError
from reskin.settings import Settings
from reskin.standin.server import StandIn
from reskin.storage.upload import Placed, place_clip, put_standin_file

pytestmark = pytest.mark.anyio


def _settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def _clip(tmp_path: Path, size: int) -> Path:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(bytes(range(256)) * (size // 256) + b"\0" * (size % 256))
    return clip


async def test_a_small_clip_goes_inline_and_the_data_uri_is_built_only_when_asked(
    tmp_path: Path,
):
    clip = _clip(tmp_path, 3000)
    placed = await place_clip(clip, None, _settings())
    assert placed == Placed("datauri", path=clip)
    assert "base64" not in repr(placed)
    assert placed.shown == "data URI (inline)"
    uri = placed.video_url(max_bytes=10_000)
    assert base64.b64decode(uri.split(",", 1)[1]) == clip.read_bytes()


async def test_an_input_url_is_passed_through_when_the_clip_conforms_as_it_is(tmp_path: Path):
    clip = _clip(tmp_path, 3000)
    placed = await place_clip(clip, "https://media.example/clip.mp4", _settings())
    assert placed.video_url(max_bytes=1) == "https://media.example/clip.mp4"


async def test_a_clip_over_the_data_uri_budget_is_refused_with_what_to_configure(
    tmp_path: Path,
):
    clip = _clip(tmp_path, 5000)
    with pytest.raises(InputError, match="RESKIN_DATAURI_MAX_BYTES") as caught:
        await place_clip(clip, None, _settings(datauri_max_bytes=4000))
    assert "\n" not in str(caught.value)


async def test_the_stand_in_file_server_serves_the_very_bytes_uploaded(
    tmp_path: Path, standin: StandIn
):
    clip = _clip(tmp_path, 300_000)
    settings = _settings(
        base_url=standin.base_url, api_key=SecretStr(standin.key), upload="standin-files"
    )
    placed = await place_clip(clip, "https://ignored.example/x.mp4", settings)
    assert placed.backend == "standin-files"
    assert placed.url is not None
    assert placed.url.startswith(standin.base_url + "/files/")
    async with httpx.AsyncClient() as http:
        served = await http.get(placed.url)
    assert served.content == clip.read_bytes()


async def test_the_file_server_needs_a_stand_in_and_its_key(tmp_path: Path, standin: StandIn):
    clip = _clip(tmp_path, 1000)
    with pytest.raises(ConfigError, match="AIMLAPI_BASE_URL"):
        await put_standin_file(clip, _settings(api_key=SecretStr("k")))
    wrong = _settings(base_url=standin.base_url, api_key=SecretStr("wrong-key"))
    with pytest.raises(ApiConnectionError, match="refused the upload"):
        await put_standin_file(clip, wrong)


async def test_an_unreachable_file_server_says_so(tmp_path: Path):
    clip = _clip(tmp_path, 1000)
    settings = _settings(base_url="http://127.0.0.1:9", api_key=SecretStr("k"), connect_timeout_s=2)
    with pytest.raises(ApiConnectionError, match="reskin stand-in"):
        await put_standin_file(clip, settings)
