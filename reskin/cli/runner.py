"""The reskin runner: one long-lived process that runs ``reskin edit``'s edits as flow runs.

``reskin server start`` starts it beside the Prefect server (``python -m reskin.cli.runner``,
in a session of its own, its output in ``runner.log``), in the environment of that command and
with ``PREFECT_API_URL`` aimed at that server. It imports Prefect, the flows and the media
stack once, listens on ``127.0.0.1`` (a free port), writes ``runner.json`` (mode 0600: its
pid, port and a token of its own, :mod:`reskin.cli.remote`) and then runs each edit a client
sends as ``edit_video`` flow run of its own, in this process's event loop: the run is on the
server and in the UI as any other, with its task runs, logs and artifacts. What the client pays
is a connection and the run itself: no interpreter, no imports, no Prefect start.

Each connection is one edit, a task of this loop: several run at once, as several ``reskin
edit`` processes would, each with its own flow run, job and slot of the shared limits. The
run's log records reach the client that asked for it (a context variable says whose edit a
record belongs to; ``asyncio.to_thread`` carries it into the stages' threads), as one JSON line
each (:func:`line_of`). A client that sends ``cancel``, or goes away, has its edit cancelled
as Ctrl-C cancels one in a process: every stage unwinds, a create that never left gives up its
reservation, an accepted job stays journaled. The runner answers ``interrupted`` once that is
done. SIGTERM (``reskin server stop``) cancels what runs the same way and ends the process; its
clients say in one line that the runner stopped, and their reruns resume from the journal.

A request whose token is not the runner's is refused, and so is one whose settings fingerprint
is not the runner's: the runner never runs an edit with settings other than its client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hmac
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reskin.cli.remote import MAX_LINE, STATE, Runner, fingerprint, write_state
from reskin.cli.wire import NEWLINE
from reskin.edit.request import EditRequest, EditResult
from reskin.errors import ReskinError
from reskin.progress import event_of, to_dict
from reskin.settings import Settings

HOST = "127.0.0.1"
#: Seconds the runner gives its edits to unwind when it is stopped.
STOP_UNWIND_S = 10.0

Edit = Callable[[EditRequest, "float | None"], Awaitable[tuple[EditResult, str]]]
Message = dict[str, Any]
Sink = Callable[[Message], None]
#: Whether the client's display shows a record (Prefect's own lines: no).
Ours = Callable[[logging.LogRecord], bool]
TaskName = Callable[[logging.LogRecord], "str | None"]

#: Where the records of the edit running in this context go.
SINK: contextvars.ContextVar[Sink | None] = contextvars.ContextVar(
    "reskin_runner_sink", default=None
)

#: Prefect's line that a task is tried again (``reskin.cli.progress.TASK_RETRY``), its args.
_TASK_RETRY = "Task run failed with %s: %r - Retry %s/%s will start %s"


def line_of(record: logging.LogRecord, ours: Ours, task_name: TaskName) -> Message | None:
    """A record of an edit as the client's display needs it (``remote.record_of`` rebuilds
    it): the words, the event as data, the task run's name; of Prefect's own records only the
    run's first (the run has begun) and a task's retry, without their words. None: not sent."""
    line: Message = {
        "name": record.name,
        "levelno": record.levelno,
        "levelname": record.levelname,
        "created": record.created,
        "msecs": record.msecs,
        "task": task_name(record),
    }
    if ours(record):
        event = event_of(record)
        return line | {
            "message": record.getMessage(),
            "event": None if event is None else to_dict(event),
            "ours": True,
        }
    begun = getattr(record, "flow_run_id", None)
    retry = None
    if record.msg == _TASK_RETRY and isinstance(record.args, tuple) and len(record.args) == 5:
        _, failure, number, retries, when = record.args
        kind = type(failure).__name__ if isinstance(failure, BaseException) else "failed"
        retry = {"kind": kind, "number": number, "retries": retries, "when": str(when)}
    if begun is None and retry is None:
        return None
    return line | {
        "message": "",
        "ours": False,
        "begun": None if begun is None else str(begun),
        "retry": retry,
    }


class Forward(logging.Handler):
    """Every record logged by an edit, to that edit's client (nothing for records of no edit)."""

    def __init__(self, ours: Ours, task_name: TaskName) -> None:
        super().__init__(logging.INFO)
        self._ours, self._task_name = ours, task_name

    def emit(self, record: logging.LogRecord) -> None:
        sink = SINK.get()
        if sink is None:
            return
        try:
            line = line_of(record, self._ours, self._task_name)
            if line is not None:
                sink({"log": line})
        except Exception:
            self.handleError(record)


