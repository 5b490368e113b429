"""The fidelity check's thumbnails: their size, their grid of times, and that the decode check
makes them in passing (whole, or not at all) with every ffmpeg reskin supports."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from reskin.errors import VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.intake import take_in
from reskin.media.runner import run
from reskin.media.thumbs import (
    THUMB_FPS,
    ThumbSpec,
    iter_thumbs,
    thumb_size,
    thumbs_command,
    thumbs_filter,
)
from reskin.media.verify import decode_check_command, verify
from tests.conftest import MakeClip

ANY_FILE = {"expect_audio": None, "expected_duration_s": None, "timeout_s": 60}


@pytest.mark.parametrize(
    ("size", "thumb"),
    [((1920, 1080), (256, 144)), ((720, 1280), (144, 256)), ((720, 720), (256, 256)),
     ((1279, 719), (256, 144)), ((640, 360), (256, 144))],
)  # fmt: skip
def test_a_thumbnail_keeps_the_shape_at_256_px_on_its_long_side(
    size: tuple[int, int], thumb: tuple[int, int]
) -> None:
    assert thumb_size(*size) == thumb


def test_the_filter_samples_on_a_grid_from_0_and_holds_numbers_only() -> None:
    spec = ThumbSpec(Path("/t"), 256, 144)
    assert thumbs_filter(spec) == "fps=fps=8:start_time=0,scale=256:144:flags=area,format=gray"


def test_the_decode_check_adds_the_thumbnails_as_a_second_output() -> None:
    spec = ThumbSpec(Path("/job/source.thumbs"), 256, 144)
    plain = decode_check_command(Path("/ff"), Path("/job/input.mp4"))
    argv = decode_check_command(Path("/ff"), Path("/job/input.mp4"), spec)
    assert argv[: len(plain)] == plain  # the check itself is unchanged
    assert argv[len(plain) :] == [
        "-map", "0:v:0", "-vf", thumbs_filter(spec), "-an", "-f", "rawvideo",
        "-pix_fmt", "gray", "/job/source.thumbs",
    ]  # fmt: skip


@pytest.mark.slow
def test_the_decode_check_makes_the_thumbnails_a_decode_for_them_alone_would(
    ffmpeg_tools: FFmpegTools, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30, sync_marks=True)
    spec = ThumbSpec(tmp_path / "checked.thumbs", *thumb_size(1280, 720))
    info = verify(clip, ffmpeg_tools, **ANY_FILE, thumbs=spec)  # type: ignore[arg-type]
    assert info.duration_s == pytest.approx(3.0, abs=0.05)  # the progress still reads true
    checked = np.stack(list(iter_thumbs(spec)))
    assert checked.shape == (math.ceil(3.0 * THUMB_FPS), 144, 256)
    assert not list(tmp_path.glob("*.part"))

    alone = ThumbSpec(tmp_path / "alone.thumbs", 256, 144)
    run(thumbs_command(ffmpeg_tools.ffmpeg, clip, alone), timeout_s=60)
    assert np.array_equal(np.stack(list(iter_thumbs(alone))), checked)
    # Sample k shows k / 8 s: the sync mark flashes white in the first 0.1 s of each second.
    brightness = checked.reshape(len(checked), -1).mean(axis=1)
    flashes = [k for k in range(len(checked)) if brightness[k] > 200]
    assert flashes == [0, 8, 16]


@pytest.mark.slow
def test_a_failed_check_leaves_no_thumbnails(
    ffmpeg_tools: FFmpegTools, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=3.0)
    spec = ThumbSpec(tmp_path / "x.thumbs", 256, 256)
    with pytest.raises(VerificationError):
        verify(clip, ffmpeg_tools, **{**ANY_FILE, "expected_duration_s": 9.0}, thumbs=spec)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_intake_keeps_the_inputs_thumbnails(
    ffmpeg_tools: FFmpegTools, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=3.0, width=1280, height=720, rotation=90)
    job = tmp_path / "job"
    job.mkdir()
    intake = take_in(
        clip, job, ffmpeg_tools, max_bytes=10**9, timeout_s=60, thumbs=job / "source.thumbs"
    )
    assert intake.thumbs is not None
    # Displayed upright (portrait): the thumbnails are too.
    assert (intake.thumbs.width, intake.thumbs.height) == (144, 256)
    assert np.stack(list(iter_thumbs(intake.thumbs))).shape == (24, 256, 144)
