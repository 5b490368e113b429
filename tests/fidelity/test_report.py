"""The reported scores and the gate: one line naming the lowest score (and its segment)."""

from __future__ import annotations

import numpy as np
import pytest

from reskin.errors import FidelityError
from reskin.fidelity.report import Fidelity, SegmentFidelity, Span, Timing, gate, report, strip
from reskin.fidelity.scores import measure
from tests.fidelity.test_scores import panning


def fidelity(motion: float, structure: float, *segments: SegmentFidelity) -> Fidelity:
    return Fidelity(
        motion=motion,
        structure=structure,
        timing=Timing(duration_difference_s=0.0, lag_s=0.0),
        samples=80,
        segments=segments,
    )


def test_above_the_minimum_passes_and_a_minimum_of_zero_only_reports() -> None:
    gate(fidelity(0.9, 0.8), 0.5)
    gate(fidelity(0.0, 0.0), 0.0)


def test_below_the_minimum_is_one_line_naming_the_score_and_the_way_out() -> None:
    with pytest.raises(FidelityError) as failed:
        gate(fidelity(0.9, 0.31), 0.5)
    said = failed.value.said
    assert "\n" not in said
    assert "structure score 0.31 is below the minimum fidelity 0.50" in said
    assert "layout" in said
    assert "`min_fidelity` 0" in said
    assert failed.value.score == "structure"


def test_a_segment_below_the_minimum_is_named() -> None:
    low = SegmentFidelity(index=3, start_s=20.0, end_s=30.0, motion=0.12, structure=0.9)
    good = SegmentFidelity(index=1, start_s=0.0, end_s=10.0, motion=0.9, structure=0.9)
    with pytest.raises(FidelityError, match=r"motion score 0\.12 .* in segment 3 of 2 \(20\.00"):
        gate(fidelity(0.8, 0.9, good, low), 0.5)


def test_a_report_has_a_row_per_span_and_a_seam_per_join() -> None:
    source = panning(frames=32)
    scored = report(
        measure(source, source.copy()),
        fps=8,
        window_s=4.0,
        result_s=4.04,
        spans=(Span(1, 0.0, 2.0), Span(2, 2.0, 4.0)),
    )
    assert [s.index for s in scored.segments] == [1, 2]
    assert [(seam.after, seam.at_s) for seam in scored.seams] == [(1, 2.0)]
    assert scored.timing.duration_difference_s == pytest.approx(0.04)
    assert len(scored.motion_strip) == 31
    assert scored.describe().startswith("motion 1.00, structure 1.00; lowest segment")


def test_a_strip_draws_low_scores_low_and_keeps_to_its_width() -> None:
    assert strip([1.0, 0.0, 0.5]) == "█▁▅"
    assert len(strip(list(np.linspace(0, 1, 500)), width=60)) == 60
    assert strip([]) == ""
