"""A gate for a long edit's local work: a few at once, the most urgent first, not first come.

A long edit's segments share the machine's cores for their local steps (``plan``, ``conform``,
``fetch``: one ffmpeg each). With a plain semaphore they go in the order they asked, so a
segment's stream copy (a few hundredths of a second) could wait behind two re-encodes (seconds
each on two cores) and its create, ready at once, went out after them. :class:`Turns` lets
``size`` holders in at once like a semaphore, but when one leaves, the waiter of the lowest
rank goes next (:func:`reskin.edit.segments.local_rank` gives the ranks: plans and fetches
first, then stream copies, then re-encodes longest first); equal ranks go first come.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

#: Local steps of a long edit at once (conforms, fetches and their decodes, the stitch's
#: encodes): one ffmpeg each, as many as the machine has cores (a ten-minute video has a
#: hundred segments).
LOCAL_AT_ONCE = max(1, os.cpu_count() or 1)

#: A rank: compared as a tuple, lowest first.
Rank = tuple[float, ...]


class Turns:
    """At most ``size`` holders at once; when one leaves, the waiting rank that is lowest enters."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a gate lets at least one through, got {size}")
        self._free = size
        self._waiting: list[tuple[Rank, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @asynccontextmanager
    async def turn(self, rank: Rank) -> AsyncIterator[None]:
        """Hold one of the places while the block runs, entering in ``rank`` order."""
        await self._enter(rank)
        try:
            yield
        finally:
            self._leave()

    @property
    def waiting(self) -> int:
        """How many wait for a place (cancelled ones not counted)."""
        return sum(1 for _, _, future in self._waiting if not future.done())

    async def _enter(self, rank: Rank) -> None:
        if self._free and not self.waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (rank, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # handed a place as it was cancelled
                self._leave()
            raise

    def _leave(self) -> None:
        """Hand the place to the lowest waiting rank, or free it."""
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1
