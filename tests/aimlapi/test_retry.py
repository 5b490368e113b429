from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from reskin.aimlapi.retry import RetryPolicy, Verdict, parse_retry_after


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_create_retries_only_statuses_that_prove_no_acceptance(status):
    assert RetryPolicy().classify_status(status, is_create=True) is Verdict.RETRY


def test_create_504_is_ambiguous_but_a_fetch_504_is_retried():
    policy = RetryPolicy()
    assert policy.classify_status(504, is_create=True) is Verdict.AMBIGUOUS
    assert policy.classify_status(504, is_create=False) is Verdict.RETRY


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
@pytest.mark.parametrize("is_create", [True, False])
def test_client_errors_are_never_retried(status, is_create):
    assert RetryPolicy().classify_status(status, is_create=is_create) is Verdict.GIVE_UP


REQ = httpx.Request("POST", "https://api.test/")


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("x", request=REQ),
        httpx.ConnectTimeout("x", request=REQ),
        httpx.PoolTimeout("x", request=REQ),
    ],
)
def test_failures_before_sending_are_retried_even_for_create(exc):
    assert RetryPolicy().classify_exception(exc, is_create=True) is Verdict.RETRY


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("x", request=REQ),
        httpx.ReadError("x", request=REQ),
        httpx.RemoteProtocolError("x", request=REQ),
        httpx.WriteError("x", request=REQ),
    ],
)
def test_failures_after_sending_are_ambiguous_for_create_only(exc):
    policy = RetryPolicy()
    assert policy.classify_exception(exc, is_create=True) is Verdict.AMBIGUOUS
    assert policy.classify_exception(exc, is_create=False) is Verdict.RETRY


def test_backoff_grows_is_capped_and_jittered_within_half_to_full():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0, rng=random.Random(7))
    for n, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        delays = [policy.delay(n) for _ in range(200)]
        assert min(delays) >= ceiling / 2
        assert max(delays) <= ceiling
        assert len(set(delays)) > 100  # really random, not a constant


def test_retry_after_wins_and_is_capped():
    policy = RetryPolicy(base_delay_s=1.0, retry_after_max_s=60.0)
    assert policy.delay(3, retry_after_s=7.0) == 7.0
    assert policy.delay(1, retry_after_s=900.0) == 60.0


def test_parse_retry_after_seconds_and_dates():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    )
    assert (
        parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    )
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
