"""The client's throttle hook: asked before every create it sends, told of every 429 before the
client waits it out, never involved in status fetches. httpx.MockTransport plays the service."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.retry import RetryPolicy
from reskin.errors import RateLimitError

from .fakes import FakeClock
from .test_client_edges import GEN_ID, KEY, Script, accepted, create_request, error

pytestmark = pytest.mark.anyio


class Journal:
    """A throttle that writes down what it is asked, in order with the client's sleeps."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.events: list[str] = []

    async def before_create(self) -> None:
        self.events.append(f"turn at {self.clock.now - 1000:g}")

    async def after_429(self, delay_s: float) -> None:
        self.events.append(f"429, wait {delay_s:g}")


def make_client(
    script: Script, clock: FakeClock, throttle: Journal, **retry: float
) -> AimlapiClient:
    return AimlapiClient(
        "https://api.test",
        SecretStr(KEY),
        retry=RetryPolicy(**retry),  # type: ignore[arg-type]
        transport=httpx.MockTransport(script),
        sleep=clock.sleep,
        throttle=throttle,
    )


async def test_every_create_sent_takes_a_turn_and_a_429_is_reported_before_the_wait():
    script = Script(error(429, headers={"Retry-After": "7"}), error(503), accepted())
    clock = FakeClock()
    throttle = Journal(clock)
    client = make_client(script, clock, throttle, base_delay_s=1.0, max_delay_s=1.0)
    async with client:
        generation = await client.create(create_request())
    assert generation.id == GEN_ID
    # The 429's delay is reported before the client sleeps it; the 503 is no rate limit.
    assert throttle.events == [
        "turn at 0",
        "429, wait 7",
        "turn at 7",
        f"turn at {7 + clock.sleeps[1]:g}",
    ]
    assert clock.sleeps[0] == 7
    assert len(script.requests) == 3


async def test_a_429_without_retry_after_reports_the_backoff_and_the_last_one_is_not_waited():
    script = Script(error(429), error(429))
    clock = FakeClock()
    throttle = Journal(clock)
    client = make_client(script, clock, throttle, base_delay_s=1.0, max_delay_s=1.0, max_retries=1)
    async with client:
        with pytest.raises(RateLimitError):
            await client.create(create_request())
    assert throttle.events == [
        "turn at 0",
        f"429, wait {clock.sleeps[0]:g}",
        f"turn at {clock.sleeps[0]:g}",
    ]
    assert 0.5 <= clock.sleeps[0] <= 1.0
    assert len(clock.sleeps) == 1  # given up after the second 429: nothing more to wait for


async def test_status_fetches_take_no_turn_but_report_their_429():
    script = Script(error(429, headers={"Retry-After": "2"}), accepted("generating"))
    clock = FakeClock()
    throttle = Journal(clock)
    async with make_client(script, clock, throttle) as client:
        await client.fetch(GEN_ID)
    # No turn is taken for a read; its 429 is still reported (the account is being limited).
    assert throttle.events == ["429, wait 2"]
    assert len(script.requests) == 2
