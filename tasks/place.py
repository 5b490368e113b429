"""Stage ``place``: make the clip reachable by the service (:func:`reskin.edit.send.place`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reskin.edit import send
from reskin.edit.prepare import Clip
from reskin.edit.services import Services
from reskin.storage.upload import Placed


@task(name="place", task_run_name="place clip", cache_policy=NO_CACHE)
async def place(clip: Clip, services: Services) -> Placed:
    """An ``Inline``, ``AtUrl`` or ``InS3``: a path or a URL, never bytes."""
    return await send.place(clip, services)
