"""The progress display (issue 17): fed by a real edit on the stand-in, in plain lines and live,
and ``reskin edit`` on a real terminal (a pseudo-terminal) against the session's Prefect server.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Mapping, Sequence
from fcntl import ioctl
from pathlib import Path

import pytest
from rich.console import Console

from reskin.cli.progress import (
    TASK_RETRY,
    Board,
    Place,
    place_of,
    plain_line,
    showing_progress,
    task_retry,
)
from reskin.durations import FILE_NAME, DurationLog
from reskin.edit.pipeline import STAGES, edit
from reskin.edit.request import EditRequest, EditResult
from reskin.edit.services import open_services
from reskin.errors import RateLimitError
from reskin.progress import JobStatus, SegmentEnd, Segments, StageDone, extra
from reskin.registry import DEFAULT_MODEL
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from tests.conftest import InputClip
from tests.prefect_server import PrefectServer

#: A plain line: "08:01:02.123 | INFO    | take_in done in 0.42 s".
PLAIN = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| [A-Z]+ +\| \S")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
NOTICE = "anonymous usage data"


def final_frame(board: Board, width: int = 120) -> str:
    """The board as the display draws it last."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(board)
    return console.export_text()


def direct_edit(request: EditRequest) -> EditResult:
    async def run() -> EditResult:
        async with open_services(load_settings()) as services:
            return await edit(request, services)

    return asyncio.run(run())


# --- fed by a real edit ----------------------------------------------------------------------


def test_a_real_edit_with_a_429_shows_each_stage_and_the_wait(
    edit_env: Path, standin: StandIn, input_clip: InputClip, tmp_path: Path
):
    """One edit on the stand-in (the core's stages, no Prefect), shown both ways at once."""
    standin.set_faults(create_429=1, retry_after_s=1)
    request = EditRequest(
        input=str(input_clip(duration_s=3.0)),
        prompt="sepia film",
        output=str(tmp_path / "out" / "a.mp4"),
    )
    plain = Console(file=io.StringIO(), width=200)  # a file: not a terminal
    tty = io.StringIO()
    live = Console(file=tty, force_terminal=True, width=120)
    with showing_progress(plain), showing_progress(live) as board:
        result = direct_edit(request)

    lines = plain.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines
    assert [line for line in lines if not PLAIN.match(line)] == []
    for stage in STAGES:
        said = f"| INFO    | {stage} done in {result.timings_s[stage]:.2f} s"
        assert any(line.endswith(said) for line in lines), stage
    waits = [line for line in lines if "| 429 on" in line]
    assert len(waits) == 1
    assert waits[0].endswith(
        "| INFO    | 429 on the create, waiting 1.0 s as asked (Retry-After), then retry 1 of 4"
    )
    assert standin.key not in plain.file.getvalue()  # type: ignore[attr-defined]

    # Live: the board saw the same stages and times, the wait printed above it.
    assert board.seconds == result.timings_s
    assert board.current() is None
    frame = final_frame(board)
    for stage in STAGES:
        assert re.search(rf"✓ {stage} +\d", frame), frame
    assert "429 on the create, waiting 1.0 s" in ANSI.sub("", tty.getvalue())
    assert standin.key not in tty.getvalue()


# --- the board, record by record -------------------------------------------------------------


def record(message: str, *, event: object = None, task: str | None = None) -> logging.LogRecord:
    """A record as a stage's logger makes it (``extra`` as ``reskin.progress.extra`` gives)."""
    fields: dict[str, object] = {"name": "reskin.test", "msg": message, "levelno": logging.INFO}
    fields["levelname"] = "INFO"
    if event is not None:
        fields.update(extra(event))  # type: ignore[arg-type]
    if task is not None:
        fields["task_run_name"] = task
    return logging.makeLogRecord(fields)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_task_run_name_tells_the_segment_and_the_stage():
    assert place_of("poll segment 2 of 6 (10.00..20.00 s)") == Place(
        stage="poll", segment=2, count=6, name="segment 2 of 6 (10.00..20.00 s)"
    )
    assert place_of("poll 1a2b3c4d") == Place(stage="poll")
    assert place_of(None) == Place()


