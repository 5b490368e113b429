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

A run interrupted where it runs (Ctrl-C in ``reskin edit``, a client of the reskin runner that
asks or goes away, ``reskin server stop``) is recorded Crashed by Prefect's engine, as if the
machine had failed; :func:`mark_interrupted` records it Cancelled instead, saying how to go on.

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
from prefect.client.schemas.objects import State, StateType
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


#: The Cancelled state's message of a run interrupted where it ran (:func:`mark_interrupted`).
INTERRUPTED = (
    "interrupted where it ran (Ctrl-C in `reskin edit`, or `reskin server stop`): rerun the same "
    "request to go on; a job the service accepted is resumed, not paid again"
)


#: Seconds :func:`mark_interrupted` waits for the server: an interrupt ends promptly.
MARK_S = 5.0


async def mark_interrupted(run_id: UUID, *, within_s: float = MARK_S) -> None:
    """Record the run ``run_id``, interrupted where it ran, Cancelled with :data:`INTERRUPTED`
    (over the Crashed the engine recorded), on a shared server (Prefect's embedded one goes
    down with the process). Best effort, within ``within_s``: the edit has unwound already,
    and a server out of reach leaves the engine's state; said at debug level only, as the
    interrupt's own answer is one line."""
    if not shared_server():
        return
    cancelled: State[None] = CancelledState(message=INTERRUPTED)
    try:
        async with get_client() as client:
            await asyncio.wait_for(
                client.set_flow_run_state(run_id, cancelled, force=True), within_s
            )
    except Exception as exc:  # the interrupt goes on either way
        logging.getLogger(__name__).debug("could not record the run cancelled: %s", exc)
