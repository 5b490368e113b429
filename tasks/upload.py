"""Stage 2, upload: make the conformed clip reachable by the service."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from reskin.edit.prepare import Prepared
from reskin.settings import load_settings
from reskin.storage.upload import Placed, place_clip


@task(name="upload", task_run_name="upload clip", cache_policy=NO_CACHE)
async def upload(prepared: Prepared) -> Placed | None:
    """A :class:`Placed` (a path or URL, never bytes); None when the request resumes."""
    logger = get_run_logger()
    if prepared.clip is None:
        logger.info("nothing to upload: an earlier generation for this request is resumed")
        return None
    placed = await place_clip(prepared.clip, prepared.source_url, load_settings())
    logger.info("the service will get the clip as %s", placed.shown)
    return placed
