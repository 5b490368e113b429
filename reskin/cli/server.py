"""``reskin server start|stop|status``: one Prefect server in the background, for quick edits.

``reskin edit`` with no Prefect API configured runs Prefect's embedded server, which costs 6 to
12 s of every run before its first task. ``reskin server start`` starts ``prefect server start``
once, in the background, on ``127.0.0.1`` (``--port``, 4200 by default), and every later
``reskin edit`` with no ``PREFECT_API_URL`` of its own (environment or active Prefect profile)
runs against it instead, saying so in one line with the UI's address. Without it running,
``reskin edit`` goes on in embedded mode as before, with a line saying how to be quicker.

The server is never started on demand: a background process nobody asked for would outlive
the command (in CI, in a container, on a laptop), take a port and about 200 MB, and its first
start costs as much as the embedded server it saves. Starting it is one explicit command;
stopping it, another.

Everything of the server lives in ``<RESKIN_WORK_DIR>/prefect-server/``: its own
``PREFECT_HOME`` (its SQLite database of runs, separate from ``~/.prefect``), ``server.log``,
and ``server.json`` (its pid, host and port), which ``status``, ``stop`` and ``reskin edit``
read. Its telemetry is off (``PREFECT_SERVER_ANALYTICS_ENABLED=false``). It runs in a session
of its own, so ``stop`` signals its whole process group and nothing else.

Beside the server, ``start`` starts the reskin runner (``reskin/cli/runner.py``): one process
with Prefect and reskin imported that runs each ``reskin edit`` as a flow run on this server, so
an edit pays neither the interpreter, nor the imports, nor Prefect's start
(``reskin/cli/remote.py``: the client, its token and which settings it runs with). ``stop``
stops both, the runner first; ``status`` says how each is. With ``PREFECT_API_URL`` set (a
Prefect server of the user's own), ``start`` starts no server, only a runner whose flow runs go
there, and ``reskin edit`` aimed at that same API runs its edits in it (:func:`route_edit`).

This module imports neither Prefect nor httpx: ``reskin edit`` reads the state files and asks
``/api/health`` with the standard library, in milliseconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import os
import signal
import socket
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer

from reskin.cli import forksocket, remote
from reskin.cli.forksocket import serving
from reskin.cli.processes import alive, command_line
from reskin.cli.remote import Runner
from reskin.errors import ConfigError
from reskin.settings import Settings, load_settings

#: The server's folder under ``RESKIN_WORK_DIR``.
FOLDER = forksocket.FOLDER
STATE = "server.json"
LOG = "server.log"
HOST = "127.0.0.1"
DEFAULT_PORT = 4200
#: ``prefect server start`` was healthy in about 10 s on 2 cores (5 s on an existing database).
START_TIMEOUT_S = 120.0
STOP_GRACE_S = 15.0
#: How long ``reskin edit`` waits for ``/api/health`` before it goes on embedded.
HEALTH_TIMEOUT_S = 1.0
#: ``reskin server status`` when no server runs (the LSB's "not running").
NOT_RUNNING = 3
_POLL_S = 0.2
_LOG_LINES = 20

server_app = typer.Typer(
    name="server",
    help="A Prefect server in the background: `reskin edit` runs against it, without "
    "starting Prefect's embedded one each time.",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class Server:
    """A server ``reskin server start`` started: what ``server.json`` holds."""

    pid: int
    host: str
    port: int
    home: str
    started_at: float

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log(self) -> Path:
        return Path(self.home) / LOG

    def describe(self) -> str:
        return f"pid {self.pid}, UI {self.ui_url}, API {self.api_url}, log {self.log}"


def home_of(settings: Settings) -> Path:
    """The server's folder: its ``PREFECT_HOME``, state and log."""
    return settings.work_dir / FOLDER


def recorded(home: Path) -> Server | None:
    """The server ``server.json`` names, if that process is alive and a Prefect server; a
    stale record (the process gone, its pid reused) is removed."""
    state = home / STATE
    try:
        fields = json.loads(state.read_text())
        server = Server(**fields)
    except (OSError, ValueError, TypeError):
        return None
    if _is_prefect_server(server.pid):
        return server
    state.unlink(missing_ok=True)
    return None


