"""A small file server for uploads, so the pipeline can give the stand-in a URL to a local clip.

``PUT /files/{name}`` stores a body and ``GET /files/{name}`` serves it back. The name a client
gives is checked against a strict pattern and is only a key: bytes are written under a
server-made name, so no client text ever becomes part of a path.
"""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path

MEDIA_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.(mp4|mov|jpg|jpeg|png)$")


class FileStore:
    """Uploaded files by name."""

    def __init__(self, folder: Path, *, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}
        folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def valid_name(name: str) -> bool:
        return _NAME.match(name) is not None

    @staticmethod
    def media_type(name: str) -> str:
        return MEDIA_TYPES[name.rsplit(".", 1)[-1].lower()]

    def new_path(self) -> Path:
        """A fresh server-made path to write an upload to."""
        return self.folder / f"{uuid.uuid4().hex}.upload"

    def publish(self, name: str, path: Path) -> None:
        """Serve ``path`` as ``name`` from now on, replacing an earlier upload of that name."""
        with self._lock:
            old = self._paths.get(name)
            self._paths[name] = path
        if old is not None and old != path:
            old.unlink(missing_ok=True)

    def path_of(self, name: str) -> Path | None:
        with self._lock:
            return self._paths.get(name)
