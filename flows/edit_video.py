"""The ``edit_video`` flow: one clip, preprocess -> upload -> submit -> poll -> postprocess.

Orchestration only: each stage is a task in ``tasks/`` over the Prefect-free core. The request
is one Pydantic model, so a deployment's run form shows its fields; settings (the key among
them) come from the environment of whatever process runs the flow, never from parameters.

No ``from __future__ import annotations`` here: ``serve`` pickles the flow into a new process,
where a string annotation of the parameter no longer resolves and every run fails validation.
"""

import shutil
import time

from prefect import flow, tags
from prefect.client.schemas.objects import FlowRun
from prefect.context import TagsContext
from prefect.runtime import flow_run

from reskin.edit.request import EditRequest, EditResult
from reskin.settings import load_settings
from reskin.storage.upload import release
from tasks.limits import ensure_limits, job_slot
from tasks.poll import poll
from tasks.postprocess import postprocess
from tasks.preprocess import preprocess
from tasks.publish import publish
from tasks.submit import submit
from tasks.upload import upload


def run_name() -> str:
    request = flow_run.parameters.get("request")
    if isinstance(request, EditRequest):
        return f"edit {request.shown_input}: {request.prompt[:40]}"
    if isinstance(request, dict):
        return f"edit {EditRequest.model_validate(request).shown_input}"
    return "edit"


@flow(name="edit-video", flow_run_name=run_name, persist_result=False)
async def edit_video(request: EditRequest) -> EditResult:
    """Re-style one video from a text prompt, keeping its motion, layout and sound."""
    # The caller's tags label this flow run only. A task run with tags asks the server for a
    # slot of each tag's concurrency limit (a write, even with no limits), which a SQLite
    # server answers now and then with a 503 that Prefect's client waits 2 s to retry
    # (docs/bench.md, orchestration): the tasks run with none.
    with TagsContext(current_tags=set()):
        return await _stages(request)


async def _stages(request: EditRequest) -> EditResult:
    settings = load_settings()  # a bad setting fails the run before any work
    await ensure_limits(settings)  # the limits shared with every other run (tasks/limits.py)
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[stage] = round(now - clock, 3)
        clock = now

    prepared = await preprocess(request)
    placed = None
    try:
        lap("preprocess")
        placed = await upload(prepared)
        lap("upload")
        # One slot of the jobs-in-flight limit from just before the create to the end of the
        # poll: counted across every process on the Prefect server.
        async with job_slot(settings):
            submitted = await submit(request, prepared, placed)
            lap("submit")
            finished = await poll(prepared, submitted)
            lap("poll")
        produced = await postprocess(request, prepared, finished)
        lap("postprocess")
    finally:
        shutil.rmtree(prepared.job_dir, ignore_errors=True)
        # Whatever the outcome: the presigned URL the service had has expired or soon will.
        await release(placed, settings)
    result = EditResult(
        output=produced.output,
        preview=produced.preview,
        generation_id=submitted.generation_id,
        credits_used=finished.credits_used,
        resumed=submitted.resumed,
        reused_download=produced.reused_download,
        input_duration_s=prepared.plan.duration_s,
        output_duration_s=produced.info.duration_s,
        width=produced.info.width,
        height=produced.info.height,
        has_audio=produced.info.has_audio,
        conform="not needed (resumed)" if prepared.clip is None else prepared.plan.describe(),
        sound=request.audio.value,
        timings_s=timings,
    )
    await publish(request, result)
    return result


async def run_edit_flow(request: EditRequest) -> tuple[EditResult, str]:
    """Run :func:`edit_video` here and now; its result and the flow run's id.

    Raises what the flow raised (a :class:`~reskin.errors.ReskinError` for user and service
    errors), after the run is recorded as failed.
    """
    model = request.model or load_settings().model
    run_ids: list[str] = []

    def on_running(flow: object, flow_run: FlowRun, state: object) -> None:
        run_ids.append(str(flow_run.id))

    # The value itself, not return_state=True: a final state the engine had to read back from
    # a busy server carries no data (persist_result=False), and its result() would raise
    # MissingResult for an edit that was done and paid for.
    with tags("reskin", model, f"audio-{request.audio.value}"):
        result = await edit_video.with_options(on_running=[on_running])(request)
    if not isinstance(result, EditResult) or not run_ids:
        raise TypeError(f"edit_video returned {type(result).__name__} without running")
    return result, run_ids[0]
