"""The model specs' rules: input limits and billing, as data every layer reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reskin.registry import DEFAULT_MODEL, spec_for
from tests.infos import media_info

KLING = spec_for(DEFAULT_MODEL)
LEGAL = media_info(path=Path("/x.mp4"), size_bytes=1_000_000)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"duration_s": 3.0},
        {"duration_s": 10.05},
        {"width": 720, "height": 720},
        {"width": 2160, "height": 2160},
        {"fps": 24.0},
        {"fps": 60.0},
        {"container": "mov"},
        {"size_bytes": 200_000_000},
    ],
)
def test_boundaries_are_accepted(changes: dict[str, object]) -> None:
    assert KLING.limits.violations(dataclasses.replace(LEGAL, **changes)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"duration_s": 2.99}, "duration 2.99 s"),
        ({"duration_s": 10.06}, "duration 10.06 s"),
        ({"fps": 23.976}, "frame rate 23.98 fps"),
        ({"size_bytes": 200_000_001}, "size 200.0 MB is over the 200 MB limit"),
        ({"container": "matroska"}, "container matroska"),
        ({"width": 2200, "height": 700, "rotation": 90}, "width 700 px"),
    ],
)
def test_each_broken_limit_is_named(changes: dict[str, object], expected: str) -> None:
    found = KLING.limits.violations(dataclasses.replace(LEGAL, **changes))  # type: ignore[arg-type]

    assert any(expected in line for line in found), found


def test_all_broken_limits_are_listed() -> None:
    bad = dataclasses.replace(LEGAL, duration_s=1.0, fps=10.0, container="matroska")

    assert len(KLING.limits.violations(bad)) == 3


@pytest.mark.parametrize(
    ("duration", "billed", "credits"),
    [(1.0, 3.0, 300), (3.0, 3.0, 300), (3.2, 3.2, 400), (7.5, 7.5, 800), (10.05, 10.0, 1000)],
)
def test_billing(duration: float, billed: float, credits: int) -> None:
    assert KLING.billing.billed_seconds(duration) == billed
    assert KLING.billing.billed_whole_seconds(duration) * 100 == credits
