"""What /proc says of the processes the server's and runner's records name, read as the
records are read: right after the process was started, when its argv may not be set up yet."""

from __future__ import annotations

import subprocess
import sys
import time

from reskin.cli import processes
from reskin.cli.processes import alive, command_line

FRESH = 200  # unloaded, about 1 in 150 fresh processes is caught mid-exec by a single read


def _fresh_argvs() -> list[list[bytes] | None]:
    seen = []
    for _ in range(FRESH):
        process = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)", "prefect", "server"]
        )
        try:
            seen.append(command_line(process.pid))
        finally:
            process.kill()
            process.wait()
    return seen


def test_a_process_read_as_soon_as_it_is_started_shows_its_argv() -> None:
    seen = _fresh_argvs()
    assert all(argv is not None and b"server" in argv for argv in seen)


def test_a_gone_process_is_not_alive_and_has_no_argv() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not alive(process.pid)
    assert command_line(process.pid) is None


def test_a_zombie_is_not_alive_and_its_empty_argv_is_believed_after_the_rereads() -> None:
    # A zombie has no memory left, so its cmdline reads empty for good, as a kernel thread's.
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while processes._state(process.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not alive(process.pid)
        started = time.monotonic()
        assert command_line(process.pid) == []
        assert time.monotonic() - started >= processes.EMPTY_REREADS * processes.EMPTY_REREAD_S
    finally:
        process.wait()
