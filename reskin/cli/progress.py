"""The terminal's view of a run: each stage ticked with its time, the poll's status with its
elapsed and expected time, a line per segment of a long video, retries and waits as they come.

It is fed by the run's log records and nothing else (the events they carry are in
:mod:`reskin.progress`), so what the terminal says is what the run's logs in the Prefect UI say.

- On a terminal (stderr a TTY), a rich ``Live`` display redrawn four times a second: the stages
  as a checklist, the one under way with a spinner (the poll's with the service's status, for
  how long and for how long a job usually takes: the median learned from the model's earlier
  jobs, else ``RESKIN_POLL_EXPECTED_S``, saying which), a long video's segments under
  ``segments``.
  Lines that are not progress (a retry, a wait, a warning) print above it as they come.
- Anywhere else (a pipe, a file, CI), one short line per record,
  ``08:01:02.123 | INFO    | poll: generating, 42 s elapsed, about 4 min 00 s expected
  (learned from 12 earlier jobs)``: no
  task run name, no logger name, a segment's lines prefixed with the segment.

With ``--json`` all of it goes to stderr as ever; stdout holds the JSON alone.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from reskin.progress import (
    LONG_STAGES,
    STAGES,
    JobStatus,
    Retrying,
    SegmentEnd,
    Segments,
    StageDone,
    event_of,
    expected_source,
    span,
)

Clock = Callable[[], float]
#: The task run a record was logged in, by name (``poll segment 2 of 6 (10.00..20.00 s)``).
TaskName = Callable[[logging.LogRecord], str | None]
#: Which records are shown (the CLI's: all but Prefect's own).
Accept = Callable[[logging.LogRecord], bool]

_SEGMENT_TASK = re.compile(
    r"^(?P<stage>\w+) (?P<name>segment (?P<index>\d+) of (?P<count>\d+) .*)$"
)
#: Segments drawn one a line at most; the others are counted on one line.
MAX_SEGMENT_LINES = 12


@dataclass(frozen=True)
class Place:
    """Where a record comes from: a segment's task (its stage and name), or the edit itself."""

    stage: str | None = None
    segment: int | None = None
    count: int | None = None
    name: str | None = None


def place_of(task_name: str | None) -> Place:
    """The segment and stage of a task run named as :func:`reskin.edit.long.where` names it."""
    if task_name is None:
        return Place()
    found = _SEGMENT_TASK.match(task_name)
    if found is None:
        return Place(stage=task_name.split(" ", 1)[0])
    return Place(
        stage=found["stage"],
        segment=int(found["index"]),
        count=int(found["count"]),
        name=found["name"],
    )


def prefect_task_name(record: logging.LogRecord) -> str | None:
    """The Prefect task run a record was logged in: the name a run logger puts on its records,
    else the run context of the code that logged it (the core's records carry none)."""
    named = getattr(record, "task_run_name", None)
    if isinstance(named, str):
        return named
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    return None if context is None else context.task_run.name


#: How Prefect's task engine says a task run is tried again (``retries=`` on the task).
TASK_RETRY = "Task run failed with %s: %r - Retry %s/%s will start %s"


def task_retry(record: logging.LogRecord, place: Place) -> str | None:
    """Prefect's line about a task tried again, in a few words (``submit failed
    (RateLimitError): the stage is tried again, retry 1 of 2, 10 second(s) from now``), else
    ``None``. The line is Prefect's own (not shown as it is), but the wait it announces is one."""
    if record.msg != TASK_RETRY or not isinstance(record.args, tuple) or len(record.args) != 5:
        return None
    _, failure, number, retries, when = record.args
    why = type(failure).__name__ if isinstance(failure, BaseException) else "failed"
    return (
        f"{place.stage or 'a stage'} failed ({why}): the stage is tried again, retry {number} "
        f"of {retries}, {when}"
    )


def no_task(record: logging.LogRecord) -> str | None:
    return None


def everything(record: logging.LogRecord) -> bool:
    return True