def healthy(server: Server, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """Whether ``server`` answers ``/api/health`` now."""
    return _answers(server.api_url, timeout_s)


def start(
    settings: Settings, *, port: int = DEFAULT_PORT, timeout_s: float = START_TIMEOUT_S
) -> Server:
    """Start the server in the background (or find it running) and return once it answers;
    a :class:`ConfigError` with the tail of its log when it does not."""
    home = home_of(settings)
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home):
        running = recorded(home)
        if running is not None:
            return running
        port = _free(port)
        log = home / LOG
        log.write_bytes(b"")
        pid = _spawn(home, port, log)
        server = Server(pid=pid, host=HOST, port=port, home=str(home), started_at=time.time())
        _write_state(home, server)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if healthy(server):
                return server
            ended, status = os.waitpid(pid, os.WNOHANG)
            if ended:
                (home / STATE).unlink(missing_ok=True)
                raise ConfigError(
                    f"the Prefect server stopped while starting (exit status {status}): "
                    f"{_last_line(log)}; its log: {log}"
                )
            time.sleep(_POLL_S)
        _end_group(pid, grace_s=STOP_GRACE_S)
        (home / STATE).unlink(missing_ok=True)
        raise ConfigError(
            f"the Prefect server did not answer within {timeout_s:g} s: {_last_line(log)}; its "
            f"log: {log}"
        )


