"""The terminal: the command's two consoles, its one-line summary of a result, and the lines of
a Prefect flow run in this process.

``out`` (stdout) and ``err`` (stderr) are the consoles every command prints through; ``describe``
is the summary of an edit that ``reskin edit`` and ``reskin demo`` print after ``done:``.

Prefect prints its engine's lines ("Beginning flow run", "Finished in state", and on failure
the whole traceback) through the console handler it puts on the root logger. The CLI keeps
that handler, for the stage lines our tasks log, but filters out whatever Prefect's own code
emits, so a failure ends in the one line the CLI prints. Nothing changes for the API: the run's
logs, tracebacks included, still reach the server and the UI.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rich.console import Console

from reskin.edit.request import EditResult

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

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


def prefect_console(*, verbose: bool = False) -> None:
    """Set up logging for a flow run in this process (once; later calls do nothing)."""
    global _installed  # logging is process-wide; so is this flag
    if _installed:
        return
    _installed = True
    # On closed networks telemetry only fails; a cold embedded server can need more than 20 s.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    import prefect.main  # sets Prefect's logging up (a bare `import prefect` does not)
    from prefect.logging.handlers import PrefectConsoleHandler

    prefect_dir = str(Path(prefect.main.__file__).parent)

    def ours(record: logging.LogRecord) -> bool:
        # Run loggers carry our tasks' lines too; the file that logged tells them apart.
        return not record.pathname.startswith(prefect_dir)

    if verbose:
        return
    for name in ("", "uvicorn", "fastapi"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                # Filtered, not removed: Prefect's later logging setup looks its handlers up.
                handler.addFilter(ours)
