"""The ``reskin`` command's entry point: ``reskin edit`` in a warm process when there is one.

Importing the command line (typer, rich, pydantic and reskin's models) takes about 0.3 s of a
new Python process, most of an edit's time outside its stages once the runner runs it
(``docs/bench.md``, the command line). ``reskin server start`` therefore also starts the fork
server (:mod:`reskin.cli.forkserver`): a process with the command line imported, which forks
a copy of itself for each ``reskin edit``. This module is the client's half and imports only
the standard library. It sends the command line, the working folder, the environment, the
umask and its stdin, stdout and stderr (as file descriptors: the copy writes to this terminal
and reads its answers from it), then waits for the copy's exit status and exits with it. The
copy runs ``reskin.cli.app.main`` as this process would have, only already imported: same
checks, words, progress display, prompts, ``--json`` and exit codes.

Ctrl-C, ``SIGTERM`` and ``SIGHUP`` sent to this process are passed on to the copy (which is
not in this terminal's process group); if this process is killed, the fork server kills the
copy. Anything else runs here, as before: another command, no fork server (not started, or
started for another work folder, ``RESKIN_WORK_DIR``), one of another user (its peer
credentials are checked on both sides), or a process started otherwise (interpreter,
``sys.path``, flags, ``PYTHON*`` variables, locale, groups, resource limits, priority, cgroups:
:func:`reskin.cli.forksocket.identity`, compared by the fork server).

The wire: a Unix socket in the abstract namespace named after the work folder
(:func:`reskin.cli.forksocket.address`), JSON one object a line (reskin/cli/wire.py); the
request carries the descriptors (``SCM_RIGHTS``). Answers: ``{"pid"}`` (the copy runs), later
``{"exit"}``; or ``{"refused"}`` (run here). The client sends ``{"signal"}`` for each signal
it passes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from reskin.cli.forksocket import FOLDER, MAX_LINE, address, identity, peer
from reskin.cli.processes import current_umask
from reskin.cli.wire import NEWLINE, lines, send

#: The commands a fork server runs: the one whose start-up time counts.
FORKED = frozenset({"edit"})
#: Seconds to connect and hear whether the fork server runs the command.
ANSWER_TIMEOUT_S = 2.0
#: The signals passed on to the copy.
PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main() -> None:
    """``reskin``: the command in a fork server's copy, or here."""
    code = forward(sys.argv)
    if code is not None:
        sys.exit(code)
    from reskin.cli.imports import uncollected

    with uncollected():  # typer, rich, pydantic and the settings: see reskin/cli/imports.py
        from reskin.cli.app import main as run

    run()


def work_dir(environ: Mapping[str, str]) -> Path:
    """The work folder as the settings default it (``RESKIN_WORK_DIR``, else
    ``~/.cache/reskin``), without importing them; a ``.env`` file is not read here (a copy
    reads it, so a work folder set there only means this process finds no fork server)."""
    named = environ.get("RESKIN_WORK_DIR")
    return Path(named) if named else Path.home() / ".cache" / "reskin"


def streams() -> list[dict[str, str | None]]:
    """How this process would write and read its stdin, stdout and stderr."""
    return [
        {
            "encoding": getattr(stream, "encoding", None),
            "errors": getattr(stream, "errors", None),
        }
        for stream in (sys.stdin, sys.stdout, sys.stderr)
    ]


def forward(argv: Sequence[str]) -> int | None:
    """Run ``argv`` in a copy of this work folder's fork server: its exit status, or None
    when it is to run here (:mod:`module docstring <reskin.cli.launch>`)."""
    if len(argv) < 2 or argv[1] not in FORKED or not hasattr(socket, "SO_PEERCRED"):
        return None
    environ = dict(os.environ)
    home = work_dir(environ) / FOLDER
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    caught: list[int] = []

    def pass_on(signum: int, frame: object) -> None:
        caught.append(signum)
        with contextlib.suppress(OSError):
            send(sock, {"signal": signum})

    before = {signum: signal.signal(signum, pass_on) for signum in PASSED_ON}
    try:
        code = _run(sock, argv, environ, home)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        sock.close()
    if code is None and caught:  # a signal before any copy ran: end as it would have ended us
        return 128 + caught[0]
    return code


def _run(
    sock: socket.socket, argv: Sequence[str], environ: Mapping[str, str], home: Path
) -> int | None:
    try:
        sock.settimeout(ANSWER_TIMEOUT_S)
        sock.connect(address(home))
        if peer(sock)[1] != os.getuid():
            return None  # another user's: never given this terminal or environment
        request = {
            "argv": list(argv),
            "path0": sys.path[0] if sys.path else "",
            # How click names the program in its usage lines ("python -m reskin", "reskin").
            "main_package": getattr(sys.modules.get("__main__"), "__package__", None),
            "cwd": str(Path.cwd()),
            "env": dict(environ),
            "umask": current_umask(),
            "streams": streams(),
            "identity": identity(environ),
        }
        socket.send_fds(sock, [json.dumps(request).encode() + NEWLINE], [0, 1, 2])
        answers = lines(sock, MAX_LINE)
        first = next(answers, None)
        if first is None or "pid" not in first:
            return None  # refused, or gone before it ran anything: run here
        sock.settimeout(None)
    except (OSError, ValueError):
        return None  # none runs, or it went away before the copy ran: run here
    try:
        for answer in answers:
            if "exit" in answer:
                return int(answer["exit"])
    except (OSError, ValueError):
        pass
    print("error: the reskin command ended without an exit status", file=sys.stderr)
    return 1
