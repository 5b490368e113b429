"""Real ``reskin edit`` processes for the tests that kill, interrupt or cancel them: the command,
a start in a process group of its own (so a signal reaches its ffmpeg children too, as a crash of
its machine would), waits on a condition, and the journal read from outside."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

#: Seconds a test waits for a condition of a run it started before it fails.
WAIT_S = 60.0


def journal_entry(work_dir: Path) -> tuple[str, str | None] | None:
    """(state, generation_id) of the one submission in the journal, read-only; None before the
    run wrote one."""
    path = work_dir / "journal.sqlite3"
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT state, generation_id FROM submissions").fetchall()
    except sqlite3.OperationalError:  # created, table not yet there
        return None
    assert len(rows) <= 1, rows
    return (rows[0][0], rows[0][1]) if rows else None


def wait_until(
    condition: Callable[[], bool],
    process: subprocess.Popen[bytes],
    stderr: Path,
    what: str,
    *,
    wait_s: float = WAIT_S,
) -> None:
    """Return once ``condition()`` holds; fail with the run's stderr if the run ends first or
    ``wait_s`` passes."""
    deadline = time.monotonic() + wait_s
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"the run ended ({process.returncode}) before {what}:\n{stderr.read_text()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {wait_s:.0f} s:\n{stderr.read_text()}")
        time.sleep(0.05)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # its own group: start_new_session=True
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def edit_command(clip: Path, output: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "reskin",
        "edit",
        str(clip),
        "--prompt",
        "sepia film",
        "--output",
        str(output),
        "--json",
    ]


def rerun(command: list[str], env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=180, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def start(command: list[str], env: dict[str, str], stderr: Path) -> subprocess.Popen[bytes]:
    """``command`` in a process group of its own, its stderr in the file ``stderr``."""
    with stderr.open("wb") as err:
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )


def end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the group of a process a test started, if it still runs (a failed test)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
