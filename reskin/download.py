"""Streaming a URL to a local file: capped, timed, checked for completeness, atomic.

Used for results (CDN links that expire: fetch at once) and, later, for remote inputs. The
request carries no credentials: a result URL is not the API and must never see the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

import httpx

from reskin.aimlapi.retry import RETRYABLE_STATUSES, RetryPolicy
from reskin.errors import DownloadError, ResultExpiredError
from reskin.space import writing
from reskin.tls import shared_ssl_context

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


async def download(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    retry: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    what: str = "the result",
) -> int:
    """Download ``url`` to ``dest`` and return its size in bytes.

    ``what`` names the file in messages; only "the result" turns a 404 into
    :class:`ResultExpiredError` (a CDN that forgot a result), anything else gets a plain one.

    Bytes go to ``dest`` + ``.part`` and are renamed only once complete, so ``dest`` is never a
    half file. A cut connection or a short body is retried (it is a read); 404 is not. A full
    disk is not retried: :class:`~reskin.errors.DiskFullError` naming ``dest``'s folder, before
    the first byte when the Content-Length cannot fit (:mod:`reskin.space`). Without one, no
    size is known up front (the cap is a bound, not a size: refusing by it would refuse a 2 MB
    result on a disk with 1 GB free), and only a write that meets the full disk says so.
    """
    retry = retry or RetryPolicy()
    partial = dest.with_name(dest.name + ".part")
    timeout = httpx.Timeout(min(timeout_s, 60.0), connect=min(timeout_s, 15.0))
    async with httpx.AsyncClient(
        timeout=timeout,
        transport=transport,
        verify=shared_ssl_context(),
        follow_redirects=True,
        # Raw bytes are counted against Content-Length, so ask for them unencoded.
        headers={"Accept-Encoding": "identity", "User-Agent": "reskin"},
    ) as http:
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(timeout_s):
                    size = await _fetch_once(http, url, partial, max_bytes, what)
            except (httpx.TransportError, _ShortBody, TimeoutError) as exc:
                partial.unlink(missing_ok=True)
                if attempt > retry.max_retries:
                    raise DownloadError(
                        f"download of {what} failed {attempt} time(s) ({_describe(exc)}); "
                        "rerun the same request to download it again"
                    ) from exc
                delay = retry.delay(attempt)
                retry.announce(f"download of {what}", _describe(exc), attempt, delay)
                await asyncio.sleep(delay)
                continue
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(dest)
            return size


class _ShortBody(Exception):
    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"got {got} of {expected} bytes")


async def _fetch_once(
    http: httpx.AsyncClient, url: str, partial: Path, max_bytes: int, what: str
) -> int:
    async with http.stream("GET", url) as response:
        if response.status_code == 404 and what != "the result":
            raise DownloadError(f"{what} is not at its URL (404): check the URL")
        if response.status_code == 404:
            raise ResultExpiredError(
                "the result is no longer at its URL (404): the service keeps results for a "
                "limited time; submit again with `force` to make a new one"
            )
        if not response.is_success:
            if response.status_code in RETRYABLE_STATUSES:
                raise httpx.RemoteProtocolError(f"status {response.status_code}")
            raise DownloadError(
                f"the URL of {what} answered {response.status_code}; "
                "check it, or submit again with `force` if it stays so"
            )
        declared = int(response.headers.get("content-length", "0") or 0) or None
        if declared is not None and declared > max_bytes:
            raise DownloadError(
                f"the file is {declared} bytes, over the {max_bytes}-byte cap "
                "(RESKIN_DOWNLOAD_MAX_BYTES)"
            )
        got = 0
        # Refused before the first byte when the declared size cannot fit; a disk that fills
        # meanwhile (or a body of no declared size) ends the same way, the part file removed.
        with writing(partial.parent, declared, what=what), partial.open("wb") as out:
            async for chunk in response.aiter_raw(_CHUNK):
                got += len(chunk)
                if got > max_bytes:
                    raise DownloadError(
                        f"the file exceeds the {max_bytes}-byte cap (RESKIN_DOWNLOAD_MAX_BYTES)"
                    )
                out.write(chunk)
            out.flush()
            with contextlib.suppress(OSError):
                os.fsync(out.fileno())
        if declared is not None and got != declared:
            raise _ShortBody(got, declared)
        return got


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "took too long"
    return str(exc) or type(exc).__name__
