"""``make up``: a Prefect server, the deployments of ``prefect.yaml`` and workers, in one command.

::

    python -m deployments.up [--port 4200] [--workers 1] [--limit N]

1. the server: the one ``PREFECT_API_URL`` names when it is set (it must answer), else
   ``prefect server start --host 127.0.0.1 --port 4200`` (its log goes to
   ``$PREFECT_HOME/reskin-up-server.log``), waited for until ``/api/health`` answers;
2. the ``process`` work pool ``reskin``, created when missing;
3. ``prefect --no-prompt deploy --all`` from the repository root (``prefect.yaml``);
4. ``--workers`` times ``prefect worker start --pool reskin --name <host>-<i> [--limit N]``.

Then it waits. Ctrl-C or SIGTERM (or any of them dying) stops the workers, then the server:
SIGTERM first, SIGKILL after a grace period. The children share this process's group, so a
Ctrl-C in the terminal reaches the flow runs the workers started as well.

Workers and their flow runs inherit this environment: set ``AIMLAPI_API_KEY`` (or a ``.env`` in
the repository root, where the runs start) before ``make up``. Nothing here passes the key on.

The runs may read local inputs and write outputs only in ``RESKIN_ALLOWED_DIRS``: when this
environment does not set it, ``up`` sets it to :data:`DEFAULT_ALLOWED_DIRS` (the nightly
batch's inbox and outbox are there) for the deployments it deploys (``prefect.yaml`` records it
in their job variables) and the workers it starts (docs/security.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn

import httpx

from deployments.definitions import EDIT_VIDEO, NIGHTLY, WORK_POOL

REPO = Path(__file__).resolve().parent.parent
#: Where the runs of ``make up`` and ``make serve`` may read and write unless
#: ``RESKIN_ALLOWED_DIRS`` says otherwise: the folder of the nightly's inbox and outbox.
DEFAULT_ALLOWED_DIRS = "~/reskin"
#: ``prefect server start`` was healthy in about 10 s on a cold database (2 cores).
SERVER_START_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0
_POLL_S = 0.5


class UpError(Exception):
    """A step of ``up`` failed; the message is one line saying what to do."""


class Stopped(Exception):
    """SIGTERM or SIGINT arrived."""


class Children:
    """The processes ``up`` started. They stop in layers, the last started layer first: the
    workers all at once, then the server (a worker shutting down still talks to it)."""

    def __init__(self) -> None:
        self._layers: list[list[tuple[str, subprocess.Popen[bytes]]]] = []

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        log: IO[bytes] | None = None,
        new_layer: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` (its output to ``log``, else to ours) in the last layer, or in a new
        one after it."""
        stderr = None if log is None else subprocess.STDOUT
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=stderr
        )
        if new_layer or not self._layers:
            self._layers.append([])
        self._layers[-1].append((name, process))
        return process

    def dead(self) -> str | None:
        """What exited, if any child has."""
        for layer in self._layers:
            for name, process in layer:
                if process.poll() is not None:
                    return f"{name} exited with code {process.returncode}"
        return None

    def stop(self) -> None:
        """SIGTERM each layer, SIGKILL what is left of it after ``STOP_GRACE_S``."""
        while self._layers:
            layer = self._layers.pop()
            for _name, process in layer:
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + STOP_GRACE_S
            for _name, process in layer:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                if process.poll() is None:
                    process.kill()
                    process.wait()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.up",
        description="Start a Prefect server (unless PREFECT_API_URL names one), deploy "
        "prefect.yaml onto a process work pool and start workers; Ctrl-C stops them all.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the server's address (loopback)")
    parser.add_argument("--port", type=int, default=4200, help="the server's port")
    parser.add_argument("--workers", type=int, default=1, help="how many workers to start")
    parser.add_argument(
        "--limit", type=int, default=None, help="flow runs at once per worker (default: any)"
    )
    parser.add_argument(
        "--prefect-file", type=Path, default=REPO / "prefect.yaml", help="what to deploy"
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def with_allowed_dirs(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with ``RESKIN_ALLOWED_DIRS`` set: its own value, else
    :data:`DEFAULT_ALLOWED_DIRS` (expanded: a worker may run as another user)."""
    allowed = env.get("RESKIN_ALLOWED_DIRS", "").strip()
    return {**env, "RESKIN_ALLOWED_DIRS": allowed or str(Path(DEFAULT_ALLOWED_DIRS).expanduser())}


#: The module that runs Prefect's command for the server (``reskin.cli`` is not imported here).
PREFECT_SERVER = "reskin.cli.prefect_server"


def server_argv(host: str, port: int) -> list[str]:
    """``prefect server start`` on ``host:port`` through :data:`PREFECT_SERVER`."""
    return [
        sys.executable,
        "-m",
        PREFECT_SERVER,
        "server",
        "start",
        "--host",
        host,
        "--port",
        str(port),
    ]


def prefect(*args: str) -> list[str]:
    """The argv of a ``prefect`` command of this environment."""
    return [sys.executable, "-m", "prefect", *args]


def healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(children: Children, host: str, port: int, log: Path) -> str:
    """Start ``prefect server start`` and return its API URL once it answers."""
    api_url = f"http://{host}:{port}/api"
    if _listening(host, port):
        hint = f"export PREFECT_API_URL={api_url} to use it" if healthy(api_url) else ""
        raise UpError(
            f"port {port} is taken: {hint or 'stop what listens there'}, or pass --port N"
        )
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.setdefault("PREFECT_UI_API_URL", api_url)  # else its UI talks to port 4200
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_LOGGING_COLORS", "false")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        server = children.start(
            "the server",
            # Prefect's command, its garbage collector off the event loop's thread: a SQLite
            # server could stand still for 60 s (reskin/cli/prefect_server.py).
            server_argv(host, port),
            env,
            log=out,
            new_layer=True,
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise UpError(f"prefect server start exited with code {server.returncode}: see {log}")
        if healthy(api_url):
            return api_url
        time.sleep(_POLL_S)
    raise UpError(f"the server did not answer within {SERVER_START_TIMEOUT_S:.0f} s: see {log}")


def ensure_work_pool(api_url: str, name: str) -> bool:
    """Create the ``process`` work pool ``name`` unless it exists; True when created."""
    from prefect.workers.process import ProcessWorker

    with httpx.Client(base_url=api_url, timeout=30.0) as http:
        found = http.get(f"/work_pools/{name}")
        if found.status_code == 200:
            kind = found.json().get("type")
            if kind != "process":
                raise UpError(
                    f"work pool {name!r} is of type {kind!r}: delete it or use another server"
                )
            return False
        if found.status_code != 404:
            raise UpError(f"reading work pool {name!r} answered {found.status_code}: {api_url}")
        template = ProcessWorker.get_default_base_job_template()
        made = http.post(
            "/work_pools/", json={"name": name, "type": "process", "base_job_template": template}
        )
        if made.status_code not in (200, 201):
            raise UpError(f"creating work pool {name!r} answered {made.status_code}: {made.text}")
    return True


def deploy(env: dict[str, str], prefect_file: Path) -> None:
    """``prefect --no-prompt deploy --all`` from the folder of ``prefect_file`` (the runs
    start there: its ``set_working_directory`` pull step is that folder)."""
    argv = prefect("--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file))
    done = subprocess.run(
        argv,
        cwd=prefect_file.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise UpError(f"prefect deploy --all failed ({tail}): fix {prefect_file} and rerun")


def worker_names(count: int) -> Iterator[str]:
    host = socket.gethostname().split(".")[0] or "worker"
    for index in range(1, count + 1):
        yield f"{host}-{index}"


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def up(args: argparse.Namespace, children: Children) -> NoReturn:
    api_url = os.environ.get("PREFECT_API_URL", "").rstrip("/")
    if api_url:
        if not healthy(api_url):
            raise UpError(f"PREFECT_API_URL={api_url} does not answer: start it, or unset it")
        say(f"server: {api_url} (PREFECT_API_URL)")
    else:
        from prefect.settings import PREFECT_HOME

        log = Path(PREFECT_HOME.value()) / "reskin-up-server.log"
        say(f"starting prefect server on {args.host}:{args.port} (log: {log}) ...")
        api_url = start_server(children, args.host, args.port, log)
        say(f"server: {api_url}, UI {api_url.removesuffix('/api')}")
    env = with_allowed_dirs({**os.environ, "PREFECT_API_URL": api_url})
    say(
        f"runs read and write local files only in {env['RESKIN_ALLOWED_DIRS']} "
        "(RESKIN_ALLOWED_DIRS)"
    )

    created = ensure_work_pool(api_url, WORK_POOL)
    say(f"work pool {WORK_POOL!r} (process): {'created' if created else 'exists'}")
    deploy(env, args.prefect_file)
    say(f"deployed {EDIT_VIDEO} and {NIGHTLY} from {args.prefect_file}")

    for index, name in enumerate(worker_names(args.workers)):
        argv = prefect("worker", "start", "--pool", WORK_POOL, "--name", name)
        if args.limit is not None:
            argv += ["--limit", str(args.limit)]
        children.start(f"worker {name}", argv, env, new_layer=index == 0)
        say(f"worker {name} started")
    example = json.dumps({"input": "/abs/in.mp4", "prompt": "sepia film", "output": "/abs/out.mp4"})
    say(
        f"ready: UI {api_url.removesuffix('/api')}; one clip: PREFECT_API_URL={api_url} "
        f"prefect deployment run '{EDIT_VIDEO}' --param 'request={example}'; "
        "Ctrl-C stops everything"
    )
    while True:
        death = children.dead()
        if death:
            raise UpError(f"{death}: stopping the rest")
        time.sleep(_POLL_S)


def say(line: str) -> None:
    print(f"reskin up: {line}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    children = Children()
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        up(args, children)
    except Stopped:
        say("stopping the workers and the server ...")
        return 0
    except UpError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C while stopping must not leave children behind.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        children.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
