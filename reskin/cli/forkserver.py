"""The fork server: the command line imported once, a copy of it forked for each ``reskin edit``.

The reskin runner starts it (``python -m reskin.cli.forkserver <server folder>``, in a session
of its own, its output in ``runner.log``) and holds its stdin open: when the runner ends, the
fork server stops taking requests and exits once its copies have. It imports what ``reskin
edit`` imports on its way to the runner (typer, rich, pydantic, reskin's models, settings and
checks; never Prefect, and no thread runs), then listens on the abstract Unix socket of its
server folder (:func:`reskin.cli.forksocket.address`). The client's half, and the wire, are in
:mod:`reskin.cli.launch`.

For a request from a process of this user (``SO_PEERCRED``) whose Python started as this one
did (:func:`reskin.cli.forksocket.identity`), it forks. The copy takes the client's stdin, stdout
and stderr, working folder, environment, umask and ``sys.argv``, opens its standard streams
as the client's interpreter would have, makes its consoles again for that terminal and
environment, and runs ``reskin.cli.app.main``; its exit status goes back to the client. The
settings are read in the copy from the client's environment (and its ``.env``), so what runs,
and where (the runner, or the copy itself), is what the client would have chosen. The parent
stays one thread (a fork copies only the thread that forks), waits on each copy through a
pidfd, passes on the signals the client sends, and kills a copy whose client went away.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from reskin.cli.forksocket import MAX_LINE, address, identity, peer
from reskin.cli.wire import NEWLINE, send

#: Seconds a client has to send its request once connected.
REQUEST_TIMEOUT_S = 2.0


class _Probe(Exception):
    """A connection that sent nothing: :func:`reskin.cli.forksocket.serving` asking."""


@dataclass(frozen=True)
class Job:
    """What a copy runs: the client's command line and surroundings, and its descriptors."""

    request: dict[str, Any]
    fds: list[int]


@dataclass
class Copy:
    pid: int
    pidfd: int
    conn: socket.socket
    pending: bytes = b""


