"""``deliver``: where an edit's output goes, with its before/after preview, and the links a run
shows.

A local output is written in place (atomically, verified: :func:`~reskin.edit.results.sound`)
and its preview ``<name>.preview.png`` beside it. An ``s3://`` output is first written and
verified in the work folder exactly the same way; only then are the preview and the video
uploaded (the video last, so an object at the output key is always a whole, verified edit),
and the local copy is removed (the downloaded result stays for reuse).

The video itself is written by ``sound`` (atomically: on a full disk its temporary file is
removed and nothing is at the output path); a preview that does not fit is left out with a
warning, its temporary file removed too (:mod:`reskin.media.finalize`).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from reskin.edit.prepare import Planned, Taken
from reskin.edit.request import EditRequest
from reskin.edit.results import EARLY_PREVIEW, Sounded
from reskin.edit.services import Services
from reskin.errors import DiskFullError, ReskinError
from reskin.media.finalize import atomic_output, link_or_copy
from reskin.media.preview import contact_sheet
from reskin.settings import Settings
from reskin.storage.s3 import S3Location, S3Storage

log = logging.getLogger(__name__)

PREVIEW_SUFFIX = ".preview.png"


@dataclass(frozen=True)
class Delivered:
    """Where the output and its preview ended up: local paths or ``s3://`` URLs."""

    output: str
    preview: str | None

    def links(self, settings: Settings) -> tuple[str, str | None]:
        """Links to the output and to its preview for the run's artifacts: ``file://`` for
        local files, presigned for S3 ones (valid ``RESKIN_S3_LINK_EXPIRY_S``)."""
        return self._link(self.output, settings), (
            None if self.preview is None else self._link(self.preview, settings)
        )

    @staticmethod
    def _link(where: str, settings: Settings) -> str:
        if not where.startswith("s3://"):
            return f"file://{where}"
        storage = S3Storage.from_settings(settings)
        return storage.presign_get(S3Location.parse(where), settings.s3_link_expiry_s)


def preview_name(output: str) -> str:
    """``clip.mp4`` -> ``clip.preview.png`` (a path or an ``s3://`` key alike)."""
    return output[: -len(".mp4")] + PREVIEW_SUFFIX


async def deliver(
    request: EditRequest, taken: Taken, planned: Planned, sounded: Sounded, services: Services
) -> Delivered:
    """Put the before/after preview beside the verified video (the one drawn ahead into the
    job folder, :func:`~reskin.edit.results.draw_sheet_ahead`, else drawn now), both where
    ``request`` wants them, and journal the request as done."""
    video = sounded.path
    sheet = await asyncio.to_thread(_preview, taken, planned, sounded, services)
    location = request.output_location
    if location is None:
        delivered = Delivered(str(video), None if sheet is None else str(sheet))
    else:
        storage = services.storage
        shown_preview = None
        if sheet is not None:
            target = S3Location.parse(preview_name(location.url))
            await asyncio.to_thread(storage.upload, sheet, target)
            shown_preview = target.url
        await asyncio.to_thread(storage.upload, video, location)
        log.info("uploaded the output to %s", location)
        # The result download is kept for reruns; this copy of it only existed to be uploaded.
        shutil.rmtree(video.parent, ignore_errors=True)
        delivered = Delivered(location.url, shown_preview)
    for key in taken.journal_keys:
        services.journal.done(key)
    info = sounded.info
    log.info(
        "wrote %s: %dx%d, %.2f s, %s",
        delivered.output,
        info.width,
        info.height,
        info.duration_s,
        "with sound" if info.has_audio else "silent",
    )
    return delivered


def _preview(taken: Taken, planned: Planned, sounded: Sounded, services: Services) -> Path | None:
    """The contact sheet beside the video (the one drawn ahead into the job folder, put in
    place atomically; else drawn now from the video); None (with a warning) when it cannot be:
    the edit is done and paid for, a missing picture must not fail it."""
    video = sounded.path
    dest = Path(preview_name(str(video)))
    drawn = taken.job_dir / EARLY_PREVIEW
    try:
        if drawn.is_file():
            with atomic_output(dest) as partial:
                link_or_copy(drawn, partial)
            return dest
        return contact_sheet(
            taken.source,
            video,
            dest,
            services.tools,
            timeout_s=services.settings.ffmpeg_timeout_s,
            before_start_s=planned.conform.start_s,
            before_info=taken.info,
            after_info=sounded.info,
        )
    except DiskFullError as exc:
        # The edit is whole at its output; only the picture did not fit (nothing left of it).
        log.warning("no before/after preview for %s: no space left in %s", video, exc.folder)
        return None
    except ReskinError as exc:
        log.warning("no before/after preview for %s: %s", video, exc)
        return None


def artifact_links(delivered: Delivered, settings: Settings) -> tuple[str, str | None]:
    """:meth:`Delivered.links`, or plain locations when they cannot be presigned (the edit is
    done and paid: a missing link must not fail it)."""
    try:
        return delivered.links(settings)
    except ReskinError as exc:
        log.warning("cannot make links to the output (%s): the artifacts show its location", exc)
        return delivered.output, delivered.preview
