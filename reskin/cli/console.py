"""The terminal: the command's two consoles, its one-line summary of a result, and the lines of
a Prefect flow run in this process.

``out`` (stdout) and ``err`` (stderr) are the consoles every command prints through; ``describe``
is the summary of an edit that ``reskin edit`` and ``reskin demo`` print after ``done:``.

Prefect prints its engine's lines ("Beginning flow run", "Finished in state", and on failure
the whole traceback) through the console handler it puts on the root logger. For a run,
:func:`run_console` silences that handler and shows the run's progress instead
(:mod:`reskin.cli.progress`: a live display on a terminal, short lines elsewhere), from every
record but those of Prefect's own code, so a failure ends in the one line the CLI prints. With
``-v`` Prefect's handler stays, filtered the same way, beside the debug lines. Nothing changes
for the API: the run's logs, tracebacks included, still reach the server and the UI.

No foreign banners: "Prefect collects anonymous usage data..." is printed on stderr by
``import prefect`` itself (``prefect/_internal/analytics/notice.py``, from
``initialize_analytics``), when stdout or stderr is a terminal, the Prefect home has no
``.sdk_telemetry`` folder yet, and neither ``DO_NOT_TRACK`` nor a CI variable is set; the
embedded server sends its own telemetry unless ``PREFECT_SERVER_ANALYTICS_ENABLED`` is false.
:func:`quiet_prefect` (run when this module is imported, before any command imports Prefect)
sets both off in reskin's processes (and those they start), unless the user has opted in by
setting ``PREFECT_SERVER_ANALYTICS_ENABLED`` to true themselves.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path

from rich.console import Console

from reskin.edit.request import EditResult


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


err = _err()
out = _out()


def reopen_consoles() -> None:
    """``err`` and ``out`` made again, in place (every module holds these two objects): rich
    chooses colours, width and whether it draws live from the terminal and the environment
    when a console is made. For a fork server's copy (reskin/cli/forkserver.py), which took
    over another process's terminal and environment."""
    vars(err).update(vars(_err()))
    vars(out).update(vars(_out()))


_installed = False


def describe(result: EditResult) -> str:
    """Size, duration, sound, generation id and what it cost, in one line."""
    credits = (
        "credits not reported"
        if result.credits_used is None
        else (f"{result.credits_used:g} credits")
    )
    paid = "resumed, not paid again" if result.resumed else credits
    sound = "with sound" if result.has_audio else "silent"
    return (
        f"{result.width}x{result.height}, {result.output_duration_s:.2f} s, {sound}, "
        f"generation {result.generation_id}, {paid}"
    )


def quiet_prefect(environ: MutableMapping[str, str] = os.environ) -> None:
    """Prefect's telemetry off in this process and those it starts (the server's analytics and
    the client's first-run notice, which ``DO_NOT_TRACK`` turns off), unless the user set
    ``PREFECT_SERVER_ANALYTICS_ENABLED`` to true: then both are left as they set them."""
    if environ.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false").strip().lower() in _YES:
        return  # opted in
    environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    environ.setdefault("DO_NOT_TRACK", "1")


_YES = frozenset({"1", "true", "yes", "on", "t", "y"})

quiet_prefect()  # before any command imports Prefect: the notice is printed by `import prefect`


def prefect_console(*, verbose: bool = False) -> Callable[[logging.LogRecord], bool]:
    """Set up logging for a flow run in this process (once); the filter that keeps Prefect's
    own records out of what the terminal shows."""
    global _installed  # logging is process-wide; so is this flag
    quiet_prefect()
    # A cold embedded server can need more than 20 s.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    import prefect.main  # sets Prefect's logging up (a bare `import prefect` does not)
    from prefect.logging.handlers import PrefectConsoleHandler

    prefect_dir = str(Path(prefect.main.__file__).parent)

    def ours(record: logging.LogRecord) -> bool:
        # Run loggers carry our tasks' lines too; the file that logged tells them apart.
        return not record.pathname.startswith(prefect_dir)

    if _installed:
        return ours
    _installed = True
    for name in ("", "uvicorn", "fastapi"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                # Filtered, not removed: Prefect's later logging setup looks its handlers up.
                # Without -v the progress display shows what the terminal gets.
                handler.addFilter(ours if verbose else _nothing)
    return ours


def _nothing(record: logging.LogRecord) -> bool:
    return False


@contextlib.contextmanager
def run_console(*, verbose: bool = False) -> Iterator[None]:
    """The terminal of a flow run in this process: the progress display on stderr (live on a
    terminal, short lines elsewhere), or with ``verbose`` Prefect's lines and the debug lines."""
    from reskin.cli.progress import prefect_task_name, showing_progress

    ours = prefect_console(verbose=verbose)
    if verbose:
        yield
        return
    with showing_progress(err, accept=ours, task_name=prefect_task_name, prelude="prefect"):
        yield
