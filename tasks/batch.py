"""The batch's own stages: plan (read the clips, skip what is done, estimate lengths) and publish
(the results manifest, uploaded for an ``s3://`` output folder, and the table), plus what the
batch reads back from Prefect about a clip that ran as a deployment run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.exceptions import ObjectNotFound

from reskin.batch.places import Folder
from reskin.batch.plan import Plan, make_plan
from reskin.batch.report import counts_line, table, upload_results, write_results
from reskin.batch.request import BatchRequest, BatchResult, ClipRow
from reskin.edit.request import EditResult
from reskin.edit.services import journal_of
from reskin.errors import ConfigError, ReskinError
from reskin.settings import load_settings
from reskin.storage.s3 import S3Prefix, S3Storage
from tasks.publish import RESULT_KEY

#: The flow every clip deployment must run: its runs take one ``request`` parameter.
EDIT_VIDEO_FLOW = "edit-video"


@task(name="plan", task_run_name="plan {batch.source}", cache_policy=NO_CACHE)
async def plan_batch(batch: BatchRequest) -> Plan:
    """Read and check every clip (a bad row refuses the batch), and find those already done."""
    settings = load_settings()
    plan = await asyncio.to_thread(make_plan, batch, settings, journal_of(settings))
    get_run_logger().info(
        "%d clips from %s: %d already done, %d to send",
        len(plan.clips),
        batch.source,
        len(plan.skipped),
        len(plan.to_send),
    )
    return plan


@task(name="publish batch", task_run_name="publish {output_dir}", cache_policy=NO_CACHE)
async def publish_batch(rows: list[ClipRow], results_dir: Path, output_dir: Folder) -> BatchResult:
    """Write the results manifest (atomically) in ``results_dir``, upload it to an ``s3://``
    output folder, and make the batch's table artifact."""
    if not rows:
        await acreate_markdown_artifact(
            "# reskin batch\n\nNo clip to edit.", description="What this batch did."
        )
        return BatchResult.of(rows, None)
    path = str(await asyncio.to_thread(write_results, results_dir, rows))
    if isinstance(output_dir, S3Prefix):
        try:
            storage = S3Storage.from_settings(load_settings())
            path = await asyncio.to_thread(upload_results, results_dir, output_dir, storage)
        except ReskinError as exc:
            # The clips are done and paid for: the batch still ends with its table.
            get_run_logger().warning(
                "cannot upload the results to %s (%s): they are kept in %s", output_dir, exc, path
            )
    result = BatchResult.of(rows, path)
    description = f"{counts_line(rows)}; {result.credits_spent:g} credits spent; results: {path}"
    await acreate_table_artifact(table(rows), description=description)
    get_run_logger().info("%s", description)
    return result


async def check_deployment(name: str) -> None:
    """Refuse, before any clip is sent, a clip deployment that does not exist or runs another
    flow than ``edit-video`` (its runs would not take the clips' requests)."""
    async with get_client() as client:
        try:
            deployment = await client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise ConfigError(
                f"deployment {name!r} does not exist on this Prefect server: serve or deploy "
                "it (python -m deployments.serve), or run the clips as subflows"
            ) from None
        flow = await client.read_flow(deployment.flow_id)
    if flow.name != EDIT_VIDEO_FLOW:
        raise ConfigError(
            f"deployment {name!r} runs flow {flow.name!r}, not {EDIT_VIDEO_FLOW!r}: "
            f"give a deployment of {EDIT_VIDEO_FLOW}"
        )


async def read_child_result(flow_run_id: UUID) -> EditResult | None:
    """What a finished ``edit-video`` run did, from the result table its ``publish`` stage
    left; None when it left none. Artifacts live on the Prefect server, so this works wherever
    the run ran."""
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                key=ArtifactFilterKey(any_=[RESULT_KEY]),
            )
        )
    for artifact in artifacts:
        rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        if isinstance(rows, list) and len(rows) == 1 and isinstance(rows[0], dict):
            result = EditResult.from_row(rows[0])
            if result is not None:
                return result
    return None