@dataclass
class Server:
    """The parent's state: the listening socket, the copies, what a copy must close."""

    listener: socket.socket
    stop_fd: int
    expected: dict[str, Any]
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    copies: dict[int, Copy] = field(default_factory=dict)  # by pid
    stopping: bool = False

    def serve(self) -> Job | None:
        """Answer requests until stopped and every copy has ended (None); in a copy, return
        its :class:`Job`."""
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.selector.register(self.stop_fd, selectors.EVENT_READ, self._stop)
        # Stopped, it waits for its copies however long their commands take: an edit a copy
        # runs itself (the runner would not) is not cut short by the runner's end.
        while not (self.stopping and not self.copies):
            for key, _ in self.selector.select(timeout=1.0):
                handler: Callable[[], Job | None] = key.data
                job = handler()
                if job is not None:
                    return job
        return None

    def _stop(self) -> None:
        with contextlib.suppress(OSError):
            if os.read(self.stop_fd, 4096):
                return  # only the end of the runner's pipe stops it
        self.stopping = True
        self.selector.unregister(self.stop_fd)
        self.selector.unregister(self.listener)
        self.listener.close()

    def _accept(self) -> Job | None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return None
        fds: list[int] = []
        try:
            conn.settimeout(REQUEST_TIMEOUT_S)
            client, uid = peer(conn)
            if uid != os.getuid():
                _say(f"refused pid {client}: another user's (uid {uid})")
                conn.close()
                return None
            request, fds = _receive(conn)
            refusal = _refusal(request, fds, self.expected)
            if refusal is not None:
                self._refuse(conn, fds, client, refusal)
                return None
        except _Probe:
            conn.close()
            return None
        except (OSError, ValueError, TypeError) as exc:
            _say(f"a request not read: {exc}")
            conn.close()
            _close_all(fds)
            return None
        try:
            pid = os.fork()
        except OSError as exc:  # no memory, no process left: the client runs it itself
            self._refuse(conn, fds, client, f"cannot fork ({exc})")
            return None
        if pid == 0:
            self._leave_to_copy(conn)
            return Job(request, fds)
        _close_all(fds)  # the copy holds them: a pipe of the client's ends when it ends
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as exc:  # it cannot be waited for here: it runs no further
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self._refuse(conn, [], client, f"cannot wait for a copy ({exc})")
            return None
        _say(f"copy {pid} runs `reskin {' '.join(request['argv'][1:2])}` for pid {client}")
        copy = Copy(pid, pidfd, conn)
        self.copies[pid] = copy
        conn.setblocking(False)
        self.selector.register(copy.pidfd, selectors.EVENT_READ, lambda: self._ended(copy))
        self.selector.register(conn, selectors.EVENT_READ, lambda: self._heard(copy))
        with contextlib.suppress(OSError):
            send(conn, {"pid": pid})
        return None

    def _refuse(self, conn: socket.socket, fds: list[int], client: int, why: str) -> None:
        _say(f"refused pid {client}: {why}; it runs the command itself")
        with contextlib.suppress(OSError):
            send(conn, {"refused": why})
        conn.close()
        _close_all(fds)

    def _leave_to_copy(self, conn: socket.socket) -> None:
        """In the copy: close what belongs to the parent (its socket, its other clients)."""
        self.selector.close()
        self.listener.close()
        with contextlib.suppress(OSError):
            os.close(self.stop_fd)
        for copy in self.copies.values():
            copy.conn.close()
            with contextlib.suppress(OSError):
                os.close(copy.pidfd)
        conn.close()

    def _ended(self, copy: Copy) -> None:
        _, status = os.waitpid(copy.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:  # killed by a signal: as a shell says it
            code = 128 - code
        self._forget(copy)
        with contextlib.suppress(OSError):
            copy.conn.setblocking(True)
            copy.conn.settimeout(REQUEST_TIMEOUT_S)
            send(copy.conn, {"exit": code})
        copy.conn.close()

    def _heard(self, copy: Copy) -> None:
        try:
            chunk = copy.conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away (killed): so does its copy
            self.selector.unregister(copy.conn)
            with contextlib.suppress(OSError):
                os.kill(copy.pid, signal.SIGKILL)
            return
        copy.pending += chunk
        while NEWLINE in copy.pending:
            line, copy.pending = copy.pending.split(NEWLINE, 1)
            with contextlib.suppress(ValueError, TypeError, KeyError, OSError):
                signum = int(json.loads(line)["signal"])
                if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    os.kill(copy.pid, signum)
        if len(copy.pending) > MAX_LINE:
            copy.pending = b""

    def _forget(self, copy: Copy) -> None:
        self.copies.pop(copy.pid, None)
        self.selector.unregister(copy.pidfd)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(copy.conn)
        os.close(copy.pidfd)


def _say(line: str) -> None:
    """One line of the fork server's own in its log (``runner.log``): never a request's
    arguments beyond the command's name, nor its environment (the key is in it)."""
    print(f"reskin fork server: {line}", file=sys.stderr, flush=True)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The request line and the descriptors that came with it."""
    data, fds, _, _ = socket.recv_fds(conn, MAX_LINE, 3)
    if not data and not fds:
        raise _Probe  # connected and gone: asked only whether one serves (forksocket.serving)
    while NEWLINE not in data:
        more = conn.recv(MAX_LINE)
        if not more:
            raise ValueError("the request ended early")
        data += more
        if len(data) > MAX_LINE:
            raise ValueError("the request is too long")
    request = json.loads(data.split(NEWLINE, 1)[0])
    if not isinstance(request, dict):
        raise TypeError("the request is not an object")
    return request, list(fds)


def _refusal(request: dict[str, Any], fds: list[int], expected: dict[str, Any]) -> str | None:
    if len(fds) != 3:
        return "stdin, stdout and stderr are needed"
    if request.get("identity") != expected:
        return "another Python, or one started otherwise (limits, groups, priority, cgroup)"
    for name, kind in (("argv", list), ("env", dict), ("cwd", str), ("umask", int)):
        if not isinstance(request.get(name), kind):
            return f"no {name}"
    return None


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


# --- in the copy -------------------------------------------------------------------------------


def become(job: Job) -> None:
    """Turn this copy into the client's ``reskin`` process, then run its command line."""
    request = job.request
    for target, fd in enumerate(job.fds):
        os.dup2(fd, target)
    _close_all([fd for fd in job.fds if fd > 2])
    os.chdir(request["cwd"])
    os.umask(int(request["umask"]))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    time.tzset()  # the client's TZ for the log lines' times
    sys.argv = [str(arg) for arg in request["argv"]]
    package = request.get("main_package")
    sys.modules["__main__"].__package__ = package if isinstance(package, str) else None
    if sys.path:
        sys.path[0] = str(request.get("path0", sys.path[0]))
    _reopen_streams(request.get("streams") or [])
    # As a new interpreter has them (the parent ignored nothing, but be sure).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    from reskin.cli.console import reopen_consoles

    reopen_consoles()  # rich chose colours and width for the parent's stderr: choose again
    from reskin.cli.app import main as run

    run()


def _reopen_streams(streams: list[dict[str, str | None]]) -> None:
    """stdin, stdout and stderr over the client's descriptors, buffered as the client's
    interpreter would buffer them (line by line on a terminal; stderr always)."""

    def shape(fd: int) -> dict[str, str | None]:
        return streams[fd] if fd < len(streams) else {}

    def text(fd: int, mode: Literal["r", "w"]) -> TextIO:
        return open(
            fd,
            mode,
            encoding=shape(fd).get("encoding") or "utf-8",
            errors=shape(fd).get("errors") or ("backslashreplace" if fd == 2 else "strict"),
            closefd=False,
            buffering=1 if (fd == 2 or os.isatty(fd)) else -1,
        )

    sys.stdin, sys.stdout, sys.stderr = text(0, "r"), text(1, "w"), text(2, "w")


def warm() -> None:
    """Import what ``reskin edit`` imports on its way to the runner; then freeze it out of
    every collection (reskin/cli/imports.py), in the parent and so in every copy."""
    from reskin.cli.imports import uncollected

    with uncollected():
        import reskin.cli.app
        import reskin.cli.edit
        import reskin.cli.progress
        import reskin.cli.remote
        import reskin.cli.server
        import reskin.edit.approval
        import reskin.edit.preflight  # noqa: F401


def main() -> None:
    """``python -m reskin.cli.forkserver <server folder>``, as the runner starts it."""
    home = Path(sys.argv[1])
    expected = identity(os.environ)
    warm()
    if threading.active_count() > 1:  # a fork copies one thread: the others' locks stay taken
        _say("not started: a thread runs")
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address(home))
    except OSError as exc:  # another one serves this folder: that one answers
        _say(f"not started: {exc}")
        return
    listener.listen(64)
    listener.setblocking(False)
    _say(f"serves `reskin edit` for {home}")
    job = Server(listener, sys.stdin.fileno(), expected).serve()
    if job is None:
        return
    become(job)


if __name__ == "__main__":
    main()
