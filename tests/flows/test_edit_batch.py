"""The edit_batch flow end to end: real ffmpeg, the real stand-in over HTTP, a Prefect server.

A batch of an inbox (two clips and a file that is no video): each clip a child run of the batch,
one failing without stopping the others, the table artifact, the results manifest; what the
batch would read back from those children were they deployment runs. A rerun skips what is done
(no create); a budget holds clips back; a bad manifest or a missing deployment refuses the
batch before anything is sent. Budget and scheduling rules in detail: ``tests/batch/``.
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import cloudpickle  # type: ignore[import-untyped]  # Prefect's own, ships no types
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)

from flows.edit_batch import edit_batch
from reskin.batch.manifest import ManifestError
from reskin.batch.report import CSV_COLUMNS, TABLE_COLUMNS, failure_of
from reskin.batch.request import BatchRequest, BatchResult, ClipStatus
from reskin.edit.services import journal_of
from reskin.errors import ConfigError
from reskin.journal import Phase
from reskin.media.probe import probe
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from tasks.batch import read_child_result
from tests.conftest import MakeClip
from tests.flows.checks import assert_one_line

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]

CREDITS_3S = 300  # the stand-in bills 100 credits per started second


@pytest.fixture
def env(fast: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``fast`` plus Prefect limits of the test's own, loose enough not to space the creates
    of a batch seconds apart (``tasks/limits.py``). Returns the work dir."""
    monkeypatch.setenv("RESKIN_CREATES_PER_MINUTE", "600")
    monkeypatch.setenv("RESKIN_LIMITS_PREFIX", f"batch-{uuid.uuid4().hex[:12]}")
    return fast


@pytest.fixture
def clips(make_clip: MakeClip) -> list[Path]:
    """Three different 3 s clips the other tests of the session make as well."""
    return [
        make_clip(),
        make_clip(duration_s=3.0, width=1280, height=720, fps=30),
        make_clip(audio=False),
    ]


def _inbox(folder: Path, files: Mapping[str, Path | str]) -> Path:
    """A folder holding copies of clips (or text) under the given names."""
    folder.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copyfile(content, folder / name)
        else:
            (folder / name).write_text(content)
    return folder


async def _run(batch: BatchRequest) -> tuple[BatchResult, uuid.UUID]:
    state = await edit_batch(batch, return_state=True)
    assert state.is_completed()  # failed clips do not fail the batch
    result = await state.aresult()
    assert isinstance(result, BatchResult)
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return result, run_id


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_each_clip_runs_on_its_own_and_a_failure_stops_none(
    env: Path, standin: StandIn, clips: list[Path], tmp_path: Path
) -> None:
    inbox = _inbox(
        tmp_path / "inbox",
        {"a.mp4": clips[0], "b.mov": clips[1], "c.mp4": "not a video", "notes.txt": "ignored"},
    )
    out = tmp_path / "out"
    batch = BatchRequest(inbox=str(inbox), output_dir=str(out), prompt="sepia film", max_parallel=3)
    result, batch_id = await _run(batch)

    errors = {row.clip: row.error for row in result.rows}
    assert (result.total, result.done, result.failed, result.skipped) == (3, 2, 1, 0), errors
    assert result.credits_spent == 2 * CREDITS_3S
    assert standin.stats().jobs_accepted == 2
    a, b, c = result.rows
    assert [row.clip for row in result.rows] == ["a.mp4", "b.mov", "c.mp4"]
    for row in (a, b):
        assert row.status is ClipStatus.DONE
        assert row.paid
        assert row.credits_used == CREDITS_3S
        assert row.generation_id
        assert probe(Path(row.output)).duration_s == pytest.approx(3.0, abs=0.1)
    assert (a.output, b.output) == (str(out / "a.mp4"), str(out / "b.mp4"))
    assert a.generation_id != b.generation_id
    assert c.status is ClipStatus.FAILED
    assert c.generation_id is None
    assert not c.paid
    assert c.error is not None
    assert_one_line(ValueError(c.error), "c.mp4")
    assert not (out / "c.mp4").exists()
    # The fingerprint recorded is the one the journal holds the request under.
    journal = journal_of(load_settings())
    for row in (a, b):
        assert row.fingerprint is not None
        entry = journal.get(row.fingerprint)
        assert entry is not None
        assert entry.phase is Phase.DONE
        assert entry.generation_id == row.generation_id

    # The results manifest: the same rows, as JSONL and as CSV.
    assert result.results_manifest == str(out / "results.jsonl")
    assert _jsonl(out / "results.jsonl") == [row.model_dump(mode="json") for row in result.rows]
    with (out / "results.csv").open(newline="") as handle:
        table_rows = list(csv.DictReader(handle))
    assert tuple(table_rows[0]) == CSV_COLUMNS
    assert [(row["clip"], row["status"]) for row in table_rows] == [
        ("a.mp4", "done"),
        ("b.mov", "done"),
        ("c.mp4", "failed"),
    ]
    assert sorted(path.name for path in out.iterdir()) == [
        "a.mp4",
        "a.preview.png",
        "b.mp4",
        "b.preview.png",
        "results.csv",
        "results.jsonl",
    ]

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[batch_id]))
        )
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[batch_id])
            )
        )
    (artifact,) = [artifact for artifact in artifacts if artifact.type == "table"]
    shown = artifact.data if isinstance(artifact.data, list) else json.loads(str(artifact.data))
    assert [tuple(row) for row in shown] == [TABLE_COLUMNS] * 3
    assert [(row["clip"], row["status"], row["credits"]) for row in shown] == [
        ("a.mp4", "done", CREDITS_3S),
        ("b.mov", "done", CREDITS_3S),
        ("c.mp4", "failed", None),
    ]
    assert shown[0]["generation id"] == a.generation_id
    assert shown[2]["error"] == c.error
    assert "2 done, 1 failed" in str(artifact.description)

    # One child run per clip, linked to the batch, named after its clip.
    by_id = {str(child.id): child for child in children}
    assert sorted(by_id) == sorted(str(row.flow_run_id) for row in result.rows)
    for row in result.rows:
        child = by_id[str(row.flow_run_id)]
        assert row.clip.split(".")[0] in child.name
        assert child.state is not None
        assert child.state.is_completed() is (row.status is ClipStatus.DONE)

    # What the batch reads back from a deployment run: the same facts from the same runs.
    for row in (a, b):
        done = await read_child_result(uuid.UUID(str(row.flow_run_id)))
        assert done is not None
        assert (done.output, done.generation_id, done.credits_used) == (
            row.output,
            row.generation_id,
            row.credits_used,
        )
        assert not done.resumed
        assert done.input_duration_s == pytest.approx(3.0, abs=0.05)
    failed = by_id[str(c.flow_run_id)]
    assert failed.state is not None
    assert failure_of(failed.state.message) == c.error
    assert await read_child_result(failed.id) is None


async def test_a_rerun_skips_what_is_done_and_pays_nothing(
    env: Path, standin: StandIn, clips: list[Path], tmp_path: Path
) -> None:
    folder = _inbox(tmp_path / "clips", {"a.mp4": clips[0], "b.mp4": clips[2]})
    manifest = tmp_path / "batch.csv"
    manifest.write_text(
        "input,prompt,end_s,output\n"
        "clips/a.mp4,sepia film,,first.mp4\n"
        f"{folder / 'b.mp4'},,2.5,second.mp4\n"
    )
    out = tmp_path / "out"
    batch = BatchRequest(manifest=str(manifest), output_dir=str(out), prompt="watercolour")
    first, _ = await _run(batch)
    assert [row.status for row in first.rows] == [ClipStatus.DONE, ClipStatus.DONE]
    assert [row.clip for row in first.rows] == ["a.mp4 (line 2)", "b.mp4 (line 3)"]
    assert probe(out / "second.mp4").duration_s == pytest.approx(2.5, abs=0.05)

    standin.reset()
    again, again_id = await _run(batch)
    assert [row.status for row in again.rows] == [ClipStatus.SKIPPED, ClipStatus.SKIPPED]
    assert [row.generation_id for row in again.rows] == [row.generation_id for row in first.rows]
    assert [row.credits_used for row in again.rows] == [CREDITS_3S, CREDITS_3S]
    assert again.credits_spent == 0
    assert standin.stats().create_calls == 0
    async with get_client() as client:
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[again_id])
            )
        )
    assert children == []
    recorded = _jsonl(out / "results.jsonl")
    assert [row["status"] for row in recorded] == ["skipped (already done)"] * 2

    # Another sound for one row: not the same output, so not skipped; the generation is reused.
    manifest.write_text(
        "input,prompt,end_s,output,audio\n"
        "clips/a.mp4,sepia film,,first.mp4,none\n"
        f"{folder / 'b.mp4'},,2.5,second.mp4,\n"
    )
    third, _ = await _run(batch)
    assert [row.status for row in third.rows] == [ClipStatus.DONE, ClipStatus.SKIPPED]
    assert not third.rows[0].paid
    assert third.credits_spent == 0
    assert not probe(out / "first.mp4").has_audio
    assert standin.stats().create_calls == 0


async def test_the_budget_holds_back_clips_once_reached(
    env: Path, standin: StandIn, clips: list[Path], tmp_path: Path
) -> None:
    # Until one clip has shown the price, clips go one at a time, even with max_parallel 3.
    files = {f"{name}.mp4": clip for name, clip in zip("abc", clips, strict=True)}
    inbox = _inbox(tmp_path / "inbox", files)
    batch = BatchRequest(
        inbox=str(inbox),
        output_dir=str(tmp_path / "out"),
        prompt="sepia film",
        budget_credits=CREDITS_3S,
        max_parallel=3,
    )
    result, _ = await _run(batch)
    assert [row.status for row in result.rows] == [
        ClipStatus.DONE,
        ClipStatus.OVER_BUDGET,
        ClipStatus.OVER_BUDGET,
    ]
    assert result.credits_spent == CREDITS_3S
    assert (result.done, result.over_budget) == (1, 2)
    assert standin.stats().jobs_accepted == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.mp4",
        "a.preview.png",
        "results.csv",
        "results.jsonl",
    ]


async def test_a_bad_manifest_row_refuses_the_batch_before_anything_is_sent(
    env: Path, standin: StandIn, clips: list[Path], tmp_path: Path
) -> None:
    manifest = tmp_path / "batch.jsonl"
    good = json.dumps({"input": str(clips[0]), "prompt": "sepia film"})
    bad = json.dumps({"input": str(clips[1]), "start_s": 2, "end_s": 1})
    manifest.write_text(f"{good}\n\n{bad}\n")
    batch = BatchRequest(manifest=str(manifest), output_dir=str(tmp_path / "out"), prompt="x")
    with pytest.raises(ManifestError) as caught:
        await edit_batch(batch)
    assert_one_line(caught.value, "batch.jsonl line 3", "end_s must be after start_s")
    assert standin.stats().create_calls == 0
    assert not (tmp_path / "out").exists()


async def test_a_missing_clip_deployment_refuses_the_batch(
    env: Path, standin: StandIn, clips: list[Path], tmp_path: Path
) -> None:
    inbox = _inbox(tmp_path / "inbox", {"a.mp4": clips[0]})
    batch = BatchRequest(
        inbox=str(inbox),
        output_dir=str(tmp_path / "out"),
        prompt="sepia film",
        dispatch="deployment",
        deployment="edit-video/nowhere",
    )
    with pytest.raises(ConfigError) as caught:
        await edit_batch(batch)
    assert_one_line(caught.value, "'edit-video/nowhere' does not exist", "serve")
    assert standin.stats().create_calls == 0


async def test_the_flow_survives_the_pickling_a_served_deployment_does(tmp_path: Path) -> None:
    # `serve` runs each flow run in a spawned process with the flow pickled by value: its
    # parameter's type must still resolve there (string annotations would not).
    copy = cloudpickle.loads(cloudpickle.dumps(edit_batch))
    batch = {"inbox": str(tmp_path), "prompt": "x", "output_dir": str(tmp_path / "out")}
    assert copy.validate_parameters({"batch": batch}) == {
        "batch": BatchRequest(**batch),
        "approved_credits": None,
    }
