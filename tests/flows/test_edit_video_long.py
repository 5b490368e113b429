"""A long video through the edit_video flow: its plan shown as a table before anything is paid,
one task run per stage and segment named after the segment, and the whole written once."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
)

from flows.edit_video import run_edit_flow
from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.flows.checks import ask

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]


async def test_a_long_video_shows_its_plan_and_a_task_run_per_segment_and_stage(
    fast: Path,
    standin: StandIn,
    make_clip: MakeClip,
    output: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESKIN_CONFORM_PRESET", "ultrafast")
    # 12 s of two scenes on Aleph (5 s at most): 5.44 s and 6.56 s, two balanced parts each.
    clip = make_clip(duration_s=12.0, width=854, height=480, fps=25, scenes=(5.43,))
    request = ask(clip, output, one_look=False, model="runway/gen4_aleph")
    result, run_id = await run_edit_flow(request)
    count = len(result.segments)
    assert count == 4
    assert standin.stats().jobs_accepted == 4
    assert probe(output).duration_s == pytest.approx(12.0, abs=1 / 24)

    flow_run_id = uuid.UUID(run_id)
    async with get_client() as client:
        for _ in range(600):  # the server's event recorder may lag on a busy machine
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if all(run.state is not None and run.state.is_final() for run in task_runs):
                break
            await anyio.sleep(0.1)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    names = sorted(run.name for run in task_runs)
    for stage in ("take_in", "split", "stitch", "sound", "deliver", "publish"):
        assert sum(name.startswith(f"{stage} ") for name in names) == 1, (stage, names)
    for stage in ("plan", "submit", "poll", "fetch"):
        for index, segment in enumerate(result.segments, start=1):
            name = (
                f"{stage} segment {index} of {count} ({segment.start_s:.2f}..{segment.end_s:.2f} s)"
            )
            assert name in names
    (plan,) = [a for a in artifacts if a.key == "segment-plan"]
    rows = json.loads(str(plan.data))
    assert [row["segment"] for row in rows] == [1, 2, 3, 4]
    assert [row["starts at"] for row in rows] == ["start", "even split", "scene cut", "even split"]
    assert "billed seconds" in str(plan.description)
    (summary,) = [a for a in artifacts if str(a.data).startswith("# reskin edit")]
    assert "4 segments (4 paid now)" in str(summary.data)
    for segment in result.segments:
        assert f"`{segment.generation_id}` | 500 | paid now |" in str(summary.data)
    # The plan was shown before the first create: its artifact is older than every submit.
    submits = [run for run in task_runs if run.name.startswith("submit ")]
    assert plan.created is not None
    assert all(run.start_time is not None and plan.created < run.start_time for run in submits)
