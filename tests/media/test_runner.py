"""The one ffmpeg runner: results, typed failures, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reskin.errors import FFmpegError
from reskin.media.binaries import FFmpegTools
from reskin.media.runner import STDERR_TAIL_CHARS, run


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
