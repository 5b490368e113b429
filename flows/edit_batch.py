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
  reads what the run did from its result table artifact on the Prefect server. A run whose
  process dies without a word (a machine lost) would stay Running for good: the batch gives up
  on it once it stops sending heartbeats, marks it Crashed and sends the clip once more, which
  resumes a job already accepted instead of paying again (``reskin/batch/liveness.py``).

No ``from __future__ import annotations`` here: a served deployment pickles the flow's function
by value into its run's process, and string annotations would no longer resolve there
(``BatchRequest`` is not among the names its body uses), failing every run's parameter check.
"""

import asyncio
import logging
import time
from pathlib import Path
from uuid import UUID

import httpx
from prefect import flow, get_run_logger
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.exceptions import PrefectHTTPStatusError
from prefect.runtime import flow_run
from prefect.settings import get_current_settings
from prefect.states import Crashed

from flows.edit_video import edit_video
from flows.storage import NOT_PERSISTED
from reskin.batch.budget import Budget
from reskin.batch.liveness import (
    RUNS_PER_CLIP,
    Liveness,
    RunPhase,
    crash_message,
    crashed_line,
)
from reskin.batch.manifest import Clip
from reskin.batch.report import ResultsWriter, clip_row, error_of, failure_of, not_made_line
from reskin.batch.request import BatchRequest, BatchResult, ClipRow, ClipStatus
from reskin.batch.reuse import fingerprint_of_done, request_key
from reskin.batch.schedule import Outcome, RunClip, run_clips
from reskin.edit.request import EditResult
from reskin.edit.services import journal_of
from reskin.errors import ReskinError
from reskin.journal import Journal
from reskin.registry import spec_for
from reskin.settings import Settings, load_settings
from tasks.approval import approve_batch
from tasks.batch import check_deployment, plan_batch, publish_batch, read_child_result
from tasks.secrets import with_key_from_block

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]

#: Seconds between two looks at a clip's deployment run while it runs elsewhere.
DEPLOYMENT_POLL_S = 2.0
#: Seconds between tries to have a clip's run made by a busy server (a SQLite one answers 503
#: while its database is locked; Prefect's client has already tried a few times by then).
SERVER_BUSY_WAITS_S = (5.0, 15.0, 30.0)
#: What Prefect's engine emits while a flow run runs (``reskin/batch/liveness.py``).
HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"


def run_name() -> str:
    batch = flow_run.parameters.get("batch")
    if isinstance(batch, dict):
        source = batch.get("inbox") or batch.get("manifest")
        return f"batch {Path(source).name}" if isinstance(source, str) else "batch"
    if isinstance(batch, BatchRequest):
        return f"batch {Path(batch.source).name}"
    return "batch"


@flow(name="edit-batch", flow_run_name=run_name, persist_result=False, result_storage=NOT_PERSISTED)
async def edit_batch(batch: BatchRequest, approved_credits: float | None = None) -> BatchResult:
    """Re-style every video of an inbox folder or a manifest, each as its own run.

    Args:
        batch: The clips and what to make of them.
        approved_credits: Spend approved beforehand: a batch estimated over
            RESKIN_APPROVE_ABOVE_CREDITS pauses for approval unless its estimate is at most
            this. No budget or cap is lifted by it.
    """
    try:
        return await _edit_batch(batch, approved_credits)
    except ReskinError as exc:
        exc.word_for({})  # a manifest's columns bear the fields' own names
        raise


async def _edit_batch(batch: BatchRequest, approved_credits: float | None) -> BatchResult:
    # A missing or wrong key block fails the batch once, not each clip (tasks/secrets.py).
    settings = await with_key_from_block(load_settings())  # a bad setting fails it first
    logger = get_run_logger()
    if batch.dispatch == "deployment":
        await check_deployment(batch.deployment)
    plan = await plan_batch(batch)
    if not plan.clips:
        logger.info("no clip in %s: nothing to do", batch.source)
        return await publish_batch([], plan.results_dir, plan.output_dir)
    # Before the first clip is sent: a batch over the threshold waits for a yes here.
    approved = await approve_batch(batch, plan, settings, approved_credits)

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
        liveness = _liveness()

        async def run_clip(clip: Clip) -> Outcome:
            return await _as_deployment_run(
                clip, batch.deployment, settings, journal, liveness, approved
            )

    else:
        starting = asyncio.Lock()

        async def run_clip(clip: Clip) -> Outcome:
            return await _as_subflow(clip, settings, journal, starting, approved)

    try:
        await run_clips(
            plan.to_send, run_clip, max_parallel=batch.max_parallel, budget=budget, on_row=on_row
        )
    except BaseException:
        writer.flush()  # what finished stays recorded, so a rerun skips it
        raise
    return await publish_batch(writer.rows, plan.results_dir, plan.output_dir)


async def _as_subflow(
    clip: Clip,
    settings: Settings,
    journal: Journal,
    starting: asyncio.Lock,
    approved_credits: float | None = None,
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
        call = asyncio.ensure_future(child(clip.request, approved_credits))
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
    clip: Clip,
    deployment: str,
    settings: Settings,
    journal: Journal,
    liveness: Liveness,
    approved_credits: float | None = None,
) -> Outcome:
    began = time.monotonic()
    runs = 1
    try:
        child = await _run_of(clip, deployment, liveness, runs, approved_credits)
    except RunNotMade as exc:
        return Outcome(clip_row(clip, ClipStatus.FAILED, error=not_made_line(str(exc))))
    while child.state is not None and child.state.is_crashed() and runs < RUNS_PER_CLIP:
        get_run_logger().warning(
            "%s: run %s crashed (%s): sending the clip again (a job it had accepted is "
            "resumed, not paid again)",
            clip.label,
            child.name,
            child.state.message,
        )
        runs += 1
        try:
            child = await _run_of(clip, deployment, liveness, runs, approved_credits)
        except RunNotMade as exc:
            error = not_made_line(str(exc))
            return Outcome(
                clip_row(clip, ClipStatus.FAILED, error=error, flow_run_id=str(child.id))
            )
    seconds = time.monotonic() - began
    run_id = str(child.id)
    state = child.state
    if state is not None and state.is_completed():
        result = await read_child_result(child.id)
        if result is not None:
            return await _done(clip, result, settings, journal, seconds=seconds, run_id=run_id)
        error = f"run {child.name} completed without its result artifact: see the run"
    elif state is not None and state.is_crashed():
        error = crashed_line(state.message, runs=runs)
    else:
        ended = state.type.value if state is not None else "without a state"
        error = failure_of(state.message if state is not None else None, ended=ended)
    return Outcome(
        clip_row(clip, ClipStatus.FAILED, error=error, seconds=seconds, flow_run_id=run_id)
    )


async def _run_of(
    clip: Clip,
    deployment: str,
    liveness: Liveness,
    number: int,
    approved_credits: float | None = None,
) -> FlowRun:
    """Run number ``number`` of ``clip`` as a run of ``deployment``, once it has ended.

    Raises :class:`RunNotMade` when the server would not make the run (nothing was sent)."""
    batch_id = flow_run.get_id()
    # Prefect's client sends the create again after a read timeout (a busy server): with a key
    # the server answers with the run it made, instead of making a second one that a worker
    # would also run.
    key = None if batch_id is None else f"{batch_id}-clip-{clip.index}"
    waits = iter(SERVER_BUSY_WAITS_S)
    parameters: dict[str, object] = {"request": clip.request.model_dump(mode="json")}
    if approved_credits is not None:  # the batch's approval covers the clip's run
        parameters["approved_credits"] = approved_credits
    while True:
        try:
            child = await arun_deployment(
                name=deployment,
                parameters=parameters,
                as_subflow=True,
                timeout=0,
                idempotency_key=key if key is None or number == 1 else f"{key}-run-{number}",
            )
        except (PrefectHTTPStatusError, httpx.TransportError) as exc:
            wait_s = next(waits, None)
            if not _server_busy(exc):
                raise
            if wait_s is None:
                raise RunNotMade(_busy_detail(exc)) from exc
            detail = _busy_detail(exc)
            get_run_logger().info(
                "%s: the server is busy (%s): again in %g s", clip.label, detail, wait_s
            )
            await asyncio.sleep(wait_s)
        else:
            return await _until_final(child, liveness, get_run_logger())


class RunNotMade(Exception):
    """The Prefect server would not make a clip's run (busy, or out of reach)."""


