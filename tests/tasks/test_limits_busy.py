"""A 503 to an ask for a job slot or a create's turn is asked again within a fraction of a
second, not after the Prefect client's own 2 s (a SQLite server answers 503 when the write
meets another's lock, and its own services write right after a task run ends: docs/bench.md).
The lock cannot be made on demand, so the server is ``httpx.MockTransport`` here; that the
limits hold on a real server is ``tests/tasks/test_limits.py``'s."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prefect.client.orchestration import PrefectClient

from reskin.errors import ConfigError
from reskin.settings import Settings
from tasks.limits import BUSY_PAUSES_S, _JobSlot, _past_busy
from tests.tasks.test_limits_patience import _Clock as _Sleeps

pytestmark = pytest.mark.anyio


def _server(busy: int, asks: list[str]) -> PrefectClient:
    """A Prefect API that answers the first ``busy`` asks 503, then grants a slot."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/csrf-token"):
            return httpx.Response(422, json={"detail": "CSRF protection is disabled."})
        asks.append(request.url.path)
        if len(asks) <= busy:
            return httpx.Response(503, json={"exception_message": "Service Unavailable"})
        limit = {"id": str(uuid.uuid4()), "name": "t-jobs-in-flight", "limit": 1}
        return httpx.Response(200, json={"lease_id": str(uuid.uuid4()), "limits": [limit]})

    transport = httpx.MockTransport(answer)
    return PrefectClient("http://prefect.test/api", httpx_settings={"transport": transport})


async def test_a_slot_asked_while_the_server_is_busy_is_asked_again_at_once() -> None:
    asks: list[str] = []
    sleeps = _Sleeps()
    async with _server(2, asks) as client:
        slot = _JobSlot(client, Settings(_env_file=None, limits_prefix="t"), sleep=sleeps.sleep)
        await slot.take()
    assert slot.lease is not None
    # Three asks in all, two short pauses of this module's (jitter: 0.5x to 1.5x), and none of
    # the Prefect client's own (it would have asked again by itself, unseen here).
    assert asks == ["/api/v2/concurrency_limits/increment-with-lease"] * 3
    assert len(sleeps.slept) == 2
    for slept, pause in zip(sleeps.slept, BUSY_PAUSES_S, strict=False):
        assert pause * 0.5 <= slept <= pause * 1.5


async def test_a_server_busy_past_the_pauses_is_left_to_the_patience() -> None:
    asks: list[str] = []
    sleeps = _Sleeps()
    async with _server(100, asks) as client:

        async def ask() -> httpx.Response:
            return await client.increment_concurrency_slots(["t-creates"], 1, "rate_limit")

        with pytest.raises(httpx.HTTPStatusError) as raised:
            await _past_busy(client, ask, sleeps.sleep)
    assert raised.value.response.status_code == 503
    assert len(asks) == len(BUSY_PAUSES_S) + 1  # each ask once: the client did not ask again
    assert len(sleeps.slept) == len(BUSY_PAUSES_S)


async def test_other_answers_are_the_clients_as_ever() -> None:
    asks: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asks.append(request.url.path)
        return httpx.Response(422, json={"detail": "names: field required"})

    transport = httpx.MockTransport(answer)
    client = PrefectClient("http://prefect.test/api", httpx_settings={"transport": transport})
    sleeps = _Sleeps()
    async with client:
        slot = _JobSlot(client, Settings(_env_file=None, limits_prefix="t"), sleep=sleeps.sleep)
        with pytest.raises(ConfigError, match="422"):
            await slot.take()
    assert sleeps.slept == []
