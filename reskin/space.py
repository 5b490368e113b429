"""A full disk: refused before writing where the size is known, one line whenever it happens.

Every folder reskin writes (the work folder: job folders, downloads, staging; the output's
folder) goes through the two halves of this module, so a full disk ends the same way wherever
it strikes: a :class:`~reskin.errors.DiskFullError` whose one line names the folder and the
space to free, and nothing partial left behind (the writers below all write to a temporary
name and remove it on failure).

- **Pre-flight** (:func:`ensure_room`): where the size of a file is known before it is written
  (an input copied in: its size; a conformed clip: about the source's; a download: its
  Content-Length; the final video: the downloaded result's), the folder's free space is read
  with :func:`shutil.disk_usage` and a write that cannot fit is refused before its first byte.
  The same check runs before the create is sent (:func:`reskin.edit.results.ensure_room_to_finish`):
  a paid generation must not fail for want of a few MB.
- **Translation**: what a full disk raises anyway (another process filled it meanwhile, or the
  size was not known) becomes the same error: an :class:`OSError` with ``errno`` ENOSPC or
  EDQUOT (:func:`is_disk_full`, :func:`writing`), and an ffmpeg run that says "No space left on
  device" on its stderr (:func:`says_disk_full`, used by :mod:`reskin.media.runner`).

``needed_bytes`` is always the whole size the write needs with :data:`HEADROOM_BYTES`, not the
shortfall: "free at least 12 MB there" is then enough whatever the folder holds meanwhile. The
message says so once; callers that know what was paid for add a note (:data:`PAID_KEPT`).

Nothing here imports Prefect; the journal's folder is the journal's own concern
(``reskin/journal*``), which raises the same error.
"""

from __future__ import annotations

import contextlib
import errno
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

from reskin.errors import DiskFullError

#: The errno values of a full disk: no space on the device, or the user's quota used up.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: How ffmpeg says it (``strerror`` of ENOSPC and EDQUOT, as it prints them on stderr).
FFMPEG_DISK_FULL = ("No space left on device", "Disk quota exceeded")
#: Kept free beyond the file itself: file-system blocks and metadata, the journal's and the
#: logs' next writes. A write is refused unless its size plus this much is free.
HEADROOM_BYTES = 1_000_000
#: The note of a failure after the generation was paid for: nothing is lost by it.
PAID_KEPT = " (the paid generation is kept: the rerun uses it without paying again)"
#: The note of a failure before the create was sent.
NOTHING_PAID = " (nothing was paid for yet)"


def needed_for(size_bytes: int) -> int:
    """What a file of ``size_bytes`` needs free in its folder: itself and the headroom."""
    return max(size_bytes, 0) + HEADROOM_BYTES


def shown_size(size_bytes: int) -> str:
    """A size as a user frees it: whole MB rounded up (``"12 MB"``), GB above 10 GB."""
    if size_bytes >= 10_000_000_000:
        return f"{math.ceil(size_bytes / 1e8) / 10:g} GB"
    return f"{max(1, math.ceil(size_bytes / 1e6))} MB"


def disk_full_error(
    folder: Path, needed_bytes: int | None, *, what: str | None = None, note: str = ""
) -> DiskFullError:
    """The one line of a full ``folder``: what did not fit, how much to free, what to do."""
    folder = Path(folder)
    subject = f"no space left in {folder}" + (f" for {what}" if what else "")
    amount = (
        f"free at least {shown_size(needed_bytes)} there"
        if needed_bytes is not None
        else "free some space there"
    )
    return DiskFullError(
        f"{subject}: {amount} and rerun the same command{note}",
        folder=folder,
        needed_bytes=needed_bytes,
    )


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a full disk or a used-up quota (an :class:`OSError`: ENOSPC, EDQUOT)."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def says_disk_full(stderr: str) -> bool:
    """Whether an ffmpeg's stderr says a write failed for want of space."""
    return any(words in stderr for words in FFMPEG_DISK_FULL)


def free_bytes(folder: Path) -> int:
    """Free space for this user in ``folder``, or in its nearest existing parent when it is
    not made yet (it will be made on that file system)."""
    return shutil.disk_usage(existing_part(folder)).free


def existing_part(folder: Path) -> Path:
    """``folder``, or its nearest parent that exists."""
    folder = Path(folder).absolute()
    return next((part for part in (folder, *folder.parents) if part.is_dir()), folder)


def same_disk(first: Path, second: Path) -> bool:
    """Whether two folders (made or not) sit on one file system: their needs then add up."""
    try:
        return existing_part(first).stat().st_dev == existing_part(second).stat().st_dev
    except OSError:
        return False


def ensure_room(folder: Path, size_bytes: int, *, what: str | None = None, note: str = "") -> None:
    """Refuse (:class:`DiskFullError`) before writing ``size_bytes`` into ``folder`` when that
    and :data:`HEADROOM_BYTES` are not free there. A folder whose space cannot be read is let
    through: the write itself then says (see :func:`writing`)."""
    needed = needed_for(size_bytes)
    try:
        free = free_bytes(folder)
    except OSError:
        return
    if free < needed:
        raise disk_full_error(folder, needed, what=what, note=note)


@contextlib.contextmanager
def writing(
    folder: Path, size_bytes: int | None = None, *, what: str | None = None, note: str = ""
) -> Iterator[None]:
    """Around code that writes into ``folder``: first :func:`ensure_room` when the size to
    write is known, then a full disk raised inside becomes one :class:`DiskFullError` naming
    ``folder``: a bare ENOSPC/EDQUOT :class:`OSError`, or the :class:`DiskFullError` of a lower
    layer for ``folder`` or a folder under it on the same disk (a job folder in the work folder
    is then named as the work folder, which the user knows), worded with this block's
    ``what`` and ``note`` and the larger of the two sizes.

    Cleaning up what the block wrote is the block's own job (a temporary name, removed on
    failure): this only words the error."""
    folder = Path(folder)
    if size_bytes is not None:
        ensure_room(folder, size_bytes, what=what, note=note)
    needed = None if size_bytes is None else needed_for(size_bytes)
    try:
        yield
    except DiskFullError as exc:
        if not _inside(exc.folder, folder):
            raise
        known = max(filter(None, (exc.needed_bytes, needed)), default=None)
        raise disk_full_error(folder, known, what=what, note=note) from exc
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full_error(folder, needed, what=what, note=note) from exc


def _inside(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or a folder under it on the same file system (a folder
    mounted below ``outer`` is named as itself)."""
    try:
        within = Path(inner).resolve().is_relative_to(Path(outer).resolve())
    except OSError:
        return False
    return within and same_disk(inner, outer)
