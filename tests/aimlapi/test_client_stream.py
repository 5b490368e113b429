"""A create's body is streamed: a clip sent inline is read from its file as it goes out.

A small HTTP server on loopback (:class:`Sink`) reads each body as it arrives and keeps only its
length and digest, so what was sent is known byte for byte without holding it; the stand-in
shows the service's side (it parses the body and decodes the clip).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient, Sending
from reskin.aimlapi.models import CreateRequest
from reskin.aimlapi.retry import RetryPolicy
from reskin.errors import InputError
from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn
from reskin.storage.datauri import DataUri, data_uri

pytestmark = pytest.mark.anyio

KEY = "sk-stream-test-key"
GENERATION = json.dumps({"id": f"0000:{DEFAULT_MODEL}", "status": "queued"}).encode()


@dataclass
class Received:
    """One request as the sink read it."""

    declared: int
    length: int
    sha256: str
    headers: dict[str, str]

    @property
    def complete(self) -> bool:
        return self.length == self.declared


class Sink:
    """HTTP/1.1 on loopback that reads each body in 64 KiB reads and keeps only its length and
    digest, and answers the statuses of ``answers`` in turn (then 200 with a generation)."""

    def __init__(self, answers: tuple[int, ...] = ()) -> None:
        self.answers = list(answers)
        self.received: list[Received] = []
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in head[1:] if line)
                headers = {k.lower(): v for k, v in headers.items()}
                declared = int(headers.get("content-length", "0"))
                digest, length = hashlib.sha256(), 0
                while length < declared:
                    block = await reader.read(min(65536, declared - length))
                    if not block:
                        break
                    digest.update(block)
                    length += len(block)
                self.received.append(Received(declared, length, digest.hexdigest(), headers))
                if length < declared:
                    return
                status = self.answers.pop(0) if self.answers else 200
                body = GENERATION if status == 200 else b'{"message": "try again"}'
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nRetry-After: 0\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    made = Sink()
    server = await asyncio.start_server(made.serve, "127.0.0.1", 0)
    made.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield made


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def client_for(url: str, key: str = KEY) -> AimlapiClient:
    return AimlapiClient(
        url,
        SecretStr(key),
        timeout=httpx.Timeout(30, connect=5),
        retry=RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.05),
        sleep=no_sleep,
    )


def big_clip(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "big.mp4"
    path.write_bytes((bytes(range(256)) * (size // 256 + 1))[:size])
    return path


def request_for(video: DataUri | str, prompt: str = "snow at night") -> CreateRequest:
    return CreateRequest(model=DEFAULT_MODEL, prompt=prompt, video_url=video)


def old_body(request: CreateRequest) -> bytes:
    """The body a create sent before it was streamed: httpx's ``json=`` of the whole text."""
    body = request.body()
    if isinstance(body["video_url"], DataUri):
        body["video_url"] = body["video_url"].text()
    return httpx.Request("POST", "http://x.test/", json=body).read()


async def test_the_body_sent_is_byte_for_byte_the_json_body_of_before(
    sink: Sink, tmp_path: Path
) -> None:
    request = request_for(data_uri(big_clip(tmp_path, 300_001), max_bytes=10**6), "été, 雪")
    async with client_for(sink.url) as client:
        created = await client.create(request)
    assert created.id == f"0000:{DEFAULT_MODEL}"
    [got] = sink.received
    before = old_body(request)
    assert (got.length, got.sha256) == (len(before), hashlib.sha256(before).hexdigest())
    assert got.declared == len(before)
    assert got.headers["content-type"] == "application/json"
    assert "transfer-encoding" not in got.headers
    assert got.headers["authorization"] == f"Bearer {KEY}"


async def test_a_retried_create_sends_the_whole_body_again(sink: Sink, tmp_path: Path) -> None:
    sink.answers = [429, 503]
    request = request_for(data_uri(big_clip(tmp_path, 2_000_000), max_bytes=10**7))
    sending = Sending()
    async with client_for(sink.url) as client:
        await client.create(request, sending)
    before = old_body(request)
    assert len(sink.received) == 3
    for got in sink.received:
        assert got.complete
        assert (got.length, got.sha256) == (len(before), hashlib.sha256(before).hexdigest())
    assert sending.may_have_arrived


async def test_sending_a_large_clip_holds_a_small_part_of_it_in_memory(
    sink: Sink, tmp_path: Path
) -> None:
    size = 24_000_000
    request = request_for(data_uri(big_clip(tmp_path, size), max_bytes=size))
    async with client_for(sink.url) as client:
        tracemalloc.start()
        try:
            await client.create(request)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    [got] = sink.received
    assert got.complete
    assert got.length > size * 4 // 3
    # Streamed: about 4 MB (a piece of the file, its base64, h11's copy). Sent as the whole
    # text, as before, 88 MB more than that text itself (the JSON text, its UTF-8 bytes).
    assert peak < size / 4, f"{peak / 1e6:.1f} MB traced at the peak for a {size / 1e6:g} MB clip"


async def test_a_clip_changed_while_sent_is_refused_and_cannot_have_arrived(
    sink: Sink, tmp_path: Path
) -> None:
    path = big_clip(tmp_path, 3_000_000)
    request = request_for(data_uri(path, max_bytes=10**7))
    path.write_bytes(b"\0" * 1_000_000)  # shorter than its budget check saw
    sending = Sending()
    async with client_for(sink.url) as client:
        with pytest.raises(InputError, match="changed while it was being sent") as caught:
            await client.create(request, sending)
    assert not sending.may_have_arrived  # the body never reached its declared length
    assert "\n" not in str(caught.value)
    await asyncio.sleep(0.05)  # the sink sees the connection end
    assert [got.complete for got in sink.received] == [False]


async def test_no_log_line_holds_the_clip_or_the_key(
    sink: Sink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink.answers = [503]
    clip = big_clip(tmp_path, 30_000)
    request = request_for(data_uri(clip, max_bytes=10**6))
    caplog.set_level(logging.DEBUG)
    async with client_for(sink.url) as client:
        await client.create(request)
    logged = caplog.text + repr(request) + repr(request.body())
    assert caplog.records  # the retry was told
    assert KEY not in logged
    assert request.body()["video_url"].text()[40:80] not in logged


async def test_the_stand_in_takes_the_streamed_body_after_two_429(
    standin: StandIn, make_clip
) -> None:
    clip: Path = make_clip(duration_s=3.0, width=1280, height=720, fps=30, audio=True)
    standin.set_faults(create_429=2, retry_after_s=0, job_error=1)  # job_error: no render
    async with client_for(standin.base_url, standin.key) as client:
        created = await client.create(request_for(data_uri(clip, max_bytes=50_000_000)))
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (3, 1)
    job = standin.service.jobs.get(created.id)
    assert job is not None
    taken = await anyio.Path(job.folder / "input.mp4").read_bytes()
    assert taken == await anyio.Path(clip).read_bytes()  # the whole clip, the third time
