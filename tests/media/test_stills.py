"""One frame of a video as a JPEG (the style reference of a long edit): the frame asked for,
scaled down to at most 1280 px, the same bytes every time."""

from __future__ import annotations

from pathlib import Path

import pytest

from reskin.media.binaries import FFmpegTools
from reskin.media.images import probe_image
from reskin.media.stills import grab_still, still_command

from .corpus import MakeClip


def test_the_command_seeks_decodes_one_frame_and_keeps_the_guards(tmp_path: Path) -> None:
    argv = still_command(Path("/usr/bin/ffmpeg"), tmp_path / "v.mp4", tmp_path / "s.jpg", at_s=2.5)
    assert argv[argv.index("-ss") + 1] == "2.500000"
    assert argv.index("-ss") < argv.index("-i")
    assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert argv[argv.index("-frames:v") + 1] == "1"
    with pytest.raises(ValueError, match="0 s or later"):
        still_command(Path("/usr/bin/ffmpeg"), tmp_path / "v.mp4", tmp_path / "s.jpg", at_s=-1)


def test_a_still_is_a_jpeg_at_most_1280_px_and_the_same_bytes_twice(
    ffmpeg_tools: FFmpegTools, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=3.0, width=1920, height=1080, fps=30)
    first, second = tmp_path / "a.jpg", tmp_path / "b.jpg"
    for path in (first, second):
        grab_still(ffmpeg_tools.ffmpeg, clip, path, at_s=1.5, timeout_s=60)
    info = probe_image(first)
    assert info.format == "jpeg"
    assert (info.width, info.height) == (1280, 720)
    assert first.read_bytes() == second.read_bytes()
