"""Make a clip reachable by the service, behind one small interface.

=================  ===========================================================================
backend            what the service is handed
=================  ===========================================================================
``url``            the input's own https URL, when the input already conforms (nothing moves)
``datauri``        the clip inline, base64 in the request body, built when the create is sent
``standin-files``  an http URL on the local stand-in's file server (``PUT /files/{name}``)
=================  ===========================================================================

``RESKIN_UPLOAD=auto`` takes the input URL when there is one, else a data URI within
``RESKIN_DATAURI_MAX_BYTES``, else refuses with what to configure. A :class:`Placed` holds a
path or a URL, never the bytes: it travels between Prefect tasks, and a data URI must not.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import anyio
import httpx

from reskin.errors import ApiConnectionError, ConfigError, InputError
from reskin.settings import Settings
from reskin.storage.datauri import data_uri

Backend = Literal["url", "datauri", "standin-files"]


@dataclass(frozen=True)
class Placed:
    """Where the service will find the clip."""

    backend: Backend
    path: Path | None = None
    url: str | None = None

    def video_url(self, *, max_bytes: int) -> str:
        """The ``video_url`` to send: for a data URI it is built now, from the file."""
        if self.url is not None:
            return self.url
        assert self.path is not None  # noqa: S101 (a Placed has one or the other)
        return data_uri(self.path, max_bytes=max_bytes)

    @property
    def shown(self) -> str:
        """For logs and artifacts: the backend and a URL, never a data URI."""
        if self.backend == "datauri":
            return "data URI (inline)"
        return f"{self.backend}: {self.url}"


async def place_clip(clip: Path, source_url: str | None, settings: Settings) -> Placed:
    """Choose the backend for ``clip`` and put it there."""
    if source_url is not None and settings.upload == "auto":
        return Placed("url", url=source_url)
    size = (await anyio.Path(clip).stat()).st_size
    if settings.upload == "standin-files":
        return Placed("standin-files", url=await put_standin_file(clip, settings))
    if size > settings.datauri_max_bytes:
        raise InputError(
            f"the conformed clip is {size / 1e6:.1f} MB, over the "
            f"{settings.datauri_max_bytes / 1e6:g} MB data-URI budget: shorten the window, "
            "raise RESKIN_DATAURI_MAX_BYTES, or (against the stand-in) set "
            "RESKIN_UPLOAD=standin-files"
        )
    return Placed("datauri", path=clip)


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
        async with httpx.AsyncClient(base_url=settings.base_url, timeout=timeout) as http:
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
