"""What the journal holds: the phase of a submission, one entry, and the hashes that name it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

Clock = Callable[[], float]


class Phase(StrEnum):
    """Where a submission stands, as far as reskin knows."""

    RESERVED = "reserved"  # about to be sent, or sent with no answer: the job may exist
    ACCEPTED = "accepted"  # the service gave an id; wait for it
    DOWNLOADED = "downloaded"  # the result is on the disk of the machine that fetched it
    FAILED = "failed"  # the job ended in error; not resubmitted unless forced
    LOST = "lost"  # the service answered 404 for the generation: gone; only a forced rerun pays
    DONE = "done"  # published


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    phase: Phase
    generation_id: str | None
    reserved_at: float
    accepted_at: float | None
    result_path: str | None
    credits_used: float | None
    error: str | None
    #: Who reserved it: ``<host> pid <pid>`` (None in entries written before schema version 2).
    holder: str | None = None
    #: The last write; a run sending the entry's create touches it every few seconds.
    updated_at: float | None = None


def fingerprint(fields: Mapping[str, object]) -> str:
    """A stable hash of what was asked: same request, same fingerprint, across processes."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def file_sha256(path: Path, *, chunk: int = 1024 * 1024) -> str:
    """Content hash of a file, read in chunks (inputs can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
