"""Write a file so its path never holds half of it: render beside it, check, then rename.

Every file reskin hands on (a conformed clip, the final video) is made under a hidden temporary
name in the destination's own folder (same file system, so the rename is atomic), checked, and
only then moved over the destination with :func:`os.replace`. A failure at any point (ffmpeg,
the check, an interrupt) deletes the temporary file: the destination then holds what it held
before, usually nothing, and never a file that a reader could take for finished. A full disk
there is a :class:`~reskin.errors.DiskFullError` naming the destination's folder
(:func:`reskin.space.writing`), with the temporary file removed all the same.

The file's mode follows the process's umask, as a file ``cp`` or ffmpeg makes does (0644 under
umask 022, 0600 under 077): the temporary file is made with 0666 less the umask, ffmpeg writes
into it without changing its mode, and the rename keeps it. What must stay private stays so by
its folder (a job folder is 0700, :mod:`reskin.media.intake`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from reskin.space import writing


@contextlib.contextmanager
def atomic_output(destination: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; move it there when the block ends without
    an exception, delete it when the block raises.

    The temporary name is fixed for each destination (``.<stem>.part<suffix>``): a run killed
    mid-write (SIGKILL skips every cleanup) leaves one partial, which the rerun then replaces
    instead of leaving a random-named file of hundreds of MB forever. Its suffix is the
    destination's, which matters only to tools that guess a format from the name: reskin's
    commands always name the format. Two runs writing one destination at once are not
    supported; the later rename wins.
    """
    destination = Path(destination)
    partial = destination.with_name(f".{destination.stem}.part{destination.suffix}")
    with writing(destination.parent):
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        partial.touch(mode=0o666)  # less the umask, as open() makes any file
        try:
            yield partial
            partial.replace(destination)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` hold ``source``'s bytes: a hard link (instant, no space) when both sit on
    one file system, else a copy. ``target`` is replaced if it exists."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        # Another file system, or one without hard links: copy the bytes instead.
        shutil.copyfile(source, target)
