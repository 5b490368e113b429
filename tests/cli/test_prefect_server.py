"""``reskin/cli/prefect_server.py``: Prefect's command with the garbage collector on a thread of
its own. The stall it is for, on plain ``sqlite3`` in a process of its own
(``tests/cli/gc_stall.py``): collected on the main thread, a cursor of a connection that waits
for the write lock keeps the lock's holder from ever giving it back (the control); collected
on the collector's thread, the waiting write gets the lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reskin.cli import prefect_server

REPO = Path(__file__).resolve().parents[2]


def stall(mode: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.cli.gc_stall", mode, str(tmp_path / "server.db")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    return done.stdout.strip()


def test_collected_on_the_event_loops_thread_the_waiting_write_runs_out_its_busy_timeout(
    tmp_path: Path,
) -> None:
    assert stall("main", tmp_path) == "locked"


def test_collected_on_the_collectors_thread_the_waiting_write_gets_the_lock(
    tmp_path: Path,
) -> None:
    assert stall("thread", tmp_path) == "inserted"


def test_it_is_prefects_own_command_line() -> None:
    done = subprocess.run(
        prefect_server.argv("version"), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Version:")
    assert prefect_server.argv("server", "start")[1:] == [
        "-m",
        "reskin.cli.prefect_server",
        "server",
        "start",
    ]


FREEZES = """
import gc, threading, time
from reskin.cli import prefect_server
gc.disable()
before = gc.get_freeze_count()
threading.Thread(target=prefect_server.collect_forever, args=(0.0005,), daemon=True).start()
deadline = time.monotonic() + 30
while gc.get_freeze_count() == before and time.monotonic() < deadline:
    time.sleep(0.01)
print(before, gc.get_freeze_count(), gc.isenabled())
"""


def test_the_collector_freezes_what_the_started_server_holds() -> None:
    # In a process of its own: the collector thread never ends.
    done = subprocess.run(
        [sys.executable, "-c", FREEZES], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    before, after, enabled = done.stdout.split()
    assert int(after) > int(before)
    assert enabled == "False"  # the collector's thread still does all the collecting
