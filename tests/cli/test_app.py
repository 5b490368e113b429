"""The ``reskin`` command as a user runs it (a real process): ``doctor``, errors, exit codes.

``reskin edit`` and ``reskin demo`` have tests of their own (``test_edit.py``, ``test_demo.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys


def reskin(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "reskin", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


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
