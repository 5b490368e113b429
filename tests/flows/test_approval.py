"""Approval before big spends on a real Prefect server (the session's harness), the real
stand-in and real ffmpeg: a batch over ``RESKIN_APPROVE_ABOVE_CREDITS`` waits in Paused, its
plan and estimate shown (an artifact, and the resume form's description); approved through the
API it runs and pays; rejected it pays nothing and records nothing; an edit nobody answers ends
unpaid once its wait is over."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterName,
)
from prefect.client.schemas.objects import FlowRun, State
from prefect.flow_runs import aresume_flow_run

from flows.edit_batch import edit_batch
from flows.edit_video import edit_video
from reskin.batch.request import BatchRequest, BatchResult
from reskin.errors import NotApprovedError
from reskin.standin.server import StandIn
from tasks.approval import Approval
from tests.conftest import MakeClip
from tests.edit.test_approval import journal_rows
from tests.flows.checks import ask, assert_one_line

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]


@pytest.fixture
def env(fast: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in's settings, its price (100 credits a second), a threshold of 500 and a
    paused run looking for its answer every second. Returns the work dir."""
    monkeypatch.setenv("RESKIN_CREDITS_PER_SECOND", "100")
    monkeypatch.setenv("RESKIN_APPROVE_ABOVE_CREDITS", "500")
    monkeypatch.setenv("RESKIN_APPROVAL_POLL_S", "1")
    return fast


@pytest.fixture
def inbox(make_clip: MakeClip, tmp_path: Path) -> Path:
    """Two 3 s clips (600 credits at the stand-in's price), in a folder named for this test
    only, so the batch's run (named after it) is found among the session's."""
    folder = tmp_path / f"inbox-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    shutil.copyfile(make_clip(), folder / "a.mp4")
    shutil.copyfile(make_clip(duration_s=3.0, width=1280, height=720, fps=30), folder / "b.mp4")
    return folder


async def run_batch(batch: BatchRequest) -> State[BatchResult]:
    """``batch`` run to its end; its final state."""
    return await edit_batch(batch, return_state=True)


async def paused_run(name: str, timeout_s: float = 60.0) -> FlowRun:
    """The flow run called ``name``, once it is Paused."""
    deadline = time.monotonic() + timeout_s
    async with get_client() as client:
        while True:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
            if runs and runs[0].state is not None and runs[0].state.is_paused():
                return runs[0]
            assert time.monotonic() < deadline, f"{name} never paused: {runs}"
            await asyncio.sleep(0.1)


async def shown_while_paused(run: FlowRun) -> tuple[str, str]:
    """The markdown artifact of ``run`` and the description of its resume form."""
    assert run.state is not None
    keyset = run.state.state_details.run_input_keyset
    assert keyset is not None
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
        form = await client.read_flow_run_input(run.id, keyset["description"])
    (artifact,) = [artifact for artifact in artifacts if artifact.type == "markdown"]
    return str(artifact.data), form


async def test_a_batch_over_the_threshold_waits_paused_and_runs_once_approved(
    env: Path, standin: StandIn, inbox: Path, tmp_path: Path
) -> None:
    batch = BatchRequest(inbox=str(inbox), output_dir=str(tmp_path / "out"), prompt="sepia")
    running = asyncio.create_task(run_batch(batch))
    run = await paused_run(f"batch {inbox.name}")

    artifact, form = await shown_while_paused(run)
    for shown in (artifact, form):
        assert "# Approve about 600 credits?" in shown
        assert f"**batch {inbox.name}**: 2 clips, 6 billed seconds, about 600 credits" in shown
        assert "| a.mp4 | 3 |" in shown
        assert "| b.mp4 | 3 |" in shown
    assert standin.stats().create_calls == 0  # nothing sent while it waits

    await aresume_flow_run(run.id, run_input={"approve": True, "note": "launch week"})
    state = await asyncio.wait_for(running, timeout=120)
    assert state.is_completed(), state.message
    result = await state.aresult()
    assert isinstance(result, BatchResult)
    assert (result.done, result.failed, result.credits_spent) == (2, 0, 600)
    assert standin.stats().jobs_accepted == 2
    # The batch's approval covered its clips: none of their runs asked again.
    async with get_client() as client:
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="edit a.mp4"))
        )
    assert any(child.parameters.get("approved_credits") == 600 for child in children)


async def test_a_rejected_batch_pays_nothing_and_records_nothing(
    env: Path, standin: StandIn, inbox: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    batch = BatchRequest(inbox=str(inbox), output_dir=str(out), prompt="sepia")
    running = asyncio.create_task(run_batch(batch))
    run = await paused_run(f"batch {inbox.name}")
    await aresume_flow_run(run.id, run_input={"approve": False, "note": "too dear"})
    state = await asyncio.wait_for(running, timeout=60)
    assert state.is_failed()
    with pytest.raises(NotApprovedError) as rejected:
        await state.aresult()
    assert_one_line(
        rejected.value, f"batch {inbox.name}", "about 600 credits", "rejected (too dear)"
    )
    assert_one_line(rejected.value, "nothing was paid")
    assert str(rejected.value) in (state.message or "")
    stats = standin.stats()
    assert (stats.create_calls, stats.uploads) == (0, 0)
    assert journal_rows(env) == []
    assert not out.exists() or sorted(out.iterdir()) == []


def test_a_resume_without_an_answer_is_a_no() -> None:
    # The form's switch is off until turned on, and an empty answer passes the server's check.
    assert Approval().approve is False
    assert Approval.model_json_schema().get("required", []) == []


async def test_an_edit_nobody_approves_in_time_ends_unpaid(
    env: Path,
    standin: StandIn,
    make_clip: MakeClip,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESKIN_APPROVE_ABOVE_CREDITS", "250")  # a 3 s edit bills 300
    monkeypatch.setenv("RESKIN_APPROVAL_TIMEOUT_S", "1")
    output = tmp_path / "out" / "edited.mp4"
    state = await edit_video(ask(make_clip(), output), return_state=True)
    assert state.is_failed()
    with pytest.raises(NotApprovedError) as late:
        await state.aresult()
    assert_one_line(late.value, "about 300 credits", "not approved within 1 s", "nothing was paid")
    # The run ends with that line (not the server's "never resumed", which comes later).
    assert str(late.value) in (state.message or "")
    assert standin.stats().create_calls == 0
    assert journal_rows(env) == []
    assert not output.exists()
