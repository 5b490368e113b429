"""``reskin stand-in``: run the local stand-in of the AI/ML API in the foreground.

:func:`stand_in` is a plain typed function that typer turns into a command; every fault of
:mod:`reskin.standin.faults` can be set at start with a flag of the same name (``--create-429 2``)
and changed later with ``POST /_standin/faults``.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError

from reskin.registry import MODELS
from reskin.standin.config import Preset, StandInConfig, new_key
from reskin.standin.faults import Faults

_FAULTS = "Faults (counts mean the next N calls)"


def stand_in(
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind; keep it on loopback.")] = "127.0.0.1",
    key: Annotated[
        str | None, typer.Option(help="Bearer key clients must send; generated when omitted.")
    ] = None,
    queued_s: Annotated[float, typer.Option(help="Seconds a job stays queued.")] = 2.0,
    generating_s: Annotated[float, typer.Option(help="Least seconds a job is generating.")] = 8.0,
    generating_spread_s: Annotated[
        float, typer.Option(help="Extra generating seconds, spread over jobs by their id.")
    ] = 0.0,
    load_mode: Annotated[
        bool,
        typer.Option(
            help="Benchmarks: no download or render; every job serves one prepared result."
        ),
    ] = False,
    work_dir: Annotated[
        Path | None, typer.Option(help="Folder for uploads and jobs (default: a temporary one).")
    ] = None,
    render_preset: Annotated[str, typer.Option(help="x264 preset of renders.")] = "veryfast",
    create_429: Annotated[
        int, typer.Option(help="Next N creates answer 429.", rich_help_panel=_FAULTS)
    ] = 0,
    retry_after_s: Annotated[
        int, typer.Option(help="Retry-After sent with 429.", rich_help_panel=_FAULTS)
    ] = 1,
    create_5xx: Annotated[
        int, typer.Option(help="Next N creates answer --status-5xx.", rich_help_panel=_FAULTS)
    ] = 0,
    fetch_5xx: Annotated[
        int,
        typer.Option(help="Next N status fetches answer --status-5xx.", rich_help_panel=_FAULTS),
    ] = 0,
    status_5xx: Annotated[
        int, typer.Option(help="500, 502 or 503.", rich_help_panel=_FAULTS)
    ] = 503,
    job_error: Annotated[
        int, typer.Option(help="Next N jobs end in error.", rich_help_panel=_FAULTS)
    ] = 0,
    expired_result: Annotated[
        int, typer.Option(help="Next N result downloads answer 404.", rich_help_panel=_FAULTS)
    ] = 0,
    cut_download: Annotated[
        int, typer.Option(help="Next N result downloads stop halfway.", rich_help_panel=_FAULTS)
    ] = 0,
    lost_answer: Annotated[
        int,
        typer.Option(
            help="Next N creates are accepted but answered late.", rich_help_panel=_FAULTS
        ),
    ] = 0,
    lost_answer_delay_s: Annotated[
        float, typer.Option(help="How late a lost answer comes.", rich_help_panel=_FAULTS)
    ] = 90.0,
    unknown_status: Annotated[
        int, typer.Option(help="Next N jobs say 'waiting' forever.", rich_help_panel=_FAULTS)
    ] = 0,
    reversed_result: Annotated[
        int,
        typer.Option(help="Next N jobs render their frames reversed.", rich_help_panel=_FAULTS),
    ] = 0,
    other_scene_result: Annotated[
        int,
        typer.Option(help="Next N jobs render another scene.", rich_help_panel=_FAULTS),
    ] = 0,
    shifted_result: Annotated[
        int,
        typer.Option(help="Next N jobs render the picture shifted.", rich_help_panel=_FAULTS),
    ] = 0,
    slow_jobs: Annotated[
        float, typer.Option(help="Factor on queued and generating times.", rich_help_panel=_FAULTS)
    ] = 1.0,
    look_drift: Annotated[
        float,
        typer.Option(
            help="0..1: jobs without a reference image drift in look, each its own way.",
            rich_help_panel=_FAULTS,
        ),
    ] = 0.0,
    out_of_credits: Annotated[
        bool, typer.Option(help="Every create answers 403.", rich_help_panel=_FAULTS)
    ] = False,
    detail_errors: Annotated[
        bool, typer.Option(help='Validation errors as {"detail": [...]}.', rich_help_panel=_FAULTS)
    ] = False,
) -> None:
    """Run a local stand-in of the AI/ML API video-edit endpoints until Ctrl-C."""
    try:
        config = StandInConfig(
            key=SecretStr(key) if key else new_key(),
            queued_s=queued_s,
            generating_s=generating_s,
            generating_spread_s=generating_spread_s,
            load_mode=load_mode,
            work_dir=work_dir,
            render_preset=_preset(render_preset),
            faults=Faults(
                create_429=create_429,
                retry_after_s=retry_after_s,
                create_5xx=create_5xx,
                fetch_5xx=fetch_5xx,
                status_5xx=status_5xx,
                job_error=job_error,
                expired_result=expired_result,
                cut_download=cut_download,
                lost_answer=lost_answer,
                lost_answer_delay_s=lost_answer_delay_s,
                unknown_status=unknown_status,
                reversed_result=reversed_result,
                other_scene_result=other_scene_result,
                shifted_result=shifted_result,
                slow_jobs=slow_jobs,
                look_drift=look_drift,
                out_of_credits=out_of_credits,
                detail_errors=detail_errors,
            ),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise typer.BadParameter(f"{where}: {first['msg']}") from None
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if threading.current_thread() is threading.main_thread():
        # A process manager stops with SIGTERM: leave as cleanly as on Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
    # Here, not at the top: `reskin` registers this command, and every other command would
    # import FastAPI and uvicorn with it.
    from reskin.standin.server import StandIn

    standin = StandIn(config, host=host, port=port)
    with standin:
        typer.echo(f"stand-in of the AI/ML API at {standin.base_url}")
        typer.echo(f"key (the stand-in's own): {standin.key}")
        typer.echo(f"use: AIMLAPI_BASE_URL={standin.base_url} AIMLAPI_API_KEY={standin.key}")
        typer.echo(f"models: {', '.join(MODELS)}")
        typer.echo(f"faults: POST {standin.base_url}/_standin/faults  (Ctrl-C stops)")
        if config.load_mode:
            typer.echo("load mode: no downloads, no renders; every job serves one prepared result")
        try:
            standin.wait()
        except KeyboardInterrupt:
            typer.echo("stopping")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _preset(value: str) -> Preset:
    allowed: tuple[Preset, ...] = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
    for preset in allowed:
        if value == preset:
            return preset
    raise typer.BadParameter(f"render preset must be one of {', '.join(allowed)}")


def main() -> None:
    """Run :func:`stand_in` as a command of its own (``python -m reskin.standin.cli``)."""
    typer.run(stand_in)


if __name__ == "__main__":
    main()
