"""The ``edit_video`` flow: one clip, take_in -> plan -> conform -> place -> submit -> poll ->
fetch -> sound -> deliver, then publish.

Orchestration only: the core's :func:`reskin.edit.pipeline.edit` orders the stages and the flow
hands it the tasks of ``tasks/`` to run them with (``tasks/stages.py``), over services built once
for the run; publish (the run's artifacts) is the flow's own last task. The request
is one Pydantic model, so a deployment's run form shows its fields; settings (the key among
them) come from the environment of whatever process runs the flow, never from parameters.

No ``from __future__ import annotations`` here: ``serve`` pickles the flow into a new process,
where a string annotation of the parameter no longer resolves and every run fails validation.
"""

import asyncio
from uuid import UUID

from prefect import flow, tags
from prefect.client.schemas.objects import FlowRun
from prefect.context import TagsContext
from prefect.runtime import flow_run

from flows.storage import NOT_PERSISTED
from reskin.edit.approval import Approving
from reskin.edit.pipeline import edit
from reskin.edit.request import FORM_FIELDS, EditRequest, EditResult
from reskin.edit.services import open_services
from reskin.errors import ReskinError, RunCancelledError
from reskin.settings import load_settings
from tasks.approval import gate_of
from tasks.cancel import Cancelled, cancellable, mark_interrupted
from tasks.limits import CreatesThrottle, ensure_limits
from tasks.publish import publish
from tasks.secrets import with_key_from_block
from tasks.stages import TASKS


def run_name() -> str:
    request = flow_run.parameters.get("request")
    if isinstance(request, EditRequest):
        return f"edit {request.shown_input}: {request.prompt[:40]}"
    if isinstance(request, dict):
        return f"edit {EditRequest.model_validate(request).shown_input}"
    return "edit"


@flow(name="edit-video", flow_run_name=run_name, persist_result=False, result_storage=NOT_PERSISTED)
async def edit_video(request: EditRequest, approved_credits: float | None = None) -> EditResult:
    """Re-style one video from a text prompt, keeping its motion, layout and sound.

    Args:
        request: The video and what to make of it.
        approved_credits: Spend approved beforehand: an edit estimated over
            RESKIN_APPROVE_ABOVE_CREDITS pauses for approval unless its estimate is at most
            this. No cap is lifted by it (RESKIN_MAX_CREDITS still refuses).
    """
    # The caller's tags label this flow run only. A task run with tags asks the server for a
    # slot of each tag's concurrency limit (a write, even with no limits), which a SQLite
    # server answers now and then with a 503 that Prefect's client waits 2 s to retry
    # (docs/bench.md, orchestration): the tasks run with none.
    with TagsContext(current_tags=set()):
        return await _stages(request, approved_credits)


async def _stages(request: EditRequest, approved_credits: float | None) -> EditResult:
    # The key from a Prefect Secret block when AIMLAPI_API_KEY_BLOCK names one, read here, on
    # whatever runs the flow (tasks/secrets.py).
    settings = await with_key_from_block(load_settings())  # a bad setting fails the run first
    await ensure_limits(settings)  # the limits shared with every other run (tasks/limits.py)
    try:
        async with open_services(settings, throttle=CreatesThrottle(settings)) as services:
            # Run here by `reskin edit`, nobody else would stop the edit on a cancel.
            # Over RESKIN_APPROVE_ABOVE_CREDITS, the run pauses for a yes before its first create.
            gate = gate_of(settings)
            stages = Approving(TASKS, request, approved_credits=approved_credits, gate=gate)
            result = await cancellable(edit(request, services, stages))
            await publish(request, result, services)
    except ReskinError as exc:
        exc.word_for(FORM_FIELDS)  # the run's failure names the form's fields, not CLI flags
        raise
    return result


async def run_edit_flow(
    request: EditRequest, approved_credits: float | None = None
) -> tuple[EditResult, str]:
    """Run :func:`edit_video` here and now; its result and the flow run's id.
    ``approved_credits``: what the command line's user approved (``--yes``, or a yes asked).

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
        try:
            result = await edit_video.with_options(on_running=[on_running])(
                request, approved_credits
            )
        except (asyncio.CancelledError, KeyboardInterrupt):
            if run_ids:  # Cancelled, not the Crashed of a failed machine
                await mark_interrupted(UUID(run_ids[0]))
            raise
        except Cancelled:
            raise RunCancelledError(
                "the run was cancelled (Prefect UI or `prefect flow-run cancel`); rerun the "
                "same request to go on: a job the service accepted is resumed, not paid again"
            ) from None
    if not isinstance(result, EditResult) or not run_ids:
        raise TypeError(f"edit_video returned {type(result).__name__} without running")
    return result, run_ids[0]
