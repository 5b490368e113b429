"""``reskin demo`` as a user runs it: a real process, real ffmpeg, the real stand-in, Prefect's
embedded mode (no server, no key)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reskin.media.probe import probe

pytestmark = pytest.mark.slow


def test_demo_edits_a_sample_clip_offline_and_keeps_its_sound(tmp_path: Path):
    argv = ["demo", "--output-dir", str(tmp_path / "demo"), "--prompt", "sepia film"]
    done = subprocess.run(
        [sys.executable, "-m", "reskin", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "done:" in done.stdout
    edited = tmp_path / "demo" / "edited.mp4"
    info = probe(edited)
    assert info.fps == 24
    assert info.has_audio
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    assert not list((tmp_path / "demo").glob("*.part"))