def test_the_poll_shows_its_status_elapsed_and_expected_running_on():
    clock = Clock()
    board = Board(clock=clock)
    for stage in ("take_in", "plan", "conform", "place", "submit"):
        board.take(record(f"{stage} done", event=StageDone(stage, 0.5)), Place())
    status = JobStatus("generating", 40.0, 240.0)
    assert board.take(record("generating", event=status), Place(stage="poll"))
    clock.now += 5
    frame = final_frame(board)
    # No job of this model timed here yet: the expected time is the setting, and says so.
    expected = r"of about 4 min 00 s \(RESKIN_POLL_EXPECTED_S\)"
    assert re.search(rf"poll +generating, 45 s elapsed {expected}", frame), frame
    assert "✓ submit" in frame
    # Once the poll has learned from earlier jobs, their median is shown, and whence it comes.
    learned = JobStatus("generating", 50.0, 70.0, learned_from=12)
    assert board.take(record("generating", event=learned), Place(stage="poll"))
    frame = final_frame(board)
    expected = r"of about 70 s \(learned from 12 earlier jobs\)"
    assert re.search(rf"poll +generating, 50 s elapsed {expected}", frame), frame


def test_a_stage_passed_over_is_marked_not_needed():
    """A resumed edit goes from plan to submit: conform and place were not needed."""
    board = Board(clock=Clock())
    for stage in ("take_in", "plan", "submit"):
        board.take(record("done", event=StageDone(stage, 0.1)), Place())
    frame = final_frame(board)
    assert re.search(r"- conform +not needed", frame), frame
    assert board.current() == "poll"


def test_a_long_edit_gets_a_line_per_segment():
    clock = Clock()
    board = Board(clock=clock)
    board.take(record("take_in done", event=StageDone("take_in", 1.0)), Place())
    assert not board.take(record("split: 3 segments", event=Segments(3)), Place())
    board.take(record("split done", event=StageDone("split", 0.2)), Place())
    second = "segment 2 of 3 (10.00..20.00 s)"
    board.take(
        record("generating", event=JobStatus("generating", 12.0, 240.0), task=f"poll {second}"),
        place_of(f"poll {second}"),
    )
    first = "segment 1 of 3 (0.00..10.00 s)"
    board.take(record("submitted", task=f"submit {first}"), place_of(f"submit {first}"))
    clock.now += 30
    board.take(record("done", event=SegmentEnd(1, 3, first)), Place())
    frame = final_frame(board, width=140)
    assert f"✓ {first}" in frame
    assert re.search(rf"{re.escape(second)} +poll: generating, 42 s elapsed", frame), frame
    assert re.search(r"· segment 3 of 3 +waiting", frame), frame
    assert re.search(r"segments +1 of 3 done", frame), frame
    # Plain lines name the segment a task's line is about.
    said = record("generating", event=JobStatus("generating", 12.0, 240.0), task=f"poll {second}")
    line = plain_line(said, place_of(f"poll {second}"))
    assert PLAIN.match(line)
    assert line.endswith(f"| INFO    | {second} poll: generating")


def test_a_task_retried_by_prefect_is_one_short_line():
    """Prefect's own line (not shown as it is) announces a wait: said in a few words."""
    import prefect.task_engine

    # The line as Prefect's task engine logs it, which this Prefect still does.
    assert f'"{TASK_RETRY}"' in inspect.getsource(prefect.task_engine)
    prefects = logging.makeLogRecord(
        {
            "msg": TASK_RETRY,
            "args": (
                "exception",
                RateLimitError("429", status_code=429),
                1,
                2,
                "10 second(s) from now",
            ),
        }
    )
    said = task_retry(prefects, place_of("submit clip.mp4"))
    assert said == (
        "submit failed (RateLimitError): the stage is tried again, retry 1 of 2, "
        "10 second(s) from now"
    )
    assert task_retry(record("submitted"), Place()) is None


def test_a_failure_marks_the_stage_it_stopped_in():
    tty = io.StringIO()
    live = Console(file=tty, force_terminal=True, width=100)

    def fail_in_plan() -> None:
        logging.getLogger("reskin.edit.pipeline").info(
            "take_in done", extra=extra(StageDone("take_in", 0.3))
        )
        raise RuntimeError("the stage failed")

    with pytest.raises(RuntimeError), showing_progress(live) as board:
        fail_in_plan()
    assert re.search(r"✗ plan +failed", ANSI.sub("", tty.getvalue()))
    assert board.seconds == {"take_in": 0.3}


# --- `reskin edit` on a terminal -------------------------------------------------------------


