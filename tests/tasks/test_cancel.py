"""``prefect flow-run cancel`` of a ``reskin edit`` that polls: the run ends Cancelled within
seconds, the process exits with one line, and the rerun resumes the accepted job without paying
again (real processes, the stand-in, the session's Prefect server)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from reskin.standin.server import StandIn
from tests.conftest import InputClip
from tests.prefect_server import PrefectServer
from tests.processes import end_group, start

pytestmark = pytest.mark.slow

#: The job's length at the stand-in: it surely still runs when the cancel lands.
JOB_S = 20.0


def edit_command(clip: Path, output: Path, prompt: str) -> list[str]:
    edit = [sys.executable, "-m", "reskin", "edit", str(clip), "--prompt", prompt]
    return [*edit, "--output", str(output), "--json"]


def state_of(server: PrefectServer, run_id: str) -> str:
    with server.client() as http:
        response = http.get(f"/flow_runs/{run_id}")
        response.raise_for_status()
        return str(response.json()["state"]["type"])


def test_a_cancelled_edit_ends_cancelled_in_seconds_and_the_rerun_resumes_it(
    cli_env: dict[str, str],
    standin: StandIn,
    prefect_server: PrefectServer,
    input_clip: InputClip,
    tmp_path: Path,
) -> None:
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    token = uuid.uuid4().hex[:8]
    prompt = f"sepia {token}"  # names this test's run among the server's
    config = standin.config
    standin.set_faults(slow_jobs=JOB_S / (config.queued_s + config.generating_s))
    stderr = tmp_path / "first.stderr"
    first = start(edit_command(clip, output, prompt), cli_env, stderr)
    try:
        deadline = time.monotonic() + 90
        while standin.stats().jobs_accepted < 1:  # accepted: the run polls now
            assert first.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.1)
        [run] = prefect_server.flow_runs_named(token)
        cancel = subprocess.run(
            [sys.executable, "-m", "prefect", "flow-run", "cancel", run["id"]],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        asked = time.monotonic()
        first.wait(timeout=30)
        took = time.monotonic() - asked
    finally:
        end_group(first)
    said = stderr.read_text()
    assert took < 10, f"the run took {took:.1f} s to stop after the cancel"
    assert first.returncode == 1, said
    assert state_of(prefect_server, run["id"]) == "CANCELLED"
    last = said.strip().splitlines()[-1]
    assert "cancelled" in last
    assert "rerun" in last
    assert "Traceback" not in said
    assert not output.exists()

    standin.set_faults(slow_jobs=1.0)  # the accepted job keeps its own (long) schedule
    done = subprocess.run(
        edit_command(clip, output, prompt),
        capture_output=True,
        text=True,
        timeout=180,
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["resumed"] is True
    assert output.is_file()
    assert standin.stats().jobs_accepted == 1
