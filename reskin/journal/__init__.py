"""The submission journal: what was asked, and which generation the service made for it.

The service has no idempotency key, so reskin keeps its own. A request's fingerprint (source
content hash, window, prompt, model, options) is reserved *before* the create is sent and the
accepted generation id is committed *before* anything else may fail; a rerun of the same request
then resumes that generation instead of paying for a new one.

A database rather than Prefect's transaction store: the CLI, the flow and the workers share it
with row-level atomicity, it survives SIGKILL (each write is one committed transaction), and it
is readable without Prefect. Which database, ``journal_of`` in ``reskin.edit.services`` decides:

=========================  ================================================================
``RESKIN_JOURNAL_URL``     the journal
=========================  ================================================================
unset                      SQLite, ``<work dir>/journal.sqlite3``: WAL needs every user on one
                           host, so "never pay twice" holds per machine
``postgresql://...``       one PostgreSQL database for every machine: a reservation is atomic
                           across hosts, and a generation journaled on one is resumed from any
=========================  ================================================================

=========================  ================================================================
module                     what it holds
=========================  ================================================================
``entries``                :class:`Phase`, :class:`Entry`, :func:`fingerprint`,
                           :func:`file_sha256`
``store``                  :class:`Journal`, one SQLAlchemy Core implementation over both
``schema``                 the tables, their versions, the migration run on opening
``database``               a path or a URL to an engine; driver and disk errors to one line
=========================  ================================================================
"""

from reskin.journal.entries import Clock, Entry, Phase, file_sha256, fingerprint
from reskin.journal.store import Journal

__all__ = ["Clock", "Entry", "Journal", "Phase", "file_sha256", "fingerprint"]
