"""The create body on the wire: the bytes httpx's ``json=`` would send, data URIs read as sent."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from reskin.aimlapi.body import JsonBody, json_body
from reskin.storage.datauri import DataUri, data_uri

pytestmark = pytest.mark.anyio


def httpx_json(body: dict[str, Any]) -> httpx.Request:
    """The request httpx builds for ``json=body``: what a create sent before it was streamed."""
    return httpx.Request("POST", "http://service.test/v2/video/generations", json=body)


def as_text(value: object) -> object:
    """``value`` with every data URI in it as its whole text."""
    if isinstance(value, DataUri):
        return value.text()
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_text(v) for v in value]
    return value


async def streamed(body: JsonBody) -> bytes:
    return b"".join([piece async for piece in body])


@pytest.fixture
def clip(tmp_path: Path) -> DataUri:
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 41 + b"\x01")  # 10,497 bytes: base64 with padding
    return data_uri(path, max_bytes=1_000_000)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "prompt": "sepia", "video_url": "https://media.test/c.mp4"},
        {"model": "m", "prompt": 'ünïcode "quoted" \\ é 雪', "video_url": "https://x.test/a"},
        {"model": "m", "prompt": "p", "video_url": "u", "seed": 7, "strength": 0.5, "on": True},
        {"model": "m", "prompt": "p", "video_url": "u", "image_list": ["data:image/png;base64,AA"]},
    ],
)
async def test_a_body_without_a_data_uri_is_the_bytes_httpx_would_send(
    body: dict[str, Any],
) -> None:
    sent = json_body(body)
    expected = httpx_json(body)
    assert sent.read() == await streamed(sent) == expected.read()
    assert sent.headers == {
        "Content-Type": expected.headers["Content-Type"],
        "Content-Length": expected.headers["Content-Length"],
    }


async def test_a_data_uri_is_sent_as_its_text_would_be_and_again_from_the_start(
    clip: DataUri,
) -> None:
    body = {"model": "m", "prompt": "snow é", "video_url": clip, "keep_audio": True}
    sent = json_body(body)
    expected = httpx_json(as_text(body))  # type: ignore[arg-type]
    assert sent.length == int(expected.headers["Content-Length"])
    first, second = await streamed(sent), await streamed(sent)
    assert first == second == expected.read()
    assert sum(isinstance(part, DataUri) for part in sent.parts) == 1
    assert "base64" not in repr(sent)


async def test_data_uris_anywhere_in_the_body_are_each_read_in_their_place(
    clip: DataUri, tmp_path: Path
) -> None:
    other = tmp_path / "other.mov"
    other.write_bytes(b"\xff" * 5)
    second = data_uri(other, max_bytes=10)
    body = {"video_url": clip, "references": [{"type": "image", "url": second}, "x"], "z": clip}
    sent = json_body(body)
    assert await streamed(sent) == httpx_json(as_text(body)).read()  # type: ignore[arg-type]
    assert [p for p in sent.parts if isinstance(p, DataUri)] == [clip, second, clip]


def test_what_json_cannot_encode_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_body({"model": object()})
    with pytest.raises(ValueError, match="JSON compliant"):
        json_body({"strength": math.nan})


async def test_many_data_uris_in_one_body_are_each_in_their_place(clip: DataUri) -> None:
    body = {f"k{i}": [clip, i] for i in range(12)}  # hole 1 against hole 10 and 11
    sent = json_body(body)
    assert await streamed(sent) == httpx_json(as_text(body)).read()  # type: ignore[arg-type]
    assert sum(isinstance(part, DataUri) for part in sent.parts) == 12
