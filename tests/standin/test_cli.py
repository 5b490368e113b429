"""``stand_in`` is a typer command: its flags, and refusals before anything starts."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from reskin.standin.cli import stand_in


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(stand_in)
    return app


def test_the_command_lists_every_fault_flag() -> None:
    result = CliRunner().invoke(_app(), ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})

    assert result.exit_code == 0
    for flag in (
        "--port",
        "--key",
        "--queued-s",
        "--generating-s",
        "--create-429",
        "--create-5xx",
        "--status-5xx",
        "--fetch-5xx",
        "--job-error",
        "--expired-result",
        "--cut-download",
        "--lost-answer",
        "--unknown-status",
        "--reversed-result",
        "--other-scene-result",
        "--shifted-result",
        "--slow-jobs",
        "--look-drift",
        "--out-of-credits",
        "--detail-errors",
    ):
        assert flag in result.output


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--status-5xx", "504"], "status_5xx"),
        (["--queued-s", "-1"], "queued_s"),
        (["--look-drift", "1.5"], "look_drift"),
        (["--render-preset", "placebo"], "render preset"),
    ],
)
def test_bad_values_are_refused_before_starting(args: list[str], complaint: str) -> None:
    result = CliRunner().invoke(_app(), ["--port", "0", *args], env={"NO_COLOR": "1"})

    assert result.exit_code == 2
    assert complaint in result.output
