"""A context manager held in a task of its own: asked for ahead, given back in the background.

The job slot (the jobs-in-flight limit on the Prefect server, ``tasks/limits.py``) is a few
requests to that server on each side of the create: the ask (often answered with a 503 on its
SQLite and asked again) and the release. Asked where it is needed, they add their time to the
edit's: about 0.1 to 0.2 s of a 4 s clip's edit (``docs/bench.md``, the command line). Held by
:class:`Held`, the ask runs beside ``take_in`` and the release beside ``fetch``; what the slot
guards (the create and the poll) still runs only while it is held::

    async with held_ahead(stages.job_slot(services), ahead=True) as slot:
        taken = await take_in(...)           # the slot is asked for meanwhile
        async with slot:                     # waits until it is held (raises what the ask raised)
            await submit(...); await poll(...)
        # left: given back in the background
        await fetch(...)
    # here the slot has been given back, whatever happened

Without ``ahead`` the ask starts at ``async with slot`` (a run that may pause for a person's
approval: a slot is never held while it waits). :meth:`Held.give_back` lets go of a slot never
used (a long edit asks for one per segment). A cancel ends a wait for the slot at once; the
manager's own exit (the release, within its grace) runs in its task, which the outer block
awaits, so nothing is left held when the edit ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from types import TracebackType


class Held:
    """The manager's task, and the two moments the caller chooses: its use, and its end."""

    def __init__(self, manager: AbstractAsyncContextManager[object]) -> None:
        self._manager = manager
        self._entered = asyncio.Event()
        self._leave = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ask(self) -> asyncio.Task[None]:
        """Start entering the manager, in a task of its own (the caller's context copied),
        unless it was started already; that task."""
        if self._task is None:
            self._task = asyncio.create_task(self._hold(), name="held ahead")
        return self._task

    async def _hold(self) -> None:
        async with self._manager:
            self._entered.set()
            await self._leave.wait()

    async def __aenter__(self) -> None:
        """Wait until the manager is entered; what entering raised is raised here."""
        task = self.ask()
        entered = asyncio.create_task(self._entered.wait())
        try:
            await asyncio.wait({task, entered}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            entered.cancel()
        if not self._entered.is_set():
            await task  # ended before it was entered: its error (or cancel), here
            raise RuntimeError("the held manager ended before it was entered")

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._leave.set()  # left in the background; :func:`held_ahead` awaits the end

    def give_back(self) -> None:
        """Let go of a manager never used: a wait for it ends, a held one is left."""
        self._leave.set()
        if self._task is not None and not self._entered.is_set():
            self._task.cancel()

    async def end(self) -> None:
        """Leave (or stop entering) and wait until the manager's exit has run; what it raised
        is raised here."""
        self.give_back()
        if self._task is None:
            return
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.done():  # this caller was cancelled: the exit still ends
                with contextlib.suppress(BaseException):
                    await self._task
                raise
            if not self._task.cancelled():
                raise
            # the wait was cancelled by give_back: nothing was held, nothing to say


@contextlib.asynccontextmanager
async def held_ahead(
    manager: AbstractAsyncContextManager[object], *, ahead: bool
) -> AsyncIterator[Held]:
    """``manager`` as a :class:`Held`: asked for now when ``ahead``, else at its use; its end
    awaited when the block ends. An error of the manager's exit is raised only when the block
    itself raised nothing."""
    held = Held(manager)
    if ahead:
        held.ask()
    try:
        yield held
    except BaseException:
        with contextlib.suppress(Exception):
            await held.end()
        raise
    await held.end()
