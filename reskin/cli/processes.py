"""What ``/proc`` says of a process the reskin server's and runner's records name: alive, and
with which command line (a reused pid is not taken for ours); and this process's umask, which
the runner's and the fork server's clients send. Standard library only: the fork server's
client imports it before anything else."""

from __future__ import annotations

import os
import time
from pathlib import Path

# A process caught between exec's start and its new argv being set up reads an empty
# cmdline (the parent's Popen has already returned by then); under load this lasts
# milliseconds, so an empty one is read again this many times, this far apart, before it is
# believed (a kernel thread's stays empty).
EMPTY_REREADS = 5
EMPTY_REREAD_S = 0.02


def current_umask() -> int:
    """This process's umask (reading it means setting it: set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not; another
    user's process does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) not in ("Z", "X")  # a zombie has ended; only its parent has not noticed


def command_line(pid: int) -> list[bytes] | None:
    """The argv of process ``pid``; None when there is no ``/proc`` to ask or it is gone."""
    for _ in range(EMPTY_REREADS):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if raw:
            return raw.rstrip(b"\0").split(b"\0")
        time.sleep(EMPTY_REREAD_S)
    return []


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]
