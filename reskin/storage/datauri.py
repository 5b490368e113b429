"""Data URIs: the clip itself inside the request body, for clips under a size budget.

Made at submit time from a file path and never stored: a data URI is megabytes of base64 that
must not reach logs, Prefect parameters or results. Nor is it ever held in memory whole: a
:class:`DataUri` is the file's path, its type and its size, and its text is encoded piece by
piece from the file while the request body goes out (:mod:`reskin.aimlapi.body`). The base64
of a 50 MB clip held as text, then inside its JSON body, was six copies of the clip in memory
at each create (bench/results/long_video.md, section 3).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reskin.errors import InputError

_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}

#: Bytes of the file read at a time: a multiple of 3, so each piece is whole base64 (4 chars a
#: 3 bytes, no padding but at the end) and 1 MiB of text.
CHUNK_BYTES = 3 * 256 * 1024


def encoded_size(raw_bytes: int) -> int:
    """Length in characters of the base64 text for ``raw_bytes`` bytes."""
    return 4 * ((raw_bytes + 2) // 3)


@dataclass(frozen=True, repr=False)
class DataUri:
    """``data:<mime>;base64,<the file>``, read from ``path`` only while it is sent.

    ``size`` is the file's size when the budget was checked; the text is exactly :attr:`length`
    ASCII characters, which a JSON body holds as they are (no character of it needs escaping).
    """

    path: Path
    mime: str
    size: int

    @property
    def head(self) -> str:
        return f"data:{self.mime};base64,"

    @property
    def length(self) -> int:
        """Characters (and UTF-8 bytes) of the whole URI."""
        return len(self.head) + encoded_size(self.size)

    def __repr__(self) -> str:
        return f"DataUri({self.path.name!r}, {self.mime}, {self.size} bytes)"

    def pieces(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The URI as ASCII bytes, in pieces of ``chunk_bytes`` of the file (a multiple of 3).

        Raises :class:`InputError` when the file is no longer :attr:`size` bytes long: a body
        sent with its length declared up front must not come out shorter or longer."""
        if chunk_bytes <= 0 or chunk_bytes % 3:
            raise ValueError(f"chunk_bytes must be a positive multiple of 3, not {chunk_bytes}")
        yield self.head.encode("ascii")
        left = self.size
        with self.path.open("rb") as handle:
            while left > 0:
                block = handle.read(min(chunk_bytes, left))
                if not block:
                    break
                left -= len(block)
                yield base64.b64encode(block)
            extra = handle.read(1)
        if left or extra:
            now = self.path.stat().st_size if self.path.exists() else 0
            raise InputError(
                f"{self.path.name} changed while it was being sent ({self.size} bytes when "
                f"checked, {now} now): nothing was submitted, rerun the edit"
            )

    def text(self) -> str:
        """The whole URI as one string: the clip in memory, 4/3 of its size. For a small file
        or a test only; a request body streams :meth:`pieces` instead."""
        return b"".join(self.pieces()).decode("ascii")


def data_uri(path: Path, *, max_bytes: int) -> DataUri:
    """The data URI of an MP4 or MOV file no larger than ``max_bytes`` (checked now)."""
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise InputError(f"{path.name}: only .mp4 and .mov clips can be sent as a data URI")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB data-URI "
            "budget: configure S3 storage or shorten the clip"
        )
    return DataUri(path, mime, size)
