"""The fidelity check's thumbnails: their size, their grid of times, and that the decode check
makes them in passing (whole, or not at all) with every ffmpeg reskin supports."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from reskin.errors import VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import GLOBAL_ARGS
from reskin.media.intake import take_in
from reskin.media.runner import run
from reskin.media.stitch import Piece, stitch_pieces
from reskin.media.thumbs import (
    THUMB_FPS,
    PieceSamples,
    ThumbSpec,
    iter_thumbs,
    piece_samples,
    piece_thumbs_command,
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


# --- a stitched video's thumbnails from its pieces -------------------------------------------


@pytest.mark.parametrize(
    ("rate", "offset", "frames", "samples"),
    [
        (24, 0, 10, PieceSamples(1, 3, 10)),  # frames 1, 4, 7: samples 0, 1, 2 of the whole
        (24, 5, 10, PieceSamples(2, 3, 10)),  # frame 2 is frame 7 of the whole: sample 2
        (24, 7, 1, PieceSamples(0, 3, 1)),  # its one frame is sample 2
        (24, 8, 1, PieceSamples(2, 3, 1)),  # none: frame 8 of the whole is no sample
        (16, 3, 4, PieceSamples(1, 2, 4)),  # sample k is frame 2k
        (8, 3, 2, PieceSamples(0, 1, 2)),  # every frame
        (25, 0, 10, None),  # not a whole multiple of the thumbnails' rate
        (23.976, 0, 10, None),
    ],
)
def test_a_piece_gives_the_samples_whose_frames_it_holds(
    rate: float, offset: int, frames: int, samples: PieceSamples | None
) -> None:
    assert piece_samples(rate, offset, frames) == samples
    if samples is not None:
        assert samples.count == len(range(samples.first, frames, samples.step))


def test_a_piece_is_trimmed_stepped_and_scaled_with_numbers_only() -> None:
    argv = piece_thumbs_command(
        Path("/ff"),
        Path("/r/a.mp4"),
        ThumbSpec(Path("/r/a.thumbs"), 256, 144),
        PieceSamples(2, 3, 50),
    )
    assert argv[argv.index("-vf") + 1] == (
        "trim=start_frame=2:end_frame=50,framestep=step=3,scale=256:144:flags=area,format=gray"
    )
    assert argv[argv.index("-fps_mode") + 1] == "passthrough"  # one sample out per frame kept
    assert argv[-1] == "/r/a.thumbs"


@pytest.mark.slow
def test_the_pieces_of_a_copied_stitch_give_its_thumbnails_byte_for_byte(
    ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # Three results of a moving picture at 24 fps (x264 ultrafast: one set of parameters, no
    # B-frames), the second a frame long: joined by stream copy.
    pieces = []
    for index, (made, used) in enumerate(((25, 25), (24, 23), (20, 20))):
        path = tmp_path / f"piece-{index}.mp4"
        run([str(ffmpeg_tools.ffmpeg), *GLOBAL_ARGS, "-f", "lavfi", "-ss", str(7 * index),
             "-i", "testsrc2=size=320x240:rate=24", "-frames:v", str(made), "-c:v", "libx264",
             "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], timeout_s=60)  # fmt: skip
        pieces.append(Piece(path, used))
    whole = tmp_path / "whole.mp4"
    stitch_pieces(pieces, tmp_path / "units", whole, ffmpeg_tools, width=320, height=240, fps=24,
                  preset="ultrafast", crf=23, timeout_s=60)  # fmt: skip
    assert (tmp_path / "units" / "unit-00000.mp4").is_symlink()  # copied, nothing encoded
    size = thumb_size(320, 240)
    decoded = ThumbSpec(tmp_path / "whole.thumbs", *size)
    run(thumbs_command(ffmpeg_tools.ffmpeg, whole, decoded), timeout_s=60)

    laid, offset = b"", 0
    for index, piece in enumerate(pieces):
        samples = piece_samples(24, offset, piece.frames)
        assert samples is not None
        spec = ThumbSpec(tmp_path / f"piece-{index}.thumbs", *size)
        run(piece_thumbs_command(ffmpeg_tools.ffmpeg, piece.path, spec, samples), timeout_s=60)
        data = spec.path.read_bytes()
        assert len(data) == samples.count * spec.frame_bytes
        laid += data
        offset += piece.frames
    whole_thumbs = decoded.path.read_bytes()
    assert len(whole_thumbs) == math.ceil((68 - 1) / 3) * decoded.frame_bytes  # 23 samples
    assert laid == whole_thumbs
