"""Postprocess: download the result at once, check it, and make the final video from it.

Downloads land in ``<work dir>/results/<fingerprint>.mp4`` and are journaled, so a rerun of the
same request (another output path, another audio mode, a failure after the download) reuses
the file instead of fetching it again; files older than the retention are removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from reskin.aimlapi.retry import RetryPolicy
from reskin.download import download
from reskin.errors import VerificationError
from reskin.journal import Entry, Journal, Phase
from reskin.media.binaries import FFmpegTools
from reskin.media.probe import MediaInfo
from reskin.media.sound import AudioMode, OriginalSound, finish
from reskin.media.verify import verify
from reskin.settings import Settings

log = logging.getLogger(__name__)


def results_dir(settings: Settings) -> Path:
    return settings.work_dir / "results"


def reusable_download(entry: Entry | None) -> Path | None:
    """The earlier download of this request's result, when it is still on disk."""
    if entry is None or entry.phase not in (Phase.DOWNLOADED, Phase.DONE):
        return None
    if entry.result_path is None or not Path(entry.result_path).is_file():
        return None
    return Path(entry.result_path)


async def fetch_result(
    url: str,
    fp: str,
    credits_used: float | None,
    journal: Journal,
    settings: Settings,
    tools: FFmpegTools,
) -> MediaInfo:
    """Download the result for request ``fp``, decode it whole, and journal it; the verify's
    probe of the download (``.path`` is the file), for :func:`make_output` to use rather than
    probe it again."""
    folder = results_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, settings.result_retention_h * 3600)
    dest = folder / f"{fp}.mp4"
    size = await download(
        url,
        dest,
        max_bytes=settings.download_max_bytes,
        timeout_s=settings.download_timeout_s,
        retry=RetryPolicy.from_settings(settings),
    )
    try:
        info = await asyncio.to_thread(
            verify,
            dest,
            tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=settings.ffmpeg_timeout_s,
            name="the service's result",
        )
    except VerificationError:
        dest.unlink(missing_ok=True)
        raise
    log.info("downloaded the result: %.1f MB", size / 1e6)
    journal.downloaded(fp, dest, credits_used)
    return info


async def make_output(
    result: Path,
    output: Path,
    original: OriginalSound,
    tools: FFmpegTools,
    mode: AudioMode,
    settings: Settings,
    *,
    result_info: MediaInfo | None = None,
) -> MediaInfo:
    """The final video at ``output``: written whole and verified, or not at all.
    ``result_info``: the probe of ``result`` when the caller holds one (else it is probed)."""
    return await asyncio.to_thread(
        finish,
        result,
        output,
        original,
        tools,
        mode=mode,
        timeout_s=settings.ffmpeg_timeout_s,
        result_info=result_info,
    )


def _prune(folder: Path, older_than_s: float) -> None:
    cutoff = time.time() - older_than_s
    for old in folder.glob("*.mp4"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue
