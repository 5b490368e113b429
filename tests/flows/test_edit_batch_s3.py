"""A batch over S3 end to end: an inbox prefix in a real S3-compatible server (moto on loopback)
edited by the real stand-in into an ``s3://`` output folder, under the Prefect test harness.

The outputs, their previews and the results manifest land in the output prefix, the batch's
table artifact shows every clip, and a rerun skips every clip without a run or a create. The
rules in detail (listing, versions, each skip condition): ``tests/batch/test_s3.py``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)

from flows.edit_batch import edit_batch
from reskin.batch.places import results_folder
from reskin.batch.request import BatchRequest, BatchResult, ClipRow, ClipStatus
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from reskin.storage.s3 import S3Prefix
from tests.conftest import MakeClip
from tests.s3_server import S3Server

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]

CREDITS_3S = 300  # the stand-in bills 100 credits per started second


@pytest.fixture
def bucket(
    s3_server: S3Server, fast: Path, monkeypatch: pytest.MonkeyPatch, make_clip: MakeClip
) -> str:
    """A bucket whose ``in/`` prefix holds two clips (and what is no clip of the inbox), with
    this process's settings aimed at it and at the stand-in (``fast``), and Prefect limits of
    the test's own (``tasks/limits.py``)."""
    monkeypatch.setenv("RESKIN_LIMITS_PREFIX", f"batch-s3-{uuid.uuid4().hex[:12]}")
    name = s3_server.create_bucket()
    for variable, value in s3_server.env(name).items():
        monkeypatch.setenv(variable, value)
    client = s3_server.client()
    # The same clips tests/flows/test_edit_batch.py makes (once a session).
    for key, clip in (("in/a.mp4", make_clip()), ("in/b.mov", make_clip(audio=False))):
        client.upload_file(str(clip), name, key)
    for key in ("in/notes.txt", "in/sub/c.mp4"):
        client.put_object(Bucket=name, Key=key, Body=b"not in the batch")
    return name


def _keys(s3_server: S3Server, bucket: str, prefix: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def _run(batch: BatchRequest) -> tuple[BatchResult, uuid.UUID]:
    state = await edit_batch(batch, return_state=True)
    assert state.is_completed()
    result = await state.aresult()
    assert isinstance(result, BatchResult)
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return result, run_id


async def test_an_inbox_prefix_is_edited_into_an_output_prefix_and_a_rerun_pays_nothing(
    bucket: str, s3_server: S3Server, standin: StandIn
) -> None:
    out = f"s3://{bucket}/out/"
    batch = BatchRequest(inbox=f"s3://{bucket}/in", output_dir=out, prompt="sepia film",
                         max_parallel=2)  # fmt: skip
    result, batch_id = await _run(batch)

    assert (result.total, result.done, result.failed) == (2, 2, 0)
    assert result.credits_spent == 2 * CREDITS_3S
    assert standin.stats().jobs_accepted == 2
    a, b = result.rows
    assert [(row.clip, row.input, row.output) for row in result.rows] == [
        ("a.mp4", f"s3://{bucket}/in/a.mp4", f"{out}a.mp4"),
        ("b.mov", f"s3://{bucket}/in/b.mov", f"{out}b.mp4"),
    ]
    for row in result.rows:
        assert row.paid
        assert row.fingerprint is not None  # found in the journal under the generation
        assert row.request_key is not None  # the input's version, taken from the listing
    assert a.generation_id != b.generation_id

    # Outputs, previews and the results manifest are in the output prefix, nothing else.
    assert result.results_manifest == f"{out}results.jsonl"
    assert _keys(s3_server, bucket, "out/") == [
        "out/a.mp4",
        "out/a.preview.png",
        "out/b.mp4",
        "out/b.preview.png",
        "out/results.csv",
        "out/results.jsonl",
    ]
    body = s3_server.client().get_object(Bucket=bucket, Key="out/results.jsonl")["Body"].read()
    assert [ClipRow.model_validate_json(line) for line in body.splitlines()] == result.rows
    # The copy the next run reads is kept in the work dir, keyed by the output folder.
    local = results_folder(S3Prefix.parse(out), load_settings().work_dir) / "results.jsonl"
    assert local.read_bytes() == body

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[batch_id]))
        )
    (artifact,) = [artifact for artifact in artifacts if artifact.type == "table"]
    shown = artifact.data if isinstance(artifact.data, list) else json.loads(str(artifact.data))
    assert [(row["clip"], row["status"], row["output"]) for row in shown] == [
        ("a.mp4", "done", f"{out}a.mp4"),
        ("b.mov", "done", f"{out}b.mp4"),
    ]
    assert f"results: {out}results.jsonl" in str(artifact.description)

    # Run again: every clip is skipped, with no run and no create.
    again, again_id = await _run(batch)
    assert [row.status for row in again.rows] == [ClipStatus.SKIPPED] * 2
    assert [row.generation_id for row in again.rows] == [a.generation_id, b.generation_id]
    assert again.credits_spent == 0
    assert standin.stats().jobs_accepted == 2
    assert standin.stats().create_calls == 2
    async with get_client() as client:
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[again_id])
            )
        )
    assert children == []
    body = s3_server.client().get_object(Bucket=bucket, Key="out/results.jsonl")["Body"].read()
    assert [json.loads(line)["status"] for line in body.splitlines()] == [
        "skipped (already done)"
    ] * 2
