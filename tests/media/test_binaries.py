"""Finding ffmpeg: setting, then a system ffmpeg with libx264, then the bundled one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from reskin.errors import ConfigError
from reskin.media.binaries import discover_ffmpeg, find_ffmpeg

BUNDLED = Path(imageio_ffmpeg.get_ffmpeg_exe())


def _link_ffmpeg(folder: Path, name: str = "ffmpeg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / name
    link.symlink_to(BUNDLED)
    return link


def _fake_ffmpeg(folder: Path, name: str = "ffmpeg") -> Path:
    """An 'ffmpeg' that runs but has no libx264, like some distribution builds."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "if '-version' in sys.argv:\n"
        "    print('ffmpeg version 0.0-fake Copyright (c) nobody')\n"
        "else:\n"
        "    print(' V....D mpeg4                MPEG-4 part 2')\n"
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
