"""``reskin edit``: one clip through the ``edit_video`` flow, from the command line.

The request, the settings and what can be told of the input and the output without paying
(:mod:`reskin.edit.preflight`) are checked before Prefect is even imported: a mistake fails in
a fraction of a second, in one line, not after the embedded server's ten. The flow runs in this
process against the server in ``PREFECT_API_URL``; else in the reskin runner that ``reskin server
start`` keeps running beside its server, when the runner has this process's settings (this
process is then its client, :mod:`reskin.cli.remote`, drawing the run's progress as it comes);
else in this process against that server, or Prefect's embedded one: the run is in a UI anyway.
With ``--json`` stdout holds one object: the result, or the failure (:class:`EditFailure`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.markup import escape

from reskin.cli.console import describe, err, out, run_console
from reskin.cli.server import route_edit, runner_recorded
from reskin.edit.preflight import check_form, preflight
from reskin.edit.request import EditRequest, EditResult
from reskin.errors import ConfigError, InputError, ReskinError
from reskin.media.audio_mode import AudioMode
from reskin.registry.options import parse_pairs
from reskin.settings import Settings, load_settings

if TYPE_CHECKING:
    from reskin.cli.remote import Runner
    from reskin.edit.dry_run import EditPlan

# Imported where they are used, not here: whatever a mistake's answer does not need (Prefect,
# the journal's database, the dry run's planning and its numpy) stays unimported until the
# request has passed the preflight, so a mistake is answered in a fraction of a second.


def edit(
    input: Annotated[
        str,
        typer.Argument(
            metavar="INPUT", help="The video: a local path, an https:// URL or s3://bucket/key."
        ),
    ],
    prompt: Annotated[str, typer.Option(help="What the edited video should look like.")],
    # A str, not a Path: Path("s3://b/k.mp4") is "s3:/b/k.mp4", a local file.
    output: Annotated[
        str, typer.Option(help="Where the edited .mp4 goes: a path or s3://bucket/key.mp4.")
    ],
    start: Annotated[float | None, typer.Option(help="Edit from this second of the input.")] = None,
    end: Annotated[float | None, typer.Option(help="Edit up to this second of the input.")] = None,
    audio: Annotated[
        AudioMode, typer.Option(help="restore the original sound, keep the model's, or none.")
    ] = AudioMode.RESTORE,
    model: Annotated[str | None, typer.Option(help="Model id (default: RESKIN_MODEL).")] = None,
    reference_image: Annotated[
        list[str] | None,
        typer.Option(help="A reference image (JPG/PNG path, https URL or s3://); up to 4."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=VALUE",
            help="One of the model's options, e.g. seed=7 (see the README's models); repeatable.",
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(help="Kling's routing: auto, kling or fal (--option provider=...)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Submit again even after a failed or unanswered submission (pays)."),
    ] = False,
    one_look: Annotated[
        bool,
        typer.Option(
            "--one-look/--all-at-once",
            help="A video longer than the model edits goes as segments: edit the first one "
            "first and lend a frame of it to the others as a reference (one look), or send "
            "all at once (faster, the look may drift).",
        ),
    ] = True,
    min_fidelity: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fail, writing nothing, when the result keeps the motion or layout less than "
            "this (0..1; 0: only report; default RESKIN_MIN_FIDELITY). The paid result is "
            "kept: rerun with a lower value to write it without paying again.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the plan (segments, why, billed seconds, estimate) and send nothing.",
        ),
    ] = False,
    json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON object with the result (or the failure) on stdout."
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Approve an estimate over RESKIN_APPROVE_ABOVE_CREDITS without being asked "
            "(RESKIN_MAX_CREDITS still refuses).",
        ),
    ] = False,
) -> None:
    """Re-style a video from a text prompt through the AI/ML API (or a local stand-in)."""
    options = parse_pairs(option or [])
    if provider is not None:
        if "provider" in options:
            raise InputError("--provider is --option provider=...: give one of them")
        options["provider"] = provider
    request = build_request(
        input=input,
        prompt=prompt,
        output=output,
        start_s=start,
        end_s=end,
        audio=audio,
        model=model,
        options=options,
        reference_images=reference_image or [],
        force=force,
        one_look=one_look,
        min_fidelity=min_fidelity,
    )
    settings = load_settings()
    if dry_run:
        preflight(request, settings)  # a mistake is answered before the input is copied
        show_plan(plan_edit(request, settings), json=json)
        return
    require_service(settings)
    # The model, its options, the output and where the input is: checked before anything
    # heavy is imported, in a fraction of a second (reskin/edit/preflight.py).
    check_form(request, settings)
    # Each imported only when there is something to do: a client of the reskin runner keeps
    # its imports light (the journal's SQLAlchemy, the planning's media stack).
    if settings.journal_url is not None:
        from reskin.edit.services import journal_of

        journal_of(settings).close()  # a journal out of reach (RESKIN_JOURNAL_URL) fails here
    approved: float | None = None
    # The input's content and the window: here and now, unless a runner runs that will check
    # them itself (then this process needs no PyAV); always before an estimate.
    cleared = settings.approve_above_credits is not None or not runner_recorded(settings)
    if cleared:
        preflight(request, settings)
    if settings.approve_above_credits is not None:
        from reskin.cli.approval import approve_on_terminal

        # A big spend is approved here (asked, or --yes), before Prefect starts.
        approved = approve_on_terminal(request, settings, yes=yes)  # no copy, cuts kept for the run
    # The reskin runner when it runs with these settings, else this process (before Prefect).
    runner, where = route_edit(settings, verbose=_verbose())
    said = None if where is None else escape(where)
    try:
        if runner is not None:
            result, run_id = run_in_runner(runner, request, approved, settings, said, cleared)
        else:
            if not cleared:
                preflight(request, settings)  # the runner recorded does not run any more
            if said is not None:
                err.print(said)
            result, run_id = run_edit(request, approved)
    except KeyboardInterrupt:
        # One line, not click's "Aborted!": what was held is released by now (a create that
        # never left gives up its reservation; an accepted job stays journaled).
        err.print(f"[yellow]interrupted[/yellow]: {INTERRUPTED}")
        raise typer.Exit(130) from None
    if json:
        print(result.model_dump_json())  # stdout holds the JSON and nothing else
        return
    # Escaped: a path or an id in [brackets] would otherwise be taken for rich markup.
    out.print(f"[green]done[/green]: {escape(result.output)} ({escape(describe(result))})")
    if result.fidelity is not None:
        out.print(f"fidelity: {escape(result.fidelity.describe())}")
    out.print(f"run: {run_id} (see it in the Prefect UI)")


#: What Ctrl-C leaves, and what to do next.
INTERRUPTED = (
    "stopped before the end; rerun the same command to go on (a job the service accepted is "
    "resumed, not paid again)"
)


def build_request(**fields: object) -> EditRequest:
    """An :class:`EditRequest`, or one line saying which option is wrong."""
    try:
        return EditRequest.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        # A list item's index ("reference_images.4") says nothing on the command line.
        where = ".".join(str(part) for part in first["loc"] if not isinstance(part, int))
        message = first["msg"].removeprefix("Value error, ")
        if not where:
            # A rule across options (the window): name the fields as the command line does.
            for field, option in FLAGS.items():
                if "_" in field:  # only identifiers; "input" or "model" are words as well
                    message = message.replace(field, option)
            raise InputError(message) from None
        raise InputError(f"{FLAGS.get(where, where)}: {message}") from None


#: The flag of each field of the request, for error messages (``ReskinError.worded``).
FLAGS = {
    "input": "INPUT",
    "start_s": "--start",
    "end_s": "--end",
    "reference_images": "--reference-image",
    "prompt": "--prompt",
    "output": "--output",
    "options": "--option",
    "model": "--model",
    "audio": "--audio",
    "force": "--force",
    "one_look": "--one-look",
    "min_fidelity": "--min-fidelity",
}


class EditFailure(BaseModel):
    """What ``reskin edit --json`` prints on stdout when the edit fails (the red line on
    stderr says the same)."""

    model_config = ConfigDict(frozen=True)

    #: The line printed after ``error:`` on stderr: what is wrong and what to do.
    error: str
    #: The error's class in :mod:`reskin.errors` (``InputError``, ``ProbeError``,
    #: ``OutOfLimitsError``, ``ConfigError``, ``GenerationFailedError``...), ``UsageError``
    #: (the command line could not be read), ``Interrupted`` (Ctrl-C) or, for a bug, the
    #: exception's own class.
    kind: str
    #: The process's exit code: 1 for an error, 2 for a usage error, 130 for Ctrl-C.
    exit_code: int

    @classmethod
    def of(cls, error: ReskinError, line: str) -> EditFailure:
        return cls(error=line, kind=type(error).__name__, exit_code=1)

    @classmethod
    def ended(cls, exit_code: int) -> EditFailure:
        """A failure typer ended itself, having said why on stderr."""
        if exit_code == 130:
            return cls(error=INTERRUPTED, kind="Interrupted", exit_code=130)
        if exit_code == 2:
            return cls(
                error="the command line could not be read: see the usage on stderr",
                kind="UsageError",
                exit_code=2,
            )
        return cls(error="reskin edit failed: see stderr", kind="Exit", exit_code=exit_code)

    @classmethod
    def bug(cls, exc: Exception) -> EditFailure:
        return cls(
            error=f"reskin failed unexpectedly ({type(exc).__name__}): see the traceback on "
            "stderr, and please report it",
            kind=type(exc).__name__,
            exit_code=1,
        )


def require_service(settings: Settings) -> None:
    """Refuse early, with how to get going, when no service can be reached. A key in a Prefect
    Secret block (AIMLAPI_API_KEY_BLOCK) is read by the run itself (tasks/secrets.py)."""
    if settings.api_key is None and settings.api_key_block is None:
        if settings.uses_default_service:
            raise ConfigError(
                "no AIMLAPI_API_KEY: set it to use the AI/ML API; or run `reskin stand-in` and "
                "set AIMLAPI_BASE_URL and AIMLAPI_API_KEY to what it prints; or try `reskin demo`"
            )
        raise ConfigError(
            f"AIMLAPI_BASE_URL is {settings.base_url} but AIMLAPI_API_KEY is not set: set the "
            "key that service (or `reskin stand-in`) expects"
        )


def run_in_runner(
    runner: Runner,
    request: EditRequest,
    approved_credits: float | None,
    settings: Settings,
    said: str | None,
    cleared: bool,
) -> tuple[EditResult, str]:
    """Run the flow in the reskin runner (``reskin/cli/remote.py``), drawing its progress here
    (``said``, where it runs, once the runner's preflight has passed: a mistake is one line);
    in this process after one line if the runner would not run it (``cleared``: the whole
    preflight has passed here already)."""
    from reskin.cli.remote import Refused, run_remote

    try:
        return run_remote(runner, request, approved_credits, settings, said=said)
    except Refused as exc:
        refused = str(exc)
    if not cleared:
        preflight(request, settings)
    err.print(f"the edit runs in this process: {escape(refused)}")
    return run_edit(request, approved_credits)


def _verbose() -> bool:
    return logging.getLogger("reskin").isEnabledFor(logging.DEBUG)


def run_edit(request: EditRequest, approved_credits: float | None = None) -> tuple[EditResult, str]:
    """Run the flow in this process; the result and the flow run's id."""
    import asyncio

    # The progress display on stderr (reskin/cli/progress.py); -v: Prefect's and debug lines.
    with run_console(verbose=_verbose()):
        from reskin.cli.imports import uncollected

        with uncollected():  # Prefect and the flow: see reskin/cli/imports.py
            from flows.edit_video import run_edit_flow

        return asyncio.run(run_edit_flow(request, approved_credits))


def plan_edit(request: EditRequest, settings: Settings) -> EditPlan:
    """The plan of ``request``, in this process without Prefect; nothing is sent."""
    import asyncio

    from reskin.edit.dry_run import dry_run
    from reskin.edit.services import open_services

    async def planned() -> EditPlan:
        async with open_services(settings) as services:
            return await dry_run(request, services)

    return asyncio.run(planned())


def show_plan(plan: EditPlan, *, json: bool) -> None:
    """The plan as JSON on stdout, or as a table and its summary."""
    if json:
        print(plan.model_dump_json())
        return
    from rich.table import Table

    table = Table(title=f"{escape(plan.input)} on {plan.model}: nothing sent (dry run)")
    for column in ("#", "start s", "end s", "seconds", "starts at", "scene", "billed s"):
        table.add_column(column, justify="left" if column == "starts at" else "right")
    for segment in plan.segments:
        table.add_row(
            str(segment.index),
            f"{segment.start_s:.3f}",
            f"{segment.end_s:.3f}",
            f"{segment.duration_s:.3f}",
            segment.starts_at,
            str(segment.scene),
            str(segment.billed_s),
        )
    out.print(table)
    out.print(f"plan: {escape(plan.summary)}")
    if plan.merged_cuts_s:
        cuts = ", ".join(f"{cut:.2f}" for cut in plan.merged_cuts_s)
        out.print(f"scene cuts not used (a shot too short for the model): {cuts} s")
    if len(plan.segments) > 1:
        how = (
            "the first segment first, its look lent to the others"
            if plan.one_look
            else ("all segments at once")
        )
        out.print(f"order: {how}")
    if plan.refused is not None:
        out.print(f"[yellow]would be refused[/yellow]: {escape(plan.refused)}")
