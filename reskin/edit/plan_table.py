"""A long edit's plan as people read it: one row per segment (the table artifact of a UI run,
``reskin edit --dry-run``) and one summary line with the estimate."""

from __future__ import annotations

from reskin.edit.segments import SegmentPlan
from reskin.settings import Settings

Row = dict[str, str | float | int]


def plan_rows(plan: SegmentPlan) -> list[Row]:
    """One row per segment: its window, why it starts there, its scene and billed seconds."""
    return [
        {
            "segment": segment.index,
            "start s": round(segment.start_s, 3),
            "end s": round(segment.end_s, 3),
            "seconds": round(segment.duration_s, 3),
            "sent from s": round(segment.sent_start_s, 3),
            "starts at": segment.starts_at,
            "scene": segment.scene,
            "billed s": segment.billed_s,
        }
        for segment in plan.segments
    ]


def plan_summary(plan: SegmentPlan, settings: Settings) -> str:
    """``6 segments of 60.00 s (4 scene cuts), 60 billed seconds, about $10.20 / 6,000
    credits``: what the plan will cost, as far as it is known."""
    parts = [
        f"{len(plan.segments)} segments of {plan.duration_s:.2f} s ({len(plan.cuts_s)} scene cuts)",
        f"{plan.billed_s} billed seconds",
    ]
    estimates = []
    if plan.usd is not None:
        estimates.append(f"${plan.usd:,.2f}")
    credits = plan.credits(settings.credits_per_second)
    if credits is not None:
        estimates.append(f"{credits:,.0f} credits")
    if estimates:
        parts.append("about " + " / ".join(estimates))
    return ", ".join(parts)
