"""A long video's ``reskin edit`` killed with SIGKILL after some of its segments were accepted:
the rerun resumes those and pays only for the others. Real processes against the stand-in and
the session's Prefect server, killed as a group (see ``tests/test_crash_resume.py``)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import pytest

from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.processes import edit_command, kill_group, rerun, start, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups"),
]


def test_a_long_video_killed_after_some_segments_were_accepted_pays_only_for_the_others(
    cli_env: dict[str, str], standin: StandIn, make_clip: MakeClip, tmp_path: Path
):
    # 12 s, two scenes, on Aleph (5 s at most): four segments, two in flight at a time.
    clip = make_clip(duration_s=12.0, width=854, height=480, fps=25, scenes=(5.43,))
    output = tmp_path / "out" / "long.mp4"
    command = [*edit_command(clip, output), "--all-at-once", "--model", "runway/gen4_aleph"]
    env = {
        **cli_env,
        "RESKIN_MAX_JOBS_IN_FLIGHT": "2",
        "RESKIN_CONFORM_PRESET": "ultrafast",
        "RESKIN_LIMITS_PREFIX": f"long-{tmp_path.name[-20:]}",
    }
    config = standin.config
    # Jobs of 6 s: the kill lands while they run (it follows the second accept at once).
    standin.set_faults(slow_jobs=6.0 / (config.queued_s + config.generating_s))

    first = start(command, env, tmp_path / "first.stderr")
    work = Path(env["RESKIN_WORK_DIR"])
    try:
        # Accepted at the stand-in *and* journaled: killed between the two, a segment is "sent
        # without an answer", which the rerun rightly refuses to pay again (naming --force).
        wait_until(
            lambda: standin.stats().jobs_accepted == 2 and accepted_in_journal(work) == 2,
            first,
            tmp_path / "first.stderr",
            "two segments accepted and journaled",
        )
    finally:
        kill_group(first)
    assert standin.stats().jobs_accepted == 2  # the other two wait for a slot: never sent
    assert not output.exists()

    standin.set_faults(slow_jobs=1.0)
    # The rerun takes no job slot: the killed run's two are the server's until their leases
    # run out (60 s, tests/tasks/test_slot_restart.py); this is about what is paid.
    env["RESKIN_MAX_JOBS_IN_FLIGHT"] = "0"
    result = rerun(command, env)
    segments = result["segments"]
    assert isinstance(segments, list)
    assert len(segments) == 4
    assert sum(segment["resumed"] for segment in segments) == 2  # the killed run's two
    assert standin.stats().jobs_accepted == 4  # and two more: no segment paid twice
    assert probe(output).duration_s == pytest.approx(12.0, abs=1 / 24)
    # A rerun after success pays nothing: tests/edit/test_long.py (in process, cheaper).


def accepted_in_journal(work_dir: Path) -> int:
    """How many submissions the run's SQLite journal holds as accepted, read-only."""
    path = work_dir / "journal.sqlite3"
    if not path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM submissions WHERE state = 'accepted'"
            ).fetchone()
    except sqlite3.OperationalError:  # created, table not yet there
        return 0
    return int(count)
