"""Where a journal lives (a SQLite file, or a PostgreSQL database), its engine, and its errors.

=================  ==========================================================================
``SqliteFile``     one machine: WAL, ``synchronous=FULL``, every transaction ``BEGIN
                   IMMEDIATE`` (a reservation is atomic across processes); a connection per
                   call (NullPool), as SQLite opens in microseconds and holds nothing between
``PostgresServer`` several machines: psycopg 3, a pool of at most 4 connections per journal,
                   checked before use (a server restart between two calls costs one reconnect)
=================  ==========================================================================

A URL's password is never shown: :attr:`PostgresServer.shown` masks it, and an error of the
driver (whose text may quote connection parameters) is reduced to its first line, masked, and
not chained.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from reskin.errors import DiskFullError, JournalError, ReskinError

#: Seconds a SQLite write waits for another process's transaction before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Seconds to open a connection to the PostgreSQL server.
CONNECT_TIMEOUT_S = 10
#: Space the journal asks for when its disk is full: its file and WAL stay within a few MB.
NEEDED_BYTES = 8 * 1024 * 1024

_SCHEMES = ("postgresql://", "postgresql+psycopg://")
#: SQLSTATE classes of a database that cannot be used at all: connection exception, invalid
#: authorization, no such database, the server shutting down or starting.
_UNREACHED = ("08", "28", "3D000", "57P")


@dataclass(frozen=True)
class SqliteFile:
    path: Path

    @property
    def shown(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class PostgresServer:
    url: URL

    @property
    def shown(self) -> str:
        """The URL with its password masked."""
        return self.url.render_as_string(hide_password=True)


Location = SqliteFile | PostgresServer


def location_of(where: Path | str) -> Location:
    """A path is a SQLite file; a string is a ``postgresql://`` (or ``postgresql+psycopg://``)
    URL. A URL that does not parse is refused without quoting it (it may hold a password)."""
    if isinstance(where, Path):
        return SqliteFile(where)
    if not where.startswith(_SCHEMES):
        raise JournalError(
            "the journal URL must start with postgresql:// or postgresql+psycopg:// "
            "(postgresql://user:password@host:5432/database): check RESKIN_JOURNAL_URL"
        )
    try:
        url = make_url(where)
    except ArgumentError:
        raise JournalError(
            "the journal URL does not parse as postgresql://user:password@host:5432/database: "
            "check RESKIN_JOURNAL_URL"
        ) from None
    return PostgresServer(url)


def engine_for(location: Location) -> Engine:
    match location:
        case SqliteFile(path=path):
            engine = create_engine(
                URL.create("sqlite+pysqlite", database=str(path)),
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
            )
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        case PostgresServer(url=url):
            return create_engine(
                url.set(drivername="postgresql+psycopg"),
                pool_size=2,
                max_overflow=2,
                pool_pre_ping=True,
                pool_recycle=1800,
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT_S,
                    "application_name": "reskin journal",
                },
            )
        case _:
            assert_never(location)


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # The driver's own transaction handling off: SQLAlchemy's "begin" emits BEGIN IMMEDIATE
    # (SQLAlchemy's documented pysqlite recipe), so a transaction takes the write lock at once.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed id must survive a power cut as well as a SIGKILL.
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _sqlite_begin(db: Connection) -> None:
    db.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def errors_of(location: Location) -> Iterator[None]:
    """Turn the driver's and the disk's errors into one-line :class:`ReskinError`\\ s."""
    try:
        yield
    except ReskinError:
        raise
    except (DBAPIError, sqlite3.Error, OSError) as exc:
        raise _convert(exc, location) from None  # the driver's text is in the message, masked


def _convert(exc: Exception, location: Location) -> ReskinError:
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    reason = _first_line(cause, location)
    match location:
        case SqliteFile(path=path):
            if _disk_full(cause):
                return DiskFullError(
                    f"the journal {path} cannot be written, the disk is full ({reason}): free "
                    f"some space in {path.parent} (the journal needs a few MB)",
                    folder=path.parent,
                    needed_bytes=NEEDED_BYTES,
                )
            if "database is locked" in reason:
                return JournalError(
                    f"the journal {path} stayed locked by another process for "
                    f"{SQLITE_BUSY_TIMEOUT_S:.0f} s: is a process stuck on it? Rerun when it "
                    "is done"
                )
            return JournalError(
                f"the journal {path} cannot be used ({reason}): check that {path.parent} is a "
                "writable folder on a local disk (RESKIN_WORK_DIR)"
            )
        case PostgresServer():
            shown = location.shown
            if getattr(cause, "sqlstate", None) == "42501":  # insufficient_privilege
                return JournalError(
                    f"the journal database {shown} refused a statement ({reason}): its user "
                    "needs CREATE on the schema on the first run, and SELECT, INSERT, UPDATE "
                    "and DELETE on the journal's tables"
                )
            state = getattr(cause, "sqlstate", None)
            if isinstance(exc, DBAPIError) and (
                exc.connection_invalidated or state is None or state.startswith(_UNREACHED)
            ):
                return JournalError(
                    f"the journal database {shown} cannot be reached ({reason}): check "
                    "RESKIN_JOURNAL_URL (host, port, user, password, database) and that the "
                    "server accepts connections from this machine"
                )
            return JournalError(f"the journal database {shown} failed a statement ({reason})")
        case _:
            assert_never(location)


def _disk_full(cause: BaseException) -> bool:
    if isinstance(cause, OSError):
        return cause.errno == errno.ENOSPC
    if isinstance(cause, sqlite3.Error):
        code = getattr(cause, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
            return True
        text = str(cause)
        return "database or disk is full" in text or "disk I/O error" in text
    return False


def _first_line(cause: BaseException, location: Location) -> str:
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    reason = lines[0] if lines else type(cause).__name__
    if isinstance(location, PostgresServer) and location.url.password:
        reason = reason.replace(str(location.url.password), "***")
    return reason.rstrip(".")
