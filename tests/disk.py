"""Real full disks for the tests: small tmpfs mounts (root only), filled on purpose.

``small_disks.mount(folder, size_bytes)`` mounts a tmpfs of that size on ``folder`` (made if
missing) and returns it; ``resize`` remounts it bigger or smaller, ``fill`` writes a filler file
until only ``leave_bytes`` are free and ``free_up`` removes the fillers. Every mount is
unmounted when the test ends. Without root, or where mounting is refused (a container without
``CAP_SYS_ADMIN``), the test is skipped with the reason.

Import the fixture into a test module (``from tests.disk import small_disks_fixture``: it is
named ``small_disks`` for the tests), as ``tests/conftest.py`` does for ``s3_server``.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

_CHUNK = 64 * 1024


class SmallDisks:
    """The tmpfs mounts of one test."""

    def __init__(self) -> None:
        self.mounted: list[Path] = []
        self._fillers: list[Path] = []

    def mount(self, folder: Path, size_bytes: int) -> Path:
        """A tmpfs of ``size_bytes`` (rounded to pages) on ``folder``; skips the test when
        mounting is not permitted here."""
        if os.geteuid() != 0:
            pytest.skip("a real full disk needs a tmpfs mount, and mounting needs root")
        folder.mkdir(parents=True, exist_ok=True)
        done = _mount("-t", "tmpfs", "-o", f"size={size_bytes},mode=0755", "tmpfs", str(folder))
        if done.returncode != 0:
            pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
        self.mounted.append(folder)
        return folder

    def resize(self, folder: Path, size_bytes: int) -> None:
        """Remount ``folder`` (one of this test's) with ``size_bytes``, keeping its files."""
        done = _mount("-o", f"remount,size={size_bytes}", str(folder))
        assert done.returncode == 0, done.stderr

    def read_only(self, folder: Path) -> None:
        """Remount ``folder`` (one of this test's) read-only: not writable even by root."""
        done = _mount("-o", "remount,ro", str(folder))
        assert done.returncode == 0, done.stderr

    def fill(self, folder: Path, leave_bytes: int = 0) -> Path:
        """Write a filler file into ``folder`` until at most ``leave_bytes`` are free."""
        filler = folder / f".filler-{len(self._fillers)}"
        self._fillers.append(filler)
        descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            while (left := shutil.disk_usage(folder).free - leave_bytes) > 0:
                try:
                    os.write(descriptor, bytes(min(left, _CHUNK)))
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        finally:
            os.close(descriptor)
        return filler

    def free_up(self) -> None:
        """Remove every filler :meth:`fill` wrote."""
        for filler in self._fillers:
            filler.unlink(missing_ok=True)
        self._fillers.clear()

    def unmount_all(self) -> None:
        for folder in reversed(self.mounted):
            # Lazily when busy (a process of the test still holds a file there).
            if _umount(str(folder)).returncode != 0:
                _umount("-l", str(folder))
        self.mounted.clear()


@pytest.fixture(name="small_disks")
def small_disks_fixture() -> Iterator[SmallDisks]:
    """This test's small tmpfs mounts, unmounted when it ends."""
    disks = SmallDisks()
    try:
        yield disks
    finally:
        disks.unmount_all()


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return _tool("mount", *args)


def _umount(*args: str) -> subprocess.CompletedProcess[str]:
    return _tool("umount", *args)


def _tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"no `{name}` command here to make a small disk with")
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=30, check=False)