@dataclass
class SegmentLine:
    name: str
    stage: str | None = None
    detail: str = ""
    status: JobStatus | None = None
    status_at: float = 0.0
    started_at: float | None = None
    done_at: float | None = None


@dataclass
class Board:
    """What the run has said so far, and how to draw it (``__rich__``, at every refresh)."""

    clock: Clock = time.monotonic
    #: A first row for what comes before the edit (``prefect``: the run starting), ticked at
    #: the first record of the run (:meth:`begun`), or at the first stage's end.
    prelude: str | None = None
    order: tuple[str, ...] = STAGES
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    status: JobStatus | None = None
    status_at: float = 0.0
    segments: dict[int, SegmentLine] = field(default_factory=dict)
    failed: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.started = self.last_tick = self.clock()
        self._spinner = Spinner("dots", style="cyan")
        self.order = self._with_prelude(self.order)

    def _with_prelude(self, order: tuple[str, ...]) -> tuple[str, ...]:
        return order if self.prelude is None else (self.prelude, *order)

    def begun(self) -> None:
        """The run has begun: the prelude (Prefect starting) is over."""
        with self.lock:
            self._begin(self.clock())

    def _begin(self, at: float) -> None:
        if self.prelude is None or self.prelude in self.seconds:
            return
        self.seconds[self.prelude] = max(at - self.started, 0.0)
        self.last_tick = max(self.started, at)

    def take(self, record: logging.LogRecord, place: Place) -> bool:
        """Note ``record``; whether the board shows all it says (else it is printed too)."""
        event, now = event_of(record), self.clock()
        with self.lock:
            match event:
                case StageDone(stage, seconds):
                    self._begin(now - seconds)  # no record told of the start: the first stage
                    if stage not in self.order:
                        self.order = self._with_prelude(LONG_STAGES)
                    self.seconds[stage] = seconds
                    self.skipped.update(self._before(stage) - set(self.seconds))
                    self.last_tick = now
                    return True
                case Segments(count):
                    self.order = self._with_prelude(LONG_STAGES)
                    for index in range(1, count + 1):
                        self.segments.setdefault(index, SegmentLine(f"segment {index} of {count}"))
                    return False  # its words (segments, scene cuts, billed seconds) print too
                case SegmentEnd(index, count, name):
                    line = self._segment(index, name)
                    line.done_at, line.stage, line.detail = now, None, ""
                    return True
                case JobStatus() if place.segment is not None and place.name is not None:
                    line = self._segment(place.segment, place.name)
                    line.stage, line.status, line.status_at = place.stage, event, now
                    return True
                case JobStatus():
                    self.status, self.status_at = event, now
                    return True
                case Retrying():
                    if place.segment is not None and place.name is not None:
                        line = self._segment(place.segment, place.name)
                        line.stage, line.status = place.stage, None
                        line.detail = f"{event.reason}, waiting {span(event.delay_s)}"
                    return False  # printed above the display as well
            if place.segment is not None and place.name is not None:
                line = self._segment(place.segment, place.name)
                line.stage, line.detail, line.status = place.stage, record.getMessage(), None
                return record.levelno < logging.WARNING
            return False

    def _before(self, stage: str) -> set[str]:
        return set(self.order[: self.order.index(stage)]) if stage in self.order else set()

    def _segment(self, index: int, name: str) -> SegmentLine:
        line = self.segments.setdefault(index, SegmentLine(name))
        line.name = name  # the full name (with its window) once a task has said it
        if line.started_at is None:
            line.started_at = self.clock()
        return line

    def current(self) -> str | None:
        """The stage under way: the first neither done nor skipped."""
        for stage in self.order:
            if stage not in self.seconds and stage not in self.skipped:
                return stage
        return None

    # --- drawing ------------------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        with self.lock:
            now = self.clock()
            width = max(len(stage) for stage in self.order)
            parts: list[RenderableType] = []
            grid = _grid(width)
            current = self.current()
            for stage in self.order:
                if stage in self.seconds:
                    mark, name, detail = Text("✓", "green"), Text(stage), self.seconds[stage]
                    grid.add_row(mark, name, Text(span(detail), "dim"))
                elif stage in self.skipped:
                    grid.add_row(Text("-", "dim"), Text(stage, "dim"), Text("not needed", "dim"))
                elif stage == current and self.failed is not None:
                    grid.add_row(Text("✗", "red"), Text(stage, "red"), Text(self.failed, "red"))
                elif stage == current:
                    grid.add_row(self._spinner, Text(stage, "bold"), self._doing(stage, now))
                else:
                    grid.add_row(Text("·", "dim"), Text(stage, "dim"), "")
                if stage == "segments" and self.segments:
                    # One line each, under their stage's row, cut at the terminal's width.
                    parts += [grid, *self._segment_lines(now)]
                    grid = _grid(width)
            return Group(*parts, grid)

    def _doing(self, stage: str, now: float) -> Text:
        if stage == self.prelude:
            return Text(f"starting the run, {span(now - self.started)}", "dim")
        if stage == "poll" and self.status is not None:
            return _status_text(self.status, now - self.status_at)
        if stage == "segments" and self.segments:
            done = sum(line.done_at is not None for line in self.segments.values())
            return Text(f"{done} of {len(self.segments)} done, {span(now - self.last_tick)}")
        return Text(span(now - self.last_tick), "dim")

    def _segment_lines(self, now: float) -> list[Text]:
        lines = [line for _, line in sorted(self.segments.items())]
        under_way = [line for line in lines if line.done_at is None and line.stage]
        many = len(lines) > MAX_SEGMENT_LINES
        drawn: list[Text] = []
        for line in under_way[:MAX_SEGMENT_LINES] if many else lines:
            if line.done_at is not None:
                took = line.done_at - (line.started_at or line.done_at)
                text = Text.assemble("  ", ("✓ ", "green"), line.name, "  ", (span(took), "dim"))
            elif line.stage is None:
                text = Text.assemble("  ", ("· ", "dim"), (line.name, "dim"), ("  waiting", "dim"))
            else:
                detail = (
                    _status_text(line.status, now - line.status_at)
                    if line.status is not None
                    else Text(line.detail, "dim")
                )
                text = Text.assemble("  ", ("▸ ", "cyan"), line.name, "  ", f"{line.stage}: ")
                text.append_text(detail)
            drawn.append(text)
        if many:
            done = sum(line.done_at is not None for line in lines)
            waiting = len(lines) - done - len(under_way)
            drawn.append(
                Text(f"  {done} done, {len(under_way)} under way, {waiting} waiting", "dim")
            )
        for text in drawn:
            text.no_wrap, text.overflow = True, "ellipsis"
        return drawn


