"""Chaos: a batch of 20 clips over the ``make up`` stack against the stand-in's faults (429s, 5xx
on create and fetch, a cut download, a job error, a lost answer), and the machine of one worker
crashing midway (issue "never pay twice, anywhere").

The stack's two workers stay up (the other tests of the package use them). A third worker of this
test's own works a queue of its own; once the job of every clip run it holds has been accepted at
the stand-in, it dies with them, as a crashed machine: SIGKILL to its process group and to each
run's (by default Prefect 3.8 starts a run in a session of its own, under a workspace
supervisor, so the worker's group alone would leave its runs alive).

The clips run as the ``edit-video/chaos`` deployment: the stack's ``edit-video`` on that queue,
with job variables for a fast stand-in (no shared limits, so the dead runs hold no slot; a read
timeout short enough for a lost answer; heartbeats every 30 s, Prefect's minimum; the engine
started directly, one process a run). The batch itself is a run of the stack's
``edit-batch/nightly`` with the same heartbeat setting, so it gives up on a silent clip run after
60 s and sends the clip again (``reskin/batch/liveness.py``).

Paid once is read at the stand-in: the prompt of every job it accepted (each clip has a prompt
of its own, so a prompt is a request).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from deployments.definitions import EDIT_VIDEO, NIGHTLY, WORK_POOL
from flows.edit_batch import _until_final
from reskin.batch.liveness import Liveness
from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.deployments.conftest import UpStack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups"),
]

CLIPS = 20
#: Clip runs of the batch at once: more only queue at the workers (5 free slots in the stack,
#: 2 in the crash worker) and load the stack's SQLite server with writes it answers 503 to.
MAX_PARALLEL = 8
CHAOS_QUEUE = "chaos"
CLIP_DEPLOYMENT_NAME = "chaos"
CLIP_DEPLOYMENT = f"edit-video/{CLIP_DEPLOYMENT_NAME}"
CRASH_WORKER = "chaos-crash"
CRASH_WORKER_LIMIT = 2
#: Prefect's shortest heartbeat; the batch presumes a run dead after two of them in silence.
HEARTBEAT_S = "30"
READ_TIMEOUT_S = 5.0
#: The environment of every clip run (the stack's, plus these).
CLIP_ENV = {
    "RESKIN_MAX_JOBS_IN_FLIGHT": "0",
    "RESKIN_CREATES_PER_MINUTE": "0",
    "RESKIN_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": HEARTBEAT_S,
}
BATCH_ENV = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": HEARTBEAT_S}
#: A process worker's runs start their engine directly, not under a workspace supervisor: one
#: Python process a run instead of two (each import of Prefect is seconds of CPU on 2 cores).
ENGINE_COMMAND = f"{sys.executable} -m prefect.engine"
FAULTS: dict[str, Any] = {
    "create_429": 2,
    "retry_after_s": 1,
    "create_5xx": 2,
    "status_5xx": 503,
    "fetch_5xx": 2,
    "cut_download": 1,
    # job_error and lost_answer come as the first two jobs are accepted (``one_fault_a_job``).
    "lost_answer_delay_s": READ_TIMEOUT_S + 2,
    # Jobs of about 4 s: the crash lands while the dead worker's jobs are at the service.
    "slow_jobs": 6.0,
}
#: The first jobs accepted, one fault each (``one_fault_a_job``).
FAULTED = 2
#: How a run's failure names the form's ``force`` field.
FORCE = '"Force a new submission"'
KILL_WITHIN_S = 300.0
#: The crash worker is killed only while each job of its runs has at least this long to go at
#: the service (jobs of 4.2 s under ``slow_jobs``): a run killed just as it ended could record
#: Completed before the kill landed (seen in CI, under load).
KILL_BEFORE_END_S = 1.5
BATCH_WITHIN_S = 420.0


@pytest.mark.chaos
@pytest.mark.timeout(900)
def test_a_batch_of_20_clips_under_faults_and_a_crashed_worker_pays_each_job_once(
    up: UpStack, standin: StandIn, make_clip: MakeClip, tmp_path: Path
):
    began = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    clip = make_clip(duration_s=3.0)
    # One clip, twenty prompts: twenty requests, each told apart at the stand-in by its prompt.
    rows = [
        {"input": str(clip), "prompt": f"chaos {tag} look {i:02d}", "output": f"c{i:02d}.mp4"}
        for i in range(CLIPS)
    ]
    manifest = tmp_path / "batch.jsonl"
    write_manifest(manifest, rows)
    outbox = tmp_path / "outbox"
    batch = {
        "manifest": str(manifest),
        "output_dir": str(outbox),
        "dispatch": "deployment",
        "deployment": CLIP_DEPLOYMENT,
        "max_parallel": MAX_PARALLEL,
    }
    make_clip_deployment(up, CLIP_DEPLOYMENT_NAME, CHAOS_QUEUE)
    prompt_of = {str(outbox / row["output"]): row["prompt"] for row in rows}

    def one_fault_a_job(accepted_before: int) -> None:
        # Both are "the next job accepted": set together, they would hit one job.
        if accepted_before == 0:
            standin.set_faults(lost_answer=1)  # this one's answer
        elif accepted_before == 1:
            standin.set_faults(job_error=1)  # this one's job

    with accepted_prompts(standin, one_fault_a_job) as accepted:
        # 1. The batch, under every fault, and the crash of one worker's machine midway.
        with crash_worker(up, tmp_path) as worker:
            standin.set_faults(**FAULTS)
            first_run = start_batch(up, batch)
            killed = kill_when_jobs_in_flight(up, worker, accepted)
            killed_at = time.monotonic() - began
            standin.set_faults(slow_jobs=1.0)  # the jobs accepted from now on: 0.7 s
            first = wait_batch(up, first_run, outbox)
        took_first = time.monotonic() - began
        standin.service.faults.reset()  # counts the batch did not spend stay off
        paid_first = collections.Counter(accepted)

        assert len(first) == CLIPS
        for row in first:
            assert_done_or_one_clear_line(row)
        # Paid once: every job the stand-in accepted was for a request no other job was for.
        assert len(accepted) == standin.stats().jobs_accepted
        assert max(paid_first.values()) == 1, paid_first
        failed = {row["output"]: row["error"] for row in first if row["status"] == "failed"}
        # The job error and the lost answer need `force`; any other failure is a clip whose
        # job was never accepted, or whose paid job a rerun resumes (both say "rerun").
        need_force = {out: line for out, line in failed.items() if FORCE in line}
        assert sorted(need_force.values(), key=lambda line: "may have accepted" in line) == [
            Has("failed at the service: generation_failed", "rerun it with", FORCE),
            Has("may have accepted (and will bill) the job", "rerunning with", FORCE),
        ], failed
        # Every clip of the dead machine was finished by the batch on a second run, resuming
        # the job the first one had accepted: no second paid job.
        killed_prompts = {api(up, "GET", f"/flow_runs/{run}")["parameters"]["request"]["prompt"]
                          for run in killed}  # fmt: skip
        for run in killed:
            state = api(up, "GET", f"/flow_runs/{run}")["state"]
            assert state["type"] == "CRASHED", state
            assert "no heartbeat for" in state["message"]
        for row in first:
            if prompt_of[row["output"]] in killed_prompts and row["output"] not in failed:
                assert row["status"] == "done"
                assert not row["paid"], row
        assert all(paid_first[prompt] == 1 for prompt in killed_prompts)

        # 2. The same batch again: nothing new is paid but what was never accepted; the
        #    failures that need `force` stay failed and say so.
        second = wait_batch(up, start_batch(up, batch), outbox)
        paid_second = collections.Counter(accepted) - paid_first
        assert all(paid_first[prompt] == 0 for prompt in paid_second), paid_second
        assert max(paid_second.values(), default=1) == 1, paid_second
        again = {row["output"]: row["error"] for row in second if row["status"] == "failed"}
        assert set(need_force) <= set(again)
        assert sorted(
            (again[out] for out in need_force), key=lambda line: "bill twice" in line
        ) == [
            Has("already failed at the service", "rerun with", FORCE),
            Has("never learned its generation id", FORCE, "may bill twice"),
        ], again
        for row in second:
            assert_done_or_one_clear_line(row)

        # 3. Forcing exactly those: one new job each, and the clips still to do are sent.
        forced = [dict(row, force=True) if str(outbox / row["output"]) in need_force else row
                  for row in rows]  # fmt: skip
        write_manifest(manifest, forced)
        third = wait_batch(up, start_batch(up, batch), outbox)
        for row in third:
            assert row["status"] in ("done", "skipped (already done)"), row
            assert_done_or_one_clear_line(row)
        # In all: every request paid once, but the two forced ones, twice.
        paid = collections.Counter(accepted)
        assert paid == collections.Counter(
            prompt_of[row["output"]]
            for row in third
            for _ in range(1 + (row["output"] in need_force))
        ), paid
        assert [row["output"] for row in third if row["status"] == "done"] == sorted(
            set(again) | set(need_force)
        )

    took = time.monotonic() - began
    print(
        f"\nchaos batch of {CLIPS}: killed {len(killed)} runs at {killed_at:.1f} s; first batch "
        f"{took_first:.1f} s ({len(failed)} failed), both reruns and checks {took - took_first:.1f}"
        f" s; whole test {took:.1f} s; stand-in: {standin.stats()}"
    )


def test_a_clip_run_gone_silent_is_marked_crashed_instead_of_waited_for(up: UpStack):
    # A run a worker took (Running) whose process then died at once: no heartbeat ever comes.
    make_clip_deployment(up, "chaos-idle", "chaos-idle")
    deployment = api(up, "GET", "/deployments/name/edit-video/chaos-idle")
    request = {"input": "/nowhere/in.mp4", "prompt": "x", "output": "/nowhere/out.mp4"}
    made = api(  # made Running: no worker takes it
        up,
        "POST",
        f"/deployments/{deployment['id']}/create_flow_run",
        {
            "parameters": {"request": request},
            "state": {"type": "RUNNING"},
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    run_id = made["id"]

    async def watch() -> FlowRun:
        async with get_client() as client:
            run = await client.read_flow_run(UUID(run_id))
        return await _until_final(run, Liveness(0.5), logging.getLogger(__name__))

    began = time.monotonic()
    with temporary_settings(updates={PREFECT_API_URL: up.api.api_url}):
        ended = asyncio.run(watch())
    assert ended.state is not None
    assert ended.state.is_crashed()
    assert "no heartbeat for" in (ended.state.message or "")
    assert api(up, "GET", f"/flow_runs/{run_id}")["state_type"] == "CRASHED"
    # Judged after two 0.5 s heartbeats of silence, not after the 10 minutes a starting run gets,
    # nor never; the bound is loose because a suite's busy SQLite server can stall the reads of
    # the run for tens of seconds (64 s seen once in CI, 5 s alone).
    assert time.monotonic() - began < 120


class Has(str):
    """Equal to any line that holds every one of its parts (for comparing lists of lines)."""

    parts: tuple[str, ...]

    def __new__(cls, *parts: str) -> Has:
        made = super().__new__(cls, " ... ".join(parts))
        made.parts = parts
        return made

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and all(part in other for part in self.parts)

    __hash__ = str.__hash__


def assert_done_or_one_clear_line(row: dict[str, Any]) -> None:
    """Done with its output there and whole, or failed with one line saying what to do."""
    if row["status"] in ("done", "skipped (already done)"):
        assert row["error"] is None
        assert abs(probe(Path(row["output"])).duration_s - 3.0) < 0.1, row
        return
    assert row["status"] == "failed", row
    error = row["error"]
    assert error
    assert "\n" not in error
    assert "Traceback" not in error
    assert "force" in error or "rerun" in error, error


# --- the stack's deployments ------------------------------------------------------------------


def make_clip_deployment(up: UpStack, name: str, queue: str) -> None:
    """``edit-video/<name>``: the stack's ``edit-video`` on work queue ``queue`` of its pool,
    with ``CLIP_ENV``."""
    source = api(up, "GET", f"/deployments/name/{EDIT_VIDEO}")
    body = {
        "name": name,
        "flow_id": source["flow_id"],
        "work_pool_name": WORK_POOL,
        "work_queue_name": queue,
        "entrypoint": source["entrypoint"],
        "path": source["path"],
        "pull_steps": source["pull_steps"],
        "parameter_openapi_schema": source["parameter_openapi_schema"],
        "enforce_parameter_schema": source["enforce_parameter_schema"],
        "job_variables": {"env": CLIP_ENV, "command": ENGINE_COMMAND},
        "tags": ["reskin", "chaos"],
    }
    api(up, "POST", "/deployments/", body)


def start_batch(up: UpStack, batch: dict[str, Any], **extra: Any) -> str:
    """A run of ``edit-batch/nightly`` for ``batch``, with ``BATCH_ENV``; its id."""
    nightly = api(up, "GET", f"/deployments/name/{NIGHTLY}")
    made = api(
        up,
        "POST",
        f"/deployments/{nightly['id']}/create_flow_run",
        # A key: a create tried again after a timeout must not make a second batch.
        {
            "parameters": {"batch": batch},
            "job_variables": {"env": BATCH_ENV, "command": ENGINE_COMMAND},
            "idempotency_key": uuid.uuid4().hex,
            **extra,
        },
    )
    run_id: str = made["id"]
    return run_id


def wait_batch(up: UpStack, run_id: str, outbox: Path) -> list[dict[str, Any]]:
    """Until the batch run ends (Completed, else fail); its results manifest's rows."""
    deadline = time.monotonic() + BATCH_WITHIN_S
    while time.monotonic() < deadline:
        run = api(up, "GET", f"/flow_runs/{run_id}")
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            assert run["state_type"] == "COMPLETED", run["state"]
            text = (outbox / "results.jsonl").read_text()
            return [json.loads(line) for line in text.splitlines()]
        time.sleep(0.5)
    children = api(
        up, "POST", "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}}
    )
    stuck = [(c["name"], c["state_type"]) for c in children if c["state_type"] != "COMPLETED"]
    pytest.fail(
        f"the batch did not end within {BATCH_WITHIN_S:.0f} s; unfinished: {stuck}\n{what_runs(up)}"
    )


