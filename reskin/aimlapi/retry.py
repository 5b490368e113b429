"""The one place that decides whether an HTTP call to the service is tried again, and when.

Reads may be repeated freely. A create may be repeated only when the service surely did not
accept it: the connection never opened, or it answered 408/409/429/500/502/503. A failure after
the body left (read timeout, reset, 504) may hide an accepted, billed job, so it is never retried
here: the caller gets :class:`~reskin.errors.SubmissionUnknownError` instead.

Every retry is logged at INFO (:meth:`RetryPolicy.announce`), in words and as a
:class:`~reskin.progress.Retrying` event: "429 on the create, waiting 30 s as asked
(Retry-After), then retry 1 of 4". A batch that sits quiet for half a minute says why, in the
run's logs (the Prefect UI) and on the terminal alike.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import TYPE_CHECKING

import httpx

from reskin.progress import Retrying, extra, span

if TYPE_CHECKING:
    from reskin.settings import Settings

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# 504 is the service's "generation timeout": a POST that got it may still have been accepted.
CREATE_RETRYABLE_STATUSES = RETRYABLE_STATUSES - {504}


class Verdict(Enum):
    RETRY = "retry"
    GIVE_UP = "give up"
    AMBIGUOUS = "ambiguous"  # a create that may have been accepted


@dataclass(frozen=True)
class RetryPolicy:
    """Retry knobs; :meth:`from_settings` reads them from the settings."""

    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    retry_after_max_s: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """``RESKIN_MAX_RETRIES`` and the backoff settings, for API calls and downloads alike."""
        return cls(
            max_retries=settings.max_retries,
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
            retry_after_max_s=settings.retry_after_max_s,
        )

    def classify_exception(self, exc: httpx.TransportError, *, is_create: bool) -> Verdict:
        """Whether a transport failure may be retried."""
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return Verdict.RETRY  # nothing reached the service
        if is_create:
            return Verdict.AMBIGUOUS
        return Verdict.RETRY

    def classify_status(self, status_code: int, *, is_create: bool) -> Verdict:
        """Whether an HTTP error status may be retried."""
        allowed = CREATE_RETRYABLE_STATUSES if is_create else RETRYABLE_STATUSES
        if status_code in allowed:
            return Verdict.RETRY
        if is_create and status_code in RETRYABLE_STATUSES:
            return Verdict.AMBIGUOUS
        return Verdict.GIVE_UP

    def delay(self, retry_number: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based).

        A server hint wins when there is one; otherwise capped exponential backoff with jitter
        (half fixed, half random, so concurrent clients spread out but never retry instantly).
        """
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.retry_after_max_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry_number - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def announce(
        self, what: str, reason: str, retry_number: int, delay_s: float, *, asked: bool = False
    ) -> Retrying:
        """Log, at INFO, that ``what`` failed with ``reason`` (a status or an error's name) and
        is tried again (retry ``retry_number``) after ``delay_s``; the event logged."""
        event = Retrying(what, reason, retry_number, self.max_retries, delay_s, asked)
        log.info(describe_retry(event), extra=extra(event))
        return event


def describe_retry(event: Retrying) -> str:
    """``429 on the create, waiting 30 s as asked (Retry-After), then retry 1 of 4``, or
    ``503 on the fetch of <id>, retry 2 of 4 in 4.0 s``."""
    if event.asked:
        return (
            f"{event.reason} on the {event.what}, waiting {span(event.delay_s)} as asked "
            f"(Retry-After), then retry {event.attempt} of {event.retries}"
        )
    return (
        f"{event.reason} on the {event.what}, retry {event.attempt} of {event.retries} "
        f"in {span(event.delay_s)}"
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