def _grid(name_width: int) -> Table:
    """The stages' rows: a mark, the stage, what it did or does (cut at the terminal's width)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1, no_wrap=True)
    grid.add_column(width=name_width, no_wrap=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    return grid


def _status_text(status: JobStatus, since_s: float) -> Text:
    """``generating, 42 s elapsed of about 1 min 10 s (learned from 12 earlier jobs)`` and a
    bar, the elapsed time running on between the poll's lines (it logs a line per change of
    status, or every 30 s). The expected time is the median the poll learned from the model's
    earlier jobs, or, before any was timed here, the setting (``RESKIN_POLL_EXPECTED_S``)."""
    elapsed = status.elapsed_s + max(since_s, 0.0)
    share = min(elapsed / status.expected_s, 1.0) if status.expected_s > 0 else 0.0
    filled = round(share * 10)
    return Text.assemble(
        (status.status, "cyan"),
        f", {span(elapsed)} elapsed of about {span(status.expected_s)} ",
        (f"({expected_source(status.learned_from)}) ", "dim"),
        ("━" * filled, "cyan"),
        ("━" * (10 - filled), "dim"),
    )


def plain_line(record: logging.LogRecord, place: Place) -> str:
    """One record as one short line: time, level, the segment it is about, the message."""
    message = record.getMessage()
    if place.stage is not None and isinstance(event_of(record), JobStatus):
        message = f"{place.stage}: {message}"  # the poll's status: "poll: generating, ..."
    if place.name is not None and "segment" not in message:
        message = f"{place.name} {message}"  # "segment 2 of 6 (10.00..20.00 s) poll: ..."
    return _plain(record, message)


def _plain(record: logging.LogRecord, message: str) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
    return f"{stamp}.{int(record.msecs):03d} | {record.levelname:<7} | {message}"


class PlainHandler(logging.Handler):
    """Each record as a line on ``console`` (not a terminal: a pipe, a file, CI)."""

    def __init__(
        self, console: Console, task_name: TaskName = no_task, accept: Accept = everything
    ) -> None:
        super().__init__(logging.INFO)
        self._console, self._task_name, self._accept = console, task_name, accept

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if not self._accept(record):
                said = task_retry(record, place_of(self._task_name(record)))
                if said is not None:
                    self._console.print(_plain(record, said), markup=False, soft_wrap=True)
                return
            line = plain_line(record, place_of(self._task_name(record)))
            self._console.print(line, markup=False, highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


class LiveHandler(logging.Handler):
    """Records into ``board``; those it does not show in full printed above the display."""

    def __init__(
        self,
        board: Board,
        print_above: Callable[[Text], None],
        task_name: TaskName = no_task,
        accept: Accept = everything,
    ) -> None:
        super().__init__(logging.INFO)
        self._board, self._print, self._task_name = board, print_above, task_name
        self._accept = accept

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if not self._accept(record):
                # Not shown, but a run's first record (Prefect's "Beginning flow run") says the
                # run has begun: Prefect has started.
                if getattr(record, "flow_run_id", None) is not None:
                    self._board.begun()
                said = task_retry(record, place_of(self._task_name(record)))
                if said is not None:
                    self._print(Text(f"  {said}", "yellow"))
                return
            place = place_of(self._task_name(record))
            if self._board.take(record, place):
                return
            message = record.getMessage()
            if place.name is not None and "segment" not in message:
                message = f"{place.name}: {message}"
            retrying = isinstance(event_of(record), Retrying)
            style = "yellow" if record.levelno >= logging.WARNING or retrying else "dim"
            self._print(Text(f"  {message}", style))
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def showing_progress(
    console: Console,
    *,
    live: bool | None = None,
    accept: Accept = everything,
    task_name: TaskName = no_task,
    prelude: str | None = None,
    clock: Clock = time.monotonic,
) -> Iterator[Board]:
    """Show the progress of whatever runs inside: live when ``console`` is a terminal (or
    ``live``), else as plain lines. ``accept`` keeps records out (Prefect's own, for the CLI);
    ``task_name`` names the task run of a record (:func:`prefect_task_name` in a flow);
    ``prelude`` names a first row for the time before the first stage (Prefect starting)."""
    live = console.is_terminal if live is None else live
    board = Board(clock=clock, prelude=prelude)
    shown: Live | None = None
    if live:
        # Stray writes to stdout or stderr meanwhile (a library's print, a warning) go above
        # the display too: rich's redirection, for as long as it runs.
        shown = Live(board, console=console, refresh_per_second=4, transient=False)
        handler: logging.Handler = LiveHandler(board, shown.console.print, task_name, accept)
    else:
        handler = PlainHandler(console, task_name, accept)
    root, core = logging.getLogger(), logging.getLogger("reskin")
    if core.getEffectiveLevel() > logging.INFO:
        # The stages' and the retries' lines are INFO (a flow's tasks set the same level).
        core.setLevel(logging.INFO)
    root.addHandler(handler)
    if shown is not None:
        shown.start()
    try:
        yield board
    except BaseException as exc:
        board.failed = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        raise
    finally:
        root.removeHandler(handler)
        if shown is not None:
            shown.stop()
