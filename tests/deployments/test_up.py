"""``make up`` at work: a deployment run from the CLI, a batch spread over two workers within the
jobs-in-flight limit, and a server that does not answer.

The stack (``up`` in ``conftest.py``) is one server, the ``process`` work pool and two workers
of at most three runs each; every run gets ``RESKIN_MAX_JOBS_IN_FLIGHT=2``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from deployments.definitions import EDIT_VIDEO, NIGHTLY, WORK_POOL
from deployments.up import with_allowed_dirs
from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import InputClip, MakeClip
from tests.deployments.conftest import JOBS_IN_FLIGHT, UpStack, base_env
from tests.prefect_server import free_port

pytestmark = pytest.mark.slow

BATCH_CLIPS = 4


def test_a_cli_run_of_the_one_clip_deployment_edits_the_clip_on_a_worker(
    up: UpStack, standin: StandIn, input_clip: InputClip, tmp_path: Path
):
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    request = {"input": str(clip), "prompt": "sepia film", "output": str(output)}

    began = time.monotonic()
    done = up.prefect(
        "deployment", "run", EDIT_VIDEO, "--param", f"request={json.dumps(request)}", "--watch"
    )
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Flow run finished successfully in 'Completed'" in done.stdout

    info = probe(output)
    assert abs(info.duration_s - 3.0) < 0.1
    assert info.has_audio
    (run,) = up.api.flow_runs_named(clip.name)
    assert run["state_type"] == "COMPLETED"
    assert run["deployment_id"] == up.api.deployment(EDIT_VIDEO)["id"]
    assert run["work_pool_name"] == WORK_POOL
    assert run["parameters"] == {"request": request}
    assert up.api.worker_of(run["id"]) in up.workers
    assert standin.stats().jobs_accepted == 1
    print(f"\nprefect deployment run {EDIT_VIDEO} --watch: completed in {took:.1f} s")


def test_a_batch_run_of_the_nightly_spreads_its_clips_over_both_workers_within_the_jobs_limit(
    up: UpStack, standin: StandIn, make_clip: MakeClip, tmp_path: Path
):
    # Four different clips and a prompt of their own: four jobs (the journal would reuse a job
    # for a request it has seen, like the clip of the test above).
    tag = uuid.uuid4().hex[:10]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for index in range(BATCH_CLIPS):
        shutil.copyfile(make_clip(duration_s=3.0 + 0.25 * index), inbox / f"{tag}-{index}.mp4")
    outbox = tmp_path / "outbox"
    batch = {
        "inbox": str(inbox),
        "output_dir": str(outbox),
        "prompt": "hand-drawn watercolour",
        "dispatch": "deployment",
        "max_parallel": BATCH_CLIPS,
    }

    # Jobs of about 8 s: a run lasts far longer than a worker's 1 s between looks for work
    # (PREFECT_WORKER_QUERY_SECONDS in conftest.py), so one worker cannot end a run and take the
    # next clip before the other has looked.
    standin.set_faults(slow_jobs=12.0)
    # Nothing an earlier test started still holds a worker's runs (each worker takes 3 at
    # most), not even a Completed run whose process has not exited yet: the clips must find
    # both workers free.
    wait_until_idle(up)
    began = time.monotonic()
    done = up.prefect(
        "deployment", "run", NIGHTLY, "--param", f"batch={json.dumps(batch)}", "--watch"
    )
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr

    # Every clip was a completed run of edit-video/edit-video, with its output.
    clips = up.api.flow_runs_named(tag)
    assert len(clips) == BATCH_CLIPS, [run["name"] for run in clips]
    assert {run["state_type"] for run in clips} == {"COMPLETED"}
    assert {run["deployment_id"] for run in clips} == {up.api.deployment(EDIT_VIDEO)["id"]}
    assert sorted(p.name for p in outbox.glob("*.mp4")) == sorted(
        f"{tag}-{index}.mp4" for index in range(BATCH_CLIPS)
    )
    results = [json.loads(line) for line in (outbox / "results.jsonl").read_text().splitlines()]
    assert [row["status"] for row in results] == ["done"] * BATCH_CLIPS
    assert standin.stats().jobs_accepted == BATCH_CLIPS

    # Both workers took clips: each is limited to 3 runs, one of them the batch itself.
    taken = {run["id"]: up.api.worker_of(run["id"]) for run in clips}
    assert set(taken.values()) == set(up.workers), taken

    # Never more jobs at the service than the limit, across both workers' processes: each run
    # holds its slot from before its submit task starts to after its poll task ends.
    in_flight = max_overlap(jobs_of(up, clips))
    assert 1 <= in_flight <= JOBS_IN_FLIGHT
    print(
        f"\nbatch of {BATCH_CLIPS} over {len(up.workers)} workers: completed in {took:.1f} s; "
        f"at most {in_flight} jobs in flight (limit {JOBS_IN_FLIGHT}); runs per worker: "
        f"{ {name: list(taken.values()).count(name) for name in up.workers} }; "
        f"'database is locked' in the server log: "
        f"{up.server_log.read_text(errors='replace').count('database is locked')}"
    )


def wait_until_idle(up: UpStack, timeout_s: float = 120.0) -> None:
    """Return once no flow run of the stack's work pool is pending or running; fail naming
    them if some still are after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    body = {
        "flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}},
        "work_pools": {"name": {"any_": [WORK_POOL]}},
    }
    while busy := up.api.filter("flow_runs", body):
        if time.monotonic() > deadline:
            raise AssertionError(f"runs still busy: {[run['name'] for run in busy]}")
        time.sleep(0.5)
    # A worker frees a run's slot only when the run's process exits, which can be a while after
    # the run is Completed (seen in CI: one worker still full, the other took all four clips).
    while alive := run_processes(up):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of ended runs still alive: {alive}")
        time.sleep(0.5)


