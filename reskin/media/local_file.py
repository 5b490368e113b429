"""A local input file's first checks, in one wording for the command line's preflight and the
run's intake: it exists, it is a regular file (a FIFO or a device would block a read or never
end), it is not empty and it is within the size cap."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from reskin.errors import InputError, ProbeError

#: What to do with a file that is not a usable video.
FIX = "export it as an MP4 (H.264) video and try again"


def check_local_file(path: Path, shown: str, max_bytes: int) -> os.stat_result:
    """``path``'s stat, or the one-line error of the first of the checks it fails."""
    try:
        facts = path.stat()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the file ({exc.strerror}): check the path") from exc
    if not stat.S_ISREG(facts.st_mode):
        raise InputError(f"{shown} is not a regular file: give the path of a video file")
    if facts.st_size == 0:
        raise ProbeError(f"{shown} is empty: {FIX}")
    if facts.st_size > max_bytes:
        raise InputError(too_large(shown, facts.st_size, max_bytes))
    return facts


def too_large(shown: str, size: int, max_bytes: int) -> str:
    return (
        f"{shown} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit: "
        "trim or compress it and try again"
    )