# --- the crashing worker ----------------------------------------------------------------------


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log


@contextlib.contextmanager
def crash_worker(up: UpStack, folder: Path) -> Iterator[Worker]:
    """A worker of the pool that works queue ``chaos`` only (never the batch run itself)."""
    log = folder / "crash-worker.log"
    argv = [
        sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL,
        "--work-queue", CHAOS_QUEUE, "--name", CRASH_WORKER, "--limit", str(CRASH_WORKER_LIMIT),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            env=up.env,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log)
    try:
        wait_for(lambda: _online(up), 60.0, "the crash worker is online", worker)
        yield worker
    finally:
        for pid in [process.pid, *descendants(process.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def _online(up: UpStack) -> bool:
    workers = api(up, "POST", f"/work_pools/{WORK_POOL}/workers/filter", {})
    return any(w["name"] == CRASH_WORKER and w["status"] == "ONLINE" for w in workers)


def kill_when_jobs_in_flight(up: UpStack, worker: Worker, accepted: Accepted) -> list[str]:
    """SIGKILL the worker and its runs once the job of every run it holds has been accepted at
    the service for a moment (so each run has journaled it); the ids of the runs killed.

    Not while it holds a run of the first two jobs accepted (``FAULTED``): the lost answer's run
    never learns its generation id, so killed it would rightly say "never learned" instead of
    the "may have accepted" this test reads from it (seen in CI); the job error's likewise."""
    deadline = time.monotonic() + KILL_WITHIN_S
    prompts: dict[str, str] = {}
    last: dict[str, bool] = {}
    while time.monotonic() < deadline:
        runs = flow_runs_of(worker.process.pid)
        for run in runs.values():
            if run not in prompts:
                prompts[run] = api(up, "GET", f"/flow_runs/{run}")["parameters"]["request"][
                    "prompt"
                ]
        when, ends = accepted.times(), accepted.ending()
        faulted = set(accepted[:FAULTED])
        settled = time.monotonic() - 0.5
        # A run whose job ends at the service this soon may be done before the kill lands.
        far = time.monotonic() + KILL_BEFORE_END_S
        seen = {run: when.get(prompts[run]) is not None for run in runs.values()}
        if os.environ.get("CHAOS_DEBUG") and seen != last:
            print(f"{time.strftime('%X')} crash worker runs, accepted: {seen}", flush=True)
        last = seen
        if (
            runs
            and all(when.get(prompts[run], settled + 1) < settled for run in runs.values())
            and all(ends.get(prompts[run], far) > far for run in runs.values())
            and len(when) >= FAULTED
            and not any(prompts[run] in faulted for run in runs.values())
            # None claimed but not started yet: a machine dying then leaves its run Pending,
            # which the batch waits out for minutes (``STARTING_LIMIT_S``), not seconds.
            and claimed_not_ended(up, worker) == set(runs.values())
        ):
            for pid in [worker.process.pid, *runs]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            worker.process.wait(timeout=10)
            return sorted(runs.values())
        time.sleep(0.2)
    pytest.fail(
        f"the crash worker never held runs with jobs in flight:\n{worker.log.read_text()}\n"
        f"{what_runs(up)}"
    )


def claimed_not_ended(up: UpStack, worker: Worker) -> set[str]:
    """The runs the worker says it took (its log) that have not ended on the server."""
    text = worker.log.read_text(errors="replace")
    claimed = set(re.findall(rf"Worker '{CRASH_WORKER}' submitting flow run '([0-9a-f-]+)'", text))
    claimed -= set(re.findall(r"Aborted submission of flow run '([0-9a-f-]+)'", text))
    if not claimed:
        return set()
    body = {"flow_runs": {"id": {"any_": sorted(claimed)}}}
    ended = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
    return {run["id"] for run in api(up, "POST", "/flow_runs/filter", body)
            if run["state_type"] not in ended}  # fmt: skip


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from ``/proc``."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def flow_runs_of(worker_pid: int) -> dict[int, str]:
    """The flow runs a worker's processes run now: pid -> flow run id (from their environment)."""
    runs: dict[int, str] = {}
    for pid in descendants(worker_pid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                runs[pid] = item.split(b"=", 1)[1].decode()
    return runs


# --- the stand-in's side ----------------------------------------------------------------------


class Accepted(list[str]):
    """The prompt of every job the stand-in accepted, in order, and when (monotonic)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.at: dict[str, float] = {}
        self.ends: dict[str, float] = {}

    def add(self, prompt: str, lasts_s: float) -> None:
        with self.lock:
            self.append(prompt)
            self.at[prompt] = time.monotonic()
            self.ends[prompt] = self.at[prompt] + lasts_s

    def times(self) -> dict[str, float]:
        with self.lock:
            return dict(self.at)

    def ending(self) -> dict[str, float]:
        """When each job will be done at the service (monotonic)."""
        with self.lock:
            return dict(self.ends)


@contextlib.contextmanager
def accepted_prompts(
    standin: StandIn, before: Callable[[int], None] | None = None
) -> Iterator[Accepted]:
    """The jobs the stand-in accepts meanwhile, by prompt. Acceptances go one at a time, each
    after ``before(jobs accepted so far)``, so a fault that ``before`` sets for "the next job"
    hits that one."""
    service = standin.service
    accept = service.accept
    prompts = Accepted()
    one_at_a_time = threading.Lock()

    def recording(request: Any) -> Any:
        with one_at_a_time:
            if before is not None:
                before(len(prompts))
            job = accept(request)
            prompts.add(request.prompt, job.queued_s + job.generating_s)
        return job

    service.accept = recording  # type: ignore[method-assign]
    try:
        yield prompts
    finally:
        del service.accept


# --- helpers ----------------------------------------------------------------------------------


def what_runs(up: UpStack) -> str:
    """The flow runs of the stack's server and the last lines logged, for a failure's message."""
    runs = api(up, "POST", "/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 40})
    logs = api(up, "POST", "/logs/filter", {"sort": "TIMESTAMP_DESC", "limit": 40})
    lines = [f"{r['name']}: {r['state_type']} {r['state']['message']}" for r in runs]
    lines += [f"{log['timestamp']} {log['message'][:300]}" for log in reversed(logs)]
    return "\n".join(lines)


def api(up: UpStack, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A call to the stack's REST API; a 503 (its SQLite database locked) or a read timeout
    (a busy server) is tried again, as Prefect's own client does."""
    for attempt in range(6):
        try:
            with httpx.Client(base_url=up.api.api_url, timeout=30.0) as http:
                response = http.request(method, path, json=body)
            if response.status_code != 503:
                response.raise_for_status()
                return response.json()
        except httpx.TimeoutException:
            if attempt == 5:
                raise
        time.sleep(1.0 + attempt)
    response.raise_for_status()
    return response.json()


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def wait_for(condition: Callable[[], bool], within_s: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if worker.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within_s:.0f} s:\n{worker.log.read_text()}")
        time.sleep(0.2)
