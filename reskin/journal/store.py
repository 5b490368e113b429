"""The :class:`Journal`: one implementation (SQLAlchemy Core) over SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import socket
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from reskin.journal.database import engine_for, errors_of, location_of
from reskin.journal.entries import Clock, Entry, Phase
from reskin.journal.schema import migrate, submissions

log = logging.getLogger(__name__)

_ENTRY_COLUMNS = (
    submissions.c.fingerprint,
    submissions.c.state,
    submissions.c.generation_id,
    submissions.c.reserved_at,
    submissions.c.accepted_at,
    submissions.c.result_path,
    submissions.c.credits_used,
    submissions.c.error,
    submissions.c.holder,
    submissions.c.updated_at,
)


def this_holder() -> str:
    """Who this process is, as an entry it reserves records it."""
    return f"{socket.gethostname()} pid {os.getpid()}"


class Journal:
    """The submissions of every run that shares it: safe for several processes, and with a
    PostgreSQL URL for several machines.

    ``where``: a :class:`~pathlib.Path` is a SQLite file (made with its folder if missing); a
    string is a ``postgresql://user:password@host:port/database`` URL (``postgresql+psycopg://``
    too). The schema is created or migrated on opening (:mod:`reskin.journal.schema`). Errors
    are :class:`~reskin.errors.JournalError` or, for a full disk under SQLite,
    :class:`~reskin.errors.DiskFullError`, in one line, a URL's password masked.

    :meth:`close` (or ``with``) returns its connections; one left open is closed when the
    journal is garbage-collected or the process exits.
    """

    def __init__(self, where: Path | str, *, clock: Clock = time.time) -> None:
        self.location = location_of(where)
        self._clock = clock
        self._engine = engine_for(self.location)
        self._closed = weakref.finalize(self, self._engine.dispose)
        try:
            with errors_of(self.location):
                if isinstance(where, Path):
                    where.parent.mkdir(parents=True, exist_ok=True)
                with self._engine.begin() as db:
                    migrate(db, shown=self.location.shown)
        except BaseException:
            self.close()
            raise
        log.debug("journal: %s", self.location.shown)

    @property
    def shown(self) -> str:
        """Where the journal is, safe to show: a path, or a URL with its password masked."""
        return self.location.shown

    def close(self) -> None:
        """Close the journal's connections (PostgreSQL keeps a few open between calls)."""
        self._closed()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({self.shown!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with errors_of(self.location), self._engine.begin() as db:
            yield db

    def get(self, fp: str) -> Entry | None:
        with self._transaction() as db:
            row = db.execute(
                select(*_ENTRY_COLUMNS).where(submissions.c.fingerprint == fp)
            ).one_or_none()
        return None if row is None else _entry(row)

    def fingerprint_of(self, generation_id: str) -> str | None:
        """The fingerprint ``generation_id`` is journaled under, if any (a finished run reports
        its generation, not its fingerprint)."""
        with self._transaction() as db:
            found = db.execute(
                select(submissions.c.fingerprint)
                .where(submissions.c.generation_id == generation_id)
                .limit(1)
            ).scalar()
        return None if found is None else str(found)

    def reserve(self, fp: str, *, replacing: Entry | None = None) -> bool:
        """Claim ``fp`` before sending a create; ``False`` when an entry already holds it.

        ``replacing``: the entry the caller saw and may replace (stale, or a forced
        resubmission); it is dropped only if it is still that entry (same state, same
        reservation time), so an entry another run wrote since is never replaced: a compare and
        swap. One transaction, and an insert that does nothing on a conflict: of processes
        reserving the same ``fp`` at once, on one machine or (PostgreSQL) on several, exactly
        one gets ``True``.
        """
        now = self._clock()
        values = {
            "fingerprint": fp,
            "state": Phase.RESERVED.value,
            "reserved_at": now,
            "updated_at": now,
            "holder": this_holder(),
        }
        with self._transaction() as db:
            if replacing is not None:
                db.execute(
                    delete(submissions).where(
                        submissions.c.fingerprint == fp,
                        submissions.c.state == replacing.phase.value,
                        submissions.c.reserved_at == replacing.reserved_at,
                    )
                )
            dialect = postgresql if db.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(submissions).values(**values)
            # RETURNING rather than rowcount, which psycopg does not give for this statement.
            inserted = db.execute(
                insert.on_conflict_do_nothing(index_elements=[submissions.c.fingerprint]).returning(
                    submissions.c.fingerprint
                )
            ).first()
        return inserted is not None

    def release(self, fp: str) -> None:
        """Drop a reservation whose create surely was not accepted (so a rerun may send it)."""
        with self._transaction() as db:
            db.execute(
                delete(submissions).where(
                    submissions.c.fingerprint == fp, submissions.c.state == Phase.RESERVED.value
                )
            )

    def touch(self, fp: str) -> None:
        """Say a run is still sending ``fp``: the heartbeat of a create in flight, so another
        run asking for the same request waits for its answer (:mod:`reskin.submission`)."""
        with self._transaction() as db:
            db.execute(
                update(submissions)
                .where(submissions.c.fingerprint == fp, submissions.c.state == Phase.RESERVED.value)
                .values(updated_at=self._clock())
            )

    def unanswered(self, fp: str) -> None:
        """Say the run that sent ``fp`` stopped waiting for its answer (a lost answer, an
        interrupt after sending): no live run is sending it, so a run asking for the same
        request refuses at once instead of waiting out :data:`~reskin.submission.LIVE_S` for a
        heartbeat that will not come. ``updated_at`` 0 is "touched never"."""
        with self._transaction() as db:
            db.execute(
                update(submissions)
                .where(submissions.c.fingerprint == fp, submissions.c.state == Phase.RESERVED.value)
                .values(updated_at=0.0)
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

    def _update(self, fp: str, phase: Phase, **fields: Any) -> None:
        with self._transaction() as db:
            changed = db.execute(
                update(submissions)
                .where(submissions.c.fingerprint == fp)
                .values(state=phase.value, updated_at=self._clock(), **fields)
            ).rowcount
        if changed != 1:
            raise KeyError(f"no submission {fp} in the journal")

    def is_stale(self, entry: Entry, *, retention_s: float) -> bool:
        """True when the service no longer keeps what this entry points at."""
        since = entry.accepted_at if entry.accepted_at is not None else entry.reserved_at
        return self._clock() - since > retention_s


def _entry(row: Row[Any]) -> Entry:
    return Entry(
        fingerprint=row.fingerprint,
        phase=Phase(row.state),
        generation_id=row.generation_id,
        reserved_at=row.reserved_at,
        accepted_at=row.accepted_at,
        result_path=row.result_path,
        credits_used=row.credits_used,
        error=row.error,
        holder=row.holder,
        updated_at=row.updated_at,
    )
