"""The stages that reach the service with the clip: ``place`` (make it reachable) and ``submit``
(the create, sent at most once per request: :func:`reskin.submission.submit_once`)."""

from __future__ import annotations

import logging

from reskin.aimlapi.models import CreateRequest
from reskin.edit.prepare import Clip, Taken
from reskin.edit.request import EditRequest
from reskin.edit.services import Services
from reskin.errors import InputError
from reskin.media.audio_mode import AudioMode
from reskin.storage.upload import Placed, place_clip, release, video_url
from reskin.submission import Submitted, submit_once

log = logging.getLogger(__name__)


async def place(clip: Clip, services: Services) -> Placed:
    """Put the clip where the service will fetch it (or keep it to send inline)."""
    placed = await place_clip(
        clip.path, clip.source_url, services.settings, lambda: services.storage
    )
    log.info("the service will get the clip as %s", placed.shown)
    return placed


async def unplace(placed: Placed | None, services: Services) -> bool:
    """Delete what ``place`` uploaded, once its job is over (best effort)."""
    return await release(placed, services.settings, lambda: services.storage)


def create_request(
    request: EditRequest, taken: Taken, placed: Placed | None, services: Services
) -> CreateRequest:
    """The body of the create, by the model's spec. Called only when it is really sent: a data
    URI or a presigned URL is made here."""
    if placed is None:
        raise InputError(
            "the earlier generation for this request is gone and the clip was not prepared "
            "again: rerun the same command"
        )
    resolved = taken.resolved
    return resolved.spec.create_request(
        prompt=request.prompt,
        video_url=video_url(placed, services.settings, lambda: services.storage),
        references=[ref.image_url() for ref in taken.references],
        options=resolved.options,
        keep_audio=request.audio is AudioMode.MODEL,
    )


async def submit(
    request: EditRequest, taken: Taken, placed: Placed | None, services: Services
) -> Submitted:
    """The generation for this request: resumed from the journal, or created now (paced by
    the run's throttle, if it has one)."""
    return await submit_once(
        services.client,
        services.journal,
        taken.fingerprint,
        lambda: create_request(request, taken, placed, services),
        force=request.force,
        retention_s=services.settings.result_retention_h * 3600,
    )
