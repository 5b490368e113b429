"""Submit: the create request for a prepared clip, sent at most once per request."""

from __future__ import annotations

from reskin.aimlapi.client import AimlapiClient, Throttle
from reskin.aimlapi.models import CreateRequest
from reskin.edit.prepare import Prepared
from reskin.edit.request import EditRequest
from reskin.errors import InputError
from reskin.journal import Journal
from reskin.media.sound import AudioMode
from reskin.settings import Settings
from reskin.storage.upload import Placed
from reskin.submission import Submitted, submit_once


def create_request(
    request: EditRequest, prepared: Prepared, placed: Placed | None, settings: Settings
) -> CreateRequest:
    """The body of the create. Called only when it is really sent: a data URI is built here."""
    if placed is None:
        raise InputError(
            "the earlier generation for this request is gone and the clip was not prepared "
            "again: rerun the same command"
        )
    return prepared.spec.create_request(
        prompt=request.prompt,
        video_url=placed.video_url(settings),
        references=[ref.image_url() for ref in prepared.references],
        options=prepared.options,
        keep_audio=request.audio is AudioMode.MODEL,
    )


async def send(
    request: EditRequest,
    prepared: Prepared,
    placed: Placed | None,
    settings: Settings,
    journal: Journal,
    *,
    throttle: Throttle | None = None,
) -> Submitted:
    """The generation for this request: resumed from the journal, or created now (paced by
    ``throttle`` when given)."""
    async with AimlapiClient.from_settings(settings, throttle=throttle) as client:
        return await submit_once(
            client,
            journal,
            prepared.fingerprint,
            lambda: create_request(request, prepared, placed, settings),
            force=request.force,
            retention_s=settings.result_retention_h * 3600,
        )
