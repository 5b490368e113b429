"""Run the stand-in in a background thread: for tests, the demo and ``reskin stand-in``.

::

    with StandIn(StandInConfig(queued_s=0.2, generating_s=0.5)) as standin:
        standin.set_faults(create_429=1)
        ...  # talk to standin.base_url with Authorization: Bearer standin.key
        standin.stats().create_calls

The socket is bound before the thread starts (port 0 picks a free one), so ``base_url`` is
known and connectable as soon as :meth:`StandIn.start` returns. Faults and counters are reached
directly (same process); the HTTP control endpoints do the same for other processes.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from reskin.standin.app import build_app
from reskin.standin.config import StandInConfig
from reskin.standin.faults import Faults
from reskin.standin.http_errors import QuietDeliberateCuts
from reskin.standin.service import Service
from reskin.standin.stats import Stats

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 15.0
_GRACE_S = 2


class StandIn:
    """A running stand-in of the AI/ML API on ``host``:``port``."""

    def __init__(
        self, config: StandInConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or StandInConfig()
        self.host = host
        self.port = port
        self._service: Service | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # --- life cycle ------------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("this stand-in is already running")
        _quiet_deliberate_cuts()
        self._service = Service(self.config)
        try:
            self._socket = _bound_socket(self.host, self.port)
            self.port = self._socket.getsockname()[1]
            server = uvicorn.Server(
                uvicorn.Config(
                    build_app(self._service),
                    log_config=None,
                    log_level="warning",
                    access_log=False,
                    http="h11",
                    ws="none",
                    lifespan="off",
                    timeout_graceful_shutdown=_GRACE_S,
                )
            )
            self._server = server
            self._thread = threading.Thread(
                target=server.run,
                kwargs={"sockets": [self._socket]},
                name=f"standin-{self.port}",
                daemon=True,
            )
            self._thread.start()
            _wait_started(server, self._thread, f"{self.host}:{self.port}")
        except BaseException:
            self.stop()
            raise
        log.info("stand-in serving on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, wait for renders in progress, remove a temporary work folder."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_GRACE_S + 10)
        if self._socket is not None:
            self._socket.close()
        if self._service is not None:
            self._service.close()
        self._server = self._thread = self._socket = self._service = None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what clients need -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def key(self) -> str:
        """The stand-in's own bearer key (not a user secret)."""
        return self.config.key.get_secret_value()

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the stand-in is not running")
        return self._service

    # --- control ---------------------------------------------------------------------------
    def set_faults(self, **changes: Any) -> Faults:
        """Change faults, e.g. ``set_faults(create_5xx=2, status_5xx=502)``."""
        return self.service.faults.update(changes)

    @property
    def faults(self) -> Faults:
        return self.service.faults.current

    def stats(self) -> Stats:
        return self.service.counters.snapshot()

    def reset(self) -> None:
        """Every fault off, counters to zero."""
        self.service.reset()

    def forget(self) -> int:
        """Drop every job, as a restarted or purged service does."""
        return self.service.jobs.forget()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, where: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the stand-in did not start on {where}")
        time.sleep(0.01)


def _bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer waited ~40 ms on Nagle and the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _quiet_deliberate_cuts() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietDeliberateCuts) for f in logger.filters):
        logger.addFilter(QuietDeliberateCuts())
