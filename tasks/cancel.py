"""Cancelling a ``reskin edit`` run from the Prefect UI or ``prefect flow-run cancel``.

A deployment's run has a runner or a worker watching it: when the run is set Cancelling, it
kills the run's process and records it Cancelled (the engine's own handling). A flow called in
a process of its own (``reskin edit``) has nobody watching: the run would stay Cancelling while
the edit went on. :func:`cancellable` is that watcher for such a run: it reads the run's state
every :data:`CHECK_S` and, once it is Cancelling, cancels the edit (every stage unwinds: a create
that never left gives up its reservation, an accepted job stays journaled for the rerun to
resume), records the run Cancelled and raises :class:`Cancelled` (Prefect's ``Abort``: the
engine then leaves the run's state as it is, where any other error would make it Failed);
:func:`flows.edit_video.run_edit_flow` turns it into :class:`~reskin.errors.RunCancelledError`.

Runs started by a runner or a worker (``PREFECT__FLOW_RUN_ID`` in the environment), subflows
(their parent's watcher covers them) and runs on Prefect's embedded server (no other process
can reach it to cancel) are left to Prefect: one read of the run per :data:`CHECK_S` is the
whole cost otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable
from typing import TypeVar
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext
from prefect.exceptions import Abort
from prefect.states import Cancelled as CancelledState

from tasks.limits import shared_server

T = TypeVar("T")

#: Seconds between two reads of the run's state.
CHECK_S = 2.0
#: Seconds the edit is given to unwind (release what it holds) once cancelled.
UNWIND_S = 30.0

_CANCELLED = (StateType.CANCELLING, StateType.CANCELLED)


class Cancelled(Abort):
    """The run was cancelled from outside, and is recorded Cancelled."""


def watched_here() -> UUID | None:
    """The id of this process's run when the process must watch it itself (see the module)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow_run.parent_task_run_id:
        return None
    if os.environ.get("PREFECT__FLOW_RUN_ID") or not shared_server():
        return None
    return context.flow_run.id


async def cancellable(work: Awaitable[T], *, check_s: float = CHECK_S) -> T:
    """``work``'s result, unless the run is cancelled first (then :class:`Cancelled`)."""
    run_id = watched_here()
    if run_id is None:
        return await work
    doing = asyncio.ensure_future(work)
    watching = asyncio.ensure_future(_until_cancelled(run_id, check_s))
    try:
        await asyncio.wait({doing, watching}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        doing.cancel()
        raise
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    if doing.done():
        return doing.result()
    doing.cancel()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(doing, UNWIND_S)
    async with get_client() as client:
        await client.set_flow_run_state(
            run_id, CancelledState(message="Cancelled by request: the edit stopped"), force=True
        )
    raise Cancelled("the run was cancelled")


async def _until_cancelled(run_id: UUID, check_s: float) -> None:
    async with get_client() as client:
        while True:
            await asyncio.sleep(check_s)
            try:
                run = await client.read_flow_run(run_id)
            except Exception as exc:  # a blip of the server: the edit goes on
                logging.getLogger(__name__).debug("run state unreadable, will look again: %s", exc)
                continue
            if run.state is not None and run.state.type in _CANCELLED:
                return
