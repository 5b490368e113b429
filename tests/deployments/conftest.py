"""Fixtures of the deployment tests: ``make up`` as a user runs it, aimed at the session's stand-in.

``up`` runs ``python -m deployments.up --workers 2 --limit 3`` once for the package: it starts
its own ``prefect server start`` on a free loopback port (a Prefect home of its own, no
``PREFECT_API_URL``), creates the ``process`` work pool, deploys ``prefect.yaml`` and starts two
workers polling every second. The whole stack lives in one process group; at the end the
fixture sends that group SIGINT, as a terminal's Ctrl-C does, and checks that nothing is left.

``up_page`` is a headless Chromium page for the stack's UI (the browser fixtures of
``tests/ui/fixtures.py``, imported here).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from deployments.definitions import WORK_POOL
from deployments.up import worker_names
from reskin.standin.server import StandIn
from tests.conftest import SUITE_FFMPEG, standin_settings
from tests.prefect_server import free_port
from tests.ui.fixtures import browser as browser
from tests.ui.fixtures import fresh_page
from tests.ui.fixtures import screenshot_dirs as screenshot_dirs
from tests.ui.fixtures import short_tmp as short_tmp

WORKERS = 2
#: Flow runs at once per worker: the batch run holds one slot of its worker while its clips run.
WORKER_LIMIT = 3
#: ``RESKIN_MAX_JOBS_IN_FLIGHT`` of every run: fewer than the clips a batch sends at once.
JOBS_IN_FLIGHT = 2
UP_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0

_SUBMITTED_BY = re.compile(r"^Worker '(?P<name>[^']+)' submitting flow run ")


def base_env() -> dict[str, str]:
    """This environment without any Prefect, service or reskin setting (but the suite's ffmpeg,
    ``RESKIN_FFMPEG_BINARY`` when pytest was given one)."""
    prefixes = ("PREFECT_", "AIMLAPI_", "RESKIN_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    if SUITE_FFMPEG:
        env["RESKIN_FFMPEG_BINARY"] = SUITE_FFMPEG
    return env


#: Seconds a read of the stack's server is asked again after timing out. Its SQLite database
#: now and then stays write-locked for Prefect's busy timeout (60 s: the task run recorder's
#: flush fails "database is locked", docs/bench.md), and a read can queue behind that; CI saw
#: one time out at 30 s. A read changes nothing, so asking again is safe; a server that does
#: not answer for this long still fails the test.
READ_PATIENCE_S = 150.0


class Api:
    """The REST API of a Prefect server (paths relative to ``/api``). Reads only: each is
    asked again after a timeout, within :data:`READ_PATIENCE_S`."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def _read(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        deadline = time.monotonic() + READ_PATIENCE_S
        while True:
            try:
                with httpx.Client(base_url=self.api_url, timeout=30.0) as http:
                    response = http.request(
                        method, path, json=dict(body) if body is not None else None
                    )
            except httpx.TimeoutException:
                if time.monotonic() > deadline:
                    raise
                continue
            response.raise_for_status()
            return response.json()

    def get(self, path: str) -> Any:
        return self._read("GET", path)

    def filter(self, kind: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``POST /api/<kind>/filter``: its rows."""
        rows: list[dict[str, Any]] = self._read("POST", f"/{kind}/filter", body)
        return rows

    def deployment(self, name: str) -> dict[str, Any]:
        """A deployment by ``flow name/deployment name``."""
        found: dict[str, Any] = self.get(f"/deployments/name/{name}")
        return found

    def flow_runs_named(self, fragment: str) -> list[dict[str, Any]]:
        return self.filter("flow_runs", {"flow_runs": {"name": {"like_": fragment}}})

    def worker_of(self, flow_run_id: str) -> str:
        """The worker that took a flow run, from the line it logs to the run."""
        logs = self.filter(
            "logs",
            {
                "logs": {"flow_run_id": {"any_": [flow_run_id]}},
                "sort": "TIMESTAMP_ASC",
                "limit": 50,
            },
        )
        for log in logs:
            found = _SUBMITTED_BY.match(log["message"])
            if found:
                return found["name"]
        raise AssertionError(f"no worker logged taking flow run {flow_run_id}")


@dataclass
class UpStack:
    """A running ``python -m deployments.up`` and what it started."""

    process: subprocess.Popen[bytes]
    api: Api
    env: dict[str, str]
    log: Path
    server_log: Path
    workers: tuple[str, ...]

    @property
    def ui_url(self) -> str:
        """The address of the server's UI (its API lives under ``/api``)."""
        return self.api.api_url.removesuffix("/api")

    def prefect(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A ``prefect`` command against this stack's server, text output."""
        return subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def group_alive(self) -> bool:
        """True while any process of the stack's group exists."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def group_members(self) -> list[str]:
        """The command lines of the processes still in the stack's group."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid:  # the process group id
                    found.append(stat.with_name("cmdline").read_bytes().replace(b"\0", b" "))
            except (OSError, IndexError, ValueError):
                continue
        return [line.decode(errors="replace").strip() for line in found]

    def interrupt(self) -> int | None:
        """SIGINT to the whole group (a terminal's Ctrl-C); up's exit code, None if it hung."""
        _signal_group(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        _signal_group(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@pytest.fixture(scope="package")
def up(standin_session: StandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpStack]:
    """``make up`` with two workers, aimed at the session's stand-in; Ctrl-C at the end."""
    home = tmp_path_factory.mktemp("up-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **base_env(),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_COLORS": "false",
        # Workers look for runs every second (default 10 s); the limits must bind for real.
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        **standin_settings(standin_session, tmp_path_factory.mktemp("up-work")),
        "RESKIN_MAX_JOBS_IN_FLIGHT": str(JOBS_IN_FLIGHT),
        "RESKIN_CREATES_PER_MINUTE": "600",
        # The runs may touch the tests' temporary folders only (make up's own default is
        # ~/reskin): inputs, outputs and the UI tests' short folders all live there.
        "RESKIN_ALLOWED_DIRS": tempfile.gettempdir(),
    }
    log = home / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deployments.up",
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
                "--limit",
                str(WORKER_LIMIT),
            ],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: SIGINT to it is a terminal's Ctrl-C
        )
    stack = UpStack(
        process=process,
        api=Api(api_url),
        env={**env, "PREFECT_API_URL": api_url},
        log=log,
        server_log=home / "reskin-up-server.log",
        workers=tuple(worker_names(WORKERS)),
    )
    try:
        _wait_up(stack)
        yield stack
        code = stack.interrupt()
        assert code == 0, f"up did not stop cleanly on Ctrl-C ({code}):\n{stack.log_tail()}"
        # The flow runs' processes got the Ctrl-C too and unwind on their own (up waits for its
        # server and workers, not for their runs): CI once saw one still exiting at this line.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while stack.group_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not stack.group_alive(), (
            f"a process of the up stack outlived Ctrl-C by {STOP_TIMEOUT_S:.0f} s: "
            f"{stack.group_members()}"
        )
        assert "reskin up: stopping the workers and the server" in stack.log.read_text()
    finally:
        stack.kill()


@pytest.fixture
def up_page(browser: Browser, up: UpStack) -> Iterator[Page]:
    """A page of its own in headless Chromium, for the UI of the ``up`` stack's server."""
    with fresh_page(browser) as page:
        yield page


def _wait_up(stack: UpStack) -> None:
    """Until up says it is up and both workers are online, or fail with up's log."""
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise AssertionError(f"up exited ({stack.process.returncode}):\n{stack.log_tail()}")
        if "reskin up: ready:" in stack.log.read_text(errors="replace"):
            online = stack.api.filter(f"work_pools/{WORK_POOL}/workers", {})
            names = {row["name"] for row in online if row["status"] == "ONLINE"}
            if names >= set(stack.workers):
                return
        time.sleep(0.2)
    raise AssertionError(f"up was not up within {UP_TIMEOUT_S:.0f} s:\n{stack.log_tail()}")


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
