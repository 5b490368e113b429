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

An event is plain data, so it crosses a process too: :func:`to_dict` and :func:`from_dict` turn
it into JSON's types and back (``reskin edit`` run by the reskin runner draws the runner's
events, ``reskin/cli/remote.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass

#: The name of the extra that carries the event on a log record.
KEY = "progress"

#: The stages in the order :func:`reskin.edit.pipeline.edit` runs them (``conform`` and
#: ``place`` only when sent): the names a :class:`StageDone` carries. Here, not in the
#: pipeline, so that a display (``reskin edit``'s client of the reskin runner) knows them
#: without importing the stages.
STAGES = (
    "take_in",
    "plan",
    "conform",
    "place",
    "submit",
    "poll",
    "fetch",
    "fidelity",
    "sound",
    "deliver",
)
#: The stages of a long edit (``segments``: every segment's plan to fetch, run concurrently).
LONG_STAGES = ("take_in", "split", "segments", "stitch", "fidelity", "sound", "deliver")


@dataclass(frozen=True)
class StageDone:
    stage: str
    seconds: float


@dataclass(frozen=True)
class JobStatus:
    status: str
    elapsed_s: float
    #: The median job length the poll's schedule learned (``reskin.aimlapi.polling``).
    expected_s: float
    #: How many earlier jobs it was learned from; 0: the setting, RESKIN_POLL_EXPECTED_S.
    learned_from: int = 0


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


#: Each kind of event by its name, as :func:`to_dict` writes it.
KINDS: dict[str, type[Event]] = {
    kind.__name__: kind for kind in (StageDone, JobStatus, Retrying, Segments, SegmentEnd)
}


#: The types each word of a field's annotation allows, in JSON (a float may come whole).
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "float": (int, float),
    "int": (int,),
    "bool": (bool,),
    "None": (type(None),),
}


def _allowed(annotation: object) -> tuple[type, ...]:
    """The types an annotation (``float``, ``int | None``) allows; a new word is a bug here."""
    return tuple(kind for word in str(annotation).split("|") for kind in _TYPES[word.strip()])


def to_dict(event: Event) -> dict[str, object]:
    """``event`` as JSON's types: ``{"kind": "StageDone", "stage": "poll", "seconds": 1.2}``."""
    return {"kind": type(event).__name__, **dataclasses.asdict(event)}


def from_dict(data: Mapping[str, object]) -> Event:
    """The event :func:`to_dict` wrote; a :class:`ValueError` for anything else."""
    kind = KINDS.get(str(data.get("kind")))
    if kind is None:
        raise ValueError(f"not a progress event: {data.get('kind')!r}")
    names = {item.name: item.type for item in dataclasses.fields(kind)}
    fields = {name: value for name, value in data.items() if name != "kind"}
    if not set(fields) <= set(names):
        raise ValueError(f"{kind.__name__} has no field {sorted(set(fields) - set(names))}")
    for name, value in fields.items():
        wanted = _allowed(names[name])
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            raise ValueError(f"{kind.__name__}.{name} is not a {names[name]}: {value!r}")
    return kind(**fields)  # type: ignore[arg-type]


def event_of(record: logging.LogRecord) -> Event | None:
    """The event a record reports, if any."""
    event = getattr(record, KEY, None)
    if isinstance(event, StageDone | JobStatus | Retrying | Segments | SegmentEnd):
        return event
    return None


def expected_source(learned_from: int) -> str:
    """Where a :class:`JobStatus`'s expected time comes from: ``learned from 12 earlier jobs``
    (the median the poll learned), or the setting, ``RESKIN_POLL_EXPECTED_S``."""
    if learned_from <= 0:
        return "RESKIN_POLL_EXPECTED_S"
    return f"learned from {learned_from} earlier job{'' if learned_from == 1 else 's'}"


def span(seconds: float) -> str:
    """Seconds as a person reads them: ``0.4 s``, ``42 s``, ``4 min 05 s``."""
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
