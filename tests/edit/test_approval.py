"""Approval before big spends, the core: when a run asks, what it shows, how a no ends, and
where an edit asks (:class:`Approving` around the core's own stages, the real stand-in and real
ffmpeg, no Prefect): once, before its first create, after the budget, with the plan the run
follows (the same numbers ``--dry-run`` prints)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from reskin.edit.approval import (
    SHOWN_LINES,
    Approving,
    Estimate,
    Line,
    approval_markdown,
    estimate_edit,
    needs_approval,
    not_approved,
    price,
)
from reskin.edit.dry_run import dry_run
from reskin.edit.pipeline import DIRECT, edit
from reskin.edit.request import EditRequest
from reskin.edit.services import open_services
from reskin.errors import ConfigError, InputError, NotApprovedError
from reskin.media.audio_mode import AudioMode
from reskin.settings import Settings, load_settings
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.flows.checks import assert_one_line

pytestmark = pytest.mark.anyio

ALEPH = "runway/gen4_aleph"


def settings(
    *,
    credits_per_second: float | None = None,
    approve_above_credits: float | None = None,
    approval_timeout_s: int = 3600,
) -> Settings:
    """Settings of their own (no environment, no ``.env``) with these approval fields."""
    return Settings(
        _env_file=None,
        credits_per_second=credits_per_second,
        approve_above_credits=approve_above_credits,
        approval_timeout_s=approval_timeout_s,
    )


@pytest.mark.parametrize(
    ("threshold", "credits", "approved", "asks"),
    [
        (None, 10_000.0, None, False),  # no threshold: never asks
        (1000.0, 1000.0, None, False),  # at the threshold: goes
        (1000.0, 1000.5, None, True),
        (1000.0, 1200.0, 1200.0, False),  # approved beforehand up to its estimate
        (1000.0, 1200.0, 1199.0, True),  # approved for less than it now costs: asks again
        (1000.0, 900.0, 1.0, False),  # under the threshold, whatever was approved
    ],
)
def test_a_run_asks_only_over_the_threshold_and_over_what_was_approved(
    threshold: float | None, credits: float, approved: float | None, asks: bool
) -> None:
    config = settings(credits_per_second=100, approve_above_credits=threshold)
    assert needs_approval(credits, config, approved) is asks


def test_a_threshold_without_a_price_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as refused:
        price(settings(approve_above_credits=500))
    assert_one_line(refused.value, "RESKIN_CREDITS_PER_SECOND", "RESKIN_APPROVE_ABOVE_CREDITS")
    assert price(settings(credits_per_second=7.5)) == 7.5


def test_the_shown_plan_has_every_line_the_total_and_what_each_answer_does() -> None:
    lines = (
        Line("a|b.mp4", 3.0),
        Line("https://x/y.mp4", 10.0, known=False),
        *(Line(f"clip {n}.mp4", 4.0) for n in range(SHOWN_LINES)),
    )
    estimate = Estimate("batch in*box", "clip", lines, 100.0)
    config = settings(credits_per_second=100, approve_above_credits=1000, approval_timeout_s=7200)
    shown = approval_markdown(estimate, config)
    assert estimate.billed_s == 13 + 4 * SHOWN_LINES
    assert estimate.credits == 100 * estimate.billed_s
    assert shown.startswith(f"# Approve about {estimate.credits:,.0f} credits?")
    assert f"**batch in\\*box**: {SHOWN_LINES + 2} clips, {estimate.billed_s:,.0f} billed" in shown
    assert "1 of unknown length counted at one job's most" in shown
    assert "| a\\|b.mp4 | 3 |" in shown  # a pipe in a name stays in its cell
    assert "| https://x/y.mp4 | 10 (length unknown) |" in shown
    rows = [row for row in shown.splitlines() if row.startswith("| clip ") and ".mp4" in row]
    assert len(rows) == SHOWN_LINES - 2  # the first two lines were shown above them
    assert "| ... and 2 more | |" in shown
    for words in ("RESKIN_APPROVE_ABOVE_CREDITS", "1,000 credits", "**approve** on", "2 h"):
        assert words in shown
    assert "Nothing has been sent or paid yet" in shown


def test_a_rejection_and_a_timeout_end_in_one_line_saying_nothing_was_paid() -> None:
    estimate = Estimate("edit a.mp4", "segment", (Line("1 of 1", 3.0),), 100.0)
    rejected = not_approved(estimate, timed_out_s=None, note="too dear\nfor now")
    assert isinstance(rejected, NotApprovedError)
    assert_one_line(rejected, "edit a.mp4 (1 segment, 3 billed seconds, about 300 credits)")
    assert_one_line(rejected, "rejected (too dear for now)", "nothing was paid")
    late = not_approved(estimate, timed_out_s=90, note=None)
    assert_one_line(
        late, "not approved within 90 s", "RESKIN_APPROVAL_TIMEOUT_S", "nothing was paid"
    )


# --- where an edit asks: the core's stages, the stand-in -------------------------------------


class Recorder:
    """A gate that records what it was asked, and what the stand-in had created by then; it
    says yes, or raises ``no``."""

    def __init__(self, standin: StandIn, no: Exception | None = None) -> None:
        self.standin = standin
        self.no = no
        self.asked: list[tuple[Estimate, int]] = []

    async def __call__(self, estimate: Estimate) -> None:
        self.asked.append((estimate, self.standin.stats().create_calls))
        if self.no is not None:
            raise self.no


@pytest.fixture
def env(edit_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in's settings, its price (100 credits a second) and a threshold of 250."""
    monkeypatch.setenv("RESKIN_CREDITS_PER_SECOND", "100")
    monkeypatch.setenv("RESKIN_APPROVE_ABOVE_CREDITS", "250")
    return edit_env


