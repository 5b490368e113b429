"""The ``edit_batch`` flow: every clip of an inbox folder or a manifest, each as its own run of
``edit-video``, at most ``max_parallel`` at once, within a credit budget.

Orchestration only: reading and checking the clips, skipping those already done, the budget,
the scheduling and the record are the Prefect-free core in ``reskin/batch/``; the plan and
publish stages are tasks in ``tasks/batch.py``. Each clip is a child flow run linked to the
batch, so it shows on its own in the UI:

- ``subflow``: ``edit_video`` runs as a subflow in this process (asyncio, no threads);
- ``deployment``: a run of the ``edit-video`` deployment (``run_deployment``, as a subflow),
  taken by whatever serves it or works its pool, here or on other machines. Its result is not
  persisted (``edit_video`` keeps no results on a storage the batch may not share), so the batch
  reads what the run did from its result table artifact on the Prefect server.

No ``from __future__ import annotations`` here: a served deployment pickles the flow's function
by value into its run's process, and string annotations would no longer resolve there
(``BatchRequest`` is not among the names its body uses), failing every run's parameter check.
"""

import asyncio
import time
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.runtime import flow_run

from flows.edit_video import edit_video
from reskin.batch.budget import Budget
from reskin.batch.manifest import Clip
from reskin.batch.report import ResultsWriter, clip_row, error_of, failure_of
from reskin.batch.request import BatchRequest, BatchResult, ClipRow, ClipStatus
from reskin.batch.reuse import fingerprint_of_done, request_key
from reskin.batch.schedule import Outcome, RunClip, run_clips
from reskin.edit.request import EditResult
from reskin.edit.services import journal_of
from reskin.errors import ReskinError
from reskin.journal import Journal
from reskin.registry import spec_for
from reskin.settings import Settings, load_settings
from tasks.batch import check_deployment, plan_batch, publish_batch, read_child_result

#: Seconds between two looks at a clip's deployment run while it runs elsewhere.
DEPLOYMENT_POLL_S = 2.0


def run_name() -> str:
    batch = flow_run.parameters.get("batch")
    if isinstance(batch, dict):
        source = batch.get("inbox") or batch.get("manifest")
        return f"batch {Path(source).name}" if isinstance(source, str) else "batch"
    if isinstance(batch, BatchRequest):
        return f"batch {Path(batch.source).name}"
    return "batch"


@flow(name="edit-batch", flow_run_name=run_name, persist_result=False)
async def edit_batch(batch: BatchRequest) -> BatchResult:
    """Re-style every video of an inbox folder or a manifest, each as its own run."""
    try:
        return await _edit_batch(batch)
    except ReskinError as exc:
        exc.word_for({})  # a manifest's columns bear the fields' own names
        raise


async def _edit_batch(batch: BatchRequest) -> BatchResult:
    settings = load_settings()  # a bad setting fails the batch before any work
    logger = get_run_logger()
    if batch.dispatch == "deployment":
        await check_deployment(batch.deployment)
    plan = await plan_batch(batch)
    if not plan.clips:
        logger.info("no clip in %s: nothing to do", batch.source)
        return await publish_batch([], plan.results_dir, plan.output_dir)

    writer = ResultsWriter(plan.results_dir, plan.clips)
    for index, row in plan.skipped.items():
        writer.update(index, row)
    budget = None
    if batch.budget_credits is not None:
        budget = Budget(batch.budget_credits, plan.estimates, max_billed_s=_max_billed_s(settings))

    def on_row(clip: Clip, row: ClipRow) -> None:
        writer.update(clip.index, row)
        if row.status is ClipStatus.FAILED:
            logger.warning("%s: failed: %s", clip.label, row.error)
        else:
            logger.info("%s: %s", clip.label, row.status.value)

    journal = journal_of(settings)
    run_clip: RunClip
    if batch.dispatch == "deployment":

        async def run_clip(clip: Clip) -> Outcome:
            return await _as_deployment_run(clip, batch.deployment, settings, journal)

    else:
        starting = asyncio.Lock()

        async def run_clip(clip: Clip) -> Outcome:
            return await _as_subflow(clip, settings, journal, starting)

    try:
        await run_clips(
            plan.to_send, run_clip, max_parallel=batch.max_parallel, budget=budget, on_row=on_row
        )
    except BaseException:
        writer.flush()  # what finished stays recorded, so a rerun skips it
        raise
    return await publish_batch(writer.rows, plan.results_dir, plan.output_dir)


