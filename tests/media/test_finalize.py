"""Atomic output: the destination holds the finished file or what it held before, never a part."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from reskin.errors import DiskFullError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import GLOBAL_ARGS
from reskin.media.finalize import atomic_output, link_or_copy
from reskin.media.runner import run
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)


def write_half_then_fail(destination: Path, error: BaseException) -> None:
    with atomic_output(destination) as partial:
        partial.write_bytes(b"half a fi")
        raise error


def test_the_file_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    destination = tmp_path / "out" / "final.mp4"

    with atomic_output(destination) as partial:
        partial.write_bytes(b"finished")
        assert not destination.exists()
        assert partial.parent == destination.parent
        assert partial.name.startswith(".final.")
        assert partial.suffix == ".mp4"

    assert destination.read_bytes() == b"finished"
    assert [path.name for path in destination.parent.iterdir()] == ["final.mp4"]


def test_a_failure_leaves_nothing_new_and_keeps_what_was_there(tmp_path: Path) -> None:
    destination = tmp_path / "final.mp4"
    destination.write_bytes(b"before")

    with pytest.raises(RuntimeError, match="render failed"):
        write_half_then_fail(destination, RuntimeError("render failed"))

    assert destination.read_bytes() == b"before"
    assert [path.name for path in tmp_path.iterdir()] == ["final.mp4"]


def test_an_interrupt_cleans_up_too(tmp_path: Path) -> None:
    destination = tmp_path / "final.mp4"

    with pytest.raises(KeyboardInterrupt):
        write_half_then_fail(destination, KeyboardInterrupt())

    assert list(tmp_path.iterdir()) == []


def test_link_or_copy_links_and_replaces(tmp_path: Path) -> None:
    source = tmp_path / "a.mp4"
    source.write_bytes(b"clip")
    target = tmp_path / "b.mp4"
    target.write_bytes(b"old")

    link_or_copy(source, target)

    assert target.samefile(source)
    assert target.read_bytes() == b"clip"


def test_a_full_disk_is_one_line_and_leaves_nothing(
    small_disks: SmallDisks, tmp_path: Path
) -> None:
    disk = small_disks.mount(tmp_path / "disk", 256 * 1024)
    source = tmp_path / "big.mp4"  # on another disk: copied, not linked
    source.write_bytes(bytes(1_000_000))
    destination = disk / "out" / "final.mp4"

    with pytest.raises(DiskFullError) as caught, atomic_output(destination) as partial:
        link_or_copy(source, partial)

    assert caught.value.folder == destination.parent
    assert str(caught.value).startswith(f"no space left in {destination.parent}: ")
    assert list(destination.parent.iterdir()) == []  # neither the file nor its partial


@contextlib.contextmanager
def umask_of(mask: int) -> Iterator[None]:
    """The process's umask set to ``mask`` for the block (a shell's ``umask``)."""
    saved = os.umask(mask)
    try:
        yield
    finally:
        os.umask(saved)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_an_output_follows_the_umask_as_ffmpeg_writes_it(
    umask: int, mode: int, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    """What a user gets (the edited video, its preview) is readable as their umask says, not
    0600 whatever it says; ffmpeg writes into the temporary file without changing its mode."""
    destination = tmp_path / "out" / "picture.png"
    with umask_of(umask), atomic_output(destination) as partial:
        argv: list[str | Path] = [
            ffmpeg_tools.ffmpeg,
            *GLOBAL_ARGS,
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=16x16",
        ]
        run([*argv, "-frames:v", "1", partial], timeout_s=60)

    assert destination.stat().st_size > 0
    assert stat.S_IMODE(destination.stat().st_mode) == mode
