"""Edge cases of the client that the stand-in cannot produce, through httpx.MockTransport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest
from reskin.aimlapi.retry import RetryPolicy
from reskin.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    InsufficientCreditsError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
    SubmissionUnknownError,
)
from reskin.settings import Settings

from .fakes import FakeClock

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789abcdef"
MODEL = "klingai/video-o1-video-to-video-edit"
GEN_ID = f"5f0c1c9e-0000-4000-8000-000000000001:{MODEL}"
Handler = Callable[[httpx.Request], httpx.Response]


def accepted(status: str = "queued") -> httpx.Response:
    return httpx.Response(200, json={"id": GEN_ID, "status": status, "video": None})


def error(status: int, message: str = "nope", headers: dict[str, str] | None = None):
    body = {
        "message": message,
        "path": "/v2/video/generations",
        "requestId": f"req-{status}",
        "statusCode": status,
        "timestamp": "2026-11-23T00:00:00Z",
    }
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers requests from a list, one each, and records them."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(handler: Handler, clock: FakeClock, **retry: float) -> AimlapiClient:
    return AimlapiClient(
        "https://api.test",
        SecretStr(KEY),
        retry=RetryPolicy(**retry),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
    )


def create_request() -> CreateRequest:
    return CreateRequest(model=MODEL, prompt="sepia", video_url="https://media.test/c.mp4")


REQ = httpx.Request("POST", "https://api.test/v2/video/generations")


async def test_create_sends_bearer_key_json_body_and_timeouts():
    script = Script(accepted())
    clock = FakeClock()
    settings = Settings(
        _env_file=None,
        api_key=KEY,
        base_url="https://api.test",
        connect_timeout_s=3,
        read_timeout_s=7,
        write_timeout_s=11,
    )
    client = AimlapiClient.from_settings(
        settings, transport=httpx.MockTransport(script), sleep=clock.sleep
    )
    async with client:
        gen = await client.create(create_request())
    assert gen.id == GEN_ID
    sent = script.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.url.path == "/v2/video/generations"
    assert json.loads(sent.content)["model"] == MODEL
    assert sent.extensions["timeout"] == {"connect": 3, "read": 7, "write": 11, "pool": 3}


async def test_fetch_url_encodes_the_generation_id():
    script = Script(accepted("generating"))
    async with make_client(script, FakeClock()) as client:
        gen = await client.fetch(GEN_ID)
    assert gen.status == "generating"
    assert script.requests[0].url.params["generation_id"] == GEN_ID
    raw_url = str(script.requests[0].url)
    assert "%3A" in raw_url
    assert "%2F" in raw_url


async def test_connect_errors_on_create_are_retried_then_succeed():
    script = Script(httpx.ConnectError("refused", request=REQ), accepted())
    clock = FakeClock()
    async with make_client(script, clock, base_delay_s=1.0) as client:
        await client.create(create_request())
    assert len(script.requests) == 2
    assert 0.5 <= clock.sleeps[0] <= 1.0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow", request=REQ),
        httpx.RemoteProtocolError("reset", request=REQ),
        httpx.ReadError("reset", request=REQ),
        httpx.WriteTimeout("slow", request=REQ),
    ],
)
async def test_ambiguous_create_failure_is_not_retried_and_says_the_job_may_exist(failure):
    script = Script(failure, accepted())
    async with make_client(script, FakeClock()) as client:
        with pytest.raises(SubmissionUnknownError, match="may have accepted"):
            await client.create(create_request())
    assert len(script.requests) == 1


async def test_create_answered_504_is_ambiguous():
    script = Script(error(504, "generation timeout"), accepted())
    async with make_client(script, FakeClock()) as client:
        with pytest.raises(SubmissionUnknownError, match="504"):
            await client.create(create_request())
    assert len(script.requests) == 1


async def test_fetch_retries_read_timeouts_and_504():
    script = Script(httpx.ReadTimeout("slow", request=REQ), error(504), accepted("generating"))
    async with make_client(script, FakeClock()) as client:
        gen = await client.fetch(GEN_ID)
    assert gen.status == "generating"
    assert len(script.requests) == 3


async def test_retries_are_bounded_and_the_error_counts_attempts():
    script = Script(*[error(503, "maintenance")] * 4)
    clock = FakeClock()
    async with make_client(script, clock, max_retries=3) as client:
        with pytest.raises(ServerError, match="after 4 attempts") as caught:
            await client.fetch(GEN_ID)
    assert caught.value.status_code == 503
    assert len(script.requests) == 4
    assert len(clock.sleeps) == 3


async def test_persistent_connect_failure_becomes_a_connection_error():
    script = Script(*[httpx.ConnectError("refused", request=REQ)] * 3)
    async with make_client(script, FakeClock(), max_retries=2) as client:
        with pytest.raises(ApiConnectionError, match=r"cannot reach https://api\.test"):
            await client.create(create_request())


async def test_persistent_read_timeout_on_fetch_becomes_a_timeout_error():
    script = Script(*[httpx.ReadTimeout("slow", request=REQ)] * 2)
    async with make_client(script, FakeClock(), max_retries=1) as client:
        with pytest.raises(ApiTimeoutError, match="timed out 2 time"):
            await client.fetch(GEN_ID)


async def test_retry_after_http_date_is_honoured():
    script = Script(
        error(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),  # in the past
        error(429, headers={"Retry-After": "4"}),
        accepted(),
    )
    clock = FakeClock()
    async with make_client(script, clock) as client:
        await client.create(create_request())
    assert clock.sleeps == [0.0, 4.0]


async def test_a_retry_after_longer_than_allowed_fails_at_once_with_the_hint():
    script = Script(error(429, headers={"Retry-After": "3600"}), accepted())
    clock = FakeClock()
    async with make_client(script, clock, retry_after_max_s=120) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.create(create_request())
    assert caught.value.retry_after_s == 3600
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("status", "cls", "words"),
    [
        (400, BadRequestError, "fix the request"),
        (401, AuthenticationError, "AIMLAPI_API_KEY"),
        (403, InsufficientCreditsError, "credits"),
        (404, NotFoundError, "unknown"),
    ],
)
async def test_client_errors_get_one_attempt_and_a_typed_error(status, cls, words):
    script = Script(error(status, "refused here"), accepted())
    async with make_client(script, FakeClock()) as client:
        with pytest.raises(cls, match=words) as caught:
            await client.create(create_request())
    assert len(script.requests) == 1
    err = caught.value
    assert err.status_code == status
    assert err.request_id == f"req-{status}"
    assert "refused here" in str(err)
    assert json.loads(err.body)["statusCode"] == status


async def test_detail_shaped_400_is_read_loosely():
    body = {"detail": [{"loc": ["body", "video_url"], "msg": "bad url", "type": "v", "input": 1}]}
    script = Script(httpx.Response(400, json=body, headers={"x-request-id": "hdr-1"}))
    async with make_client(script, FakeClock()) as client:
        with pytest.raises(BadRequestError, match="video_url: bad url") as caught:
            await client.create(create_request())
    assert caught.value.request_id == "hdr-1"


@pytest.mark.parametrize("body", ["<html>oops</html>", '{"status": "queued"}', "[]"])
async def test_a_success_that_is_not_a_generation_is_invalid(body):
    script = Script(httpx.Response(200, text=body))
    async with make_client(script, FakeClock()) as client:
        with pytest.raises(InvalidResponseError, match="not a generation"):
            await client.create(create_request())


async def test_the_key_never_shows_in_errors_reprs_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    echo = error(401, f"bad key {KEY}")
    script = Script(error(503), echo)
    clock = FakeClock()
    client = make_client(script, clock)
    async with client:
        with pytest.raises(AuthenticationError) as caught:
            await client.create(create_request())
    texts = [str(caught.value), repr(caught.value), caught.value.body, repr(client), caplog.text]
    assert caplog.records  # the retry decision was logged
    for text in texts:
        assert KEY not in text


async def test_a_short_key_that_is_part_of_an_id_leaves_the_answer_intact():
    # A key is masked where it stands alone; "k" also begins "klingai" in every id.
    script = Script(accepted(), error(401, "bad key k"))
    client = AimlapiClient(
        "https://api.test", SecretStr("k"), transport=httpx.MockTransport(script)
    )
    async with client:
        assert (await client.create(create_request())).id == GEN_ID
        with pytest.raises(AuthenticationError) as caught:
            await client.create(create_request())
    assert "bad key **********" in str(caught.value)


def test_a_missing_or_empty_key_is_a_config_error_with_a_way_forward():
    with pytest.raises(ConfigError, match="reskin demo"):
        AimlapiClient.from_settings(Settings(_env_file=None))
    with pytest.raises(ConfigError, match="empty"):
        AimlapiClient("https://api.test", SecretStr(""))
