"""Approval before big spends on the ``make up`` stack (``up`` in ``conftest.py``): a batch
dispatched to deployments, over ``RESKIN_APPROVE_ABOVE_CREDITS``, waits Paused on its worker
with nothing sent; approved through the REST API, it sends each clip as a run of
``edit-video/edit-video`` with the batch's estimate as ``approved_credits``, and those runs, on
the workers, over the threshold themselves, run without pausing and pay once each.

The stack's workers have no threshold of their own (the other tests' batches must not pause):
the batch run gets the approval's settings as job variables, and ``edit-video``'s deployment
gets them for the length of the test (its clip runs are made by the batch, so their settings
come from the deployment), then its own back.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments.definitions import EDIT_VIDEO, NIGHTLY
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.deployments.conftest import UpStack
from tests.deployments.test_up import wait_until_idle

pytestmark = pytest.mark.slow

#: The stand-in's price, a threshold each 3 s clip (300 credits) is over on its own, and a
#: paused run that looks for its answer every second (and gives up after 10 min).
APPROVAL_ENV = {
    "RESKIN_CREDITS_PER_SECOND": "100",
    "RESKIN_APPROVE_ABOVE_CREDITS": "250",
    "RESKIN_APPROVAL_POLL_S": "1",
    "RESKIN_APPROVAL_TIMEOUT_S": "600",
}
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def test_a_batch_over_the_threshold_pauses_on_the_stack_and_once_approved_pays_each_clip_once(
    up: UpStack, standin: StandIn, make_clip: MakeClip, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:10]  # new clip names and prompt: new requests, new jobs
    inbox = tmp_path / f"inbox-{tag}"
    inbox.mkdir()
    shutil.copyfile(make_clip(), inbox / f"{tag}-a.mp4")
    shutil.copyfile(
        make_clip(duration_s=3.0, width=1280, height=720, fps=30), inbox / f"{tag}-b.mp4"
    )
    outbox = tmp_path / "outbox"
    batch = {
        "inbox": str(inbox),
        "output_dir": str(outbox),
        "prompt": f"sepia film {tag}",
        "dispatch": "deployment",
        "max_parallel": 2,
    }
    wait_until_idle(up)  # both workers free to take the clips

    with approval_settings(up, EDIT_VIDEO):
        nightly = up.api.deployment(NIGHTLY)
        made = send(
            up,
            "POST",
            f"/deployments/{nightly['id']}/create_flow_run",
            {
                "parameters": {"batch": batch},
                "job_variables": with_env(nightly, APPROVAL_ENV),
                "state": {"type": "SCHEDULED", "name": "Scheduled"},
                # A create sent again (the server was busy) gives the run made the first time.
                "idempotency_key": f"approval-stack-{tag}",
            },
        )
        run_id = made["id"]
        try:
            paused = wait_for_state(up, run_id, ("PAUSED", *FINAL))
            assert paused["state_type"] == "PAUSED", paused["state"]
            assert standin.stats().create_calls == 0  # nothing sent while it waits
            shown = markdown_of(up, run_id)
            assert "# Approve about 600 credits?" in shown
            assert f"**batch {inbox.name}**: 2 clips, 6 billed seconds, about 600 credits" in shown

            answer = {"run_input": {"approve": True, "note": "stack test"}}
            answered = send(up, "POST", f"/flow_runs/{run_id}/resume", answer)
            assert answered["status"] == "ACCEPT", answered
            ended = wait_for_state(up, run_id, FINAL, timeout_s=240)
        finally:  # a run left paused by a failure here would hold a worker's slot: say no
            if up.api.get(f"/flow_runs/{run_id}")["state_type"] == "PAUSED":
                no = {"run_input": {"approve": False, "note": "the test failed"}}
                send(up, "POST", f"/flow_runs/{run_id}/resume", no)
    assert ended["state_type"] == "COMPLETED", ended["state"]

    # Each clip was a run of edit-video on a worker, approved for the batch's estimate, and
    # over the threshold on its own (300 > 250), it never paused.
    clips = up.api.flow_runs_named(tag)
    clips = [run for run in clips if run["id"] != run_id]
    assert len(clips) == 2, [run["name"] for run in clips]
    edit_video = up.api.deployment(EDIT_VIDEO)
    for clip in clips:
        assert clip["state_type"] == "COMPLETED", clip["state"]
        assert clip["deployment_id"] == edit_video["id"]
        assert clip["parameters"]["approved_credits"] == 600
        assert up.api.worker_of(clip["id"]) in up.workers
        assert "PAUSED" not in states_of(up, clip["id"])
    assert "PAUSED" in states_of(up, run_id)

    # Paid once each: two jobs, each billed as its clip, and the batch's record says so.
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (2, 2)
    rows = [json.loads(line) for line in (outbox / "results.jsonl").read_text().splitlines()]
    assert [(row["status"], row["credits_used"]) for row in rows] == [("done", 300)] * 2


@contextlib.contextmanager
def approval_settings(up: UpStack, name: str) -> Iterator[None]:
    """Deployment ``name``'s runs get :data:`APPROVAL_ENV` (as job variables) until the end of
    the block; then the deployment's own job variables again."""
    deployment = up.api.deployment(name)
    path = f"/deployments/{deployment['id']}"
    send(up, "PATCH", path, {"job_variables": with_env(deployment, APPROVAL_ENV)})
    try:
        yield
    finally:  # the package's other tests run this deployment without a threshold
        send(up, "PATCH", path, {"job_variables": deployment["job_variables"]})


