"""Bring the user's input into a job folder: a local path is copied, a URL or an ``s3://``
object is downloaded first.

Either way ffmpeg only ever opens the job's own copy (:mod:`reskin.media.intake`), never a URL.
A remote input is streamed to disk with the same caps as a result (size and time), without
sending the service's key, through :func:`reskin.access.guarded_transport`: https only (unless
``RESKIN_ALLOW_HTTP``), public addresses only, each redirect hop checked; an ``s3://`` one with
the S3 settings' credentials. A local path must lie in ``RESKIN_ALLOWED_DIRS`` when it is set.
A remote input the approval's estimate downloaded is taken from there, not downloaded again
(:mod:`reskin.edit.kept`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from reskin.access import Access, check_location, check_path
from reskin.access.transport import guarded_transport
from reskin.aimlapi.retry import RetryPolicy
from reskin.download import download
from reskin.edit.kept import take_kept
from reskin.errors import DownloadError, InputError
from reskin.media.binaries import FFmpegTools
from reskin.media.intake import Intake, take_in
from reskin.media.probe import MediaInfo
from reskin.settings import Settings
from reskin.storage.s3 import S3Location, S3Storage

log = logging.getLogger(__name__)

HTTP_SCHEMES = ("https", "http")
REMOTE_SCHEMES = (*HTTP_SCHEMES, "s3")


def is_remote(location: str) -> bool:
    """An http(s) URL or an ``s3://`` location, not a local path."""
    return urlsplit(location).scheme.lower() in REMOTE_SCHEMES


def is_http(location: str) -> bool:
    """An http(s) URL: something the service could fetch itself."""
    return urlsplit(location).scheme.lower() in HTTP_SCHEMES


async def take_source(
    location: str,
    job_dir: Path,
    tools: FFmpegTools,
    settings: Settings,
    *,
    more: Callable[[MediaInfo], Sequence[str]] | None = None,
) -> Intake:
    """The input at ``location`` (a path, an http(s) URL or ``s3://``) copied into ``job_dir``
    and checked; a place :mod:`reskin.access` refuses is refused before anything is read.
    ``more``: more outputs of its decode check, given its probe
    (:func:`~reskin.media.intake.take_in`)."""
    access = Access.from_settings(settings)
    check_location(location, access, what="input")
    scheme = urlsplit(location).scheme.lower()
    if scheme in REMOTE_SCHEMES:
        name = urlsplit(location).path.rsplit("/", 1)[-1] or "the input URL"
        fetched = job_dir / "download"
        if take_kept(settings.work_dir, location, fetched):  # the estimate's: what was approved
            log.info("input %s: the copy downloaded for the approval's estimate", name)
        else:
            await fetch_remote(
                location,
                fetched,
                max_bytes=settings.download_max_bytes,
                settings=settings,
                what=f"input {name}",
            )
        try:
            return await asyncio.to_thread(_take_in, fetched, job_dir, tools, settings, name, more)
        finally:
            fetched.unlink(missing_ok=True)
    # Any other scheme was refused by check_location. The resolved path is the one read: a
    # link swapped after the check is not followed anew.
    path = check_path(location, access, what="input")
    return await asyncio.to_thread(
        _take_in, path, job_dir, tools, settings, Path(location).name, more
    )


async def fetch_remote(
    url: str, dest: Path, *, max_bytes: int, settings: Settings, what: str
) -> None:
    """Download a user's remote file (capped, timed, retried); its failures are input errors
    (an ``s3://`` one's are the storage's own: a credential problem is a setting to fix). An
    http(s) URL goes through the guarded transport (:mod:`reskin.access`): a refused address
    is an :class:`~reskin.errors.AccessError` before a byte is read."""
    if urlsplit(url).scheme.lower() == "s3":
        storage = S3Storage.from_settings(settings)
        await asyncio.to_thread(
            storage.download,
            S3Location.parse(url),
            dest,
            max_bytes=max_bytes,
            timeout_s=settings.download_timeout_s,
        )
        return
    try:
        await download(
            url,
            dest,
            max_bytes=max_bytes,
            timeout_s=settings.download_timeout_s,
            what=what,
            retry=RetryPolicy.from_settings(settings),
            transport=guarded_transport(Access.from_settings(settings), what=what),
        )
    except DownloadError as exc:
        raise InputError(str(exc)) from exc


#: The input's thumbnails for the fidelity check, in the job folder.
SOURCE_THUMBS = "source.thumbs"


def _take_in(
    path: Path | str,
    job_dir: Path,
    tools: FFmpegTools,
    settings: Settings,
    name: str | None,
    more: Callable[[MediaInfo], Sequence[str]] | None = None,
) -> Intake:
    return take_in(
        Path(path).expanduser(),
        job_dir,
        tools,
        max_bytes=settings.download_max_bytes,
        timeout_s=settings.ffmpeg_timeout_s,
        name=name,
        thumbs=job_dir / SOURCE_THUMBS,
        more=more,
    )
