"""Make a clip reachable by the service, behind one small interface.

=================  ===========================================================================
backend            what the service is handed
=================  ===========================================================================
``url``            the input's own https URL, when the input already conforms (nothing moves)
``datauri``        the clip inline, base64 in the request body, read from the file as it is sent
``s3``             a presigned GET URL of an S3 object, made when the create is sent: the clip
                   uploaded under ``RESKIN_S3_BUCKET``/``RESKIN_S3_PREFIX`` (deleted after the
                   job unless ``RESKIN_S3_DELETE_UPLOADS=false``), or an ``s3://`` input that
                   already conforms (never deleted: it is the user's)
``standin-files``  an http URL on the local stand-in's file server (``PUT /files/{name}``)
=================  ===========================================================================

``RESKIN_UPLOAD=auto`` takes the input's own URL when it conforms, else a data URI within
``RESKIN_DATAURI_MAX_BYTES``, else S3 when a bucket is set, else refuses with what to configure.
A :data:`Placed` is one of three exact types (:class:`Inline`, :class:`AtUrl`, :class:`InS3`)
holding a path, a URL or an ``s3://`` location, never the bytes nor a presigned URL: it travels
between Prefect tasks, and both are bearer material.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, assert_never

import anyio
import httpx

from reskin.errors import ApiConnectionError, ConfigError, InputError, ReskinError
from reskin.settings import Settings
from reskin.storage.datauri import DataUri, data_uri
from reskin.storage.s3 import S3Location, S3Storage, StorageOf
from reskin.tls import shared_ssl_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inline:
    """The clip goes inline, as a data URI read from the file while the create is sent."""

    path: Path

    @property
    def shown(self) -> str:
        return "data URI (inline)"


@dataclass(frozen=True)
class AtUrl:
    """The service fetches the clip at ``url``: the input's own, or the stand-in's file server."""

    url: str
    #: ``url`` or ``standin-files``: which backend put it there.
    backend: Literal["url", "standin-files"] = "url"

    @property
    def shown(self) -> str:
        return f"{self.backend}: {self.url}"


@dataclass(frozen=True)
class InS3:
    """The service fetches the clip from S3 through a presigned URL made when the create is
    sent (a retried create gets a fresh one)."""

    location: S3Location
    #: reskin uploaded the object, so it deletes it after the job (never a user's input).
    uploaded: bool

    @property
    def shown(self) -> str:
        return f"s3: {self.location.url} (presigned when sent)"


Placed = Inline | AtUrl | InS3


def video_url(placed: Placed, settings: Settings, storage: StorageOf) -> str | DataUri:
    """The ``video_url`` to send, made now: a data URI of the file (its budget checked now, its
    text read as the body goes out), or a presigned URL that expires
    ``RESKIN_S3_PRESIGN_EXPIRY_S`` after the create."""
    match placed:
        case Inline(path):
            return data_uri(path, max_bytes=settings.datauri_max_bytes)
        case AtUrl(url):
            return url
        case InS3(location):
            return storage().presign_get(location, settings.s3_presign_expiry_s)
        case _:
            assert_never(placed)


def goes_inline(size_bytes: int, source_url: str | None, settings: Settings) -> bool:
    """Whether :func:`place_clip` sends a clip of ``size_bytes`` inline, as a data URI: not when
    the service fetches the input's own URL (``source_url``), nor when the settings choose an
    upload, nor over the data-URI budget."""
    fetched_where_it_is = source_url is not None and (
        (source_url.startswith("s3://") and settings.upload in ("auto", "s3"))
        or settings.upload == "auto"
    )
    if fetched_where_it_is or settings.upload in ("standin-files", "s3"):
        return False
    return size_bytes <= settings.datauri_max_bytes


async def place_clip(
    clip: Path, source_url: str | None, settings: Settings, storage: StorageOf
) -> Placed:
    """Choose the backend for ``clip`` and put it there. ``source_url`` is the input's own URL
    (http(s) or ``s3://``) when the input conforms as it is."""
    size = (await anyio.Path(clip).stat()).st_size
    if goes_inline(size, source_url, settings):
        return Inline(clip)
    if source_url is not None and settings.upload in ("auto", "s3"):
        if source_url.startswith("s3://"):
            return InS3(S3Location.parse(source_url), uploaded=False)
        if settings.upload == "auto":
            return AtUrl(source_url)
    if settings.upload == "standin-files":
        return AtUrl(await put_standin_file(clip, settings), backend="standin-files")
    if settings.upload == "s3":
        return await _put_s3(clip, storage())
    if settings.upload == "auto" and settings.s3_bucket is not None:
        return await _put_s3(clip, storage())
    storage_hint = "RESKIN_UPLOAD=auto and " if settings.upload == "datauri" else ""
    raise InputError(
        f"the conformed clip is {size / 1e6:.1f} MB, over the "
        f"{settings.datauri_max_bytes / 1e6:g} MB data-URI budget: set {storage_hint}"
        "RESKIN_S3_BUCKET (and RESKIN_S3_ENDPOINT_URL for MinIO or R2) to upload it to S3, "
        "shorten the window, or raise RESKIN_DATAURI_MAX_BYTES"
    )


async def _put_s3(clip: Path, storage: S3Storage) -> InS3:
    # A name nobody can guess: the object is only ever reached through its presigned URL.
    location = storage.location_for(f"uploads/{secrets.token_hex(12)}{clip.suffix}")
    await asyncio.to_thread(storage.upload, clip, location)
    return InS3(location, uploaded=True)


async def release(placed: Placed | None, settings: Settings, storage: StorageOf) -> bool:
    """Delete the object reskin uploaded for the service, once its job is over (unless
    ``RESKIN_S3_DELETE_UPLOADS=false``); True when one was deleted. Best effort: a failure is
    logged, never raised (the edit itself succeeded or failed already)."""
    if not isinstance(placed, InS3) or not placed.uploaded or not settings.s3_delete_uploads:
        return False
    try:
        await asyncio.to_thread(storage().delete, placed.location)
    except ReskinError as exc:
        log.warning("could not delete the uploaded clip %s: %s", placed.location, exc)
        return False
    log.info("deleted the uploaded clip %s", placed.location)
    return True


async def put_standin_file(path: Path, settings: Settings, *, suffix: str = ".mp4") -> str:
    """Upload ``path`` to the stand-in's file server; return the URL it serves it at."""
    if settings.uses_default_service or settings.api_key is None:
        raise ConfigError(
            "RESKIN_UPLOAD=standin-files needs AIMLAPI_BASE_URL pointing at a reskin stand-in "
            "and its key in AIMLAPI_API_KEY"
        )
    name = secrets.token_hex(12) + suffix
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
    timeout = httpx.Timeout(settings.write_timeout_s, connect=settings.connect_timeout_s)
    try:
        async with httpx.AsyncClient(
            base_url=settings.base_url, timeout=timeout, verify=shared_ssl_context()
        ) as http:
            with path.open("rb") as body:
                response = await http.put(f"/files/{name}", content=_chunks(body), headers=headers)
    except httpx.TransportError as exc:
        raise ApiConnectionError(
            f"the stand-in's file server at {settings.base_url} cannot be reached "
            f"({type(exc).__name__}): is `reskin stand-in` running?"
        ) from exc
    if response.status_code != 201:
        raise ApiConnectionError(
            f"the stand-in's file server refused the upload ({response.status_code})"
        )
    url = response.json().get("url")
    if not isinstance(url, str):
        raise ApiConnectionError("the stand-in's file server answered without a URL")
    return url


async def _chunks(handle: BinaryIO, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    # Streamed: a clip may be hundreds of MB and is never held in memory whole.
    while block := handle.read(size):
        yield block
