"""The fork server's socket (reskin/cli/forkserver.py, reskin/cli/launch.py): where it is, who
is at the other end, and what a client's Python must share with the fork server's.

Kept apart from both ends: ``reskin server status`` asks whether one serves without importing
either, and the client imports nothing else of the command line before it knows.
"""

from __future__ import annotations

import hashlib
import os
import resource
import socket
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Environment variables a copy would not follow once its interpreter runs: these must match.
_STARTUP_PREFIXES = ("PYTHON", "LC_")
_STARTUP_NAMES = frozenset({"LANG", "LANGUAGE"})
#: The server's folder in the work folder (``reskin server``'s, the runner's, the fork
#: server's): named here, where the fork server's client finds it without the settings.
FOLDER = "prefect-server"
#: The longest line on the fork server's socket (the request: the environment, mostly).
MAX_LINE = 1 << 20


def address(home: Path) -> bytes:
    """The fork server's socket for a server folder: abstract (no file, no length limit from
    the folder's path), named after the folder, so each work folder has its own."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:32]
    return b"\0reskin-cli-" + digest.encode()


def identity(environ: Mapping[str, str]) -> dict[str, Any]:
    """What a copy of the fork server shares with this process only if they started alike:
    the Python (interpreter, ``sys.path`` but its first entry, flags, options, the variables it
    reads as it starts) and what the process runs under that a copy cannot take over (its
    group and supplementary groups, resource limits, priority, cgroups). Plain JSON values: the
    client's arrive as JSON and are compared with the fork server's own."""
    startup = {
        name: value
        for name, value in environ.items()
        if name.startswith(_STARTUP_PREFIXES) or name in _STARTUP_NAMES
    }
    import reskin

    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "package": str(Path(reskin.__file__).resolve().parent),
        "path": sys.path[1:],
        "flags": list(sys.flags),
        "xoptions": {str(k): str(v) for k, v in sys._xoptions.items()},
        "warnoptions": list(sys.warnoptions),
        "startup": startup,
        "gid": os.getgid(),
        "groups": sorted(os.getgroups()),
        "limits": {
            name: list(resource.getrlimit(getattr(resource, name)))
            for name in sorted(dir(resource))
            if name.startswith("RLIMIT_")
        },
        "priority": os.getpriority(os.PRIO_PROCESS, 0),
        "cgroup": _cgroup(),
    }


def _cgroup() -> str:
    try:
        return Path("/proc/self/cgroup").read_text()
    except OSError:
        return ""


def peer(sock: socket.socket) -> tuple[int, int]:
    """The process id and user id at the other end (Linux's ``SO_PEERCRED``)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", creds)
    return int(pid), int(uid)


def serving(home: Path) -> int | None:
    """The pid of the fork server that serves ``home`` (its socket's peer), if one runs."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(address(home))
        return peer(probe)[0]
    except OSError:
        return None
    finally:
        probe.close()
