"""A loopback HTTP relay that writes down what reskin sends to the service.

The stand-in does not keep request bodies, so a test that must see what a create carried puts
this relay in front of it (``AIMLAPI_BASE_URL`` at the relay): every request is passed on to the
stand-in unchanged and its answer passed back, and the create bodies are kept, parsed.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

import httpx

_PASSED_ON = ("authorization", "content-type", "accept", "user-agent")
_PASSED_BACK = ("content-type", "retry-after", "x-request-id")


class Recorder:
    """``with Recorder(standin.base_url) as relay:`` ... ``relay.creates``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        #: The JSON bodies of POST /v2/video/generations, in order.
        self.creates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Relay)
        self._server.daemon_threads = True
        cast(Any, self._server).recorder = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def record(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path.startswith("/v2/video/generations"):
            with self._lock:
                self.creates.append(json.loads(body))


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _relay(self) -> None:
        recorder: Recorder = cast(Any, self.server).recorder
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        recorder.record(self.command, self.path, body)
        headers = {k: v for k, v in self.headers.items() if k.lower() in _PASSED_ON}
        with httpx.Client(timeout=60) as http:
            answer = http.request(
                self.command, recorder.upstream + self.path, content=body, headers=headers
            )
        self.send_response(answer.status_code)
        for name in _PASSED_BACK:
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = _relay

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what was recorded, not an access log."""
