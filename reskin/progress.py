"""What a run reports while it goes, as typed values on its log records.

The core reports progress through logging and nothing else: a record whose ``progress`` extra
holds one of these events says in data what its message says in words. The run's logs (the
Prefect UI, a batch's logs) read the words; a display (``reskin.cli.progress``) draws the data.
So the core needs no display, no callback and no Prefect, and a line the terminal shows is a
line the UI shows too.

=================== ================================ ==========================================
event               logged by                        says
=================== ================================ ==========================================
:class:`StageDone`  ``reskin.edit.pipeline`` (INFO)  a stage ended, after so many seconds
:class:`JobStatus`  ``tasks/poll.py`` (INFO)         the service's status of a job, elapsed and
                                                     expected seconds
:class:`Retrying`   ``reskin.aimlapi.retry`` (INFO)  an HTTP call failed and is tried again
                                                     after a wait (a 429, a 5xx, a connect)
:class:`Segments`   ``reskin.edit.long`` (INFO)      a long edit goes as so many segments
:class:`SegmentEnd` ``reskin.edit.long`` (INFO)      one segment is edited (paid, resumed or
                                                     reused) and fetched
=================== ================================ ==========================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

#: The name of the extra that carries the event on a log record.
KEY = "progress"


@dataclass(frozen=True)
class StageDone:
    stage: str
    seconds: float


@dataclass(frozen=True)
class JobStatus:
    status: str
    elapsed_s: float
    expected_s: float


@dataclass(frozen=True)
class Retrying:
    #: What was asked: ``create``, ``fetch of <id>``, ``download``.
    what: str
    #: Why it failed: an HTTP status (``429``) or a transport error's name (``ConnectError``).
    reason: str
    attempt: int
    retries: int
    delay_s: float
    #: Whether the service asked for the wait (``Retry-After``).
    asked: bool = False


@dataclass(frozen=True)
class Segments:
    count: int


@dataclass(frozen=True)
class SegmentEnd:
    index: int
    count: int
    #: ``segment 3 of 6 (20.00..30.00 s)``, as the segment's task runs are named.
    name: str


Event = StageDone | JobStatus | Retrying | Segments | SegmentEnd


def extra(event: Event) -> dict[str, object]:
    """The ``extra=`` of a log call that reports ``event``."""
    return {KEY: event}


def event_of(record: logging.LogRecord) -> Event | None:
    """The event a record reports, if any."""
    event = getattr(record, KEY, None)
    if isinstance(event, StageDone | JobStatus | Retrying | Segments | SegmentEnd):
        return event
    return None


def span(seconds: float) -> str:
    """Seconds as a person reads them: ``0.4 s``, ``42 s``, ``4 min 05 s``."""
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