def journal_rows(work: Path) -> list[tuple[object, ...]]:
    path = work / "journal.sqlite3"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT state, generation_id FROM submissions").fetchall()


async def test_a_short_edit_over_the_threshold_asks_once_before_its_create_then_pays(
    env: Path, standin: StandIn, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip()
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(tmp_path / "o.mp4"))
    gate = Recorder(standin)
    async with open_services(load_settings()) as services:
        stages = Approving(DIRECT, request, approved_credits=None, gate=gate)
        result = await edit(request, services, stages)
    ((estimate, creates_then),) = gate.asked
    assert creates_then == 0
    assert (estimate.title, estimate.unit, estimate.credits) == (
        "edit " + clip.name,
        "segment",
        300,
    )
    assert result.credits_used == 300
    assert standin.stats().jobs_accepted == 1


async def test_a_no_sends_nothing_and_journals_nothing(
    env: Path, standin: StandIn, make_clip: MakeClip, tmp_path: Path
) -> None:
    request = EditRequest(input=str(make_clip()), prompt="sepia", output=str(tmp_path / "o.mp4"))
    no = NotApprovedError("rejected: nothing was paid")
    gate = Recorder(standin, no)
    async with open_services(load_settings()) as services:
        stages = Approving(DIRECT, request, approved_credits=None, gate=gate)
        with pytest.raises(NotApprovedError) as refused:
            await edit(request, services, stages)
    assert refused.value is no
    assert len(gate.asked) == 1
    stats = standin.stats()
    assert (stats.create_calls, stats.uploads) == (0, 0)
    assert journal_rows(env) == []
    assert not (tmp_path / "o.mp4").exists()


