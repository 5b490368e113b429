"""Every retry is a line at INFO (issue 17): the client against the real stand-in and a real
closed port, the lines caught where the run's logs catch them (the ``reskin`` logger)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.retry import RetryPolicy, describe_retry
from reskin.errors import ApiConnectionError, NotFoundError, ServerError
from reskin.progress import KEY, Retrying
from reskin.standin.server import StandIn
from tests.aimlapi.test_client_standin import RecordingSleep, edit

pytestmark = pytest.mark.anyio

RETRY_LOGGER = "reskin.aimlapi.retry"


def client_at(base_url: str, key: str, sleep: RecordingSleep) -> AimlapiClient:
    return AimlapiClient(
        base_url,
        SecretStr(key),
        timeout=httpx.Timeout(30, connect=2),
        retry=RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05),
        sleep=sleep,
    )


def retries(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == RETRY_LOGGER]


async def test_a_429_then_503s_on_create_each_say_why_and_how_long(
    standin: StandIn, make_clip, caplog: pytest.LogCaptureFixture
):
    clip: Path = make_clip(duration_s=3.0, width=1280, height=720)
    standin.set_faults(create_429=1, retry_after_s=7, create_5xx=5, status_5xx=503)
    sleep = RecordingSleep()
    with caplog.at_level(logging.INFO, logger="reskin"):
        async with client_at(standin.base_url, standin.key, sleep) as client:
            with pytest.raises(ServerError):
                await client.create(edit(clip))
    records = retries(caplog)
    assert [record.levelno for record in records] == [logging.INFO, logging.INFO]
    first, second = (record.getMessage() for record in records)
    assert first == "429 on the create, waiting 7.0 s as asked (Retry-After), then retry 1 of 2"
    assert second == f"503 on the create, retry 2 of 2 in {sleep.pauses[1]:.1f} s"
    # The same, as data for a display: what, why, which retry, how long, whether asked.
    events = [getattr(record, KEY) for record in records]
    assert events[0] == Retrying("create", "429", 1, 2, 7.0, asked=True)
    assert events[1] == Retrying("create", "503", 2, 2, sleep.pauses[1], asked=False)
    assert sleep.pauses[0] == 7.0
    assert standin.stats().jobs_accepted == 0
    assert standin.key not in caplog.text


async def test_a_503_on_a_fetch_names_the_generation(
    standin: StandIn, caplog: pytest.LogCaptureFixture
):
    standin.set_faults(fetch_5xx=1, status_5xx=502)
    unknown = "00000000-0000-0000-0000-000000000000:klingai/video-o1-video-to-video-edit"
    with caplog.at_level(logging.INFO, logger="reskin"):
        async with client_at(standin.base_url, standin.key, RecordingSleep()) as client:
            with pytest.raises(NotFoundError):  # asked again, the service says: no such job
                await client.fetch(unknown)
    (record,) = retries(caplog)
    assert record.getMessage().startswith(f"502 on the fetch of {unknown}, retry 1 of 2 in ")


async def test_a_refused_connection_is_retried_out_loud(caplog: pytest.LogCaptureFixture):
    with socket.socket() as taken:  # a port nothing listens on once this is closed
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    sleep = RecordingSleep()
    with caplog.at_level(logging.INFO, logger="reskin"):
        async with client_at(f"http://127.0.0.1:{port}", "k" * 16, sleep) as client:
            with pytest.raises(ApiConnectionError):
                await client.fetch("any")
    said = [record.getMessage() for record in retries(caplog)]
    assert said == [
        f"ConnectError on the fetch of any, retry {n} of 2 in {pause:.1f} s"
        for n, pause in zip((1, 2), sleep.pauses, strict=True)
    ]


def test_the_words_of_a_wait():
    assert describe_retry(Retrying("create", "429", 1, 4, 30.0, asked=True)) == (
        "429 on the create, waiting 30 s as asked (Retry-After), then retry 1 of 4"
    )
    assert describe_retry(Retrying("create", "503", 2, 5, 4.0)) == (
        "503 on the create, retry 2 of 5 in 4.0 s"
    )
    assert describe_retry(Retrying("download of the result", "took too long", 1, 4, 150)) == (
        "took too long on the download of the result, retry 1 of 4 in 2 min 30 s"
    )
