"""The submission journal: what was asked, and which generation the service made for it.

The service has no idempotency key, so reskin keeps its own. A request's fingerprint (source
content hash, window, prompt, model, options) is reserved *before* the create is sent and the
accepted generation id is committed *before* anything else may fail; a rerun of the same request
then resumes that generation instead of paying for a new one.

SQLite (standard library) rather than Prefect's transaction store: the CLI, the flow and several
worker processes on one machine share it with row-level atomicity, it survives SIGKILL (each
write is one committed transaction), and it is readable without Prefect. Machines that share
work each keep their own journal: SQLite in WAL mode needs every user on one host (not a
network file system), so "never pay twice" holds per machine (docs/deployments.md).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

Clock = Callable[[], float]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    fingerprint   TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    generation_id TEXT,
    reserved_at   REAL NOT NULL,
    accepted_at   REAL,
    updated_at    REAL NOT NULL,
    result_path   TEXT,
    credits_used  REAL,
    error         TEXT
)
"""


class Phase(StrEnum):
    """Where a submission stands, as far as reskin knows."""

    RESERVED = "reserved"  # about to be sent, or sent with no answer: the job may exist
    ACCEPTED = "accepted"  # the service gave an id; wait for it
    DOWNLOADED = "downloaded"  # the result is on our disk
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


class Journal:
    """A SQLite file of submissions, safe for several processes on one machine."""

    def __init__(self, path: Path, *, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            # FULL: a committed id must survive a power cut as well as a SIGKILL.
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def get(self, fp: str) -> Entry | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT fingerprint, state, generation_id, reserved_at, accepted_at,"
                " result_path, credits_used, error FROM submissions WHERE fingerprint = ?",
                (fp,),
            ).fetchone()
        if row is None:
            return None
        return Entry(row[0], Phase(row[1]), row[2], row[3], row[4], row[5], row[6], row[7])

    def fingerprint_of(self, generation_id: str) -> str | None:
        """The fingerprint ``generation_id`` is journaled under, if any (a finished run reports
        its generation, not its fingerprint)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT fingerprint FROM submissions WHERE generation_id = ?", (generation_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def reserve(self, fp: str, *, replace: bool = False) -> bool:
        """Claim ``fp`` before sending a create; ``False`` when an entry already holds it.

        ``replace`` drops whatever was there (a forced resubmission).
        """
        now = self._clock()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if replace:
                db.execute("DELETE FROM submissions WHERE fingerprint = ?", (fp,))
            inserted = db.execute(
                "INSERT OR IGNORE INTO submissions (fingerprint, state, reserved_at, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (fp, Phase.RESERVED.value, now, now),
            ).rowcount
            db.execute("COMMIT")
        return inserted == 1

    def release(self, fp: str) -> None:
        """Drop a reservation whose create surely was not accepted (so a rerun may send it)."""
        with self._connect() as db:
            db.execute(
                "DELETE FROM submissions WHERE fingerprint = ? AND state = ?",
                (fp, Phase.RESERVED.value),
            )

    def accepted(self, fp: str, generation_id: str) -> None:
        now = self._clock()
        self._update(fp, Phase.ACCEPTED, generation_id=generation_id, accepted_at=now)

    def downloaded(self, fp: str, result_path: Path, credits_used: float | None) -> None:
        self._update(fp, Phase.DOWNLOADED, result_path=str(result_path), credits_used=credits_used)

    def failed(self, fp: str, error: str) -> None:
        self._update(fp, Phase.FAILED, error=error)

    def lost(self, fp: str, error: str) -> None:
        """The service no longer knows this entry's generation (it answered 404)."""
        self._update(fp, Phase.LOST, error=error)

    def done(self, fp: str) -> None:
        self._update(fp, Phase.DONE)

    def _update(self, fp: str, phase: Phase, **fields: object) -> None:
        columns = ["state = ?", "updated_at = ?"] + [f"{name} = ?" for name in fields]
        values = [phase.value, self._clock(), *fields.values(), fp]
        with self._connect() as db:
            changed = db.execute(
                f"UPDATE submissions SET {', '.join(columns)} WHERE fingerprint = ?",  # noqa: S608 (column names are ours, values are bound)
                values,
            ).rowcount
        if changed != 1:
            raise KeyError(f"no submission {fp} in the journal")

    def is_stale(self, entry: Entry, *, retention_s: float) -> bool:
        """True when the service no longer keeps what this entry points at."""
        since = entry.accepted_at if entry.accepted_at is not None else entry.reserved_at
        return self._clock() - since > retention_s
