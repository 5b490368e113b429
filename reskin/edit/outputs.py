"""Where an edit's output goes, with its before/after preview, and the links a run shows.

A local output is written in place (atomically, verified: :func:`~reskin.edit.results.make_output`)
and its preview ``<name>.preview.png`` beside it. An ``s3://`` output is first written and
verified in the work folder exactly the same way; only then are the preview and the video
uploaded (the video last, so an object at the output key is always a whole, verified edit),
and the local copy is removed (the downloaded result stays for reuse).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from reskin.edit.request import EditRequest
from reskin.errors import ReskinError
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


def staging_path(request: EditRequest, fingerprint: str, settings: Settings) -> Path:
    """Where the verified video is written on this machine: the output itself when local, a
    folder of the request's own in the work folder when the output is in S3."""
    location = request.output_location
    if location is None:
        return request.output_path
    return settings.work_dir / "outputs" / fingerprint[:32] / Path(location.key).name


async def deliver(
    request: EditRequest, video: Path, preview: Path | None, settings: Settings
) -> Delivered:
    """Put the verified ``video`` and its ``preview`` where ``request`` wants them."""
    location = request.output_location
    if location is None:
        return Delivered(str(video), None if preview is None else str(preview))
    storage = S3Storage.from_settings(settings)
    shown_preview = None
    if preview is not None:
        target = S3Location.parse(preview_name(location.url))
        await asyncio.to_thread(storage.upload, preview, target)
        shown_preview = target.url
    await asyncio.to_thread(storage.upload, video, location)
    log.info("uploaded the output to %s", location)
    # The result download is kept for reruns; this copy of it only existed to be uploaded.
    shutil.rmtree(video.parent, ignore_errors=True)
    return Delivered(location.url, shown_preview)


def artifact_links(delivered: Delivered, settings: Settings) -> tuple[str, str | None]:
    """:meth:`Delivered.links`, or plain locations when they cannot be presigned (the edit is
    done and paid: a missing link must not fail it)."""
    try:
        return delivered.links(settings)
    except ReskinError as exc:
        log.warning("cannot make links to the output (%s): the artifacts show its location", exc)
        return delivered.output, delivered.preview
