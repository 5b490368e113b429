"""Choosing how the clip reaches the service: inline, the input's own URL, S3 (a real moto server
on loopback) or the stand-in's file server over real HTTP; and deleting what was uploaded."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from reskin.errors import ApiConnectionError, ConfigError, InputError
from reskin.settings import Settings
from reskin.standin.server import StandIn
from reskin.storage.datauri import DataUri
from reskin.storage.s3 import S3Location, S3Storage, StorageOf
from reskin.storage.upload import (
    AtUrl,
    Inline,
    InS3,
    goes_inline,
    place_clip,
    put_standin_file,
    release,
    video_url,
)
from tests.s3_server import S3Server

pytestmark = pytest.mark.anyio


def _settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def _storage(settings: Settings) -> StorageOf:
    return lambda: S3Storage.from_settings(settings)


def _no_storage() -> S3Storage:
    raise AssertionError("S3 was not to be touched")


def _clip(tmp_path: Path, size: int) -> Path:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(bytes(range(256)) * (size // 256) + b"\0" * (size % 256))
    return clip


async def test_a_small_clip_goes_inline_and_the_data_uri_is_built_only_when_asked(
    tmp_path: Path,
):
    clip = _clip(tmp_path, 3000)
    placed = await place_clip(clip, None, _settings(), _no_storage)
    assert placed == Inline(clip)
    assert "base64" not in repr(placed)
    assert placed.shown == "data URI (inline)"
    uri = video_url(placed, _settings(datauri_max_bytes=10_000), _no_storage)
    assert isinstance(uri, DataUri)  # read from the file only as the create's body goes out
    assert base64.b64decode(uri.text().split(",", 1)[1]) == clip.read_bytes()
    with pytest.raises(InputError, match="data-URI budget"):  # checked when the create is made
        video_url(placed, _settings(datauri_max_bytes=2999), _no_storage)


async def test_an_input_url_is_passed_through_when_the_clip_conforms_as_it_is(tmp_path: Path):
    clip = _clip(tmp_path, 3000)
    placed = await place_clip(clip, "https://media.example/clip.mp4", _settings(), _no_storage)
    assert placed == AtUrl("https://media.example/clip.mp4")
    assert video_url(placed, _settings(datauri_max_bytes=1), _no_storage) == placed.url


async def test_a_clip_over_the_data_uri_budget_is_refused_with_what_to_configure(
    tmp_path: Path,
):
    clip = _clip(tmp_path, 5000)
    with pytest.raises(InputError, match="RESKIN_DATAURI_MAX_BYTES") as caught:
        await place_clip(clip, None, _settings(datauri_max_bytes=4000), _no_storage)
    assert "\n" not in str(caught.value)
    assert "set RESKIN_S3_BUCKET" in str(caught.value)
    settings = _settings(datauri_max_bytes=4000, upload="datauri")
    with pytest.raises(InputError, match="set RESKIN_UPLOAD=auto and RESKIN_S3_BUCKET"):
        await place_clip(clip, None, settings, _no_storage)


async def test_over_the_budget_with_a_bucket_the_clip_goes_to_s3_and_is_deleted_after(
    tmp_path: Path, s3_server: S3Server
):
    clip = _clip(tmp_path, 5000)
    bucket = s3_server.create_bucket()
    settings = _settings(datauri_max_bytes=4000, **s3_server.settings(bucket))
    placed = await place_clip(clip, None, settings, _storage(settings))
    assert isinstance(placed, InS3)
    assert placed.uploaded
    where = placed.location
    assert where.bucket == bucket
    assert where.key.startswith("reskin/uploads/")
    assert placed.shown == f"s3: {where.url} (presigned when sent)"

    url = video_url(placed, settings, _storage(settings))
    assert isinstance(url, str)
    assert url.startswith(s3_server.endpoint_url)
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Signature" not in repr(placed)
    async with httpx.AsyncClient() as http:
        served = await http.get(url)
    assert served.content == clip.read_bytes()

    storage = S3Storage.from_settings(settings)
    assert await release(placed, settings, _storage(settings))
    assert not storage.exists(where)


async def test_an_s3_input_that_conforms_is_presigned_where_it_is_and_never_deleted(
    tmp_path: Path, s3_server: S3Server
):
    clip = _clip(tmp_path, 5000)
    bucket = s3_server.create_bucket()
    settings = _settings(**s3_server.settings(bucket))
    storage = S3Storage.from_settings(settings)
    theirs = S3Location.parse(f"s3://{bucket}/users/in.mp4")
    storage.upload(clip, theirs)

    placed = await place_clip(clip, theirs.url, settings, _storage(settings))
    assert placed == InS3(theirs, uploaded=False)
    async with httpx.AsyncClient() as http:
        url = video_url(placed, settings, _storage(settings))
        assert isinstance(url, str)
        assert (await http.get(url)).content == clip.read_bytes()
    assert not await release(placed, settings, _storage(settings))
    assert storage.exists(theirs)


async def test_upload_s3_sends_even_a_small_clip_through_s3_and_can_keep_it(
    tmp_path: Path, s3_server: S3Server
):
    clip = _clip(tmp_path, 100)
    bucket = s3_server.create_bucket()
    settings = _settings(upload="s3", s3_delete_uploads=False, **s3_server.settings(bucket))
    placed = await place_clip(clip, None, settings, _storage(settings))
    assert isinstance(placed, InS3)
    assert placed.uploaded
    assert not await release(placed, settings, _storage(settings))
    assert S3Storage.from_settings(settings).exists(placed.location)


async def test_the_stand_in_file_server_serves_the_very_bytes_uploaded(
    tmp_path: Path, standin: StandIn
):
    clip = _clip(tmp_path, 300_000)
    settings = _settings(
        base_url=standin.base_url, api_key=SecretStr(standin.key), upload="standin-files"
    )
    placed = await place_clip(clip, "https://ignored.example/x.mp4", settings, _no_storage)
    assert isinstance(placed, AtUrl)
    assert placed.backend == "standin-files"
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


@pytest.mark.parametrize(
    ("values", "source_url", "size", "inline"),
    [
        ({}, None, 1000, True),
        ({}, None, 60_000_000, False),  # over the data-URI budget
        ({"upload": "datauri"}, "https://media.example/clip.mp4", 1000, True),
        ({}, "https://media.example/clip.mp4", 1000, False),  # the service fetches it
        ({}, "s3://bucket/clip.mp4", 1000, False),
        ({"upload": "s3", "s3_bucket": "clips"}, None, 1000, False),
    ],
)
async def test_goes_inline_says_what_place_clip_does(
    tmp_path: Path, values: dict[str, object], source_url: str | None, size: int, inline: bool
) -> None:
    # The plan decides from it whether an index at the end needs a remux: it must agree with
    # where place_clip really puts the clip.
    settings = _settings(**values)
    clip = _clip(tmp_path, size)
    try:
        placed: object = await place_clip(clip, source_url, settings, _no_storage)
    except (InputError, AssertionError) as exc:  # over the budget; S3 asked for
        placed = exc

    assert goes_inline(size, source_url, settings) is inline
    assert isinstance(placed, Inline) is inline, placed
