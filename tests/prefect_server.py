"""A real ``prefect server start`` for tests: a free loopback port, a Prefect home of its own.

::

    server = start_prefect_server(tmp / "prefect-server")
    try:
        ...  # run `reskin edit` with PREFECT_API_URL=server.api_url, query server.api_url
    finally:
        server.stop()

Against a running server a CLI flow run costs about 3 s instead of the embedded server's 10 to
20 s, so one server per session carries the CLI tests. The server runs in a process group of
its own (``start_new_session``), and :meth:`PrefectServer.stop` signals that group by its id:
whatever the server spawned goes with it, and nothing else is touched. An ``atexit`` hook does
the same if the session ends without calling ``stop``.

:meth:`PrefectServer.restart` stops the server and starts it again on the same port, home and
database, as an operator's restart does: what it keeps in memory (concurrency leases) is gone,
what it keeps in its database (runs, limits and their active slots) stays.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reskin.cli import prefect_server

#: ``prefect server start`` was healthy in about 10 s on our 2-core machines (cold database).
START_TIMEOUT_S = 120.0
_STOP_GRACE_S = 10.0
_PORT_ATTEMPTS = 3


class PastBusy(httpx.BaseTransport):
    """A 503 asked again, a few times, as Prefect's own client does: on SQLite it is a write
    that met another (a rolled-back transaction, nothing done), and the tests' own requests (a
    flow run made through the REST API, as the UI's form does) meet the runs' writes too."""

    PAUSES_S = (0.2, 0.5, 1.0, 2.0, 4.0)

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for pause in self.PAUSES_S:
            response = self._inner.handle_request(request)
            if response.status_code != 503:
                return response
            response.close()
            time.sleep(pause)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@dataclass
class PrefectServer:
    """A running Prefect server and where it keeps its state."""

    home: Path
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    #: What ``start_prefect_server(env=...)`` added to the server's environment.
    env: Mapping[str, str] = field(default_factory=dict)
    _stopped: bool = field(default=False, repr=False)
    _starts: int = field(default=1, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    def client(self, *, timeout_s: float = 30.0) -> httpx.Client:
        """A client of the server's REST API (paths relative to ``/api``); a 503 is asked
        again (:class:`PastBusy`)."""
        return httpx.Client(base_url=self.api_url, timeout=timeout_s, transport=PastBusy())

    def filter(self, kind: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``POST /api/<kind>/filter`` (flow_runs, task_runs, artifacts, logs): its rows."""
        with self.client() as http:
            response = http.post(f"/{kind}/filter", json=dict(body))
            response.raise_for_status()
            rows: list[dict[str, Any]] = response.json()
            return rows

    def flow_runs_named(self, fragment: str) -> list[dict[str, Any]]:
        """The flow runs whose name contains ``fragment``."""
        return self.filter("flow_runs", {"flow_runs": {"name": {"like_": fragment}}})

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after a grace period; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        stop_group(self.process, _STOP_GRACE_S)

    def restart(self, *, timeout_s: float = START_TIMEOUT_S) -> None:
        """Stop the server and start it again on the same port, home (database) and settings;
        return once ``/api/health`` answers, raise with its log when it does not."""
        self.stop()
        self._starts += 1
        self.log_path = self.home / f"server-restart-{self._starts}.log"
        self.process = _launch(self.home, self.host, self.port, self.env, self.log_path)
        self._stopped = False
        if not _wait_healthy(self, timeout_s):
            self.stop()
            raise RuntimeError(f"prefect server did not come back healthy:\n{self.log_tail()}")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(home: Path) -> dict[str, str]:
    """The server's environment: this one without any Prefect setting, plus its own home."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # Plain log lines in the log file, no colour codes.
            "PREFECT_LOGGING_COLORS": "false",
        }
    )
    return env


def start_prefect_server(
    home: Path,
    *,
    host: str = "127.0.0.1",
    timeout_s: float = START_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> PrefectServer:
    """Start ``prefect server start`` on a free port with ``home`` as its PREFECT_HOME and
    return once ``/api/health`` answers; raise with the server's log when it does not.

    ``env`` adds to the server's environment, e.g. ``PREFECT_API_DATABASE_CONNECTION_URL``.
    """
    home.mkdir(parents=True, exist_ok=True)
    extra = dict(env or {})
    failure = ""
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port(host)
        log_path = home / f"server-{attempt}.log"
        process = _launch(home, host, port, extra, log_path)
        server = PrefectServer(
            home=home, host=host, port=port, process=process, log_path=log_path, env=extra
        )
        atexit.register(server.stop)
        if _wait_healthy(server, timeout_s):
            return server
        server.stop()
        failure = server.log_tail()
        # Another process may have taken the port between free_port() and the bind: try again.
        if "address already in use" not in failure.lower():
            break
    raise RuntimeError(f"prefect server did not become healthy:\n{failure}")


def migrated_database() -> Path:
    """An empty Prefect database with every migration applied, made once per machine and
    Prefect version (under a lock: xdist workers ask at once) in the temporary folder.

    A new server copies it rather than migrating a database of its own: that is about 5 s of
    CPU per server start on two cores, and the suite starts several.
    """
    version = importlib.metadata.version("prefect")
    folder = Path(tempfile.gettempdir()) / f"reskin-prefect-db-{version}"
    database = folder / "prefect.db"
    folder.mkdir(exist_ok=True)
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not database.exists():
            building = folder / "building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            prefect = Path(sys.executable).with_name("prefect")
            subprocess.run(
                [str(prefect), "server", "database", "upgrade", "-y"],
                env=server_env(building),
                capture_output=True,
                check=True,
                timeout=300,
            )
            (building / "prefect.db").rename(database)
            shutil.rmtree(building, ignore_errors=True)
    return database


def _launch(
    home: Path, host: str, port: int, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """``prefect server start`` in a process group of its own, its output in ``log_path``."""
    own = home / "prefect.db"
    if "PREFECT_API_DATABASE_CONNECTION_URL" not in env and not own.exists():
        shutil.copyfile(migrated_database(), own)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            # As reskin starts its servers: the garbage collector off the event loop's thread.
            prefect_server.argv("server", "start", "--host", host, "--port", str(port)),
            # Without it the UI is told its API is on the default port 4200, not this one.
            env={**server_env(home), "PREFECT_UI_API_URL": f"http://{host}:{port}/api", **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, so stop() can signal it whole
        )


def _wait_healthy(server: PrefectServer, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if http.get(f"{server.api_url}/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    return False


def log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a server's log, for a failure message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def stop_group(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM ``process``'s group (started with ``start_new_session``), SIGKILL it after
    ``grace_s``: the leader may be gone while something it spawned lingers in the group."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    # The group id is the server's pid (start_new_session): only its own processes are hit.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
