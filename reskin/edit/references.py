"""Reference images (the API's ``image_list``): checked against the model's limits, then made
reachable like the clip: a local file goes inline as a data URI, a URL is passed through.

A URL is downloaded once (capped) to be checked, so a too-small or wrong-format image is refused
here with one line instead of by the service after a paid submission. Each image is a place a
user named: :mod:`reskin.access`'s rules hold for it (public addresses, allowed folders), checked
for all of them before the first is read.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reskin.access import Access, check_location, check_path
from reskin.edit.source import fetch_remote, is_http, is_remote
from reskin.errors import InputError
from reskin.journal import file_sha256
from reskin.media.images import ImageInfo, check_reference_images, image_data_uri
from reskin.registry.spec import ReferenceLimits
from reskin.settings import Settings


@dataclass(frozen=True)
class Reference:
    """One checked reference image."""

    #: A local copy in the job folder (sent inline when ``url`` is None).
    path: Path
    #: The image's own URL, handed to the service as it is.
    url: str | None
    sha256: str
    info: ImageInfo

    @property
    def identity(self) -> str:
        """What makes two requests the same: the image's content."""
        return self.sha256

    def image_url(self) -> str:
        return self.url if self.url is not None else image_data_uri(self.info)


async def take_references(
    items: Sequence[str], job_dir: Path, limits: ReferenceLimits | None, settings: Settings
) -> tuple[Reference, ...]:
    """Copy or download each image into ``job_dir``, check all of them, and identify them.
    ``limits``: the model's, None when it takes no images."""
    if not items:
        return ()
    if limits is None or len(items) > limits.max_count:
        most = 0 if limits is None else limits.max_count
        raise InputError(
            f"{len(items)} reference images given, the model takes at most {most}: drop some"
        )
    access = Access.from_settings(settings)
    for index, item in enumerate(items):
        check_location(item, access, what=f"reference image {index + 1}")
    folder = job_dir / "references"
    folder.mkdir(exist_ok=True)
    local: list[Path] = []
    for index, item in enumerate(items):
        target = folder / f"image-{index}"
        if is_remote(item):
            await fetch_remote(
                item,
                target,
                max_bytes=limits.max_bytes,
                settings=settings,
                what=f"reference image {index + 1}",
            )
        else:
            path = check_path(item, access, what=f"reference image {index + 1}")
            await asyncio.to_thread(_copy, item, path, target, limits)
        local.append(target)
    names = [_name(item) for item in items]
    infos = await asyncio.to_thread(check_reference_images, local, limits, names=names)
    refs = []
    for item, path, info in zip(items, local, infos, strict=True):
        passthrough = is_http(item) and (
            item.lower().startswith("https://") or not settings.uses_default_service
        )
        sha = await asyncio.to_thread(file_sha256, path)
        refs.append(Reference(path, item if passthrough else None, sha, info))
    return tuple(refs)


def _name(item: str) -> str:
    return item.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or item


def _copy(item: str, source: Path, target: Path, limits: ReferenceLimits) -> None:
    """Copy ``source`` (``item`` resolved, as checked) to ``target``."""
    name = Path(item).expanduser().name
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise InputError(f"reference image {name}: cannot read it ({exc.strerror})") from exc
    if size > limits.max_bytes:
        raise InputError(
            f"reference image {name} is {size / 1e6:.1f} MB, over the "
            f"{limits.max_bytes / 1e6:g} MB limit: make it smaller"
        )
    shutil.copyfile(source, target)
