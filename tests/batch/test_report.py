"""The record of a batch: the results manifest (atomic, JSONL and CSV, read back by the next
run), the table, and the one-line errors of failed children."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest

from reskin.batch.manifest import Clip
from reskin.batch.report import (
    CSV_COLUMNS,
    TABLE_COLUMNS,
    ResultsWriter,
    clip_row,
    counts_line,
    error_of,
    failure_of,
    not_made_line,
    read_results,
    table,
    write_results,
)
from reskin.batch.request import BatchResult, ClipRow, ClipStatus
from reskin.edit.request import EditRequest
from reskin.errors import InputError, ProbeError


def _clip(index: int, prompt: str = "sepia") -> Clip:
    request = EditRequest(input=f"/in/c{index}.mp4", prompt=prompt, output=f"/out/c{index}.mp4")
    return Clip(index, f"c{index}.mp4", index + 2, request)


def _rows() -> list[ClipRow]:
    return [
        clip_row(_clip(0), ClipStatus.DONE, generation_id="g0", credits_used=300.0, paid=True,
                 motion=0.91, structure=0.88, seconds=4.26, flow_run_id="r0", fingerprint="f0"),
        clip_row(_clip(1), ClipStatus.SKIPPED, generation_id="g1", credits_used=300.0,
                 seconds=0.0, fingerprint="f1"),
        clip_row(_clip(2), ClipStatus.FAILED, error="c2.mp4: not a video", seconds=1.0),
        clip_row(_clip(3), ClipStatus.OVER_BUDGET),
    ]  # fmt: skip


def test_the_results_are_written_whole_and_read_back(tmp_path: Path) -> None:
    rows = _rows()
    out = tmp_path / "out"
    assert write_results(out, rows) == out / "results.jsonl"
    assert sorted(path.name for path in out.iterdir()) == ["results.csv", "results.jsonl"]
    assert list(read_results(out).values()) == rows
    assert read_results(out)["/out/c1.mp4"].status is ClipStatus.SKIPPED
    with (out / "results.csv").open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert tuple(lines[0]) == CSV_COLUMNS
    assert [line["status"] for line in lines] == [row.status.value for row in rows]
    assert lines[2]["generation_id"] == ""
    assert lines[0]["paid"] == "True"
    # Rewritten in place: the new rows, still nothing else in the folder.
    write_results(out, rows[:1])
    assert list(read_results(out).values()) == rows[:1]
    assert sorted(path.name for path in out.iterdir()) == ["results.csv", "results.jsonl"]


def test_unreadable_earlier_results_skip_nothing(tmp_path: Path) -> None:
    assert read_results(tmp_path / "none") == {}
    write_results(tmp_path, _rows()[:2])
    path = tmp_path / "results.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0][:-5] + "\n\n" + lines[1] + "\n")
    assert list(read_results(tmp_path)) == ["/out/c1.mp4"]


def test_while_running_the_results_are_rewritten_at_most_every_few_seconds(
    tmp_path: Path,
) -> None:
    now = [100.0]
    clips = [_clip(0), _clip(1)]
    writer = ResultsWriter(tmp_path, clips, every_s=2.0, clock=lambda: now[0])
    assert [row.status for row in writer.rows] == [ClipStatus.PENDING] * 2
    done = _rows()[0]
    writer.update(0, done)  # the first is written at once
    assert [row.status for row in read_results(tmp_path).values()] == ["done", "pending"]
    now[0] += 1.0
    writer.update(1, _rows()[2].model_copy(update={"output": "/out/c1.mp4"}))
    assert read_results(tmp_path)["/out/c1.mp4"].status is ClipStatus.PENDING
    now[0] += 1.0
    writer.flush()
    assert read_results(tmp_path)["/out/c1.mp4"].status is ClipStatus.FAILED


def test_the_table_and_the_counts() -> None:
    rows = _rows()
    shown = table(rows)
    assert [tuple(row) for row in shown] == [TABLE_COLUMNS] * 4
    assert shown[0] == {
        "clip": "c0.mp4",
        "status": "done",
        "output": "/out/c0.mp4",
        "generation id": "g0",
        "credits": 300.0,
        "motion": 0.91,
        "structure": 0.88,
        "seconds": 4.3,
        "error": None,
    }
    assert shown[3]["status"] == "over budget"
    assert counts_line(rows) == (
        "4 clips: 1 done, 1 skipped (already done), 1 failed, 1 over budget"
    )
    assert counts_line([]) == "0 clips: nothing to do"
    result = BatchResult.of(rows, "/out/results.jsonl")
    assert (result.total, result.done, result.skipped, result.failed, result.over_budget) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert result.credits_spent == 300.0  # the skipped clip's generation was paid before


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Flow run encountered an exception: ProbeError: c.mp4 is not a video: export it",
            "c.mp4 is not a video: export it",
        ),
        (
            "Flow run encountered an exception: reskin.errors.InputError: no: check the path",
            "no: check the path",
        ),
        ("Flow run encountered an exception: KeyError: 'x'", "KeyError: 'x'"),
        ("Execution was cancelled by the runtime environment.", "Execution was cancelled by "
         "the runtime environment."),
        ("line one\n  line two", "line one line two"),
        (None, "the run ended Crashed without a message"),
    ],
)  # fmt: skip
def test_a_failed_child_says_what_reskin_said_in_one_line(
    message: str | None, expected: str
) -> None:
    assert failure_of(message, ended="Crashed") == expected


def test_an_exception_reads_the_same_as_its_state_message() -> None:
    assert error_of(ProbeError("c.mp4: not a video")) == "c.mp4: not a video"
    assert error_of(KeyError("x")) == "KeyError: 'x'"
    assert failure_of("Flow run encountered an exception: InputError: a\nb") == error_of(
        InputError("a\nb")
    )


def test_a_clip_whose_run_the_server_would_not_make_says_nothing_was_sent() -> None:
    line = not_made_line("it answered 503 Service Unavailable")
    assert "\n" not in line
    assert "(it answered 503 Service Unavailable)" in line
    assert "nothing was sent for it" in line
    assert "rerun the batch" in line


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_the_results_manifest_follows_the_umask(umask: int, mode: int, tmp_path: Path) -> None:
    saved = os.umask(umask)
    try:
        write_results(tmp_path, _rows())
    finally:
        os.umask(saved)
    written = sorted(tmp_path.iterdir())
    assert [path.name for path in written] == ["results.csv", "results.jsonl"]  # no temporary
    assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {mode}
