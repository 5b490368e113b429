"""``reskin doctor``'s report: which ffmpeg, its version against the minimum, what was passed
over (the command's output as a process is checked in ``tests/cli/test_app.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reskin import doctor
from reskin.media.binaries import FFmpegTools, discover_ffmpeg
from reskin.settings import Settings


def _settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, work_dir=tmp_path / "work")


def test_the_report_shows_the_ffmpeg_version_and_that_it_is_supported(tmp_path: Path) -> None:
    lines = dict(doctor.report(_settings(tmp_path)))

    assert "version" in lines["ffmpeg"]
    assert lines["ffmpeg version"].endswith(": supported (5.1 or newer)")
    assert "passed over" not in lines


@pytest.mark.parametrize(
    ("version", "verdict"),
    [
        ("5.1.9-0+deb12u1", "5.1.9-0+deb12u1: supported (5.1 or newer)"),
        ("4.4.2", "4.4.2: too old (reskin needs 5.1 or newer)"),
        ("N-113000-g1234abcd", "N-113000-g1234abcd: not a release number, not checked against "
         "the minimum 5.1"),
    ],
)  # fmt: skip
def test_version_verdict(version: str, verdict: str) -> None:
    tools = FFmpegTools(ffmpeg=Path("ffmpeg"), ffprobe=None, source="system", version=version)
    assert doctor.version_verdict(tools) == verdict


def test_the_report_says_which_system_ffmpeg_was_passed_over_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A system ffmpeg 4.4 with libx264 on a PATH of its own: discovery takes the bundled one.
    old = tmp_path / "bin" / "ffmpeg"
    old.parent.mkdir()
    old.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "if '-version' in sys.argv:\n"
        "    print('ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) nobody')\n"
        "else:\n"
        "    print(' V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC')\n"
    )
    old.chmod(0o755)
    found = discover_ffmpeg(search_path=str(old.parent))
    monkeypatch.setattr(doctor, "find_ffmpeg", lambda setting: found)

    lines = dict(doctor.report(_settings(tmp_path)))

    assert "(bundled, version" in lines["ffmpeg"]
    assert lines["ffmpeg version"].endswith(": supported (5.1 or newer)")
    assert lines["passed over"].startswith(f"the system ffmpeg: ffmpeg at {old} is version 4.4.2")
    assert "older than 5.1" in lines["passed over"]


def test_the_report_names_a_key_block_never_a_key(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        work_dir=tmp_path / "work",
        api_key="sk-doctor-secret",
        api_key_block="aimlapi-key",
    )
    lines = dict(doctor.report(settings))
    assert lines["api key"] == "from the Prefect Secret block 'aimlapi-key' (read by each run)"
    assert "sk-doctor-secret" not in repr(lines)
