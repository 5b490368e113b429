"""The edit_video flow end to end: real ffmpeg, the real stand-in over HTTP, a Prefect server.

Sound modes and windows; what a run shows in Prefect (names, task runs, artifacts, and no
secret or inline media anywhere) for a run with a reference image, which the create carries
(seen through a recording relay); too many images refused before anything is sent.
Faults: ``test_edit_video_faults.py``; reruns: ``test_edit_video_resume.py``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import anyio
import cloudpickle  # type: ignore[import-untyped]  # Prefect's own, ships no types
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.exceptions import ParameterTypeError
from prefect.logging.handlers import APILogHandler
from pydantic import ValidationError

from flows.edit_video import edit_video, run_edit_flow
from reskin.edit.pipeline import STAGES as PIPELINE_STAGES
from reskin.edit.request import EditRequest, EditResult
from reskin.media.binaries import FFmpegTools
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.flows.checks import ask, assert_only_output
from tests.flows.recorder import Recorder

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]

#: Every task run of an edit: the pipeline's stages, then publish.
STAGES = (*PIPELINE_STAGES, "publish")


@pytest.fixture(scope="session")
def png(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One frame of ffmpeg's test pattern as a 640x360 PNG: a valid reference image."""
    path = tmp_path_factory.mktemp("references") / "look.png"
    argv = [str(ffmpeg_tools.ffmpeg), "-hide_banner", "-loglevel", "error", "-f", "lavfi"]
    argv += ["-i", "testsrc=size=640x360", "-frames:v", "1", "-update", "1", str(path)]
    run(argv, timeout_s=60)
    return path


# --- sound and windows -----------------------------------------------------------------------


