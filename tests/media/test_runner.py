"""The one ffmpeg runner: results, typed failures, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reskin.errors import DiskFullError, FFmpegError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import synthetic_clip_command
from reskin.media.runner import STDERR_TAIL_CHARS, run, run_lines, written_folder
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


# --- run_lines: output read as it comes ------------------------------------------------------


def _sh(script: str) -> list[str | Path]:
    return ["/bin/sh", "-c", script]


def test_run_lines_hands_over_lines_before_the_process_ends() -> None:
    # exec: the shell becomes the sleep, so the killed process is the one holding the pipe.
    started = time.monotonic()

    with run_lines(_sh("printf 'one\\ntwo\\r\\n'; exec sleep 60"), timeout_s=60) as lines:
        assert [next(lines), next(lines)] == ["one", "two"]
    # Leaving the block before the last line killed it.

    assert time.monotonic() - started < 30


def test_run_lines_raises_after_the_last_line_of_a_failing_run() -> None:
    read: list[str] = []

    with (
        run_lines(_sh("echo one; echo 'it broke' >&2; exit 3"), timeout_s=30) as lines,
        pytest.raises(FFmpegError, match="failed with exit code 3: it broke") as caught,
    ):
        read.extend(lines)

    assert read == ["one"]
    assert caught.value.returncode == 3
    assert caught.value.stderr_tail == "it broke\n"
    assert caught.value.argv[0] == "/bin/sh"


def test_run_lines_past_its_timeout_is_killed() -> None:
    started = time.monotonic()

    with (
        run_lines(_sh("echo one; exec sleep 60"), timeout_s=0.5) as lines,
        pytest.raises(FFmpegError, match=r"sh ran longer than 0\.5 s") as caught,
    ):
        list(lines)

    assert caught.value.returncode is None
    assert time.monotonic() - started < 30


def test_run_lines_of_a_binary_that_cannot_start(tmp_path: Path) -> None:
    with (
        pytest.raises(FFmpegError, match="could not start") as caught,
        run_lines([tmp_path / "no-ffprobe-here"], timeout_s=5),
    ):
        pass

    assert caught.value.returncode is None


def test_run_lines_keeps_the_tail_of_a_long_stderr() -> None:
    script = "i=0; while [ $i -lt 3000 ]; do echo 'noise noise' >&2; i=$((i+1)); done; "
    script += "echo 'the cause' >&2; exit 1"

    with run_lines(_sh(script), timeout_s=30) as lines, pytest.raises(FFmpegError) as caught:
        list(lines)

    assert len(caught.value.stderr_tail) == STDERR_TAIL_CHARS
    assert caught.value.stderr_tail.endswith("the cause\n")
