"""A throwaway PostgreSQL cluster on loopback, for a Prefect server the way production runs one.

::

    with throwaway_postgres() as url:
        server = start_prefect_server(home, env={"PREFECT_API_DATABASE_CONNECTION_URL": url})

The cluster is the tests' (:func:`tests.postgres.throwaway_cluster`, which says what it needs),
with fsync on as in production; this block gives it an empty ``prefect`` database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.postgres import throwaway_cluster

DATABASE = "prefect"


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new cluster with an empty ``prefect`` database; its asyncpg URL."""
    with throwaway_cluster(fsync=True) as cluster:
        yield cluster.create_database(DATABASE, driver="postgresql+asyncpg")
