"""Ctrl-C on ``reskin edit``: the process ends at once with one line, and what it held is
released, so the rerun sends the create and pays once (real process, stand-in, Prefect server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reskin.standin.server import StandIn
from tasks.cancel import INTERRUPTED
from tests.conftest import InputClip
from tests.processes import edit_command, end_group, start

pytestmark = pytest.mark.slow

#: The service's Retry-After: far longer than the test waits, so the Ctrl-C lands inside it.
RETRY_AFTER_S = 60


def test_ctrl_c_during_a_429_wait_ends_at_once_and_the_rerun_pays_once(
    cli_env: dict[str, str], standin: StandIn, input_clip: InputClip, tmp_path: Path
) -> None:
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    env = {**cli_env, "RESKIN_RETRY_AFTER_MAX_S": str(RETRY_AFTER_S * 2)}
    standin.set_faults(create_429=1, retry_after_s=RETRY_AFTER_S)
    stderr = tmp_path / "first.stderr"
    first = start(edit_command(clip, output), env, stderr)
    try:
        deadline = time.monotonic() + 90
        while standin.stats().create_calls < 1:  # the 429 was answered: it waits now
            assert first.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.05)
        time.sleep(0.5)
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        interrupted = time.monotonic()
        first.wait(timeout=30)
        took = time.monotonic() - interrupted
    finally:
        end_group(first)
    said = stderr.read_text()
    assert first.returncode == 130, said
    assert took < 10, f"Ctrl-C took {took:.1f} s to end the process"
    assert "Traceback" not in said
    assert said.strip().splitlines()[-1].startswith("interrupted"), said
    assert "rerun" in said.strip().splitlines()[-1]
    assert not output.exists()
    assert standin.stats().jobs_accepted == 0
    # Over in the UI too: Cancelled, saying how to go on (Prefect's engine said Crashed).
    (run,) = runs_writing(cli_env["PREFECT_API_URL"], output)
    assert (run["state_type"], run["state"]["message"]) == ("CANCELLED", INTERRUPTED)

    done = subprocess.run(
        edit_command(clip, output), capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["resumed"] is False  # no reservation was left behind to refuse it
    assert output.is_file()
    assert standin.stats().jobs_accepted == 1


def runs_writing(api_url: str, output: Path) -> list[dict[str, Any]]:
    """The flow runs on the server whose request writes ``output``."""
    response = httpx.post(f"{api_url}/flow_runs/filter", json={}, timeout=30)
    response.raise_for_status()
    return [
        run
        for run in response.json()
        if run["parameters"].get("request", {}).get("output") == str(output)
    ]
