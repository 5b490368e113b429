"""Data URIs: the clip itself inside the request body, for clips under a size budget.

Built at submit time from a file path and never stored: a data URI is megabytes of base64 that
must not reach logs, Prefect parameters or results.
"""

from __future__ import annotations

import base64
from pathlib import Path

from reskin.errors import InputError

_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}


def encoded_size(raw_bytes: int) -> int:
    """Length in characters of the base64 text for ``raw_bytes`` bytes."""
    return 4 * ((raw_bytes + 2) // 3)


def data_uri(path: Path, *, max_bytes: int) -> str:
    """``data:video/...;base64,...`` for an MP4 or MOV file no larger than ``max_bytes``."""
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise InputError(f"{path.name}: only .mp4 and .mov clips can be sent as a data URI")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB data-URI "
            "budget: configure S3 storage or shorten the clip"
        )
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
