"""The ``reskin`` typer app: its options, its small commands, and the entry point.

User and service errors end in one red line on stderr and exit code 1 (2 for usage errors,
typer's own); tracebacks are kept for bugs, with ``RESKIN_DEBUG=1`` showing them for everything.
``reskin edit --json`` fails with one JSON object on stdout besides that line
(:class:`reskin.cli.edit.EditFailure`), so a script reads stdout either way.

Every command is registered here, so what their modules import at the top every ``reskin``
process imports: those keep Prefect, FastAPI, the journal's database and numpy inside the
functions that need them (``python -X importtime -m reskin --help`` shows what is left).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from reskin.cli.console import describe, err, out
from reskin.errors import ReskinError

app = typer.Typer(
    name="reskin",
    help="Re-style a video from a text prompt through the AI/ML API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _setup_logging(verbose: bool) -> None:
    # Without -v the root logger is left alone, for Prefect to put its console handler there
    # (it keeps one a caller installed first); with -v everything goes to one plain handler.
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("reskin").setLevel(logging.DEBUG)
    # httpx logs every request URL at INFO; ours are enough.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug lines.")] = False,
) -> None:
    _setup_logging(verbose)


@app.command()
def doctor() -> None:
    """Show which ffmpeg and prober reskin uses, and where requests would go."""
    from reskin.doctor import report

    for name, value in report():
        out.print(f"{name:<16} {value}")


@app.command()
def demo(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Where the sample clip and the result go.")
    ] = Path("out/demo"),
    prompt: Annotated[str, typer.Option(help="What the edit should look like.")] = (
        "turn the scene into a snowy winter night"
    ),
) -> None:
    """Edit a generated sample clip through a local stand-in of the API: no key, no network."""
    from reskin.cli.demo import run_demo

    done = run_demo(output_dir.resolve(), prompt=prompt, log=out.print)
    out.print(f"[green]done[/green]: {done.result.output} ({describe(done.result)})")
    out.print(f"sample clip (before): {done.sample}")
    out.print(
        "see the run in the Prefect UI: `.venv/bin/prefect server start`, then open "
        f"http://127.0.0.1:4200/runs/flow-run/{done.flow_run_id}"
    )


def _register() -> None:
    from reskin.cli.edit import edit
    from reskin.cli.server import server_app
    from reskin.standin.cli import stand_in

    app.command(name="edit")(edit)
    app.command(
        name="stand-in",
        help="Run the local stand-in of the AI/ML API in the foreground.",
    )(stand_in)
    app.add_typer(server_app, name="server")


_register()


def main() -> None:
    """Entry point: run the app, turning reskin's errors into one line and exit code 1 (and,
    for ``reskin edit --json``, one JSON object on stdout)."""
    from reskin.cli.edit import FLAGS, EditFailure

    json_asked = asks_json(sys.argv[1:])
    try:
        app()  # typer reports usage errors itself (exit code 2) and handles Ctrl-C
    except ReskinError as exc:
        if os.environ.get("RESKIN_DEBUG"):
            raise
        line = exc.worded(FLAGS)
        if json_asked:
            print(EditFailure.of(exc, line).model_dump_json())
        # Escaped: a message quoting a file name in [brackets] must print as it is.
        err.print(f"[red]error:[/red] {escape(line)}")
        sys.exit(1)
    except SystemExit as exc:
        # Typer's own endings: usage errors (2), Ctrl-C (130), done (0).
        if json_asked and exc.code not in (0, None):
            print(EditFailure.ended(exc.code if isinstance(exc.code, int) else 1).model_dump_json())
        raise
    except Exception as exc:
        if json_asked:
            print(EditFailure.bug(exc).model_dump_json())
        raise  # a bug: its traceback


def asks_json(args: list[str]) -> bool:
    """Whether the command line is a ``reskin edit ... --json``."""
    return "edit" in args and "--json" in args
