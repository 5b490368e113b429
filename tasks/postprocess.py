"""Stage 5, postprocess: download the result at once, verify it, restore the sound, write the
output (whole and verified, or not at all), draw the before/after preview, and put both where
the request wants them (a local folder or S3: ``reskin/edit/outputs.py``)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reskin.edit.outputs import deliver, preview_name, staging_path
from reskin.edit.prepare import Prepared, journal_of
from reskin.edit.request import EditRequest
from reskin.edit.results import fetch_result, make_output
from reskin.edit.wait import Finished
from reskin.errors import ReskinError, ResultExpiredError
from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.media.preview import contact_sheet
from reskin.media.probe import MediaInfo
from reskin.media.sound import OriginalSound
from reskin.settings import Settings, load_settings


@dataclass(frozen=True)
class Produced:
    #: A local path or an ``s3://`` URL.
    output: str
    #: The before/after contact sheet beside it, when one could be drawn.
    preview: str | None
    info: MediaInfo
    reused_download: bool
    download_s: float
    finish_s: float


@task(name="postprocess", task_run_name="postprocess {request.output}", cache_policy=NO_CACHE)
async def postprocess(request: EditRequest, prepared: Prepared, finished: Finished) -> Produced:
    settings = load_settings()
    logger = get_run_logger()
    tools = find_ffmpeg(settings.ffmpeg_binary)
    journal = journal_of(settings)
    began = time.monotonic()
    result = finished.downloaded
    # The download's verify probed the result: handed on, so the sound step need not probe it.
    result_info: MediaInfo | None = None
    if result is None:
        if finished.url is None:  # a Finished holds one or the other
            raise ValueError("a finished generation without a result")
        try:
            result_info = await fetch_result(
                finished.url,
                prepared.fingerprint,
                finished.credits_used,
                journal,
                settings,
                tools,
            )
        except ResultExpiredError as exc:
            journal.failed(prepared.fingerprint, str(exc))
            raise
        result = result_info.path
    downloaded = time.monotonic()
    video = staging_path(request, prepared.fingerprint, settings)
    original = OriginalSound.of(prepared.source, prepared.plan, prepared.source_info)
    info = await make_output(
        result, video, original, tools, request.audio, settings, result_info=result_info
    )
    sheet = await asyncio.to_thread(_preview, prepared, video, info, tools, settings)
    delivered = await deliver(request, video, sheet, settings)
    journal.done(prepared.fingerprint)
    logger.info(
        "wrote %s: %dx%d, %.2f s, %s",
        delivered.output,
        info.width,
        info.height,
        info.duration_s,
        "with sound" if info.has_audio else "silent",
    )
    return Produced(
        output=delivered.output,
        preview=delivered.preview,
        info=info,
        reused_download=finished.downloaded is not None,
        download_s=downloaded - began,
        finish_s=time.monotonic() - downloaded,
    )


def _preview(
    prepared: Prepared, video: Path, info: MediaInfo, tools: FFmpegTools, settings: Settings
) -> Path | None:
    """The contact sheet beside ``video`` (probed as ``info``); None (with a warning) when it
    cannot be drawn: the edit is done and paid for, a missing picture must not fail it."""
    try:
        return contact_sheet(
            prepared.source,
            video,
            Path(preview_name(str(video))),
            tools,
            timeout_s=settings.ffmpeg_timeout_s,
            before_start_s=prepared.plan.start_s,
            before_info=prepared.source_info,
            after_info=info,
        )
    except ReskinError as exc:
        logging.getLogger(__name__).warning("no before/after preview for %s: %s", video, exc)
        return None
