"""Stage 1, preprocess: take the input in, check it, conform it to the model's limits."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reskin.edit.prepare import Prepared, journal_of, prepare
from reskin.edit.request import EditRequest
from reskin.media.binaries import find_ffmpeg
from reskin.settings import load_settings


@task(name="preprocess", task_run_name="preprocess {request.shown_input}", cache_policy=NO_CACHE)
async def preprocess(request: EditRequest) -> Prepared:
    """Probe, refuse what cannot work, trim to the window, conform (or not, when resuming)."""
    settings = load_settings()
    tools = find_ffmpeg(settings.ffmpeg_binary)
    prepared = await prepare(request, settings, tools, journal_of(settings))
    info = prepared.source_info
    get_run_logger().info(
        "input %s: %dx%d, %.2f s, %s; plan: %s",
        request.shown_input,
        info.display_width,
        info.display_height,
        info.duration_s,
        "with sound" if info.has_audio else "silent",
        prepared.plan.describe(),
    )
    return prepared
