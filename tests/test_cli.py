"""The ``reskin`` command as a user runs it: a real process, real ffmpeg, the real stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reskin.media.probe import probe


def reskin(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "reskin", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_demo_edits_a_sample_clip_offline_and_keeps_its_sound(tmp_path: Path):
    done = reskin("demo", "--output-dir", str(tmp_path / "demo"), "--prompt", "sepia film")
    assert done.returncode == 0, done.stderr
    assert "done:" in done.stdout
    edited = tmp_path / "demo" / "edited.mp4"
    info = probe(edited)
    assert info.fps == 24
    assert info.has_audio
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    assert not list((tmp_path / "demo").glob("*.part"))


def test_doctor_names_the_ffmpeg_and_never_prints_the_key():
    done = reskin("doctor", env={"AIMLAPI_API_KEY": "sk-doctor-secret-123"})
    assert done.returncode == 0, done.stderr
    assert "ffmpeg" in done.stdout
    assert "api key          set" in done.stdout
    assert "sk-doctor-secret-123" not in done.stdout + done.stderr


def test_a_bad_setting_is_one_line_exit_1_no_traceback():
    done = reskin("doctor", env={"RESKIN_POLL_DEADLINE_S": "-5"})
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "RESKIN_POLL_DEADLINE_S" in done.stderr
    assert "Traceback" not in done.stderr


def test_usage_errors_exit_2():
    assert reskin("no-such-command").returncode == 2