async def test_approved_beforehand_it_asks_nothing_but_the_budget_still_refuses(
    env: Path,
    standin: StandIn,
    make_clip: MakeClip,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESKIN_MAX_CREDITS", "200")
    request = EditRequest(input=str(make_clip()), prompt="sepia", output=str(tmp_path / "o.mp4"))
    gate = Recorder(standin)
    async with open_services(load_settings()) as services:
        stages = Approving(DIRECT, request, approved_credits=1e12, gate=gate)
        with pytest.raises(InputError, match="RESKIN_MAX_CREDITS"):
            await edit(request, services, stages)
    assert gate.asked == []
    assert standin.stats().create_calls == 0


async def test_a_long_edit_asks_once_with_the_dry_runs_plan_before_any_segment_is_sent(
    env: Path, standin: StandIn, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=12.0, width=854, height=480, fps=25, scenes=(5.43,))
    request = EditRequest(input=str(clip), prompt="sepia", output=str(tmp_path / "o.mp4"))
    gate = Recorder(standin, NotApprovedError("rejected"))
    async with open_services(load_settings()) as services:
        planned = await dry_run(request, services)
        stages = Approving(DIRECT, request, approved_credits=None, gate=gate)
        with pytest.raises(NotApprovedError):
            await edit(request, services, stages)
    ((estimate, creates_then),) = gate.asked
    assert creates_then == 0
    assert [line.label for line in estimate.lines] == [
        f"{s.index} of {len(planned.segments)} ({s.start_s:.2f}..{s.end_s:.2f} s)"
        for s in planned.segments
    ]
    assert len(planned.segments) > 1
    # What the flow asks about is what `reskin edit` (the dry run's planning) asked about.
    assert (estimate.billed_s, estimate.credits) == (planned.billed_s, planned.credits)
    assert planned.credits == 100 * planned.billed_s > 250
    assert standin.stats().create_calls == 0
    assert journal_rows(env) == []


# --- what would be paid now: the journal read before the question -----------------------------


def forget(work: Path, generation_id: str) -> None:
    """Drop ``generation_id``'s entry from the journal: as if the run had died before sending
    that segment (its create never left)."""
    with contextlib.closing(sqlite3.connect(work / "journal.sqlite3")) as db, db:
        gone = db.execute("DELETE FROM submissions WHERE generation_id = ?", (generation_id,))
        assert gone.rowcount == 1


async def test_a_long_edit_asks_only_for_what_the_journal_does_not_hold(
    env: Path, standin: StandIn, make_clip: MakeClip, tmp_path: Path
) -> None:
    # 8 s for Aleph, which edits 5 s a job: two segments of 4 s, each billed 5 s. One look
    # (the default; Aleph takes a reference): the second's key holds a frame of the first's result.
    clip = make_clip(duration_s=8.0)
    output = str(tmp_path / "o.mp4")
    request = EditRequest(
        input=str(clip), prompt="sepia", output=output, model=ALEPH, audio=AudioMode.NONE
    )
    gate = Recorder(standin)
    async with open_services(load_settings()) as services:
        before = await estimate_edit(request, services)
        first = await edit(
            request, services, Approving(DIRECT, request, approved_credits=None, gate=gate)
        )
        ((asked, _),) = gate.asked
        assert len(first.segments) == 2
        assert (asked.counted(), asked.credits, asked.free) == ("2 segments", 100 * (5 + 5), 0)
        assert (before.credits, before.free) == (asked.credits, 0)  # the CLI's number is the run's

        # A rerun after success: everything is in the journal, nothing is asked or paid.
        again = await edit(
            request, services, Approving(DIRECT, request, approved_credits=None, gate=gate)
        )
        assert len(gate.asked) == 1
        assert again.resumed
        after = await estimate_edit(request, services)
        assert (after.lines, after.free, after.credits) == ((), 2, 0)

        # A rerun after a crash before the second segment was sent asks for that one only.
        forget(env, first.segments[1].generation_id)
        rest = await estimate_edit(request, services)
        third = await edit(
            request, services, Approving(DIRECT, request, approved_credits=None, gate=gate)
        )
        (_, (asked_again, creates_then)) = gate.asked
    second = first.segments[1]
    label = f"2 of 2 ({second.start_s:.2f}..{second.end_s:.2f} s)"
    assert (
        [line.label for line in asked_again.lines] == [line.label for line in rest.lines] == [label]
    )
    assert asked_again.free == rest.free == 1
    assert asked_again.credits == rest.credits == 100 * 5
    assert "1 of 2 segments" in asked_again.summary()
    assert "1 already accepted or done by an earlier run" in asked_again.summary()
    assert creates_then == 2  # asked before the one new create
    assert [s.resumed for s in third.segments] == [True, False]
    assert standin.stats().jobs_accepted == 3