async def _as_subflow(
    clip: Clip, settings: Settings, journal: Journal, starting: asyncio.Lock
) -> Outcome:
    began = time.monotonic()
    running = asyncio.Event()
    run_ids: list[str] = []

    def on_running(flow: object, flow_run: FlowRun, state: object) -> None:
        run_ids.append(str(flow_run.id))
        running.set()

    child = edit_video.with_options(on_running=[on_running])
    # One child at a time is being created: a server on SQLite answers 503 to runs created at
    # the same moment, and its client waits seconds before trying again.
    async with starting:
        # The value itself, not return_state=True: a final state the engine had to read back
        # from a busy server carries no data (persist_result=False), and its result() raises
        # MissingResult for an edit that was done and paid for.
        call = asyncio.ensure_future(child(clip.request))
        started = asyncio.ensure_future(running.wait())
        try:
            await asyncio.wait((call, started), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            call.cancel()  # the batch is cancelled: so is the child it was starting
            raise
        finally:
            started.cancel()
    run_id = run_ids[0] if run_ids else None
    try:
        value = await call
    except Exception as exc:  # the clip failed; the batch goes on (cancellation does not)
        error = error_of(exc)
        seconds = time.monotonic() - began
        return Outcome(
            clip_row(clip, ClipStatus.FAILED, error=error, seconds=seconds, flow_run_id=run_id)
        )
    seconds = time.monotonic() - began
    return await _done(clip, value, settings, journal, seconds=seconds, run_id=run_id)


async def _as_deployment_run(
    clip: Clip, deployment: str, settings: Settings, journal: Journal
) -> Outcome:
    began = time.monotonic()
    batch_id = flow_run.get_id()
    child = await arun_deployment(
        name=deployment,
        parameters={"request": clip.request.model_dump(mode="json")},
        as_subflow=True,
        poll_interval=DEPLOYMENT_POLL_S,
        # Prefect's client sends the create again after a read timeout (a busy server): with a
        # key the server answers with the run it made, instead of making a second one that a
        # worker would also run.
        idempotency_key=f"{batch_id}-clip-{clip.index}" if batch_id else None,
    )
    seconds = time.monotonic() - began
    run_id = str(child.id)
    state = child.state
    if state is not None and state.is_completed():
        result = await read_child_result(child.id)
        if result is not None:
            return await _done(clip, result, settings, journal, seconds=seconds, run_id=run_id)
        error = f"run {child.name} completed without its result artifact: see the run"
    else:
        ended = state.type.value if state is not None else "without a state"
        error = failure_of(state.message if state is not None else None, ended=ended)
    return Outcome(
        clip_row(clip, ClipStatus.FAILED, error=error, seconds=seconds, flow_run_id=run_id)
    )


async def _done(
    clip: Clip,
    result: EditResult,
    settings: Settings,
    journal: Journal,
    *,
    seconds: float,
    run_id: str | None,
) -> Outcome:
    fp = await asyncio.to_thread(
        fingerprint_of_done, clip.request, result.generation_id, settings, journal
    )
    row = clip_row(
        clip,
        ClipStatus.DONE,
        generation_id=result.generation_id,
        credits_used=result.credits_used,
        paid=not result.resumed,
        seconds=seconds,
        flow_run_id=run_id,
        fingerprint=fp,
        request_key=request_key(clip, settings),
    )
    billing = spec_for(clip.request.model or settings.model).billing
    return Outcome(row, billing.billed_seconds(result.input_duration_s))


def _max_billed_s(settings: Settings) -> float:
    return spec_for(settings.model).billing.max_billed_s
