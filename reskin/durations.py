"""How long earlier jobs took, by service and model: what the poll schedule learns its prior from.

One small SQLite file beside the journal, ``<work_dir>/durations.sqlite3``, shared by every
process on the machine as the journal is. Each wait that saw its job run and complete adds one
row (service, model, seconds from leaving the queue to completion, when it was written); only
the latest :data:`RECENT` of a model at a service are read, and older rows are dropped as new
ones come, so the file stays a few kilobytes. The service is the base URL the job was sent to:
the local stand-in renders in seconds what the real service takes minutes for, so their
durations must not mix. Delete the file to forget: the schedule then starts again from
``RESKIN_POLL_EXPECTED_S``. Nothing here is needed for correctness, so callers treat its errors
as a reason to learn nothing, never to fail a wait.

Files written before the service was recorded hold a table ``durations`` keyed by model alone;
its rows cannot be told apart by service, so they are left where they are and never read (the
table ``job_durations`` replaces it, and the schedule learns afresh).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Durations of one model the schedule learns from: enough to place a 1st and a 99th
#: percentile, few enough to follow the service when it speeds up or slows down.
RECENT = 100
#: Rows older than this go whatever their service: a stand-in started on a new port each time
#: (``reskin demo``) would otherwise leave one key behind per run, for good.
MAX_AGE_S = 90 * 24 * 3600.0
FILE_NAME = "durations.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_durations (
    service    TEXT NOT NULL,
    model      TEXT NOT NULL,
    duration_s REAL NOT NULL,
    at         REAL NOT NULL
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS job_durations_by_key ON job_durations (service, model, at)"


class DurationLog:
    """The durations file: :meth:`add` after a wait, :meth:`recent` before one."""

    def __init__(
        self, path: Path, *, keep: int = RECENT, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.keep = keep
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.execute(_INDEX)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def add(self, service: str, model: str, duration_s: float) -> None:
        """Record one job of ``model`` at ``service`` (its base URL) that took ``duration_s``;
        keep the latest ``keep`` of that pair."""
        if not duration_s > 0:
            raise ValueError(f"a job duration must be positive, not {duration_s!r}")
        key = (_service(service), model)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO job_durations (service, model, duration_s, at) VALUES (?, ?, ?, ?)",
                (*key, duration_s, self._clock()),
            )
            db.execute(
                "DELETE FROM job_durations WHERE service = ? AND model = ? AND rowid NOT IN"
                " (SELECT rowid FROM job_durations WHERE service = ? AND model = ?"
                " ORDER BY at DESC, rowid DESC LIMIT ?)",
                (*key, *key, self.keep),
            )
            db.execute("DELETE FROM job_durations WHERE at < ?", (self._clock() - MAX_AGE_S,))
            db.execute("COMMIT")

    def recent(self, service: str, model: str, limit: int = RECENT) -> list[float]:
        """The latest ``limit`` durations of ``model`` at ``service``, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT duration_s FROM job_durations WHERE service = ? AND model = ?"
                " ORDER BY at DESC, rowid DESC LIMIT ?",
                (_service(service), model, limit),
            ).fetchall()
        return [float(row[0]) for row in reversed(rows)]


def _service(base_url: str) -> str:
    """One spelling per service: ``http://host/`` and ``http://host`` are the same."""
    return base_url.rstrip("/")
