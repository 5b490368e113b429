"""The plan of a long edit, from facts alone: boundaries on frames, scene cuts kept, short
shots joined, long shots balanced, keyframes taken when they bill no more."""

from __future__ import annotations

import itertools

import pytest

from reskin.edit.segments import (
    LocalStep,
    billed_estimate_s,
    local_rank,
    longest_s,
    plan_segments,
)
from reskin.errors import OutOfLimitsError
from reskin.media.conform_plan import Action
from reskin.registry import spec_for

KLING = spec_for("klingai/video-o1-video-to-video-edit")
ALEPH = spec_for("runway/gen4_aleph")


def spans(plan: object) -> list[tuple[int, int]]:
    return [(s.start_frame, s.end_frame) for s in plan.segments]  # type: ignore[attr-defined]


def test_the_longest_segment_is_what_each_model_edits() -> None:
    assert longest_s(KLING) == 10.0
    assert longest_s(ALEPH) == 5.0


def test_five_scenes_of_60_s_tile_the_window_on_frames_inside_scenes() -> None:
    cuts = (11.37, 23.71, 35.43, 47.19)
    plan = plan_segments(KLING, fps=30, start_s=0, end_s=60, cuts_s=cuts)
    bounds = spans(plan)
    assert bounds[0][0] == 0
    assert bounds[-1][1] == 1800
    assert all(e == s for (_, e), (s, _) in itertools.pairwise(bounds))  # no gap, no overlap
    cut_frames = [round(c * 30) for c in cuts]
    for segment in plan.segments:
        assert 3.0 <= segment.duration_s <= 10.0
        inside = [c for c in cut_frames if segment.start_frame < c < segment.end_frame]
        assert inside == []  # one scene each
    assert [s.starts_at for s in plan.segments].count("scene cut") == 4
    # 11.37 s -> 2 parts of ~5.7 s; never a 10 s part and a 1.37 s tail.
    assert bounds[:2] == [(0, 170), (170, 341)]
    assert plan.billed_s == sum(s.billed_s for s in plan.segments)


def test_a_shot_shorter_than_the_model_takes_joins_its_shorter_neighbour() -> None:
    plan = plan_segments(KLING, fps=25, start_s=0, end_s=20, cuts_s=(8.0, 9.2))
    assert plan.merged_cuts_s == (8.0,)  # the 1.2 s shot joins the 8 s one before it
    assert spans(plan) == [(0, 230), (230, 365), (365, 500)]
    assert all(s.duration_s >= 3.0 for s in plan.segments)


def test_a_long_shot_is_balanced_and_moves_to_a_keyframe_that_bills_no_more() -> None:
    # 25 s, one shot: 3 parts of ~8.33 s; keyframes at 8.0 and 16.8 s are within reach.
    plan = plan_segments(KLING, fps=30, start_s=0, end_s=25, keyframes_s=(0, 8.0, 16.8))
    assert spans(plan) == [(0, 240), (240, 504), (504, 750)]
    assert [s.starts_at for s in plan.segments] == ["start", "keyframe", "keyframe"]
    assert plan.billed_s == 8 + 9 + 9  # the even split bills 9 + 9 + 9


def test_a_keyframe_that_would_bill_more_is_left() -> None:
    # 20 s: 2 parts of 10 s bill 20; a keyframe at 9.0 s would leave 11 s (3 parts): not taken,
    # and one at 10.9 s makes a part over 10 s: out of reach.
    plan = plan_segments(KLING, fps=30, start_s=0, end_s=20, keyframes_s=(0, 10.9))
    assert spans(plan) == [(0, 300), (300, 600)]
    assert [s.starts_at for s in plan.segments] == ["start", "even split"]


def test_aleph_segments_are_at_most_5_s_within_a_window() -> None:
    plan = plan_segments(ALEPH, fps=24, start_s=10.0, end_s=33.0, cuts_s=(5.0, 21.5))
    assert plan.start_s == 10.0
    assert plan.end_s == 33.0
    assert all(1.0 <= s.duration_s <= 5.0 for s in plan.segments)
    assert plan.cuts_s == (21.5,)  # a cut outside the window is not one
    assert len(plan.segments) == 3 + 3  # 11.5 s -> 3 parts, 11.5 s -> 3 parts
    assert plan.billed_s == 6 * 5  # Aleph bills 5 s a job whatever its length
    assert plan.usd == pytest.approx(30 * 0.15)


def test_an_unknown_rate_is_one_line() -> None:
    with pytest.raises(OutOfLimitsError, match="frame rate is unknown"):
        plan_segments(KLING, fps=0, start_s=0, end_s=30)


def test_a_crossfade_sends_segments_inside_a_shot_earlier_and_still_within_limits() -> None:
    plan = plan_segments(KLING, fps=30, start_s=0, end_s=40, cuts_s=(20.0,), crossfade_s=0.5)
    # 20 s shots in parts of at most 9.5 s (and a lead of 0.5 s): 3 each; no lead at the cut.
    assert [s.lead_frames for s in plan.segments] == [0, 15, 15, 0, 15, 15]
    for segment in plan.segments:
        assert segment.sent_s <= 10.0
        assert segment.sent_start_s == (segment.start_frame - segment.lead_frames) / 30


def test_an_estimate_before_the_scenes_are_known_bills_the_balanced_segments() -> None:
    assert billed_estimate_s(KLING, 7.2) == 7.2
    assert billed_estimate_s(KLING, 60.0, 30) == 60  # 6 x 10 s
    assert billed_estimate_s(KLING, 61.0, 30) == 7 * 9  # 7 x 8.71 s, each billed 9
    assert billed_estimate_s(ALEPH, 12.0, 24) == 3 * 5  # Aleph bills 5 s a job


def test_local_work_goes_plans_and_fetches_then_copies_then_the_longest_encodes_first() -> None:
    # The bench's 60 s clip: odd segments start at a scene cut (a keyframe: copied), even ones
    # in the middle of a shot (re-encoded).
    plan = plan_segments(KLING, fps=30, start_s=0, end_s=60, cuts_s=(11.37, 23.71, 35.43, 47.19))
    actions = {s.index: Action.COPY if s.index % 2 else Action.ENCODE for s in plan.segments}
    steps: list[tuple[int, LocalStep]] = [(s.index, "conform") for s in plan.segments]
    steps += [(s.index, "plan") for s in plan.segments] + [(3, "fetch")]
    by_index = {s.index: s for s in plan.segments}
    queue = sorted(
        steps,
        key=lambda step: local_rank(by_index[step[0]], step[1], actions[step[0]]),
    )
    # Plans and fetches first, in order of the segments.
    assert [kind for _, kind in queue[:11]] == ["plan"] * 2 + ["plan", "fetch"] + ["plan"] * 7
    conforms = [index for index, kind in queue if kind == "conform"]
    assert conforms[:5] == [1, 3, 5, 7, 9]  # the copies, in order
    encodes = [by_index[index] for index in conforms[5:]]
    lengths = [s.sent_s for s in encodes]
    assert lengths == sorted(lengths, reverse=True)  # the longest encode first
    assert len(set(lengths)) > 1  # (not all the same length: the order above says something)


def test_a_passthrough_is_ranked_as_a_copy() -> None:
    (segment,) = plan_segments(KLING, fps=30, start_s=0, end_s=8).segments
    rank = local_rank(segment, "conform", Action.PASSTHROUGH)
    assert rank == local_rank(segment, "conform", Action.COPY)
    assert rank < local_rank(segment, "conform", Action.ENCODE)
