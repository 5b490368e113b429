"""``python -m reskin.cli.prefect_server server start ...``: Prefect's command line, in a process
whose garbage collector runs on a thread of its own, never on the event loop's.

Why. A Prefect server on SQLite (``aiosqlite``: one thread per database connection, the event
loop on the main thread) now and then stood still for 60 s, every request waiting: one edit in
about 50 to 100 of the bench's took 62 s instead of 3 (``poll`` or ``submit``), and CI saw a
stack test's read time out. ``gdb`` on the stalled server showed where the main thread was:

- the garbage collector, run on the main thread by an allocation there, was freeing a cycle
  that held a traceback, whose frame held a ``sqlite3.Cursor`` of some pool connection;
- freeing a cursor resets its statement, and ``sqlite3_reset`` waits for its connection's
  mutex (``futex_wait`` under ``sqlite3_reset`` <- ``stmt_reset`` <- ``cursor_dealloc``);
- that connection, back in the pool and in use again, was in a statement on its own thread,
  waiting for SQLite's write lock, busy-waiting with the mutex held, up to Prefect's
  ``busy_timeout`` of 60 s;
- the write lock was held by a transaction whose coroutine needed the event loop to go on,
  and the event loop's thread was the one waiting: nothing moved until the busy timeout failed
  the statement (the server logs ``database is locked`` then, from its task-run recorder).

Here automatic collection is off (:func:`gc.disable`) and a daemon thread collects, by
generation, every :data:`TICK_S` (:func:`collect_forever`): a cursor freed there waits for its
connection on that thread alone, the event loop goes on, the lock's holder commits, the waiting
statement gets the lock and the collector its mutex. Collections already ran on any thread that
happened to allocate (the connections' threads among them), so finalizers running off the main
thread is nothing new.
Everything else is ``prefect`` itself, with the arguments given.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

#: Seconds between two collections on the collector's thread, and how many of them go by before
#: an older generation is collected too: the young objects every tick, generation 1 every 10th,
#: everything every 100th (10 s). A full collection of the server's heap takes about 0.1 s with
#: the interpreter's lock held; every second it would pause every request that often.
TICK_S = 0.1
OLDER_EVERY = 10
#: Ticks after which what is alive is frozen out of later collections (reskin/cli/imports.py):
#: by 30 s the server has imported and built its app, the bulk of its heap, which every full
#: collection would otherwise scan again (most of an idle server's CPU went there).
FREEZE_AT_TICK = 300


def collect_forever(every_s: float = TICK_S) -> None:
    """Collect as the interpreter would on its own, on this thread: generation 0 every tick,
    generation 1 every :data:`OLDER_EVERY` ticks, all of them every ``OLDER_EVERY ** 2``; what
    is alive at :data:`FREEZE_AT_TICK` is left out from then on."""
    tick = 0
    while True:
        time.sleep(every_s)
        tick += 1
        if tick == FREEZE_AT_TICK:
            gc.collect(2)
            gc.freeze()
        elif tick % OLDER_EVERY**2 == 0:
            gc.collect(2)
        elif tick % OLDER_EVERY == 0:
            gc.collect(1)
        else:
            gc.collect(0)


def main() -> None:
    gc.disable()
    threading.Thread(target=collect_forever, name="reskin-gc", daemon=True).start()
    from prefect.cli import app

    sys.argv = ["prefect", *sys.argv[1:]]
    app()  # exits with the command's own code


#: How a command line names this module (``deployments/up.py`` and the tests start servers so).
MODULE = "reskin.cli.prefect_server"


def argv(*args: str) -> list[str]:
    """The command that runs ``prefect *args`` this way, with this interpreter."""
    return [sys.executable, "-m", MODULE, *args]


if __name__ == "__main__":
    main()