#: Seconds between tries of a write the stack's SQLite server answered 503 ("database is
#: locked", while its workers write too): Prefect's own client waits and tries again as well.
BUSY_WAITS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def send(up: UpStack, method: str, path: str, body: dict[str, Any]) -> Any:
    """``method path`` with ``body`` to the stack's REST API, tried again while the server is
    busy (a 503, or no answer); its JSON answer, None for none."""
    waits = iter(BUSY_WAITS_S)
    with httpx.Client(base_url=up.api.api_url, timeout=30.0) as http:
        while True:
            try:
                response = http.request(method, path, json=body)
            except httpx.TransportError:
                if (wait_s := next(waits, None)) is None:
                    raise
            else:
                if response.status_code != 503 or (wait_s := next(waits, None)) is None:
                    response.raise_for_status()
                    return response.json() if response.content else None
            time.sleep(wait_s)


def with_env(deployment: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """``deployment``'s job variables with ``env`` added to their environment."""
    variables = dict(deployment.get("job_variables") or {})
    variables["env"] = {**(variables.get("env") or {}), **env}
    return variables


def wait_for_state(
    up: UpStack, run_id: str, types: tuple[str, ...], timeout_s: float = 120.0
) -> dict[str, Any]:
    """Flow run ``run_id`` once its state is one of ``types``."""
    deadline = time.monotonic() + timeout_s
    while True:
        run: dict[str, Any] = up.api.get(f"/flow_runs/{run_id}")
        if run["state_type"] in types:
            return run
        assert time.monotonic() < deadline, f"{run['name']} still {run['state_type']}"
        time.sleep(0.2)


def markdown_of(up: UpStack, run_id: str) -> str:
    """The markdown artifact of flow run ``run_id``."""
    artifacts = up.api.filter("artifacts", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    (shown,) = [artifact["data"] for artifact in artifacts if artifact["type"] == "markdown"]
    return str(shown)


def states_of(up: UpStack, run_id: str) -> list[str]:
    """The types of every state flow run ``run_id`` has been in, in order."""
    states = up.api.get(f"/flow_run_states/?flow_run_id={run_id}")
    return [state["type"] for state in sorted(states, key=lambda state: state["timestamp"])]