@dataclass
class Service:
    """The runner's answers: one edit per connection."""

    settings: Settings
    edit: Edit
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    edits: set[asyncio.Task[tuple[EditResult, str]]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.fingerprint = fingerprint(self.settings, self.token)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handle(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            asked = json.loads(await reader.readline())
            token, mark = str(asked["token"]), str(asked["fingerprint"])
            request = EditRequest.model_validate(asked["request"])
            approved = asked.get("approved_credits")
        except (ValueError, KeyError, TypeError, ValidationError):
            return await _say(writer, {"refused": "not a request the runner reads"})
        if not hmac.compare_digest(token, self.token):
            return await _say(writer, {"refused": "a token the runner did not issue"})
        if not hmac.compare_digest(mark, self.fingerprint):
            return await _say(writer, {"refused": "the runner runs with other settings"})
        outbox: asyncio.Queue[Message | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def sink(message: Message) -> None:  # from any thread of the edit
            loop.call_soon_threadsafe(outbox.put_nowait, message)

        async def one() -> tuple[EditResult, str]:
            SINK.set(sink)  # this task's context, and the threads it starts
            return await self.edit(request, approved if isinstance(approved, float | int) else None)

        edit = asyncio.create_task(one())
        self.edits.add(edit)
        pump = asyncio.create_task(_pump(outbox, writer))
        told = asyncio.create_task(reader.readline())  # a cancel, or the client gone (EOF)
        try:
            await asyncio.wait({edit, told}, return_when=asyncio.FIRST_COMPLETED)
            interrupted = not edit.done()
            if interrupted:
                edit.cancel()
                await asyncio.wait({edit})
            outbox.put_nowait(_ending(edit, interrupted=interrupted))
        finally:
            told.cancel()
            self.edits.discard(edit)
            outbox.put_nowait(None)
            await pump


def _ending(edit: asyncio.Task[tuple[EditResult, str]], *, interrupted: bool) -> Message:
    if edit.cancelled():
        return {"interrupted": True} if interrupted else {"stopped": True}
    exc = edit.exception()
    if exc is None:
        result, run_id = edit.result()
        return {"result": result.model_dump(mode="json"), "run_id": run_id}
    if isinstance(exc, ReskinError):
        return {"error": {"kind": type(exc).__name__, "said": exc.said}}
    if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError) and interrupted:
        return {"interrupted": True}
    shown = "".join(traceback.format_exception(exc))
    return {"bug": {"kind": type(exc).__name__, "traceback": shown}}


async def _pump(outbox: asyncio.Queue[Message | None], writer: asyncio.StreamWriter) -> None:
    """The edit's messages to its client, in order; a client gone is written to no more."""
    gone = False
    while (message := await outbox.get()) is not None:
        if gone:
            continue
        try:
            writer.write(json.dumps(message).encode() + NEWLINE)
            await writer.drain()
        except (ConnectionError, RuntimeError):
            gone = True


async def _say(writer: asyncio.StreamWriter, message: Message) -> None:
    with contextlib.suppress(ConnectionError):
        writer.write(json.dumps(message).encode() + NEWLINE)
        await writer.drain()


async def serve(
    service: Service,
    home: Path,
    *,
    stop: asyncio.Event,
    ours: Ours,
    task_name: TaskName,
    host: str = HOST,
    logger: logging.Logger | None = None,
) -> None:
    """Listen on ``host`` (a free port), say where in ``runner.json``, run edits until ``stop``
    is set; then cancel what runs, give it :data:`STOP_UNWIND_S` to unwind, and remove the
    record. The edits' records are taken from ``logger`` (the root logger: all of them)."""
    forward = Forward(ours, task_name)
    root = logging.getLogger() if logger is None else logger
    root.addHandler(forward)
    server = await asyncio.start_server(service.handle, host, 0, limit=MAX_LINE)
    try:
        port = int(server.sockets[0].getsockname()[1])
        runner = Runner(
            pid=os.getpid(),
            host=host,
            port=port,
            token=service.token,
            fingerprint=service.fingerprint,
            started_at=time.time(),
            api_url=os.environ.get("PREFECT_API_URL", ""),
        )
        write_state(home, runner)
        await stop.wait()
    finally:
        server.close()
        for edit in list(service.edits):
            edit.cancel()
        if service.edits:
            await asyncio.wait(set(service.edits), timeout=STOP_UNWIND_S)
        root.removeHandler(forward)
        _forget(home)


def _forget(home: Path) -> None:
    """Remove ``runner.json`` if it is this process's."""
    state = home / STATE
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        if json.loads(state.read_text())["pid"] == os.getpid():
            state.unlink()


async def run_in_flow(
    settings: Settings, request: EditRequest, approved_credits: float | None
) -> tuple[EditResult, str]:
    """An edit as ``reskin edit`` runs it in its process: the ``edit_video`` flow, here. First
    the preflight's media checks, which the client leaves to the runner (a local input's
    content, the window): a mistake is answered before any flow run is made."""
    from flows.edit_video import run_edit_flow
    from reskin.edit.preflight import preflight

    await asyncio.to_thread(preflight, request, settings)
    sink = SINK.get()
    if sink is not None:
        sink({"cleared": True})  # the client now says where the edit runs

    return await run_edit_flow(request, approved_credits)


def main() -> None:
    """``python -m reskin.cli.runner``: as ``reskin server start`` starts it."""
    from reskin.cli.console import prefect_console
    from reskin.cli.progress import prefect_task_name
    from reskin.cli.server import home_of
    from reskin.settings import load_settings

    settings = load_settings()
    home = home_of(settings)
    # Prefect's console handler writes reskin's own lines to runner.log; Prefect's stay on the
    # server. The imports an edit needs are made now, not in the first edit.
    ours = prefect_console(verbose=True)
    logging.getLogger("reskin").setLevel(logging.INFO)
    forks = start_fork_server(home)  # ends when this process does (its stdin closes)
    warm()

    async def until_stopped() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        service = Service(settings, functools.partial(run_in_flow, settings))
        async with prefect_clients():
            await serve(service, home, stop=stop, ours=ours, task_name=prefect_task_name)

    try:
        asyncio.run(until_stopped())
    finally:
        if forks is not None and forks.stdin is not None:
            forks.stdin.close()  # it takes no more requests, and ends after its copies


@contextlib.asynccontextmanager
async def prefect_clients() -> AsyncIterator[None]:
    """One Prefect client of each kind for every edit this runner runs. Without them each flow
    run makes its own: an async one for the run (its CSRF token fetched again) and, twice, a
    sync one only to resolve the flow's result storage, each building a TLS context from the
    system's certificates; about 0.15 s of every edit (``docs/bench.md``, the command line).
    The async client belongs to this loop, where every edit runs; httpx's sync client may be
    shared across the stages' threads."""
    from prefect.context import AsyncClientContext, SyncClientContext

    with SyncClientContext():
        async with AsyncClientContext():
            yield


def start_fork_server(home: Path) -> subprocess.Popen[bytes] | None:
    """The fork server of ``reskin edit`` (reskin/cli/forkserver.py) for this server folder,
    in a session of its own (``reskin server stop`` ends this process's group, not the
    commands the fork server's copies still run for their clients); its output in this
    process's log. It stops once this process ends and its stdin, a pipe of ours, closes.
    None where it cannot run (no pidfd: Linux before 5.3)."""
    if not hasattr(os, "pidfd_open"):
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "reskin.cli.forkserver", str(home)],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )


def warm() -> None:
    """Import what an edit imports on its way (the flow, the stages' media and scores), their
    objects then left out of every collection (reskin/cli/imports.py)."""
    from reskin.cli.imports import uncollected

    with uncollected():
        import flows.edit_video  # noqa: F401
        import reskin.edit.fidelity
        import reskin.fidelity.scores
        import reskin.journal
        import reskin.media.preview  # noqa: F401


if __name__ == "__main__":
    main()