async def test_a_clip_with_sound_is_edited_and_keeps_its_sound(
    edit_env: Path, standin: StandIn, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    output = tmp_path / "out" / "edited.mp4"
    result = await edit_video(EditRequest(input=str(clip), prompt="sepia film", output=str(output)))
    info = probe(output)
    assert info.has_audio
    assert info.fps == 24
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert result.output == str(output)
    assert result.credits_used == 300
    assert result.sound == "restore"
    assert result.has_audio
    assert not result.resumed
    assert standin.stats().jobs_accepted == 1
    assert_only_output(output, edit_env)


async def test_model_sound_is_asked_of_the_service_and_kept(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    # The stand-in renders sound only when the create asked for keep_audio; "model" keeps
    # what came back, so sound in the output proves the request carried it.
    result = await edit_video(ask(clip, output, audio="model"))
    assert result.sound == "model"
    assert result.has_audio
    assert probe(output).has_audio
    assert standin.stats().jobs_accepted == 1


async def test_no_sound_gives_a_silent_video(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    result = await edit_video(ask(clip, output, audio="none"))
    assert not result.has_audio
    info = probe(output)
    assert not info.has_audio
    assert info.duration_s == pytest.approx(3.0, abs=0.1)


async def test_a_window_is_what_comes_out(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    # 2 s of a 3 s clip: shorter than the model takes, so more is sent and the result cut back.
    result = await edit_video(ask(clip, output, start_s=0.5, end_s=2.5))
    info = probe(output)
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert info.has_audio
    assert result.input_duration_s == pytest.approx(2.0)
    assert result.output_duration_s == pytest.approx(2.0, abs=0.05)
    assert standin.stats().jobs_accepted == 1
    assert_only_output(output, fast)


# --- what the run shows in Prefect -------------------------------------------------------------


async def test_the_run_is_named_staged_summarised_and_holds_no_secret(
    fast: Path,
    standin: StandIn,
    clip: Path,
    output: Path,
    png: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With a reference image, the create carries two data URIs (the clip and the image): the
    # relay shows they went to the service, and the checks below that none reached Prefect.
    with Recorder(standin.base_url) as relay:
        monkeypatch.setenv("AIMLAPI_BASE_URL", relay.base_url)
        result, run_id = await run_edit_flow(ask(clip, output, reference_images=[str(png)]))
    (create,) = relay.creates
    assert create["video_url"].startswith("data:video/mp4;base64,")
    (image,) = create["image_list"]
    encoded = base64.b64encode(await anyio.Path(png).read_bytes()).decode()
    assert image == f"data:image/png;base64,{encoded}"
    assert standin.stats().jobs_accepted == 1
    assert probe(output).duration_s == pytest.approx(3.0, abs=0.1)

    flow_run_id = uuid.UUID(run_id)
    await APILogHandler.aflush()
    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        # Task run states reach the database through the server's event recorder, which may
        # lag (and retry) on a busy machine: wait for it to catch up rather than read once.
        for _ in range(600):  # 60 s
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if all(run.state is not None and run.state.is_final() for run in task_runs):
                break
            await anyio.sleep(0.1)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )

    assert flow_run.state is not None
    assert flow_run.state.is_completed()
    assert clip.name in flow_run.name
    names = [task_run.name for task_run in task_runs]
    for stage in STAGES:
        assert any(name.startswith(stage) for name in names), f"no {stage} task run in {names}"
    assert all(run.state is not None and run.state.is_completed() for run in task_runs)
    # The caller's tags (run_edit_flow's) label the flow run; task runs carry none, so none of
    # them asks the server for tag concurrency slots.
    assert "reskin" in flow_run.tags
    assert [run.tags for run in task_runs] == [[] for _ in task_runs]

    by_type: dict[str | None, list[object]] = {}
    for artifact in artifacts:
        by_type.setdefault(artifact.type, []).append(artifact.data)
    # Prefect stores a link artifact as markdown: "[text](url)".
    markdown = [str(data) for data in by_type["markdown"]]
    (summary,) = [text for text in markdown if text.startswith("# reskin edit")]
    assert result.generation_id in summary
    assert "| credits used | 300 |" in summary
    assert result.fidelity is not None
    assert f"| fidelity: motion | {result.fidelity.motion:.2f} `" in summary
    assert f"[{output}](file://{output})" in markdown
    assert len(markdown) == 2
    (progress,) = by_type["progress"]
    assert progress == pytest.approx(100.0)
    (table,) = by_type["table"]
    (row,) = json.loads(str(table))
    assert EditResult.from_row(row) == result

    # Nothing Prefect stores or shows holds the key or the media itself: the one data URI is
    # the summary's before/after contact sheet, a small PNG drawn for it.
    assert logs, "no log line reached the API"
    stored = [json.dumps(flow_run.parameters, default=str)]
    stored += [f"{artifact.data} {artifact.description}" for artifact in artifacts]
    stored += [record.message for record in logs]
    for text in stored:
        assert standin.key not in text
        assert set(re.findall(r"data:[^;,)]*", text)) <= {"data:image/png"}, text[:200]
    assert sum("data:image/png" in text for text in stored) == 1


# --- reference images --------------------------------------------------------------------------


async def test_five_reference_images_are_refused_before_any_create(
    fast: Path, standin: StandIn, clip: Path, output: Path, png: Path
) -> None:
    with pytest.raises(ValidationError, match="reference_images"):
        ask(clip, output, reference_images=[str(png)] * 5)
    # As a deployment's form sends it: Prefect checks the parameter before the flow starts.
    parameters = {"input": str(clip), "prompt": "x", "output": str(output)}
    with pytest.raises(ParameterTypeError, match="reference_images: List should have at most 4"):
        await edit_video(request={**parameters, "reference_images": [str(png)] * 5})  # type: ignore[call-overload]
    assert standin.stats().create_calls == 0
    assert not await anyio.Path(output).exists()


def test_the_flow_survives_the_pickling_a_served_deployment_does(tmp_path: Path) -> None:
    # `serve` runs each flow run in a spawned process with the flow pickled by value: its
    # parameter's type must still resolve there (string annotations would not).
    copy = cloudpickle.loads(cloudpickle.dumps(edit_video))
    request = {"input": "in.mp4", "prompt": "x", "output": str(tmp_path / "out.mp4")}
    assert copy.validate_parameters({"request": request}) == {
        "request": EditRequest.model_validate(request),
        "approved_credits": None,
    }
