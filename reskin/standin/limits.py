"""Kling O1 video-edit input limits and billing, as ``shared/API.md`` states them.

Limits are checked on the probed file: sizes as displayed (a rotated phone clip counts as it
plays), the average frame rate, the container by its brand (MP4 or MOV; Matroska is refused by
the service even though reskin can read it). Boundaries are inclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reskin.media.probe import MediaInfo

MIN_BILLED_S = 3.0
MAX_BILLED_S = 10.0


@dataclass(frozen=True)
class KlingLimits:
    """The accepted ranges of an input video."""

    min_duration_s: float = 3.0
    max_duration_s: float = 10.05
    min_side: int = 720
    max_side: int = 2160
    max_bytes: int = 200_000_000
    min_fps: float = 24.0
    max_fps: float = 60.0
    containers: tuple[str, ...] = ("mp4", "mov")


def violations(info: MediaInfo, limits: KlingLimits) -> list[str]:
    """Every limit ``info`` breaks, each naming the limit and the value; empty when accepted."""
    found: list[str] = []
    if info.container not in limits.containers:
        found.append(f"container {info.container} is not accepted (MP4 or MOV only)")
    if info.size_bytes > limits.max_bytes:
        found.append(
            f"size {info.size_bytes / 1e6:.1f} MB is over the {limits.max_bytes / 1e6:g} MB limit"
        )
    if not limits.min_duration_s <= info.duration_s <= limits.max_duration_s:
        found.append(
            f"duration {info.duration_s:.2f} s is outside "
            f"{limits.min_duration_s:g}..{limits.max_duration_s:g} s"
        )
    for side, value in (("width", info.display_width), ("height", info.display_height)):
        if not limits.min_side <= value <= limits.max_side:
            found.append(f"{side} {value} px is outside {limits.min_side}..{limits.max_side} px")
    if not limits.min_fps <= info.fps <= limits.max_fps:
        found.append(
            f"frame rate {info.fps:.2f} fps is outside {limits.min_fps:g}..{limits.max_fps:g} fps"
        )
    return found


def billed_seconds(duration_s: float) -> float:
    """The seconds a job is billed for: its duration, at least 3 and at most 10."""
    return min(max(duration_s, MIN_BILLED_S), MAX_BILLED_S)


def credits_used(duration_s: float, credits_per_second: int) -> int:
    """``ceil(billed seconds) * credits_per_second``."""
    return math.ceil(billed_seconds(duration_s) - 1e-9) * credits_per_second
