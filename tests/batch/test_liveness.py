"""When a clip's run elsewhere is presumed dead (``reskin/batch/liveness.py``), and what its clip
says then; the batch acting on it against a real server is in ``tests/deployments/test_chaos.py``.
"""

from __future__ import annotations

import pytest

from reskin.batch.liveness import (
    SILENT_HEARTBEATS,
    STARTING_LIMIT_S,
    Liveness,
    RunPhase,
    crash_message,
    crashed_line,
)

BEAT = 30.0
LIMIT = BEAT * SILENT_HEARTBEATS


def test_a_started_run_is_dead_once_silent_past_the_limit_from_its_state_or_its_last_beat():
    live = Liveness(BEAT)
    assert live.silence_limit_s == LIMIT
    # Silent since it started running, no heartbeat seen.
    assert not live.dead(RunPhase.RUNNING, since=100.0, last_heartbeat=None, now=100.0 + LIMIT)
    assert live.dead(RunPhase.RUNNING, since=100.0, last_heartbeat=None, now=100.1 + LIMIT)
    # A heartbeat after the state restarts the count; one before it does not.
    assert not live.dead(RunPhase.RUNNING, since=100.0, last_heartbeat=150.0, now=151.0 + BEAT)
    assert live.dead(RunPhase.RUNNING, since=100.0, last_heartbeat=150.0, now=150.1 + LIMIT)
    assert live.dead(RunPhase.RUNNING, since=100.0, last_heartbeat=50.0, now=100.1 + LIMIT)
    assert live.silent_s(since=100.0, last_heartbeat=150.0, now=190.0) == 40.0
    assert live.silent_s(since=100.0, last_heartbeat=None, now=90.0) == 0.0  # clocks apart


def test_a_run_starting_its_process_gets_minutes_not_heartbeats():
    live = Liveness(BEAT)
    assert live.limit_s(RunPhase.STARTING) == STARTING_LIMIT_S
    assert not live.dead(RunPhase.STARTING, since=0.0, last_heartbeat=None, now=STARTING_LIMIT_S)
    assert live.dead(RunPhase.STARTING, since=0.0, last_heartbeat=None, now=STARTING_LIMIT_S + 1)
    slow = Liveness(600.0)  # beating every 10 min: the silence is the longer limit
    assert slow.limit_s(RunPhase.STARTING) == 600.0 * SILENT_HEARTBEATS


@pytest.mark.parametrize("phase", [RunPhase.WAITING, RunPhase.ENDED, RunPhase.OTHER])
def test_a_run_no_worker_took_or_that_ended_is_never_presumed_dead(phase: RunPhase):
    assert not Liveness(BEAT).dead(phase, since=0.0, last_heartbeat=None, now=1e9)


def test_with_heartbeats_off_nothing_is_presumed_dead():
    off = Liveness(None)
    assert off.silence_limit_s is None
    assert not off.dead(RunPhase.RUNNING, since=0.0, last_heartbeat=None, now=1e9)


def assert_one_line(line: str, *hints: str) -> None:
    assert line
    assert "\n" not in line
    assert "\r" not in line
    for hint in hints:
        assert hint in line, f"{hint!r} not in {line!r}"


def test_a_clip_whose_runs_crashed_fails_in_one_line_saying_what_to_do():
    line = crashed_line(crash_message(61.4), runs=2)
    assert_one_line(line, "its 2 runs all crashed", "no heartbeat for 61 s", "rerun the batch")
    assert "not paid again" in line
    worker_saw_it = "Flow run infrastructure exited with non-zero status code -9.\n"
    assert_one_line(crashed_line(worker_saw_it, runs=1), "its run crashed", "code -9)")
    assert "no message" in crashed_line(None, runs=1)
