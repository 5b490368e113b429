"""The one ffmpeg runner: results, typed failures, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reskin.errors import DiskFullError, FFmpegError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import synthetic_clip_command
from reskin.media.runner import STDERR_TAIL_CHARS, run, written_folder
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)


def test_a_successful_run_returns_its_output(ffmpeg_tools: FFmpegTools) -> None:
    result = run([ffmpeg_tools.ffmpeg, "-hide_banner", "-version"], timeout_s=30)

    assert result.returncode == 0
    assert result.stdout_text.startswith("ffmpeg version")
    assert result.argv[0] == str(ffmpeg_tools.ffmpeg)
    assert result.elapsed_s > 0


def test_a_failing_run_raises_with_argv_code_and_stderr(
    ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    argv: list[str | Path] = [ffmpeg_tools.ffmpeg, "-nostdin", "-i", tmp_path / "missing.mp4"]
    argv += ["-f", "null", "-"]

    with pytest.raises(FFmpegError) as caught:
        run(argv, timeout_s=30)

    error = caught.value
    assert error.returncode not in (0, None)
    assert error.argv == [str(part) for part in argv]
    assert "No such file" in error.stderr_tail
    assert "exit code" in str(error)
    assert "\n" not in str(error)


def test_a_run_past_its_timeout_is_killed(ffmpeg_tools: FFmpegTools) -> None:
    # -re reads the endless test source at its real rate: this would run forever.
    argv: list[str | Path] = [ffmpeg_tools.ffmpeg, "-nostdin", "-re", "-f", "lavfi"]
    argv += ["-i", "testsrc2"]
    argv += ["-f", "null", "-"]
    started = time.monotonic()

    with pytest.raises(FFmpegError, match=r"ran longer than 0\.5 s") as caught:
        run(argv, timeout_s=0.5)

    assert caught.value.returncode is None
    assert time.monotonic() - started < 10


def test_a_binary_that_cannot_start_is_an_ffmpeg_error(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError, match="could not start") as caught:
        run([tmp_path / "no-ffmpeg-here", "-version"], timeout_s=5)

    assert caught.value.returncode is None


def test_stderr_is_cut_to_its_tail(ffmpeg_tools: FFmpegTools) -> None:
    argv: list[str | Path] = [ffmpeg_tools.ffmpeg, "-nostdin", "-loglevel", "debug", "-f", "lavfi"]
    argv += ["-i", "testsrc2=duration=0.2", "-f", "no_such_muxer", "-"]

    with pytest.raises(FFmpegError) as caught:
        run(argv, timeout_s=30)

    tail = caught.value.stderr_tail
    assert len(tail) == STDERR_TAIL_CHARS  # debug output is far longer than the cap
    assert "no_such_muxer" in tail  # and the cause, stated last, is kept


@pytest.mark.parametrize(
    ("argv", "folder"),
    [
        (["ffmpeg", "-i", "/in/a.mp4", "-f", "mp4", "/out/b.mp4"], Path("/out")),
        (["ffmpeg", "-i", "/in/a.mp4", "-f", "null", "-"], None),
        (["ffprobe", "-of", "json", "pipe:1"], None),
        (["ffmpeg"], None),
    ],
)
def test_the_written_folder_is_the_last_arguments(argv: list[str], folder: Path | None) -> None:
    assert written_folder(argv) == folder


def test_a_run_that_fills_the_disk_names_its_folder(
    ffmpeg_tools: FFmpegTools, small_disks: SmallDisks, tmp_path: Path
) -> None:
    disk = small_disks.mount(tmp_path / "disk", 64 * 1024)
    argv = synthetic_clip_command(ffmpeg_tools.ffmpeg, disk / "clip.mp4", duration_s=2.0)

    with pytest.raises(DiskFullError) as caught:
        run(argv, timeout_s=60)

    error = caught.value
    assert error.folder == disk
    assert (
        str(error) == f"no space left in {disk}: free some space there and rerun the same command"
    )
    failed = error.__cause__
    assert isinstance(failed, FFmpegError)  # argv and stderr kept for the debug log
    assert "No space left on device" in failed.stderr_tail
