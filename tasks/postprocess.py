"""Stage 5, postprocess: download the result at once, verify it, restore the sound, write the
output (whole and verified, or not at all)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reskin.edit.prepare import Prepared, journal_of
from reskin.edit.request import EditRequest
from reskin.edit.results import fetch_result, make_output
from reskin.edit.wait import Finished
from reskin.errors import ResultExpiredError
from reskin.media.binaries import find_ffmpeg
from reskin.media.probe import MediaInfo
from reskin.media.sound import OriginalSound
from reskin.settings import load_settings


@dataclass(frozen=True)
class Produced:
    output: Path
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
    if result is None:
        if finished.url is None:  # a Finished holds one or the other
            raise ValueError("a finished generation without a result")
        try:
            result = await fetch_result(
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
    downloaded = time.monotonic()
    output = request.output_path
    original = OriginalSound.of(prepared.source, prepared.plan, prepared.source_info)
    info = await make_output(result, output, original, tools, request.audio, settings)
    journal.done(prepared.fingerprint)
    logger.info(
        "wrote %s: %dx%d, %.2f s, %s",
        output,
        info.width,
        info.height,
        info.duration_s,
        "with sound" if info.has_audio else "silent",
    )
    return Produced(
        output=output,
        info=info,
        reused_download=finished.downloaded is not None,
        download_s=downloaded - began,
        finish_s=time.monotonic() - downloaded,
    )
