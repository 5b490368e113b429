"""``reskin edit`` as a thin client of the reskin runner (``reskin/cli/runner.py``).

The runner is a process ``reskin server start`` starts beside its Prefect server: Prefect and
reskin imported once, it runs each edit it is sent as an ``edit_video`` flow run on that server
(in the UI with its task runs, logs and artifacts, as ever). ``reskin edit`` keeps its
preflight and its approval, then sends the request over loopback and draws what comes back on
the same progress display: the run's log records, their progress events
(:mod:`reskin.progress`) as data. The result, the one-line errors, ``--json`` and the exit codes
are those of a run in the process. This module is the client's half and imports neither Prefect
nor httpx: a socket, JSON, and the state file.

The wire: one TCP connection per edit to ``127.0.0.1``, JSON one object a line.

================================  ===============================================================
client -> runner, first line      ``{"token", "fingerprint", "request", "approved_credits"}``
client -> runner, on Ctrl-C       ``{"cancel": true}`` (or the connection closed): the edit is
                                  cancelled in the runner as Ctrl-C cancels it in a process
runner -> client                  ``{"cleared": true}`` once its part of the preflight passed
                                  (a mistake it finds is an ``error`` without it), then
                                  ``{"log": {...}}`` a record of the run (:func:`line_of`), then
                                  one ending: ``{"result", "run_id"}``, ``{"error": {"kind",
                                  "said"}}``, ``{"bug": {"kind", "traceback"}}``,
                                  ``{"interrupted": true}``, or ``{"refused": "..."}`` before
                                  anything ran (wrong token, other settings)
================================  ===============================================================

Who may ask: whoever can read ``runner.json`` (mode 0600, in the server's folder), where the
runner writes the token it expects with its address. Which settings: the runner's, from the
environment ``reskin server start`` had, so it runs an edit only for a client whose settings
(:func:`fingerprint`: every setting, the key among them, the umask and the ``AWS_*`` variables,
keyed with the token so the file never holds a plain hash of the key) are the runner's own;
any other client is told so in one line and runs the edit in its own process.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from reskin import errors
from reskin.cli import wire
from reskin.cli.processes import alive, command_line, current_umask
from reskin.cli.wire import send
from reskin.edit.request import EditRequest, EditResult
from reskin.errors import ReskinError, RunnerError
from reskin.progress import from_dict
from reskin.settings import Settings

#: The runner's state file, in the server's folder beside ``server.json``.
STATE = "runner.json"
LOG = "runner.log"
#: Seconds to connect to the runner before the edit runs in this process instead.
CONNECT_TIMEOUT_S = 2.0
#: Seconds the client waits, after Ctrl-C, for the runner to say the edit has unwound.
UNWIND_S = 30.0
#: The longest line from the runner (a traceback, a result).
MAX_LINE = 1 << 22


@dataclass(frozen=True)
class Runner:
    """A runner that runs: what ``runner.json`` holds."""

    pid: int
    host: str
    port: int
    token: str
    fingerprint: str
    started_at: float
    #: The Prefect API its flow runs go to (empty in a record written before it was kept).
    api_url: str = ""

    def describe(self) -> str:
        return f"pid {self.pid}, on {self.host}:{self.port}"

    def runs_on(self, api_url: str) -> bool:
        """Whether its flow runs go to ``api_url`` (a record without one: the reskin server's)."""
        return not self.api_url or self.api_url.rstrip("/") == api_url.rstrip("/")


def read_state(home: Path) -> Runner | None:
    """The runner ``runner.json`` names, if that process is alive and a reskin runner; a stale
    record is removed."""
    state = home / STATE
    try:
        runner = Runner(**json.loads(state.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if is_runner(runner.pid):
        return runner
    state.unlink(missing_ok=True)
    return None


def write_state(home: Path, runner: Runner) -> None:
    """``runner.json``, made 0600 before the token is in it, replaced whole."""
    partial = home / f".{STATE}.{os.getpid()}.part"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(asdict(runner)))
    partial.replace(home / STATE)


def is_runner(pid: int) -> bool:
    """``pid`` is alive and runs ``python -m reskin.cli.runner`` (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False  # gone, or another user's: not this user's runner
    return alive(pid) and b"reskin.cli.runner" in (command_line(pid) or [])


# --- which settings --------------------------------------------------------------------------


def fingerprint(settings: Settings, token: str, environ: Mapping[str, str] | None = None) -> str:
    """What an edit runs with, as one keyed hash: every setting (secrets by value, folders
    resolved), the umask (outputs follow it) and the ``AWS_*`` variables (boto3's credential
    chain reads them). Equal for a client and the runner: the runner runs as the client would."""
    env = os.environ if environ is None else environ
    values = {name: _plain(getattr(settings, name)) for name in type(settings).model_fields}
    values["umask"] = current_umask()
    values["aws"] = {name: value for name, value in env.items() if name.startswith("AWS_")}
    text = json.dumps(values, sort_keys=True, default=str)
    return hmac.new(token.encode(), text.encode(), hashlib.sha256).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value.expanduser().resolve())
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def absolute(request: EditRequest, cwd: Path | None = None) -> EditRequest:
    """``request`` with its local paths made absolute: the runner's working folder is not the
    client's. URLs and ``s3://`` locations stay as they are."""
    here = cwd or Path.cwd()

    def local(value: str) -> str:
        if "://" in value:
            return value
        return str(here / Path(value).expanduser())

    return request.model_copy(
        update={
            "input": local(request.input),
            "output": local(request.output),
            "reference_images": [local(item) for item in request.reference_images],
        }
    )


# --- the wire --------------------------------------------------------------------------------


def lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    """The runner's messages, one a line, until it closes the connection."""
    return wire.lines(sock, MAX_LINE)


#: What a record carries across (:func:`line_of` in the runner, :func:`record_of` here).
LOG_FIELDS = ("name", "message", "levelno", "levelname", "created", "msecs")


def record_of(line: Mapping[str, Any]) -> logging.LogRecord:
    """A log record of the runner's, rebuilt for the progress display (:mod:`reskin.cli.progress`):
    its words, its event, its task run's name, and whether the display shows it (``ours``: not
    Prefect's own line). Prefect's line that a task is tried again comes back as that line."""
    fields: dict[str, Any] = {name: line[name] for name in LOG_FIELDS}
    fields["msg"], fields["args"] = fields.pop("message"), None
    fields["task_run_name"] = line.get("task")
    fields["ours"] = bool(line.get("ours", True))
    if line.get("begun"):
        fields["flow_run_id"] = line["begun"]
    if line.get("event") is not None:
        fields["progress"] = from_dict(line["event"])
    retry = line.get("retry")
    if isinstance(retry, dict):
        from reskin.cli.progress import TASK_RETRY

        failure = type(str(retry["kind"]), (Exception,), {})()
        fields["msg"] = TASK_RETRY
        fields["args"] = ("", failure, retry["number"], retry["retries"], retry["when"])
    return logging.makeLogRecord(fields)


def shown(record: logging.LogRecord) -> bool:
    return bool(getattr(record, "ours", True))


def task_name(record: logging.LogRecord) -> str | None:
    named = getattr(record, "task_run_name", None)
    return named if isinstance(named, str) else None


def error_of(failure: Mapping[str, Any]) -> ReskinError:
    """The runner's :class:`ReskinError` as one of the same class with the same words, so the
    command line words it (``ReskinError.worded``) and names its kind as for a run here."""
    kind = getattr(errors, str(failure.get("kind")), None)
    cls = kind if isinstance(kind, type) and issubclass(kind, ReskinError) else ReskinError
    error = cls.__new__(cls)
    Exception.__init__(error, str(failure.get("said", "")))
    return error


class RunnerBugError(RuntimeError):
    """The runner's edit failed with a bug: its traceback is printed above."""


class Refused(Exception):
    """The runner would not run the edit (other settings, a token it does not know): run it here."""


# --- one edit --------------------------------------------------------------------------------


def run_remote(
    runner: Runner,
    request: EditRequest,
    approved_credits: float | None,
    settings: Settings,
    *,
    said: str | None = None,
) -> tuple[EditResult, str]:
    """Run ``request`` in ``runner``; its result and flow run id, as a run here gives them.

    Raises what the run raised (a :class:`ReskinError` of the same class and words),
    :class:`Refused` when the runner would not run it, :class:`~reskin.errors.RunnerError` when
    the runner went away mid-edit, ``KeyboardInterrupt`` once the runner has unwound the edit
    after Ctrl-C. ``said`` (rich markup) is printed once the runner has cleared the request
    (its part of the preflight passed), before the run's first record."""
    from reskin.cli.console import err
    from reskin.cli.progress import showing_progress

    try:
        sock = socket.create_connection((runner.host, runner.port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise Refused(f"the reskin runner ({runner.describe()}) does not answer: {exc}") from exc
    with contextlib.closing(sock):
        sock.settimeout(None)
        send(
            sock,
            {
                "token": runner.token,
                "fingerprint": fingerprint(settings, runner.token),
                "request": absolute(request).model_dump(mode="json"),
                "approved_credits": approved_credits,
            },
        )
        with showing_progress(err, accept=shown, task_name=task_name, prelude="prefect"):
            try:
                return _answer(sock, runner, said)
            except KeyboardInterrupt:
                _cancel(sock)
                raise


def _answer(sock: socket.socket, runner: Runner, said: str | None) -> tuple[EditResult, str]:
    root = logging.getLogger()  # where showing_progress put its handler
    for message in lines(sock):
        if "log" in message:
            root.handle(record_of(message["log"]))
        elif "cleared" in message:
            if said is not None:
                from reskin.cli.console import err

                err.print(said)
        elif "result" in message:
            return EditResult.model_validate(message["result"]), str(message["run_id"])
        elif "error" in message:
            raise error_of(message["error"])
        elif "bug" in message:
            from reskin.cli.console import err

            err.print(str(message["bug"].get("traceback", "")), markup=False, highlight=False)
            raise RunnerBugError(f"{message['bug'].get('kind')} in the reskin runner")
        elif "refused" in message:
            raise Refused(str(message["refused"]))
    raise RunnerError(
        f"the reskin runner ({runner.describe()}) stopped during the edit: rerun the same "
        "command to go on (a job the service accepted is resumed, not paid again); "
        "`reskin server status` says what runs"
    )


def _cancel(sock: socket.socket) -> None:
    """Ctrl-C: ask the runner to cancel the edit, and wait (a while) until it has unwound, so
    that what the edit held is given back before this process ends, as in a run here."""
    with contextlib.suppress(OSError):
        send(sock, {"cancel": True})
        deadline = time.monotonic() + UNWIND_S
        sock.settimeout(UNWIND_S)
        with contextlib.suppress(KeyboardInterrupt, ValueError):
            for message in lines(sock):
                if "log" not in message or time.monotonic() > deadline:
                    return
