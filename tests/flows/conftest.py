"""Fixtures of the flow tests: one shared clip, an output path of the test's own, and settings
aimed at the session's stand-in (``edit_env``) with waits sized for its sub-second jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MakeClip


@pytest.fixture
def clip(make_clip: MakeClip) -> Path:
    """3 s of 1280x720 at 30 fps with sound: one clip for the whole session (the same
    parameters as the first flow test, so make_clip makes it once)."""
    return make_clip(duration_s=3.0, width=1280, height=720, fps=30)


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """Where the edited video goes; its folder holds nothing else."""
    return tmp_path / "out" / "edited.mp4"


@pytest.fixture
def fast(edit_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``edit_env`` plus what keeps failure paths short: status asked at least every 0.2 s,
    three retries of one HTTP call (downloads included). Returns the work dir."""
    monkeypatch.setenv("RESKIN_POLL_MAX_INTERVAL_S", "0.2")
    monkeypatch.setenv("RESKIN_MAX_RETRIES", "3")
    return edit_env
