"""Heavy imports made without the garbage collector, their objects frozen out of it after.

Why. Importing Prefect and the flow leaves about 160,000 objects the collector tracks, alive
as long as the process. Collecting while they are made frees little and costs about an eighth
of the import's CPU; once made, every full collection scans them all again (0.4 s on a busy
2-core machine, 5 microseconds once frozen), which a long server or runner does every few
seconds (``docs/testing.md``, garbage collection). :func:`gc.freeze` moves what is alive to a
generation no collection visits: the documented way for a process that imports everything up
front. Garbage already made is frozen with it, never freed: what imports leave is small and
made once.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def uncollected() -> Iterator[None]:
    """Collection off for the block, then what is alive frozen and collection back as it was
    (still off in a process whose collector runs on a thread of its own)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_on:
            gc.enable()
