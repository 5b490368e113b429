"""Finding ffmpeg: setting, then a system ffmpeg with libx264 (5.1 or newer), then the bundled
one; and the version rule itself."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from reskin.errors import ConfigError
from reskin.media.binaries import (
    MINIMUM_VERSION,
    FFmpegTools,
    discover_ffmpeg,
    find_ffmpeg,
    meets_minimum,
    parse_version,
)

BUNDLED = Path(imageio_ffmpeg.get_ffmpeg_exe())


def _link_ffmpeg(folder: Path, name: str = "ffmpeg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / name
    link.symlink_to(BUNDLED)
    return link


def _fake_ffmpeg(
    folder: Path, name: str = "ffmpeg", *, version: str = "7.1-fake", libx264: bool = False
) -> Path:
    """An 'ffmpeg' that answers ``-version`` and ``-encoders`` and nothing else: by default a
    recent one without libx264, like some distribution builds."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    encoders = [" V....D mpeg4                MPEG-4 part 2"]
    if libx264:
        encoders.append(" V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC")
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "if '-version' in sys.argv:\n"
        f"    print('ffmpeg version {version} Copyright (c) nobody')\n"
        "else:\n"
        f"    print({chr(10).join(encoders)!r})\n"
    )
    script.chmod(0o755)
    return script


def test_bundled_ffmpeg_when_path_has_none(tmp_path: Path) -> None:
    tools = discover_ffmpeg(search_path=str(tmp_path))

    assert tools.source == "bundled"
    assert tools.ffmpeg == BUNDLED
    assert tools.ffprobe is None  # the wheel ships no ffprobe
    assert tools.version not in ("", "unknown")


def test_system_ffmpeg_with_libx264_is_preferred(tmp_path: Path) -> None:
    system = _link_ffmpeg(tmp_path / "bin")

    tools = discover_ffmpeg(search_path=str(tmp_path / "bin"))

    assert tools.source == "system"
    assert tools.ffmpeg == system
    assert tools.ffprobe is None


def test_ffprobe_beside_the_chosen_ffmpeg_is_reported(tmp_path: Path) -> None:
    _link_ffmpeg(tmp_path / "bin")
    ffprobe = _fake_ffmpeg(tmp_path / "bin", "ffprobe")

    tools = discover_ffmpeg(search_path=str(tmp_path / "bin"))

    assert tools.ffprobe == ffprobe


def test_system_ffmpeg_without_libx264_is_passed_over(tmp_path: Path) -> None:
    _fake_ffmpeg(tmp_path / "bin")

    tools = discover_ffmpeg(search_path=str(tmp_path / "bin"))

    assert tools.source == "bundled"


def test_setting_wins_over_a_system_ffmpeg(tmp_path: Path) -> None:
    _link_ffmpeg(tmp_path / "bin")
    chosen = _link_ffmpeg(tmp_path / "elsewhere", "my-ffmpeg")

    tools = discover_ffmpeg(chosen, search_path=str(tmp_path / "bin"))

    assert tools.source == "setting"
    assert tools.ffmpeg == chosen


def test_setting_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RESKIN_FFMPEG_BINARY") as caught:
        discover_ffmpeg(tmp_path / "no-such-ffmpeg")

    assert "\n" not in str(caught.value)


def test_setting_without_libx264_is_a_config_error(tmp_path: Path) -> None:
    fake = _fake_ffmpeg(tmp_path / "bin")

    with pytest.raises(ConfigError, match="no libx264"):
        discover_ffmpeg(fake)


def test_find_ffmpeg_looks_once(tmp_path: Path) -> None:
    assert find_ffmpeg() is find_ffmpeg()
    assert find_ffmpeg().ffmpeg.exists()
    assert os.access(find_ffmpeg().ffmpeg, os.X_OK)


# --- the oldest ffmpeg reskin supports ---------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "numbers"),
    [
        ("5.1.9-0+deb12u1", (5, 1, 9)),  # Debian 12
        ("4.4.2-0ubuntu0.22.04.1", (4, 4, 2)),  # Ubuntu 22.04
        ("n9.0.2-17-g2a571b6068-20260930", (9, 0, 2)),  # imageio-ffmpeg's static build
        ("7.1", (7, 1)),  # Homebrew
        ("6.1.1-3ubuntu5", (6, 1, 1)),
        ("N-113000-g1234abcd", None),  # a git snapshot: no release number
        ("2024-03-11-git-3d1860ec8d-full_build-www.gyan.dev", None),  # a dated build
        ("unknown", None),
        ("", None),
    ],
)
def test_parse_version(version: str, numbers: tuple[int, ...] | None) -> None:
    assert parse_version(version) == numbers


@pytest.mark.parametrize(
    ("version", "verdict"),
    [
        ("5.1", True),
        ("5.1.9-0+deb12u1", True),
        ("10.0", True),
        ("5.0.3", False),  # no -fps_mode yet
        ("4.4.2-0ubuntu0.22.04.1", False),
        ("N-113000-g1234abcd", None),
    ],
)
def test_meets_minimum(version: str, verdict: bool | None) -> None:
    assert MINIMUM_VERSION == (5, 1)
    assert meets_minimum(version) is verdict
    tools = FFmpegTools(ffmpeg=Path("ffmpeg"), ffprobe=None, source="system", version=version)
    assert tools.meets_minimum is verdict


def test_an_older_system_ffmpeg_is_passed_over_for_the_bundled_one_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = _fake_ffmpeg(tmp_path / "bin", version="4.4.2-0ubuntu0.22.04.1", libx264=True)
    caplog.set_level(logging.INFO, logger="reskin.media.binaries")

    tools = discover_ffmpeg(search_path=str(tmp_path / "bin"))

    assert tools.source == "bundled"
    assert tools.ffmpeg == BUNDLED
    notes = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(notes) == 1
    note = notes[0].getMessage()
    assert "\n" not in note
    assert str(old) in note
    assert "4.4.2-0ubuntu0.22.04.1" in note
    assert "older than 5.1" in note
    assert tools.passed_over is not None
    assert str(old) in tools.passed_over


def test_a_system_ffmpeg_with_a_snapshot_version_is_used(tmp_path: Path) -> None:
    snapshot = _fake_ffmpeg(tmp_path / "bin", version="N-113000-g1234abcd", libx264=True)

    tools = discover_ffmpeg(search_path=str(tmp_path / "bin"))

    assert (tools.source, tools.ffmpeg, tools.meets_minimum) == ("system", snapshot, None)


def test_a_named_ffmpeg_older_than_the_minimum_is_a_config_error(tmp_path: Path) -> None:
    old = _fake_ffmpeg(tmp_path / "bin", version="5.0.3", libx264=True)

    with pytest.raises(ConfigError, match=r"version 5\.0\.3, older than 5\.1") as caught:
        discover_ffmpeg(old)

    assert "RESKIN_FFMPEG_BINARY" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_real_ffmpegs_meet_the_minimum(ffmpeg_tools: FFmpegTools) -> None:
    """The bundled ffmpeg and the one this suite runs (bundled, or a system one such as
    Debian 12's 5.1) report a release version that is at least the minimum."""
    bundled = discover_ffmpeg(search_path="")
    assert parse_version(bundled.version) is not None
    assert bundled.meets_minimum is True
    assert ffmpeg_tools.meets_minimum is True, ffmpeg_tools.version
