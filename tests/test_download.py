"""Download edge cases through MockTransport; cut-short downloads over real HTTP are in
tests/aimlapi/test_client_standin.py."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reskin.aimlapi.retry import RetryPolicy
from reskin.download import download
from reskin.errors import DiskFullError, DownloadError, ResultExpiredError
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)

pytestmark = pytest.mark.anyio

URL = "https://cdn.test/result.mp4"
DATA = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


class Cdn:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


def body(data: bytes, declared: int | None = None) -> httpx.Response:
    # A stream, not content=: httpx reads content= eagerly, which no real transport does.
    headers = {} if declared is None else {"Content-Length": str(declared)}
    return httpx.Response(200, stream=httpx.ByteStream(data), headers=headers)


def ok() -> httpx.Response:
    return body(DATA, len(DATA))


def short() -> httpx.Response:
    return body(DATA[:100], len(DATA))


async def fetch(cdn: Cdn, dest: Path, max_bytes: int = 10**6) -> int:
    return await download(
        URL,
        dest,
        max_bytes=max_bytes,
        timeout_s=10,
        retry=RetryPolicy(max_retries=2, base_delay_s=0.0),
        transport=httpx.MockTransport(cdn),
    )


async def test_download_writes_the_whole_file_without_credentials(tmp_path):
    cdn = Cdn(ok())
    dest = tmp_path / "r.mp4"
    assert await fetch(cdn, dest) == len(DATA)
    assert dest.read_bytes() == DATA
    assert "authorization" not in cdn.requests[0].headers
    assert not list(tmp_path.glob("*.part"))


async def test_a_short_body_is_retried_and_never_left_at_the_path(tmp_path):
    dest = tmp_path / "r.mp4"
    await fetch(Cdn(short(), ok()), dest)
    assert dest.read_bytes() == DATA

    dest2 = tmp_path / "r2.mp4"
    with pytest.raises(DownloadError, match="3 time"):
        await fetch(Cdn(short(), short(), short()), dest2)
    assert list(tmp_path.iterdir()) == [dest]


async def test_404_means_expired_and_is_not_retried(tmp_path):
    cdn = Cdn(httpx.Response(404), ok())
    with pytest.raises(ResultExpiredError, match="no longer"):
        await fetch(cdn, tmp_path / "r.mp4")
    assert len(cdn.requests) == 1
    assert not list(tmp_path.iterdir())


async def test_5xx_is_retried_403_is_not(tmp_path):
    await fetch(Cdn(httpx.Response(503), ok()), tmp_path / "a.mp4")
    cdn = Cdn(httpx.Response(403), ok())
    with pytest.raises(DownloadError, match="403"):
        await fetch(cdn, tmp_path / "b.mp4")
    assert len(cdn.requests) == 1


async def test_the_size_cap_holds_with_and_without_content_length(tmp_path):
    with pytest.raises(DownloadError, match="cap"):
        await fetch(Cdn(ok()), tmp_path / "a.mp4", max_bytes=1000)

    streamed = body(DATA)  # as if chunked: no Content-Length
    with pytest.raises(DownloadError, match="cap"):
        await fetch(Cdn(streamed), tmp_path / "b.mp4", max_bytes=1000)
    assert not list(tmp_path.iterdir())


# --- a full disk (real small disks: tests/disk.py) ---------------------------------------------

BIG = bytes(3_000_000)  # more than the disks below hold


async def test_a_declared_size_that_cannot_fit_is_refused_before_the_first_byte(
    small_disks: SmallDisks, tmp_path: Path
):
    disk = small_disks.mount(tmp_path / "disk", 2_000_000)
    cdn = Cdn(body(BIG, len(BIG)), ok())

    with pytest.raises(DiskFullError) as caught:
        await fetch(cdn, disk / "r.mp4", max_bytes=10**8)

    assert caught.value.folder == disk
    assert "free at least 4 MB there" in str(caught.value)  # 3 MB and the headroom
    assert len(cdn.requests) == 1  # a full disk is not retried
    assert list(disk.iterdir()) == []  # no part file


async def test_a_disk_that_fills_mid_download_is_the_same_line_and_leaves_no_part(
    small_disks: SmallDisks, tmp_path: Path
):
    disk = small_disks.mount(tmp_path / "disk", 1_000_000)
    cdn = Cdn(body(BIG), ok())  # no Content-Length: nothing to check up front

    with pytest.raises(DiskFullError) as caught:
        await fetch(cdn, disk / "r.mp4", max_bytes=10**8)

    assert caught.value.folder == disk
    assert "free some space there" in str(caught.value)
    assert len(cdn.requests) == 1
    assert list(disk.iterdir()) == []
