"""Async client of the AI/ML API video-generation endpoints.

Async because a generation takes minutes and Prefect cannot interrupt a sync task in a thread;
the same client talks to the real service and to the local stand-in. The key lives in a
``SecretStr`` and is put on each request's headers only; it is never logged, and any echo of it
in an answer is masked before an error message is built.

A :class:`Throttle` lets a caller share the service's limits beyond this one client: the client
asks it before each create it sends (retries included) and tells it of each 429 before waiting
the answer out, so the layer above can pace every process of a batch, not just this call. The
client knows nothing of how (the Prefect layer uses server-side limits, ``tasks/limits.py``).

A create's body is streamed (:mod:`reskin.aimlapi.body`): a clip sent inline is read from its
file while the body goes out, and read again from the start when a create is retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self

import httpx
from pydantic import SecretStr

from reskin.aimlapi.body import JsonBody, json_body
from reskin.aimlapi.models import CreateRequest, Generation, parse_error_body, parse_generation
from reskin.aimlapi.retry import RetryPolicy, Verdict, parse_retry_after
from reskin.errors import (
    ApiConnectionError,
    ApiStatusError,
    ApiTimeoutError,
    ConfigError,
    InvalidResponseError,
    ReskinError,
    SubmissionUnknownError,
    status_error_class,
)
from reskin.settings import Settings
from reskin.tls import shared_ssl_context

log = logging.getLogger(__name__)

GENERATIONS_PATH = "/v2/video/generations"

Sleep = Callable[[float], Awaitable[None]]


class Throttle(Protocol):
    """Pacing shared beyond one client, e.g. by every process of a batch."""

    async def before_create(self) -> None:
        """Awaited before each create is sent, retries included: may wait for a turn."""

    async def after_429(self, delay_s: float) -> None:
        """Awaited when the service answered 429 and the client is about to wait ``delay_s``
        (its ``Retry-After``, else the backoff) before trying again."""


class Sending:
    """Whether a create may have reached the service (kept up to date by ``create``).

    True from the moment a body goes on the wire until an answer proves the service did not
    take it (a refusal, a 429, a connection never made, a body that could not be read to its
    declared end). A caller interrupted in the middle of a create (Ctrl-C, a cancel) reads it
    to decide: false, nothing can be billed and its reservation may go; true, the job may exist
    and the reservation must stay.
    """

    def __init__(self) -> None:
        self.may_have_arrived = False


_HINTS = {
    400: "fix the request",
    401: "check AIMLAPI_API_KEY",
    403: "the account is out of credits: top it up",
    404: "the generation is unknown or no longer kept",
    429: "the service is rate limiting: try again later or lower concurrency",
}


class AimlapiClient:
    """``create`` and ``fetch`` of video generations, with the retry policy applied.

    The connection pool holds up to ``max_connections`` connections and keeps every one of them
    alive, so requests never queue in httpx's pool: httpcore 1.0.9 closes every idle connection
    once more than ``max_keepalive_connections`` exist, and rescans its whole queue on each
    request that enters or leaves it (encode/httpcore#1035; bench/results/in_flight.md), which
    stalled one process polling 1,000 jobs. A caller passing its own ``transport`` brings its
    own pool, and these limits do not apply to it.
    """

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        throttle: Throttle | None = None,
        max_connections: int = 1000,
    ) -> None:
        if not api_key.get_secret_value():
            raise ConfigError("the API key is empty: set AIMLAPI_API_KEY")
        self._key = api_key
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._throttle = throttle
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout or httpx.Timeout(60.0, connect=10.0),
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            verify=shared_ssl_context(),
            headers={"Accept": "application/json", "User-Agent": "reskin"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        throttle: Throttle | None = None,
    ) -> AimlapiClient:
        if settings.api_key is None:
            raise ConfigError(
                "no API key: set AIMLAPI_API_KEY for the AI/ML API, "
                "or run `reskin demo` to try reskin against its local stand-in"
            )
        return cls(
            settings.base_url,
            settings.api_key,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_s,
                read=settings.read_timeout_s,
                write=settings.write_timeout_s,
                pool=settings.connect_timeout_s,
            ),
            retry=RetryPolicy.from_settings(settings),
            transport=transport,
            sleep=sleep,
            throttle=throttle,
            max_connections=settings.http_max_connections,
        )

    def __repr__(self) -> str:
        return f"AimlapiClient(base_url={str(self._http.base_url)!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create(self, request: CreateRequest, sending: Sending | None = None) -> Generation:
        """Submit a generation. Retried only while the service surely did not accept it;
        ``sending`` tells, at any moment, whether it may have (:class:`Sending`)."""
        response = await self._call(
            "POST",
            GENERATIONS_PATH,
            body=json_body(request.body()),
            is_create=True,
            what="create",
            sending=sending or Sending(),
        )
        return self._generation(response, "create")

    async def fetch(self, generation_id: str) -> Generation:
        """The current state of a generation."""
        response = await self._call(
            "GET",
            GENERATIONS_PATH,
            params={"generation_id": generation_id},
            is_create=False,
            what=f"fetch of {generation_id}",
        )
        return self._generation(response, f"fetch of {generation_id}")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        is_create: bool,
        what: str,
        body: JsonBody | None = None,
        params: dict[str, str] | None = None,
        sending: Sending | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"}
        if body is not None:
            headers.update(body.headers)
        sending = sending or Sending()
        attempt = 0
        while True:
            attempt += 1
            if is_create and self._throttle is not None:
                await self._throttle.before_create()
            sending.may_have_arrived = True
            try:
                response = await self._http.request(
                    method, path, content=body, params=params, headers=headers
                )
            except ReskinError:
                # Raised by the body while it was read (a clip that changed as it was sent):
                # it never reached its declared length, so the service cannot have taken it.
                sending.may_have_arrived = False
                raise
            except httpx.TransportError as exc:
                verdict = self._retry.classify_exception(exc, is_create=is_create)
                sending.may_have_arrived = verdict is Verdict.AMBIGUOUS
                kind = type(exc).__name__
                if verdict is Verdict.AMBIGUOUS:
                    log.debug("%s: %s after the body was sent; not retried", what, kind)
                    raise SubmissionUnknownError(
                        f"the {what} request failed after it was sent ({kind}): the service may "
                        "have accepted (and will bill) the job, under an id reskin never learned: "
                        "check your account before rerunning with `force`, which submits again"
                    ) from exc
                if attempt > self._retry.max_retries:
                    raise self._transport_error(exc, what, attempt) from exc
                delay = self._retry.delay(attempt)
                self._retry.announce(what, kind, attempt, delay)
                await self._sleep(delay)
                continue

            if response.is_success:
                return response

            error = self._status_error(response, what, attempt)
            verdict = self._retry.classify_status(response.status_code, is_create=is_create)
            sending.may_have_arrived = verdict is Verdict.AMBIGUOUS
            if verdict is Verdict.AMBIGUOUS:
                raise SubmissionUnknownError(
                    f"the {what} request got {response.status_code} after it was sent: the "
                    "service may have accepted (and will bill) the job, under an id reskin never "
                    "learned: check your account before rerunning with `force`, which submits again"
                ) from error
            hint = error.retry_after_s
            too_long = hint is not None and hint > self._retry.retry_after_max_s
            if verdict is Verdict.GIVE_UP or attempt > self._retry.max_retries or too_long:
                log.debug("%s: %d, giving up after %d attempt(s)", what, error.status_code, attempt)
                raise error
            delay = self._retry.delay(attempt, hint)
            self._retry.announce(
                what, str(response.status_code), attempt, delay, asked=hint is not None
            )
            if response.status_code == 429 and self._throttle is not None:
                await self._throttle.after_429(delay)
            await self._sleep(delay)

    def _transport_error(
        self, exc: httpx.TransportError, what: str, attempts: int
    ) -> ApiConnectionError | ApiTimeoutError:
        base = str(self._http.base_url)
        if isinstance(exc, httpx.TimeoutException):
            return ApiTimeoutError(
                f"the {what} request to {base} timed out {attempts} time(s); "
                "check the network or raise RESKIN_READ_TIMEOUT_S"
            )
        return ApiConnectionError(
            f"cannot reach {base} ({type(exc).__name__}) after {attempts} attempt(s); "
            "check the network and AIMLAPI_BASE_URL"
        )

    def _status_error(self, response: httpx.Response, what: str, attempts: int) -> ApiStatusError:
        status = response.status_code
        body = self._mask(response.text)
        parsed = parse_error_body(body)
        request_id = parsed.request_id or response.headers.get("x-request-id")
        hint = _HINTS.get(status, "the service is failing: try again later")
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        rid = f" [requestId {request_id}]" if request_id else ""
        message = f"the AI/ML API answered {status} to the {what}{tries}: {parsed.message}; "
        cls = status_error_class(status)
        return cls(
            f"{message}{hint}{rid}",
            status_code=status,
            request_id=request_id,
            body=body,
            retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        )

    def _generation(self, response: httpx.Response, what: str) -> Generation:
        try:
            return parse_generation(self._mask(response.text))
        except ValueError as exc:
            raise InvalidResponseError(
                f"the answer to the {what} is not a generation ({exc}); "
                "check AIMLAPI_BASE_URL points at the AI/ML API"
            ) from None

    def _mask(self, text: str) -> str:
        # Whole tokens only: a short key ("k" in a test) is also a piece of ids and model
        # names ("...:klingai/..."), which masking would break before they are parsed.
        key = self._key.get_secret_value()
        if key not in text:
            return text
        return re.sub(rf"(?<![\w.-]){re.escape(key)}(?![\w.-])", "**********", text)