def _server_busy(exc: Exception) -> bool:
    """A 5xx or no answer from the Prefect server: worth another try later."""
    if isinstance(exc, PrefectHTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


def _busy_detail(exc: Exception) -> str:
    if isinstance(exc, PrefectHTTPStatusError):
        return f"it answered {exc.response.status_code} {exc.response.reason_phrase}"
    return type(exc).__name__


async def _until_final(child: FlowRun, liveness: Liveness, logger: Logger) -> FlowRun:
    """``child`` once it has ended; a run that died without a word (``reskin/batch/liveness.py``)
    is marked Crashed on the way."""
    heartbeat: float | None = None
    async with get_client() as client:
        while True:
            state = child.state
            if state is not None and state.is_final():
                return child
            phase = _phase(child)
            since = state.timestamp.timestamp() if state is not None else time.time()
            if liveness.dead(phase, since, heartbeat, time.time()):
                # Only a run silent for that long costs a look at its heartbeats.
                heartbeat = await _last_heartbeat(client, child.id) or heartbeat
                now = time.time()
                if liveness.dead(phase, since, heartbeat, now):
                    message = crash_message(liveness.silent_s(since, heartbeat, now))
                    await client.set_flow_run_state(child.id, Crashed(message=message), force=True)
                    logger.warning("run %s: %s", child.name, message)
            await asyncio.sleep(DEPLOYMENT_POLL_S)
            try:
                child = await client.read_flow_run(child.id)
            except (PrefectHTTPStatusError, httpx.TransportError) as exc:
                if not _server_busy(exc):
                    raise
                logger.info(
                    "run %s: the server is busy (%s): looking again", child.name, _busy_detail(exc)
                )


def _phase(child: FlowRun) -> RunPhase:
    state = child.state
    if state is None or state.is_scheduled():
        return RunPhase.WAITING
    if state.is_final():
        return RunPhase.ENDED
    if state.is_pending():
        return RunPhase.STARTING
    if state.is_running():
        return RunPhase.RUNNING
    return RunPhase.OTHER


async def _last_heartbeat(client: PrefectClient, run_id: UUID) -> float | None:
    """When ``run_id`` last sent a heartbeat (epoch seconds), if the server kept one."""
    page = await client.read_events(
        EventFilter(
            event=EventNameFilter(name=[HEARTBEAT_EVENT]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
        ),
        limit=1,
    )
    return page.events[0].occurred.timestamp() if page.events else None


def _liveness() -> Liveness:
    """The rule for this batch's clip runs, from its own ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``."""
    frequency = get_current_settings().flows.heartbeat_frequency
    return Liveness(None if frequency is None else float(frequency))


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
        motion=None if result.fidelity is None else result.fidelity.motion,
        structure=None if result.fidelity is None else result.fidelity.structure,
        seconds=seconds,
        flow_run_id=run_id,
        fingerprint=fp,
        request_key=request_key(clip, settings),
    )
    billing = spec_for(clip.request.model or settings.model).billing
    return Outcome(row, billing.billed_seconds(result.input_duration_s))


def _max_billed_s(settings: Settings) -> float:
    return spec_for(settings.model).billing.max_billed_s
