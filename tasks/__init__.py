"""Prefect tasks, one module per pipeline stage, each wrapping a function of the reskin core.

The core logs to the ``reskin`` logger; :func:`forward_core_logs` sends those lines to the run
they belong to as well, so the UI shows what ffmpeg and the client decided, not only the stages.
"""

from __future__ import annotations

import logging

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler


def _in_a_run(record: logging.LogRecord) -> bool:
    # The core also logs outside runs (a stand-in serving in the same process): those lines
    # belong to no run and stay local.
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def forward_core_logs() -> None:
    """Attach Prefect's API log handler to the core's logger, once per process."""
    core = logging.getLogger("reskin")
    if not any(isinstance(handler, APILogHandler) for handler in core.handlers):
        handler = APILogHandler()
        handler.addFilter(_in_a_run)
        core.addHandler(handler)
    if core.level == logging.NOTSET or core.level > logging.INFO:
        core.setLevel(logging.INFO)


forward_core_logs()