def in_terminal(
    argv: Sequence[str], env: Mapping[str, str], timeout_s: float = 120
) -> tuple[int, str, str]:
    """Run ``argv`` with stderr on a pseudo-terminal 100 columns wide (stdout a pipe): its exit
    code, what the terminal got (escapes removed) and stdout."""
    controller, terminal = pty.openpty()
    ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    process = subprocess.Popen(
        argv, stdin=terminal, stdout=subprocess.PIPE, stderr=terminal, env=dict(env)
    )
    os.close(terminal)
    screen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the last holder of the terminal has gone
                return
            if not chunk:
                return
            screen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=10)
        os.close(controller)
    text = ANSI.sub("", b"".join(screen).decode(errors="replace")).replace("\r", "")
    return process.returncode, text, out.decode()


def terminal_env(base: Mapping[str, str], home: Path) -> dict[str, str]:
    """``base`` with a Prefect home never used (Prefect's first-run notice would show in it),
    no telemetry choice made and no CI variable (Prefect stays quiet in CI)."""
    from prefect._internal.analytics.ci_detection import CI_ENV_VARS

    dropped = {"DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED", *CI_ENV_VARS}
    env = {name: value for name, value in base.items() if name not in dropped}
    env.update(PREFECT_HOME=str(home), TERM="xterm-256color", COLUMNS="100")
    return env


@pytest.mark.slow
def test_reskin_edit_on_a_terminal_shows_the_stages_the_429_and_no_banner(
    cli_env: dict[str, str],
    standin: StandIn,
    prefect_server: PrefectServer,
    input_clip: InputClip,
    tmp_path: Path,
):
    standin.set_faults(create_429=1, retry_after_s=1)
    # Three earlier jobs of the model timed at this stand-in: the poll expects what they took.
    durations = DurationLog(Path(cli_env["RESKIN_WORK_DIR"]) / FILE_NAME)
    for seconds in (0.6, 0.7, 0.8):
        durations.add(standin.base_url, DEFAULT_MODEL, seconds)
    output = tmp_path / "out" / "a.mp4"
    env = terminal_env(cli_env, tmp_path / "fresh-prefect-home")
    clip = input_clip(duration_s=3.0)
    argv = [sys.executable, "-m", "reskin", "edit", str(clip)]
    code, screen, out = in_terminal(
        [*argv, "--prompt", "sepia film", "--output", str(output), "--json"], env
    )
    assert code == 0, screen
    assert out.count("\n") == 1, out  # --json: stdout holds the JSON alone
    for stage in ("prefect", *STAGES):
        assert re.search(rf"✓ {stage} +\d", screen), screen
    assert "429 on the create, waiting 1.0 s as asked (Retry-After), then retry 1 of 4" in screen
    assert NOTICE not in screen
    assert "Traceback" not in screen
    assert " | INFO " not in screen  # no log records on a terminal: the display
    assert cli_env["AIMLAPI_API_KEY"] not in screen

    assert json.loads(out)["output"] == str(output)

    # The same wait is in the run's logs on the server, at INFO: the Prefect UI shows it.
    (run,) = prefect_server.filter("flow_runs", {"flow_runs": {"name": {"like_": clip.name}}})
    logs = prefect_server.filter(
        "logs", {"logs": {"flow_run_id": {"any_": [run["id"]]}, "level": {"ge_": logging.INFO}}}
    )
    said = [log["message"] for log in logs]
    assert "429 on the create, waiting 1.0 s as asked (Retry-After), then retry 1 of 4" in said
    assert any(message.startswith("poll done in ") for message in said)
    # The poll's status lines expect the median learned from those jobs (the setting says 1 s).
    statuses = [m for m in said if re.match(r"(queued|generating|completed), ", m)]
    assert statuses, said
    for message in statuses:
        assert re.search(r"about 0\.\d s expected \(learned from 3 earlier jobs\)$", message)


@pytest.mark.slow
def test_prefect_alone_would_print_its_notice_on_that_terminal(tmp_path: Path):
    """The control: the same terminal and a fresh home, Prefect imported without reskin."""
    env = terminal_env(os.environ, tmp_path / "fresh-prefect-home")
    _, screen, _ = in_terminal([sys.executable, "-c", "import prefect"], env, timeout_s=60)
    assert NOTICE in screen
    _, quiet, _ = in_terminal(
        [sys.executable, "-c", "import reskin.cli.console; import prefect"],
        terminal_env(os.environ, tmp_path / "another-fresh-home"),
        timeout_s=60,
    )
    assert NOTICE not in quiet
