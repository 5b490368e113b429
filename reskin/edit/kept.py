"""A remote input downloaded for ``reskin edit``'s question, kept for the run's ``take_in``.

Over ``RESKIN_APPROVE_ABOVE_CREDITS`` the command line estimates an edit before it runs
(reskin/edit/approval.py): a URL or ``s3://`` input has to be downloaded for that (its length,
its scenes, its content's hash for the journal). Without this the run then downloaded it
again: twice the transfer, and what ran might not be what was approved if the file changed in
between. The estimate leaves its copy in ``<work_dir>/downloads`` under a name made from the
location; the run's ``take_in`` (reskin/edit/source.py) takes it from there (a rename, in the
work folder's own file system) instead of downloading, once, and only within
:data:`KEPT_S` of the download. The location is checked as ever (reskin/access) before a kept
copy is used. A question answered no (or not asked: no terminal) removes the copy; one left
anyway (the process killed) is pruned by the next estimate once too old.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

FOLDER = "downloads"
#: Seconds a kept copy waits for its run: the question's answer and the run's start.
KEPT_S = 3600.0


def kept_path(work_dir: Path, location: str) -> Path:
    """Where the copy of ``location`` waits (named by a hash: no URL, no credentials in it)."""
    digest = hashlib.sha256(location.encode()).hexdigest()[:32]
    return work_dir / FOLDER / f"{digest}.input"


def keep(
    work_dir: Path, location: str, copy: Path, *, clock: Callable[[], float] = time.time
) -> None:
    """Move ``copy`` (``location``'s content, as the estimate took it in) where the run finds
    it; copies older than :data:`KEPT_S` are removed on the way."""
    kept = kept_path(work_dir, location)
    kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in kept.parent.glob("*.input"):
        with contextlib.suppress(OSError):
            if clock() - old.stat().st_mtime > KEPT_S:
                old.unlink()
    copy.replace(kept)


def take_kept(
    work_dir: Path, location: str, dest: Path, *, clock: Callable[[], float] = time.time
) -> bool:
    """Move the kept copy of ``location`` to ``dest`` if there is one younger than
    :data:`KEPT_S`; False when there is none (another run took it, or it is too old: removed)."""
    kept = kept_path(work_dir, location)
    try:
        if clock() - kept.stat().st_mtime > KEPT_S:
            kept.unlink()
            return False
        kept.replace(dest)
    except OSError:  # gone (another run took it), or not movable: downloaded as ever
        return False
    return True


def discard(work_dir: Path, location: str) -> None:
    """Remove the kept copy of ``location``, if any: the edit was not approved."""
    kept_path(work_dir, location).unlink(missing_ok=True)
