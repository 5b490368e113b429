"""``reskin edit``'s approval before a big spend: asked on a terminal, ``--yes`` approves it
unasked, and with neither it is refused in one line before Prefect starts (a real process
against the stand-in; the ``--yes`` run against the session's Prefect server, where its flow
run must not pause for the question it was already answered)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reskin.cli.approval import approve_on_terminal
from reskin.edit.dry_run import EditPlan, PlannedSegment
from reskin.edit.request import EditRequest
from reskin.errors import ConfigError, NotApprovedError
from reskin.settings import Settings
from reskin.standin.server import StandIn
from tests.conftest import InputClip
from tests.edit.test_approval import settings
from tests.flows.checks import assert_one_line
from tests.prefect_server import PrefectServer

#: What the approval needs: the stand-in's price and a threshold a 3 s edit (300) is over.
OVER = {"RESKIN_CREDITS_PER_SECOND": "100", "RESKIN_APPROVE_ABOVE_CREDITS": "250"}


def plan(credits: float | None = 2000, refused: str | None = None) -> EditPlan:
    """A plan of two segments, 20 billed seconds at 100 credits a second."""
    segments = tuple(
        PlannedSegment(
            index=n,
            start_s=10.0 * (n - 1),
            end_s=10.0 * n,
            duration_s=10.0,
            sent_from_s=10.0 * (n - 1),
            starts_at="start" if n == 1 else "even split",
            scene=1,
            billed_s=10,
        )
        for n in (1, 2)
    )
    return EditPlan(
        input="a.mp4",
        model="klingai/video-o1-video-to-video-edit",
        start_s=0.0,
        end_s=20.0,
        segments=segments,
        scene_cuts_s=(),
        merged_cuts_s=(),
        billed_s=20,
        usd=None,
        credits=credits,
        one_look=True,
        summary="2 segments of 20.00 s (0 scene cuts), 20 billed seconds, about 2,000 credits",
        refused=refused,
    )


REQUEST = EditRequest(input="a.mp4", prompt="sepia", output="o.mp4")


class Planner:
    """A ``plan_of`` that counts its calls."""

    def __init__(self, planned: EditPlan) -> None:
        self.planned = planned
        self.calls = 0

    def __call__(self, request: EditRequest, settings: Settings) -> EditPlan:
        self.calls += 1
        return self.planned


def test_no_threshold_plans_nothing_and_asks_nothing() -> None:
    planner = Planner(plan())
    config = settings(credits_per_second=100)
    assert approve_on_terminal(REQUEST, config, yes=False, plan_of=planner) is None
    assert planner.calls == 0


@pytest.mark.parametrize(
    ("planned", "threshold"),
    [(plan(), 2000.0), (plan(refused="over the budget (RESKIN_MAX_CREDITS)"), 500.0)],
    ids=["at the threshold", "refused by the budget anyway"],
)
def test_what_needs_no_approval_goes_unasked(planned: EditPlan, threshold: float) -> None:
    config = settings(credits_per_second=100, approve_above_credits=threshold)
    never = Planner(planned)
    assert approve_on_terminal(REQUEST, config, yes=False, plan_of=never, is_terminal=_no) is None


def test_a_threshold_without_a_price_says_so_before_planning() -> None:
    planner = Planner(plan())
    with pytest.raises(ConfigError, match="RESKIN_CREDITS_PER_SECOND"):
        approve_on_terminal(REQUEST, settings(approve_above_credits=500), yes=True, plan_of=planner)
    assert planner.calls == 0


def test_yes_approves_the_estimate_unasked() -> None:
    config = settings(credits_per_second=100, approve_above_credits=500)
    approved = approve_on_terminal(
        REQUEST, config, yes=True, plan_of=Planner(plan()), is_terminal=_no
    )
    assert approved == 2000


def test_without_a_terminal_or_yes_it_is_one_line_saying_to_pass_yes() -> None:
    config = settings(credits_per_second=100, approve_above_credits=500)
    with pytest.raises(NotApprovedError) as refused:
        approve_on_terminal(REQUEST, config, yes=False, plan_of=Planner(plan()), is_terminal=_no)
    assert_one_line(refused.value, "about 2,000 credits", "(500)", "pass --yes", "nothing was sent")


@pytest.mark.parametrize(("typed", "approved"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_on_a_terminal_it_asks_and_a_no_is_the_default(
    typed: str, approved: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    config = settings(credits_per_second=100, approve_above_credits=500)

    def ask() -> float | None:
        return approve_on_terminal(
            REQUEST, config, yes=False, plan_of=Planner(plan()), is_terminal=_yes
        )

    if approved:
        assert ask() == 2000
    else:
        with pytest.raises(NotApprovedError) as refused:
            ask()
        assert_one_line(refused.value, "not approved, nothing was sent")
    asked = capsys.readouterr().err
    assert "plan: 2 segments of 20.00 s" in asked
    assert "would cost about 2,000 credits" in asked
    assert "Send it?" in asked


def _yes() -> bool:
    return True


def _no() -> bool:
    return False


# --- the command, as a process ---------------------------------------------------------------


def reskin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``reskin`` with no terminal on its stdin."""
    return subprocess.run(
        [sys.executable, "-m", "reskin", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_with_no_terminal_and_no_yes_it_refuses_before_prefect_and_sends_nothing(
    cli_env: dict[str, str], standin: StandIn, input_clip: InputClip, tmp_path: Path
) -> None:
    output = tmp_path / "out" / "edited.mp4"
    clip = input_clip()
    done = reskin({**cli_env, **OVER}, "edit", str(clip), "--prompt", "x", "--output", str(output))
    assert done.returncode == 1, done.stderr
    # One line and nothing else: no Prefect log line, so Prefect never started.
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: this edit (1 segment, 3 billed seconds) would cost about 300")
    assert "pass --yes" in line
    assert standin.stats().create_calls == 0
    assert not output.exists()


def test_yes_runs_the_edit_without_pausing_its_flow_run(
    cli_env: dict[str, str],
    standin: StandIn,
    input_clip: InputClip,
    prefect_server: PrefectServer,
    tmp_path: Path,
) -> None:
    output = tmp_path / "out" / "edited.mp4"
    # Were the flow run to ask again, it would give up unanswered after a second and fail.
    env = {**cli_env, **OVER, "RESKIN_APPROVAL_TIMEOUT_S": "1"}
    clip = input_clip()
    done = reskin(env, "edit", str(clip), "--prompt", "x", "--output", str(output), "--yes")
    assert done.returncode == 0, done.stderr
    assert "300 credits" in done.stdout
    assert standin.stats().jobs_accepted == 1
    run_id = re.search(r"^run: (\S+) ", done.stdout, re.MULTILINE)
    assert run_id is not None, done.stdout
    with prefect_server.client() as http:
        flow_run = http.get(f"/flow_runs/{run_id.group(1)}").json()
    assert flow_run["state_type"] == "COMPLETED"
    assert flow_run["parameters"]["approved_credits"] == 300