def start_runner(settings: Settings, api_url: str, *, timeout_s: float = START_TIMEOUT_S) -> Runner:
    """Start the reskin runner for the Prefect API at ``api_url`` in the background (or find
    it running) and return once it listens; a :class:`ConfigError` with the tail of its log
    when it does not, or when the runner found runs for another API. It runs with this
    process's environment (its settings are the ones edits must match)."""
    home = home_of(settings)
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home):
        running = remote.read_state(home)
        if running is not None:
            if not running.runs_on(api_url):
                raise ConfigError(
                    f"the reskin runner here runs edits on {running.api_url}, not {api_url}: "
                    "`reskin server stop` first"
                )
            return running
        log = home / remote.LOG
        log.write_bytes(b"")
        env = {**os.environ, "PREFECT_API_URL": api_url}
        argv = [sys.executable, "-m", "reskin.cli.runner"]
        pid = _spawn_logged(argv, env, log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            runner = remote.read_state(home)
            if runner is not None and runner.pid == pid:
                return runner
            ended, status = os.waitpid(pid, os.WNOHANG)
            if ended:
                raise ConfigError(
                    f"the reskin runner stopped while starting (exit status {status}): "
                    f"{_last_line(log)}; its log: {log}"
                )
            time.sleep(_POLL_S)
        _end_group(pid, grace_s=STOP_GRACE_S)
        raise ConfigError(
            f"the reskin runner did not start within {timeout_s:g} s: {_last_line(log)}; its "
            f"log: {log}"
        )


def stop_runner(settings: Settings, *, grace_s: float = STOP_GRACE_S) -> Runner | None:
    """Stop the runner (its edits are cancelled and unwind; their clients say so); the runner
    stopped, None when none ran."""
    home = home_of(settings)
    with _locked(home):
        runner = remote.read_state(home)
        if runner is None:
            return None
        # SIGTERM to the runner alone: it cancels its edits, which end their ffmpeg runs; what
        # is left of its group after the grace is killed.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(runner.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and alive(runner.pid):
            _reap(runner.pid)
            time.sleep(_POLL_S)
        _end_group(runner.pid, grace_s=grace_s)
        (home / remote.STATE).unlink(missing_ok=True)
        return runner


def stop(settings: Settings, *, grace_s: float = STOP_GRACE_S) -> Server | None:
    """Stop the runner, then the server (SIGTERM to its process group, SIGKILL after
    ``grace_s``); the server stopped, None when none ran."""
    stop_runner(settings, grace_s=grace_s)
    home = home_of(settings)
    with _locked(home):
        server = recorded(home)
        if server is None:
            return None
        _end_group(server.pid, grace_s=grace_s)
        (home / STATE).unlink(missing_ok=True)
        return server


def route_edit(settings: Settings, *, verbose: bool = False) -> tuple[Runner | None, str | None]:
    """Where an edit runs: the reskin runner when the reskin server answers, no Prefect API of
    the user's own says otherwise, and the runner runs with this process's settings (its
    ``runner.json`` fingerprint); else in this process (:func:`prefect_for_edit`). The runner,
    if any, and the line saying which Prefect and where (None: the user's own Prefect, said
    nothing of). Call before Prefect is imported."""
    where = prefect_for_edit(settings)
    if where is None:
        own = _own_runner(settings, verbose=verbose)
        if own is None:
            return None, None
        return own, f"Prefect: {own.api_url}, run by the reskin runner (pid {own.pid})"
    if not where.startswith(_ON_SERVER):
        return None, where
    runner = remote.read_state(home_of(settings))
    server = recorded(home_of(settings))
    if runner is None or server is None or not runner.runs_on(server.api_url):
        return None, f"{where} (its runner does not run: `reskin server start` starts it)"
    if verbose:
        return None, f"{where}, the edit in this process (-v shows Prefect's own lines)"
    if not hmac.compare_digest(runner.fingerprint, remote.fingerprint(settings, runner.token)):
        return None, (
            f"{where}, the edit in this process: the reskin runner runs with other settings "
            "(`reskin server stop`, then `reskin server start` here, runs edits there)"
        )
    return runner, f"{where}, run by its runner (pid {runner.pid})"


_ON_SERVER = "Prefect: the reskin server"


def _own_runner(settings: Settings, *, verbose: bool) -> Runner | None:
    """The runner ``reskin server start`` started for the user's own Prefect API (the one this
    process is configured for), if it runs with this process's settings; else None: the edit
    runs in this process, as without a runner."""
    own = configured_api_url()
    runner = remote.read_state(home_of(settings))
    if own is None or runner is None or verbose or not runner.api_url:
        return None
    if not runner.runs_on(own):
        return None
    if not hmac.compare_digest(runner.fingerprint, remote.fingerprint(settings, runner.token)):
        return None
    return runner


def _answers(api_url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """Whether the Prefect API at ``api_url`` answers ``/health``."""
    if not api_url.startswith(("http://", "https://")):
        return False
    url = f"{api_url.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 (http(s) only)
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def runner_recorded(settings: Settings) -> bool:
    """Whether a reskin runner is recorded for these settings' server and alive: a file read,
    no connection (whether it will run the edit is :func:`route_edit`'s to find)."""
    return remote.read_state(home_of(settings)) is not None


def prefect_for_edit(settings: Settings) -> str | None:
    """Aim this process's Prefect at the reskin server when it runs and no Prefect API is
    configured; the line saying which Prefect an edit runs on (None: the user's own
    ``PREFECT_API_URL``, said nothing of, as before). Call before Prefect is imported."""
    if configured_api_url() is not None:
        return None
    server = recorded(home_of(settings))
    if server is not None and healthy(server):
        os.environ["PREFECT_API_URL"] = server.api_url
        return f"{_ON_SERVER}, UI at {server.ui_url}"
    if server is not None:
        return (
            f"Prefect: embedded server, 10 to 20 s to start (the reskin server, pid "
            f"{server.pid}, does not answer: see `reskin server status` and {server.log})"
        )
    return (
        "Prefect: embedded server, 10 to 20 s to start (`reskin server start` keeps one "
        "running for the next edits)"
    )


def configured_api_url(environ: dict[str, str] | None = None) -> str | None:
    """The Prefect API this process is configured for: ``PREFECT_API_URL``, else the active
    profile's in ``$PREFECT_HOME/profiles.toml`` (read as Prefect reads it, without Prefect)."""
    env = dict(os.environ) if environ is None else environ
    if env.get("PREFECT_API_URL"):
        return env["PREFECT_API_URL"]
    home = Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    try:
        profiles = tomllib.loads((home / "profiles.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = env.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    settings = profiles.get("profiles", {}).get(active, {})
    url = settings.get("PREFECT_API_URL") if isinstance(settings, dict) else None
    return str(url) if url else None


# --- the commands ----------------------------------------------------------------------------


@server_app.command("start")
def start_command(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")
    ] = DEFAULT_PORT,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the server to answer.")
    ] = START_TIMEOUT_S,
) -> None:
    """Start a Prefect server and the reskin runner in the background; `reskin edit` then
    runs its edits there."""
    settings = load_settings()
    home = home_of(settings)
    before, runner_before = recorded(home), remote.read_state(home)
    own = configured_api_url()
    if own is not None:
        # A Prefect server of the user's own: only the runner, its flow runs going there.
        if not _answers(own):
            raise ConfigError(
                f"the Prefect API {own} (PREFECT_API_URL) does not answer: start that server, "
                "or unset PREFECT_API_URL to have `reskin server start` start one"
            )
        runner = start_runner(settings, own, timeout_s=timeout)
        said = "already running" if runner_before is not None else "started"
        typer.echo(
            f"{said}: the reskin runner, {runner.describe()}, its flow runs on {own}, log "
            f"{home / remote.LOG}"
        )
        typer.echo(
            f"`reskin edit` with PREFECT_API_URL={own} runs its edits in the runner (with the "
            "settings of this environment); `reskin server stop` stops it"
        )
        return
    server = start(settings, port=port, timeout_s=timeout)
    said = "already running" if before is not None else "started"
    typer.echo(f"{said}: a Prefect server for reskin, {server.describe()}")
    runner = start_runner(settings, server.api_url, timeout_s=timeout)
    said = "already running" if runner_before is not None else "started"
    typer.echo(f"{said}: the reskin runner, {runner.describe()}, log {home / remote.LOG}")
    typer.echo(
        "`reskin edit` runs its edits in the runner (with the settings of this environment); "
        "`reskin server stop` stops both"
    )


@server_app.command("stop")
def stop_command() -> None:
    """Stop the reskin runner and the background Prefect server."""
    settings = load_settings()
    runner = stop_runner(settings)
    if runner is not None:
        typer.echo(f"stopped: the reskin runner, pid {runner.pid}")
    server = stop(settings)
    typer.echo("not running" if server is None else f"stopped: pid {server.pid}")


@server_app.command("status")
def status_command() -> None:
    """Say whether the background Prefect server runs (exit 0), or not (exit 3), and its
    runner."""
    home = home_of(load_settings())
    server = recorded(home)
    runner = remote.read_state(home)
    if server is None and runner is not None and runner.api_url:
        typer.echo(
            f"runner: {runner.describe()}, its flow runs on {runner.api_url}, log "
            f"{home / remote.LOG}"
        )
        return
    if server is None:
        typer.echo("not running: `reskin server start` starts one")
        raise typer.Exit(NOT_RUNNING)
    if not healthy(server):
        typer.echo(f"not answering: {server.describe()}", err=True)
        raise typer.Exit(1)
    typer.echo(f"running: {server.describe()}")
    if runner is None:
        typer.echo("runner: not running (edits run in their own process; `reskin server start`)")
    else:
        typer.echo(f"runner: {runner.describe()}, log {home / remote.LOG}")
    forks = serving(home)
    if forks is not None:
        typer.echo(f"fork server: pid {forks} (`reskin edit` runs in a copy of it, imported)")


# --- processes -------------------------------------------------------------------------------


def _spawn(home: Path, port: int, log: Path) -> int:
    """``prefect server start`` in a session of its own, its output in ``log``; its pid.

    ``posix_spawn``, not ``subprocess.Popen``: nothing here waits for the server, and a Popen
    left running warns when it is collected."""
    # Prefect's own command, with the garbage collector off the event loop's thread (a SQLite
    # server could stand still for 60 s). Imported here: `python -m` of a module already
    # imported by its package warns (runpy).
    from reskin.cli import prefect_server

    argv = prefect_server.argv("server", "start", "--host", HOST, "--port", str(port))
    # The user's PREFECT_* settings go with it (a database URL, say), but not where it lives,
    # which API it is, nor which profile it reads.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_UI_API_URL")
    }
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # Without it the UI is told its API is on the default port, not this one.
            "PREFECT_UI_API_URL": f"http://{HOST}:{port}/api",
            "PREFECT_LOGGING_COLORS": "false",
        }
    )
    return _spawn_logged(argv, env, log)


