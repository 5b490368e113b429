"""``reskin edit --dry-run``: the plan of a long video (segments, why, billed seconds, the
estimate), printed as a table or as JSON, with nothing sent to the service and no Prefect run.
A real process against the real stand-in, whose counters show nothing was asked of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from reskin.standin.server import StandIn
from tests.conftest import MakeClip, standin_settings


def dry_run(clip: Path, output: Path, env: dict[str, str], *extra: str) -> str:
    argv = [sys.executable, "-m", "reskin", "edit", str(clip), "--prompt", "sepia film"]
    argv += ["--output", str(output), "--model", "runway/gen4_aleph", "--dry-run", *extra]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_plan_is_printed_and_nothing_is_sent(
    standin: StandIn, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=12.0, width=854, height=480, fps=25, scenes=(5.43,))
    output = tmp_path / "out.mp4"
    env = {
        **os.environ,
        **standin_settings(standin, tmp_path / "work"),
        "RESKIN_CREDITS_PER_SECOND": "100",
    }
    plan = json.loads(dry_run(clip, output, env, "--json"))
    assert [s["starts_at"] for s in plan["segments"]] == [
        "start",
        "even split",
        "scene cut",
        "even split",
    ]
    assert plan["scene_cuts_s"] == [5.44]  # the clip's cut, on its 25 fps frame
    assert plan["billed_s"] == 20
    assert plan["credits"] == 2000
    assert plan["usd"] == 3.0
    assert plan["one_look"] is True
    assert plan["refused"] is None

    table = dry_run(clip, output, {**env, "RESKIN_MAX_CREDITS": "1000"}, "--all-at-once")
    assert "4 segments of 12.00 s (1 scene cuts), 20 billed seconds" in table
    assert "order: all segments at once" in table
    assert "would be refused" in table
    assert "RESKIN_MAX_CREDITS" in table
    stats = standin.stats()
    assert (stats.create_calls, stats.uploads, stats.fetch_calls) == (0, 0, 0)
    assert not output.exists()
