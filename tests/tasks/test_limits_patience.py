"""A busy or unreachable Prefect server is ridden out while a run waits for a slot (nothing is
paid yet): timeouts and 5xx are asked again with a growing pause, a 4xx or spent patience ends
the wait in one line. (The server's stalls (a SQLite write lock held past the client's timeout)
cannot be made on demand, so the job slot is asked through ``httpx.MockTransport`` here; the
Prefect client itself asks again after timeouts, 502, 503 and 429, not after a 500.)"""

from __future__ import annotations

import uuid

import httpx
import pytest
from prefect.client.orchestration import PrefectClient

from reskin.errors import ConfigError
from reskin.settings import Settings
from tasks.limits import _JobSlot, _Patience

pytestmark = pytest.mark.anyio


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _timeout() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("timed out", request=httpx.Request("POST", "http://x/"))


def _status(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://x/")
    response = httpx.Response(code, json={"detail": "database is locked"}, request=request)
    return httpx.HTTPStatusError("status", request=request, response=response)


async def test_transient_errors_wait_longer_each_time_until_patience_is_spent() -> None:
    clock = _Clock()
    patience = _Patience("lim", clock, clock.sleep, patience_s=20.0)
    for exc in (_timeout(), _status(500), _timeout(), _status(503)):
        await patience.ride_out(exc)
    assert clock.slept == [1.0, 2.0, 4.0, 8.0]
    with pytest.raises(ConfigError, match=r"lim cannot be used \(ReadTimeout: timed out\)"):
        await patience.ride_out(_timeout())  # 15 s spent, the next pause (16 s) goes past 20


async def test_a_client_error_is_not_asked_again() -> None:
    clock = _Clock()
    patience = _Patience("lim", clock, clock.sleep)
    with pytest.raises(ConfigError, match=r"lim cannot be used \(422: database is locked\)"):
        await patience.ride_out(_status(422))
    assert clock.slept == []


async def test_a_job_slot_is_taken_after_the_server_failed_twice() -> None:
    settings = Settings(_env_file=None, limits_prefix="t")
    lease = uuid.uuid4()
    asks: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/csrf-token"):
            return httpx.Response(
                200, json={"token": "t", "client": "c", "expiration": "2099-01-01T00:00:00Z"}
            )
        asks.append(request.url.path)
        if len(asks) <= 2:  # what a SQLite server answers after its lock timeout
            return httpx.Response(500, json={"detail": "database is locked"})
        return httpx.Response(
            200,
            json={
                "lease_id": str(lease),
                "limits": [{"id": str(uuid.uuid4()), "name": "t-jobs-in-flight", "limit": 1}],
            },
        )

    clock = _Clock()
    client = PrefectClient(
        "http://prefect.test/api", httpx_settings={"transport": httpx.MockTransport(answer)}
    )
    async with client:
        slot = _JobSlot(client, settings, clock=clock, sleep=clock.sleep)
        await slot.take()
    assert slot.lease == lease
    assert clock.slept == [1.0, 2.0]
    assert len(asks) == 3
    assert all(path.endswith("/v2/concurrency_limits/increment-with-lease") for path in asks)
