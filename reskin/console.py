"""The terminal of a CLI run that runs a Prefect flow in-process.

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

_installed = False


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