def run_processes(up: UpStack) -> dict[int, str]:
    """The live processes of the stack's flow runs (pid to flow run id), read from ``/proc``:
    by default Prefect 3.8 starts each run in a session of its own, outside up's group."""
    api_url = f"PREFECT_API_URL={up.api.api_url}".encode()
    found: dict[int, str] = {}
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            variables = environ.read_bytes().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        run_ids = [v.split(b"=", 1)[1] for v in variables if v.startswith(b"PREFECT__FLOW_RUN_ID=")]
        if run_ids and api_url in variables:
            found[int(environ.parent.name)] = run_ids[0].decode()
    return found


def jobs_of(up: UpStack, runs: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(start of the submit task, end of the poll task) of each run, in seconds."""
    task_runs = up.api.filter(
        "task_runs", {"flow_runs": {"id": {"any_": [run["id"] for run in runs]}}}
    )
    spans: dict[str, dict[str, float]] = {}
    for task_run in task_runs:
        stage = task_run["name"].split(" ", 1)[0]
        if stage in ("submit", "poll"):
            edge = "start_time" if stage == "submit" else "end_time"
            moment = _seconds(task_run[edge])
            spans.setdefault(task_run["flow_run_id"], {})[stage] = moment
    assert len(spans) == len(runs)
    return [(span["submit"], span["poll"]) for span in spans.values()]


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one moment (an end before a start at the same moment)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_up_refuses_a_server_that_does_not_answer(tmp_path: Path):
    dead = f"http://127.0.0.1:{free_port()}/api"
    done = subprocess.run(
        [sys.executable, "-m", "deployments.up"],
        env={**base_env(), "PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": dead},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == f"error: PREFECT_API_URL={dead} does not answer: start it, or unset it\n"


def test_up_gives_its_runs_the_folders_they_may_touch() -> None:
    """``make up`` (and ``make serve``) set RESKIN_ALLOWED_DIRS for the runs, unless it is set."""
    assert with_allowed_dirs({})["RESKIN_ALLOWED_DIRS"] == str(Path.home() / "reskin")
    assert with_allowed_dirs({"RESKIN_ALLOWED_DIRS": " "})["RESKIN_ALLOWED_DIRS"] == str(
        Path.home() / "reskin"
    )
    given = {"RESKIN_ALLOWED_DIRS": "/srv/in:/srv/out", "OTHER": "kept"}
    assert with_allowed_dirs(given) == given
