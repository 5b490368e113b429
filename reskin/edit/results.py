"""The stages after the poll: ``fetch`` (download the result at once, decode it whole, journal
it) and ``sound`` (the final video: the result with the sound asked for, written whole and
verified, or not at all).

Downloads land in ``<work dir>/results/<fingerprint>.mp4`` and are journaled, so a rerun of the
same request (another output path, another audio mode, a failure after the download) reuses
the file instead of fetching it again; files older than the retention are removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

from reskin.aimlapi.retry import RetryPolicy
from reskin.download import download
from reskin.edit.prepare import Planned, Taken, original_sound
from reskin.edit.request import EditRequest
from reskin.edit.services import Services
from reskin.edit.wait import Downloaded, Finished, Ready
from reskin.errors import ResultExpiredError, VerificationError
from reskin.media.probe import MediaInfo, probe
from reskin.media.sound import finish
from reskin.media.verify import verify
from reskin.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """``fetch``: the result on this machine, probed."""

    info: MediaInfo
    #: An earlier run's download, reused (nothing was fetched now).
    reused: bool

    @property
    def path(self) -> Path:
        return self.info.path


@dataclass(frozen=True)
class Sounded:
    """``sound``: the final video, verified, where this machine writes it (the output itself,
    or a staging copy for an ``s3://`` output)."""

    info: MediaInfo

    @property
    def path(self) -> Path:
        return self.info.path


def staging_path(request: EditRequest, fingerprint: str, settings: Settings) -> Path:
    """Where the verified video is written on this machine: the output itself when local, a
    folder of the request's own in the work folder when the output is in S3."""
    location = request.output_location
    if location is None:
        return request.output_path
    return settings.work_dir / "outputs" / fingerprint[:32] / Path(location.key).name


def results_dir(settings: Settings) -> Path:
    return settings.work_dir / "results"


async def fetch(taken: Taken, finished: Finished, services: Services) -> Fetched:
    """The result on disk: downloaded now (and decoded whole, then journaled), or the earlier
    download the poll found."""
    match finished:
        case Downloaded(path=path):
            return Fetched(await asyncio.to_thread(probe, path), reused=True)
        case Ready():
            try:
                info = await fetch_result(finished, taken.fingerprint, services)
            except ResultExpiredError as exc:
                services.journal.failed(taken.fingerprint, str(exc))
                raise
            return Fetched(info, reused=False)
        case _:
            assert_never(finished)


async def fetch_result(ready: Ready, fp: str, services: Services) -> MediaInfo:
    """Download the result of request ``fp``, decode it whole, and journal it; the verify's
    probe of the download (``.path`` is the file), so nothing probes it again."""
    settings = services.settings
    folder = results_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, settings.result_retention_h * 3600)
    dest = folder / f"{fp}.mp4"
    size = await download(
        ready.url,
        dest,
        max_bytes=settings.download_max_bytes,
        timeout_s=settings.download_timeout_s,
        retry=RetryPolicy.from_settings(settings),
    )
    try:
        info = await asyncio.to_thread(
            verify,
            dest,
            services.tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=settings.ffmpeg_timeout_s,
            name="the service's result",
        )
    except VerificationError:
        dest.unlink(missing_ok=True)
        raise
    log.info("downloaded the result: %.1f MB", size / 1e6)
    services.journal.downloaded(fp, dest, ready.credits_used)
    return info


async def sound(
    request: EditRequest, taken: Taken, planned: Planned, fetched: Fetched, services: Services
) -> Sounded:
    """The final video with the sound ``request`` asks for, in sync, cut to the window: written
    whole and verified at its staging path, or not at all."""
    settings = services.settings
    info = await asyncio.to_thread(
        finish,
        fetched.path,
        staging_path(request, taken.fingerprint, settings),
        original_sound(taken, planned),
        services.tools,
        mode=request.audio,
        timeout_s=settings.ffmpeg_timeout_s,
        result_info=fetched.info,
    )
    return Sounded(info)


def _prune(folder: Path, older_than_s: float) -> None:
    cutoff = time.time() - older_than_s
    for old in folder.glob("*.mp4"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue
