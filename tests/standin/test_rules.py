"""The stand-in's rules without HTTP: limits, billing, fault counting, job states."""

from __future__ import annotations

import dataclasses
import typing
from concurrent.futures import Future
from pathlib import Path

import pytest
from pydantic import ValidationError

from reskin.standin.faults import FaultBoard, Faults
from reskin.standin.jobs import Job, generation_body
from reskin.standin.looks import DEFAULT_LOOK
from reskin.standin.stats import Counter, Counters, Stats


def test_fault_counts_are_spent_one_call_at_a_time() -> None:
    board = FaultBoard(Faults(create_429=2))

    assert [board.take("create_429") for _ in range(3)] == [True, True, False]
    assert board.take("job_error") is False


def test_fault_updates_are_validated_and_reset_turns_all_off() -> None:
    board = FaultBoard()
    board.update({"cut_download": 1, "status_5xx": 502})

    with pytest.raises(ValidationError):
        board.update({"status_5xx": 504})
    assert board.current.status_5xx == 502  # a refused update changes nothing
    assert board.reset() == Faults()


def test_every_counter_is_a_stats_field() -> None:
    counters = Counters()
    for name in typing.get_args(Counter):
        counters.bump(name)

    assert {field.name for field in dataclasses.fields(Stats)} == set(typing.get_args(Counter))
    assert set(counters.snapshot().as_dict().values()) == {1}


def _job(**changes: object) -> Job:
    job = Job(
        id="u:m",
        token="t",
        folder=Path("/j"),
        result=Path("/j/result.mp4"),
        accepted_at=100.0,
        queued_s=1.0,
        generating_s=2.0,
        look=DEFAULT_LOOK,
        keep_audio=False,
        duration_s=3.0,
        credits=300,
    )
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]


def test_job_states_follow_the_clock_and_the_render() -> None:
    render: Future[None] = Future()
    job = _job(render=render)

    assert job.snapshot(100.5).status == "queued"
    assert job.snapshot(101.5).status == "generating"
    assert job.snapshot(110.0).status == "generating"  # time is up, the render is not
    render.set_result(None)
    assert job.snapshot(102.9).status == "generating"  # the render is done, time is not up
    assert job.snapshot(103.0).status == "completed"
    assert job.result_ready


def test_a_failed_render_is_an_error_state() -> None:
    render: Future[None] = Future()
    render.set_exception(RuntimeError("ffmpeg exploded"))
    job = _job(render=render)

    snapshot = job.snapshot(200.0)

    assert snapshot.status == "error"
    assert snapshot.error is not None
    assert snapshot.error[0] == "render_failed"
    body = generation_body(job, snapshot, "http://x/r.mp4")
    assert body["error"] == {"name": "render_failed", "message": snapshot.error[1]}
    assert body["video"] is None
    assert not job.result_ready


@pytest.mark.parametrize(
    ("shape", "video"),
    [("object", {"url": "http://x/r.mp4"}), ("list", ["http://x/r.mp4"])],
)
def test_a_completed_answer_carries_the_video_in_the_models_shape(
    shape: str, video: object
) -> None:
    render: Future[None] = Future()
    render.set_result(None)
    job = _job(render=render, video_shape=shape)

    snapshot = job.snapshot(200.0)
    body = generation_body(job, snapshot, "http://x/r.mp4")

    assert snapshot.completed
    assert body["video"] == video
    assert generation_body(job, job.snapshot(100.5), "http://x/r.mp4")["video"] is None
