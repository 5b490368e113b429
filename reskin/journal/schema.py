"""The journal's tables, their versions, and the migration that brings a journal to this one.

=======  ==========================================================================
version  what it has
=======  ==========================================================================
1        ``submissions`` (reskin before the shared journal): no version table
2        ``journal_version``; ``submissions.holder`` (``<host> pid <pid>`` of the run that
         reserved an entry, so a refusal can say who holds it); an index on
         ``generation_id`` (``fingerprint_of``)
=======  ==========================================================================

reskin creates or migrates the schema itself when it opens a journal, in one transaction:
on PostgreSQL under an advisory lock (machines opening a new journal at once create it once),
on SQLite under ``BEGIN IMMEDIATE``. A journal newer than this code is refused, never written.
"""

from __future__ import annotations

import logging

from sqlalchemy import (
    Column,
    Connection,
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)

from reskin.errors import JournalError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2

#: Any fixed number: the key of the PostgreSQL advisory lock held while a schema is made.
_MIGRATION_LOCK = 0x7265_736B_696E  # "reskin"

metadata = MetaData()

submissions = Table(
    "submissions",
    metadata,
    Column("fingerprint", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("generation_id", Text),
    Column("reserved_at", Double, nullable=False),
    Column("accepted_at", Double),
    Column("updated_at", Double, nullable=False),
    Column("result_path", Text),
    Column("credits_used", Double),
    Column("error", Text),
    Column("holder", Text),
    Index("submissions_generation_id", "generation_id"),
)

journal_version = Table(
    "journal_version",
    metadata,
    Column("version", Integer, nullable=False),
)


def version_of(db: Connection) -> int:
    """The schema version of the journal ``db`` holds; 0 when it holds none yet."""
    tables = inspect(db)
    if tables.has_table(journal_version.name):
        return int(db.execute(select(func.max(journal_version.c.version))).scalar() or 0)
    return 1 if tables.has_table(submissions.name) else 0


def migrate(db: Connection, *, shown: str) -> None:
    """Bring the journal ``db`` to :data:`SCHEMA_VERSION`, inside the caller's transaction.

    ``shown`` names the journal in messages (a path, or a URL with its password masked).
    """
    if db.dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    version = version_of(db)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the journal {shown} has schema version {version}, newer than this reskin knows "
            f"({SCHEMA_VERSION}): upgrade reskin here to the version the other machines run"
        )
    if version == 0:
        metadata.create_all(db)
        log.info("journal %s: created (schema version %d)", shown, SCHEMA_VERSION)
    if version == 1:
        db.execute(text("ALTER TABLE submissions ADD COLUMN holder TEXT"))
        for index in submissions.indexes:
            index.create(db)
        journal_version.create(db)
        log.info("journal %s: migrated from schema version 1 to %d", shown, SCHEMA_VERSION)
    db.execute(journal_version.delete())
    db.execute(journal_version.insert().values(version=SCHEMA_VERSION))
