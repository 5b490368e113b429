"""``reskin edit``'s approval before a big spend: asked on a terminal, ``--yes`` approves it
unasked, and with neither it is refused in one line before Prefect starts (a real process
against the stand-in; the ``--yes`` run against the session's Prefect server, where its flow
run must not pause for the question it was already answered)."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from reskin.cli.approval import approve_on_terminal
from reskin.edit import long, source
from reskin.edit.approval import Approving, Estimate, Line
from reskin.edit.pipeline import DIRECT
from reskin.edit.request import EditRequest
from reskin.edit.segments import SegmentPlan
from reskin.edit.services import open_services
from reskin.errors import ConfigError, NotApprovedError
from reskin.settings import Settings, load_settings
from reskin.standin.server import StandIn
from tests.conftest import InputClip, MakeClip
from tests.edit.test_approval import settings
from tests.flows.checks import assert_one_line
from tests.prefect_server import PrefectServer

#: What the approval needs: the stand-in's price and a threshold a 3 s edit (300) is over.
OVER = {"RESKIN_CREDITS_PER_SECOND": "100", "RESKIN_APPROVE_ABOVE_CREDITS": "250"}


def estimate(free: int = 0) -> Estimate:
    """Two segments to pay, 20 billed seconds at 100 credits a second (``free`` more that the
    journal holds)."""
    lines = tuple(
        Line(f"{n} of {2 + free} ({10.0 * (n - 1):.2f}..{10.0 * n:.2f} s)", 10.0) for n in (1, 2)
    )
    return Estimate("edit a.mp4", "segment", lines, 100.0, free=free)


REQUEST = EditRequest(input="a.mp4", prompt="sepia", output="o.mp4")
T = TypeVar("T")


class Planner:
    """A ``plan_of`` that counts its calls."""

    def __init__(self, planned: Estimate) -> None:
        self.planned = planned
        self.calls = 0

    def __call__(self, request: EditRequest, settings: Settings) -> Estimate:
        self.calls += 1
        return self.planned


def test_no_threshold_plans_nothing_and_asks_nothing() -> None:
    planner = Planner(estimate())
    config = settings(credits_per_second=100)
    assert approve_on_terminal(REQUEST, config, yes=False, plan_of=planner) is None
    assert planner.calls == 0


def test_what_needs_no_approval_goes_unasked() -> None:
    config = settings(credits_per_second=100, approve_above_credits=2000)
    never = Planner(estimate())
    assert approve_on_terminal(REQUEST, config, yes=False, plan_of=never, is_terminal=_no) is None


def test_a_threshold_without_a_price_says_so_before_planning() -> None:
    planner = Planner(estimate())
    with pytest.raises(ConfigError, match="RESKIN_CREDITS_PER_SECOND"):
        approve_on_terminal(REQUEST, settings(approve_above_credits=500), yes=True, plan_of=planner)
    assert planner.calls == 0


def test_yes_approves_the_estimate_unasked() -> None:
    config = settings(credits_per_second=100, approve_above_credits=500)
    approved = approve_on_terminal(
        REQUEST, config, yes=True, plan_of=Planner(estimate()), is_terminal=_no
    )
    assert approved == 2000


def test_without_a_terminal_or_yes_it_is_one_line_saying_to_pass_yes() -> None:
    config = settings(credits_per_second=100, approve_above_credits=500)
    with pytest.raises(NotApprovedError) as refused:
        approve_on_terminal(
            REQUEST, config, yes=False, plan_of=Planner(estimate()), is_terminal=_no
        )
    assert_one_line(refused.value, "about 2,000 credits", "(500)", "pass --yes", "nothing was sent")
    assert_one_line(refused.value, "this edit (2 segments, 20 billed seconds)")


def test_what_the_journal_holds_is_said_and_not_asked_for() -> None:
    config = settings(credits_per_second=100, approve_above_credits=500)
    with pytest.raises(NotApprovedError) as refused:
        approve_on_terminal(
            REQUEST, config, yes=False, plan_of=Planner(estimate(free=4)), is_terminal=_no
        )
    assert_one_line(refused.value, "this edit (2 of 6 segments, 20 billed seconds)")
    assert_one_line(refused.value, "about 2,000 credits")


@pytest.mark.parametrize(("typed", "approved"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_on_a_terminal_it_asks_and_a_no_is_the_default(
    typed: str, approved: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    config = settings(credits_per_second=100, approve_above_credits=500)

    def ask() -> float | None:
        return approve_on_terminal(
            REQUEST, config, yes=False, plan_of=Planner(estimate()), is_terminal=_yes
        )

    if approved:
        assert ask() == 2000
    else:
        with pytest.raises(NotApprovedError) as refused:
            ask()
        assert_one_line(refused.value, "not approved, nothing was sent")
    asked = capsys.readouterr().err
    assert "plan: 2 segments, 20 billed seconds, about 2,000 credits" in asked
    assert "would cost about 2,000 credits" in asked
    assert "Send it?" in asked


def test_the_question_reads_the_input_in_place_and_its_scene_cuts_serve_the_run(
    edit_env: Path, make_clip: MakeClip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reskin edit``'s question plans the input once: it neither copies nor decodes it whole
    (the run's take_in does, once), and the scene cuts it finds are the run's split's."""
    for name, value in OVER.items():
        monkeypatch.setenv(name, value)
    clip = make_clip(duration_s=12.0, width=854, height=480, fps=25, scenes=(5.43,))
    request = EditRequest(input=str(clip), prompt="sepia", output=str(tmp_path / "o.mp4"))
    calls: Counter[str] = Counter()
    for module, name in ((source, "take_in"), (long, "detect_cuts")):
        monkeypatch.setattr(module, name, counted(getattr(module, name), name, calls))
    config = load_settings()

    approved = approve_on_terminal(request, config, yes=True)
    assert approved == 100 * (6 + 7)  # 5.43 s and 6.57 s, each second started billed
    assert calls == {"detect_cuts": 1}  # no take_in: no copy, no decode check
    assert list((edit_env / "jobs").iterdir()) == []  # the references' folder is gone

    async def run_plans() -> SegmentPlan:
        async with open_services(config) as services:
            taken = await DIRECT.take_in(request, services)
            stages = Approving(DIRECT, request, approved_credits=approved, gate=never_asked)
            try:
                return await stages.split(request, taken, services)
            finally:
                shutil.rmtree(taken.job_dir)

    plan = asyncio.run(run_plans())
    assert 100 * plan.billed_s == approved  # the run's plan is the one approved: not asked
    assert calls == {"detect_cuts": 1, "take_in": 1}  # the cuts found once, for both


def counted(function: Callable[..., T], name: str, calls: Counter[str]) -> Callable[..., T]:
    """``function`` itself, its calls counted under ``name``."""

    def call(*args: object, **kwargs: object) -> T:
        calls[name] += 1
        return function(*args, **kwargs)

    return call


async def never_asked(estimate: Estimate) -> None:
    raise AssertionError(f"asked again: {estimate.summary()}")


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
