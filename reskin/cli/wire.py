"""JSON one object a line over a stream socket: the runner's wire (reskin/cli/remote.py) and
the fork server's (reskin/cli/forksocket.py). Standard library only: the clients of both import
it before anything heavy."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from typing import Any

NEWLINE = b"\n"


def send(sock: socket.socket, message: Mapping[str, object]) -> None:
    sock.sendall(json.dumps(message).encode() + NEWLINE)


def lines(sock: socket.socket, max_line: int) -> Iterator[dict[str, Any]]:
    """The messages on ``sock``, one JSON object a line, until the other end closes it; a
    ValueError for a line longer than ``max_line`` or not JSON."""
    pending = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        pending += chunk
        while NEWLINE in pending:
            line, pending = pending.split(NEWLINE, 1)
            message = json.loads(line)
            if isinstance(message, dict):
                yield message
        if len(pending) > max_line:
            raise ValueError("a line on the socket is too long")
