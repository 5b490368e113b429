"""reskin.space: a full disk in one line, refused before writing where the size is known.

The translation is tested on the errors themselves; the pre-flight and the writes on real small
disks (tmpfs mounts: ``tests/disk.py``), skipped where mounting is not permitted.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from reskin.errors import DiskFullError
from reskin.space import (
    HEADROOM_BYTES,
    NOTHING_PAID,
    disk_full_error,
    ensure_room,
    existing_part,
    free_bytes,
    is_disk_full,
    needed_for,
    same_disk,
    says_disk_full,
    shown_size,
    writing,
)
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)

MB = 1_000_000


# --- the line -------------------------------------------------------------------------------


def test_the_line_names_the_folder_what_the_space_and_what_to_do(tmp_path: Path) -> None:
    error = disk_full_error(
        tmp_path / "out", 119_400_000, what="the final video", note=NOTHING_PAID
    )

    assert str(error) == (
        f"no space left in {tmp_path / 'out'} for the final video: free at least 120 MB there "
        "and rerun the same command (nothing was paid for yet)"
    )
    assert error.folder == tmp_path / "out"
    assert error.needed_bytes == 119_400_000


def test_without_a_size_the_line_still_says_what_to_do(tmp_path: Path) -> None:
    error = disk_full_error(tmp_path, None)

    assert (
        str(error)
        == f"no space left in {tmp_path}: free some space there and rerun the same command"
    )
    assert error.needed_bytes is None


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1, "1 MB"),
        (MB, "1 MB"),
        (MB + 1, "2 MB"),
        (2_345_678_901, "2346 MB"),
        (12_340_000_000, "12.4 GB"),
    ],
)
def test_sizes_are_rounded_up_to_what_is_enough(size: int, shown: str) -> None:
    assert shown_size(size) == shown


def test_a_write_needs_its_size_and_the_headroom() -> None:
    assert needed_for(5 * MB) == 5 * MB + HEADROOM_BYTES
    assert needed_for(-1) == HEADROOM_BYTES


# --- translation ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_enospc_and_edquot_are_a_full_disk(code: int) -> None:
    assert is_disk_full(OSError(code, os.strerror(code)))


@pytest.mark.parametrize(
    "error", [OSError(errno.EACCES, "Permission denied"), OSError("no errno"), ValueError("x")]
)
def test_other_errors_are_not(error: BaseException) -> None:
    assert not is_disk_full(error)


@pytest.mark.parametrize(
    "stderr",
    [
        "av_interleaved_write_frame(): No space left on device\nConversion failed!",
        "Error writing trailer of /x/out.mp4: Disk quota exceeded",
    ],
)
def test_ffmpeg_saying_so_is_a_full_disk(stderr: str) -> None:
    assert says_disk_full(stderr)


def test_ffmpeg_failing_otherwise_is_not() -> None:
    assert not says_disk_full("/x/in.mp4: No such file or directory")


def test_writing_turns_enospc_into_one_line_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DiskFullError) as caught, writing(tmp_path, what="the result"):
        raise OSError(errno.ENOSPC, "No space left on device")

    assert caught.value.folder == tmp_path
    assert str(caught.value).startswith(f"no space left in {tmp_path} for the result: ")
    assert isinstance(caught.value.__cause__, OSError)


def test_writing_lets_other_errors_through(tmp_path: Path) -> None:
    with pytest.raises(PermissionError), writing(tmp_path):
        raise PermissionError(errno.EACCES, "Permission denied")


def test_writing_names_its_folder_for_a_full_folder_under_it(tmp_path: Path) -> None:
    inner = tmp_path / "jobs" / "job-1"
    inner.mkdir(parents=True)

    with (
        pytest.raises(DiskFullError) as caught,
        writing(tmp_path, 3 * MB // 2, what="the conformed clip", note=NOTHING_PAID),
    ):
        raise disk_full_error(inner, None)

    assert caught.value.folder == tmp_path  # the work folder the user set, not the job's
    assert caught.value.needed_bytes == needed_for(3 * MB // 2)
    assert str(caught.value).endswith(NOTHING_PAID)
    assert "for the conformed clip: free at least 3 MB there" in str(caught.value)


def test_writing_keeps_the_line_of_another_folder(tmp_path: Path) -> None:
    journal = disk_full_error(tmp_path / "elsewhere", 5 * MB, what="the journal")

    with pytest.raises(DiskFullError) as caught, writing(tmp_path / "work", what="the result"):
        raise journal

    assert caught.value is journal


def test_a_folder_not_made_yet_is_measured_where_it_will_be(tmp_path: Path) -> None:
    later = tmp_path / "not" / "yet"

    assert existing_part(later) == tmp_path
    # The same disk, read twice: other processes of the suite write to it in between (CI saw
    # 4 kB apart), so the two readings agree to within a little, not to the byte.
    assert free_bytes(later) == pytest.approx(free_bytes(tmp_path), rel=0.01)
    assert same_disk(later, tmp_path)


# --- on real small disks --------------------------------------------------------------------


def test_a_write_that_cannot_fit_is_refused_before_it_starts(
    small_disks: SmallDisks, tmp_path: Path
) -> None:
    disk = small_disks.mount(tmp_path / "disk", 2 * MB)

    ensure_room(disk, 500_000)  # 1.5 MB of 2 free: fits
    with pytest.raises(DiskFullError) as caught:
        ensure_room(disk / "results", 1_500_000, what="the result")

    assert caught.value.folder == disk / "results"
    assert caught.value.needed_bytes == 2_500_000
    assert "for the result: free at least 3 MB there" in str(caught.value)
    assert list(disk.iterdir()) == []  # nothing was written, not even the folder


def write_into(folder: Path, target: Path, size: int) -> None:
    """Write ``size`` bytes to ``target`` as reskin's writers do: removed again on failure."""
    with writing(folder, what="the result"):
        try:
            with target.open("wb") as out:
                for _ in range(size // 65536):
                    out.write(bytes(65536))
        except BaseException:
            target.unlink(missing_ok=True)
            raise


def test_a_disk_that_fills_while_writing_ends_in_the_same_line(
    small_disks: SmallDisks, tmp_path: Path
) -> None:
    disk = small_disks.mount(tmp_path / "disk", 256 * 1024)
    target = disk / "big.bin"

    with pytest.raises(DiskFullError) as caught:
        write_into(disk, target, 4 * MB)

    assert caught.value.folder == disk
    assert "free some space there" in str(caught.value)
    assert not target.exists()


def test_needs_add_up_only_on_one_disk(small_disks: SmallDisks, tmp_path: Path) -> None:
    disk = small_disks.mount(tmp_path / "disk", MB)

    assert same_disk(disk / "a", disk / "b" / "c")
    assert not same_disk(disk, tmp_path)
