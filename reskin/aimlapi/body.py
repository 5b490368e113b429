"""A request's JSON body as it goes on the wire: streamed, with its length known up front.

A create body may hold the clip itself, as a data URI (:class:`~reskin.storage.datauri.DataUri`).
:func:`json_body` encodes everything else as httpx's ``json=`` would (compact separators, UTF-8,
no NaN) and leaves each data URI as a hole that :class:`JsonBody` fills from the file, piece by
piece, while the body is sent: the bytes on the wire are the same as the whole body's would
be, its ``Content-Length`` is known before the first byte, and no copy of the clip is ever held
in memory. A :class:`JsonBody` may be iterated again from the start, so a retried create sends
the whole body again.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Mapping

from reskin.storage.datauri import DataUri

Part = bytes | DataUri


class JsonBody:
    """The bytes of a JSON body: encoded text, and data URIs read from their files when sent.

    Only async-iterable (httpx streams it in an ``AsyncClient``), and again from the start on
    each iteration (not a generator, which httpx would refuse to send twice).
    """

    def __init__(self, parts: tuple[Part, ...]) -> None:
        self.parts = parts
        self.length = sum(len(p) if isinstance(p, bytes) else p.length for p in parts)

    def __repr__(self) -> str:
        inline = sum(isinstance(p, DataUri) for p in self.parts)
        return f"JsonBody({self.length} bytes, {inline} data URI(s) read when sent)"

    @property
    def headers(self) -> dict[str, str]:
        """What a request sending this body declares about it."""
        return {"Content-Type": "application/json", "Content-Length": str(self.length)}

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Read on the event loop's thread, a piece at a time (about a millisecond each): a
        # worker thread per piece would spread the buffers over malloc arenas of its own.
        for part in self.parts:
            if isinstance(part, bytes):
                yield part
            else:
                for piece in part.pieces():
                    yield piece

    def read(self) -> bytes:
        """The whole body in memory (tests, small bodies)."""
        return b"".join(p if isinstance(p, bytes) else b"".join(p.pieces()) for p in self.parts)


def json_body(body: Mapping[str, object]) -> JsonBody:
    """``body`` encoded as httpx's ``json=`` encodes it, each :class:`DataUri` in it (at any
    depth) left to be read from its file when the body is sent."""
    text, holes = _with_holes(body)
    # A hole's name is random; should the rest of the body hold one by chance, draw again.
    while not all(text.count(name) == 1 for name in holes):
        text, holes = _with_holes(body)
    parts: list[Part] = []
    rest = text
    for name, uri in holes.items():  # in the order json.dumps met them, as in the text
        before, rest = rest.split(name, 1)
        parts += [before.encode("utf-8"), uri]
    parts.append(rest.encode("utf-8"))
    return JsonBody(tuple(p for p in parts if not (isinstance(p, bytes) and not p)))


def _with_holes(body: Mapping[str, object]) -> tuple[str, dict[str, DataUri]]:
    """The JSON text of ``body`` with each :class:`DataUri` replaced by a random name (letters,
    digits and dashes: the same in the text as in the string), and what each name stands for."""
    holes: dict[str, DataUri] = {}
    salt = secrets.token_hex(8)

    def hole(value: object) -> str:
        if not isinstance(value, DataUri):
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
        name = f"reskin-{salt}-{len(holes)}-"  # closed: "-1-" is no part of "-10-"
        holes[name] = value
        return name

    text = json.dumps(
        body, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=hole
    )
    return text, holes