def _spawn_logged(argv: list[str], env: dict[str, str], log: Path) -> int:
    """``argv`` in a session of its own, stdin from /dev/null, its output in ``log``; its pid."""
    return os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_APPEND, 0),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def _free(port: int) -> int:
    """``port`` if nothing listens on it (any free one for 0); else a :class:`ConfigError`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise ConfigError(
                f"port {port} on {HOST} is taken ({exc.strerror}): give `reskin server start` "
                "another --port (0: any free one)"
            ) from exc
        bound: int = probe.getsockname()[1]
        return bound


def _end_group(pid: int, *, grace_s: float) -> None:
    """SIGTERM the process group ``pid`` leads, SIGKILL it after ``grace_s``."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid):
                return
            time.sleep(_POLL_S)


def _reap(pid: int) -> None:
    # The server is this process's child only when this process started it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _is_prefect_server(pid: int) -> bool:
    """``pid`` is alive and runs ``prefect server start`` (a reused pid is not taken for it)."""
    if not alive(pid):
        return False
    argv = command_line(pid)
    if argv is None:
        return True  # no /proc to ask: alive is all that can be told
    from reskin.cli.prefect_server import MODULE

    ours = MODULE.encode()
    return b"server" in argv and any(part.endswith(b"prefect") or part == ours for part in argv)


def _write_state(home: Path, server: Server) -> None:
    partial = home / f".{STATE}.part"
    partial.write_text(json.dumps(asdict(server)))
    partial.replace(home / STATE)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Hold the server folder's lock: two ``start``s at once start one server."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip()[:300] if lines else "nothing in its log"
