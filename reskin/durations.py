"""How long earlier jobs took, by model: what the poll schedule learns its prior from.

One small SQLite file beside the journal, ``<work_dir>/durations.sqlite3``, shared by every
process on the machine as the journal is. Each wait that saw its job run and complete adds one
row (model, seconds from leaving the queue to completion, when it was written); only the latest
:data:`RECENT` of a model are read, and older rows are dropped as new ones come, so the file
stays a few kilobytes. Delete it to forget: the schedule then starts again from
``RESKIN_POLL_EXPECTED_S``. Nothing here is needed for correctness, so callers treat its errors
as a reason to learn nothing, never to fail a wait.
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
FILE_NAME = "durations.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS durations (
    model      TEXT NOT NULL,
    duration_s REAL NOT NULL,
    at         REAL NOT NULL
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS durations_by_model ON durations (model, at)"


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

    def add(self, model: str, duration_s: float) -> None:
        """Record one job of ``model`` that took ``duration_s``; keep the latest ``keep``."""
        if not duration_s > 0:
            raise ValueError(f"a job duration must be positive, not {duration_s!r}")
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO durations (model, duration_s, at) VALUES (?, ?, ?)",
                (model, duration_s, self._clock()),
            )
            db.execute(
                "DELETE FROM durations WHERE model = ? AND rowid NOT IN"
                " (SELECT rowid FROM durations WHERE model = ? ORDER BY at DESC, rowid DESC"
                " LIMIT ?)",
                (model, model, self.keep),
            )
            db.execute("COMMIT")

    def recent(self, model: str, limit: int = RECENT) -> list[float]:
        """The latest ``limit`` durations of ``model``, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT duration_s FROM durations WHERE model = ?"
                " ORDER BY at DESC, rowid DESC LIMIT ?",
                (model, limit),
            ).fetchall()
        return [float(row[0]) for row in reversed(rows)]
