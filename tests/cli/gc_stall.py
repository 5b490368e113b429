"""The stall ``reskin/cli/prefect_server.py`` is about, on plain ``sqlite3``: run as
``python -m tests.cli.gc_stall main|thread DB``, it prints ``inserted`` or ``locked``.

- connection ``holder`` takes SQLite's write lock (``BEGIN IMMEDIATE``), as a transaction of
  the server's event loop does, and gives it back only when the main thread gets to it (it
  writes nothing, so the waiter's read, below, is still the latest when it gets the lock);
- connection ``waiter`` has a cursor whose statement failed, and that cursor is garbage in a
  reference cycle (as a traceback's frame held one in the server); on a thread of its own,
  ``waiter`` then inserts: it waits for the write lock, holding its own mutex, up to its busy
  timeout;
- then the garbage is collected: ``main``, on the main thread, as an allocation there does
  by default; ``thread``, on the collector thread of ``reskin.cli.prefect_server``, automatic
  collection being off as it is there. Freeing the cursor needs ``waiter``'s mutex.

With ``main`` the main thread waits for that mutex, so the holder never commits: the insert
runs out its busy timeout (``locked``). With ``thread`` the main thread goes on, commits, and
the insert gets the lock (``inserted``).
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from reskin.cli.prefect_server import collect_forever

#: The waiter's busy timeout: how long the stall lasts with ``main`` (Prefect's is 60 s).
BUSY_TIMEOUT_MS = 3000


def main(mode: str, path: Path) -> str:
    if mode == "thread":
        gc.disable()
        threading.Thread(target=collect_forever, args=(0.05,), daemon=True).start()
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode = WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    setup.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(10)])
    setup.commit()
    setup.close()

    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    waiter = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    _garbage_cursor(waiter, holder)
    # Writing nothing, so that the waiter's read is not out of date once the lock is free.
    holder.execute("BEGIN IMMEDIATE")

    outcome: list[str] = []

    def insert() -> None:
        try:
            waiter.execute("INSERT INTO t VALUES (-2)")
            outcome.append("inserted")
        except sqlite3.OperationalError as exc:
            outcome.append("locked" if "locked" in str(exc) else str(exc))

    inserting = threading.Thread(target=insert)
    inserting.start()
    time.sleep(0.3)  # the insert is waiting for the lock now, its mutex held
    if mode == "main":
        gc.collect()  # as an allocation on the event loop's thread would
    else:
        time.sleep(0.3)  # the collector thread's turn
    holder.execute("COMMIT")  # what the event loop would do next
    inserting.join()
    return outcome[0]


def _garbage_cursor(waiter: sqlite3.Connection, holder: sqlite3.Connection) -> None:
    """A cursor of ``waiter`` whose insert failed (the lock was taken, no busy timeout), kept
    only by a reference cycle: a failed statement stays marked in use, so freeing the cursor
    resets it, which needs ``waiter``'s mutex (a cursor that read to its end would not)."""
    waiter.execute("PRAGMA busy_timeout = 0")
    holder.execute("BEGIN IMMEDIATE")
    cursor = waiter.cursor()
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("INSERT INTO t VALUES (0)")
    holder.execute("COMMIT")
    waiter.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cycle: list[Any] = [cursor]
    cycle.append(cycle)


if __name__ == "__main__":
    print(main(sys.argv[1], Path(sys.argv[2])))
