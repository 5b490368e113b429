"""Scene cuts: the command as data, the parser on both ffmpegs' output, and real ffmpeg on a clip
whose cuts sit on known frames (testsrc2 for 347 frames, smptebars for 40, testsrc2 again)."""

from __future__ import annotations

import math
from pathlib import Path

import ffmpeg
import pytest

from reskin.errors import FFmpegError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS
from reskin.media.runner import run
from reskin.media.scenes import (
    DEFAULT_THRESHOLD,
    SceneCut,
    detect_cuts,
    parse_cuts,
    scene_command,
)

from .corpus import MakeClip

EXE = Path("/opt/ffmpeg/bin/ffmpeg")
SRC = Path("/data/in.mov")
FPS = 30
#: The frames where the clip of :func:`three_scenes` changes scene.
CUT_FRAMES = (347, 387)
#: How close a reported cut must be to its frame's time.
MS = 0.001


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.fixture(scope="module")
def three_scenes(
    ffmpeg_tools: FFmpegTools, make_clip: MakeClip, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A 30 fps clip of three scenes, cut at the frames of :data:`CUT_FRAMES`."""
    size = {"width": 320, "height": 240, "fps": FPS, "audio": False}
    parts = [
        (make_clip(duration_s=12, pattern="testsrc2", **size), CUT_FRAMES[0]),
        (make_clip(duration_s=2, pattern="smptebars", **size), CUT_FRAMES[1] - CUT_FRAMES[0]),
        (make_clip(duration_s=1, pattern="testsrc2", **size), FPS),
    ]
    streams = [
        ffmpeg.input(str(path), **FILE_INPUT_GUARDS)["v:0"]
        .filter("trim", end_frame=frames)
        .filter("setpts", "PTS-STARTPTS")
        for path, frames in parts
    ]
    output = tmp_path_factory.mktemp("scenes") / "three-scenes.mp4"
    joined = ffmpeg.concat(*streams, v=1, a=0)
    out = ffmpeg.output(joined, str(output), vcodec="libx264", preset="ultrafast", r=FPS)
    run(out.compile(cmd=[str(ffmpeg_tools.ffmpeg), *GLOBAL_ARGS]), timeout_s=120)
    return output


@pytest.fixture(scope="module")
def one_scene(make_clip: MakeClip) -> Path:
    return make_clip(duration_s=3, width=320, height=240, fps=FPS, audio=False)


# --- the command ------------------------------------------------------------------------------


def test_the_command_opens_its_input_with_the_guards_and_seeks_before_it() -> None:
    argv = scene_command(EXE, SRC, threshold=0.3, start_s=12.5, duration_s=4)
    where = argv.index("-i")

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    assert argv[where + 1] == str(SRC)
    for flag, value in [*FILE_INPUT_GUARDS.items(), ("ss", "12.500000"), ("t", "4.000000")]:
        assert _value(argv, f"-{flag}") == value
        assert argv.index(f"-{flag}") < where


def test_the_command_scores_a_small_picture_and_prints_microseconds() -> None:
    argv = scene_command(EXE, SRC, threshold=0.25, analysis_width=96)
    graph = _value(argv, "-filter_complex")
    steps = [part.split("]")[1].split("[")[0] for part in graph.split(";")]

    assert steps == [
        "scale=96:-2",
        r"select=gt(scene\,0.250000)",
        "settb=1/1000000",
        "metadata=file=-:key=lavfi.scene_score:mode=print",
    ]


def test_the_command_decodes_video_only_to_nothing() -> None:
    argv = scene_command(EXE, SRC, threshold=0.3)

    assert "-an" in argv
    assert _value(argv, "-f") == "null"
    assert argv[-1] == "-"
    assert "-ss" not in argv  # no window: from the start
    assert all(isinstance(part, str) for part in argv)


def test_a_relative_path_is_made_absolute(tmp_path: Path) -> None:
    argv = scene_command(EXE, Path("clip.mp4"), threshold=0.3)

    assert _value(argv, "-i") == str(tmp_path / "clip.mp4")  # the test runs in tmp_path


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_a_threshold_outside_0_1_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        scene_command(EXE, SRC, threshold=threshold)


@pytest.mark.parametrize("width", [0, 161, -2])
def test_an_odd_or_empty_analysis_width_is_refused(width: int) -> None:
    with pytest.raises(ValueError, match="width"):
        scene_command(EXE, SRC, threshold=0.3, analysis_width=width)


# --- the parser -------------------------------------------------------------------------------

_PRINTED = """\
frame:1    pts:13566667 pts_time:13.5667
lavfi.scene_score=0.749430
frame:0    pts:11566667 pts_time:11.5667
lavfi.scene_score=0.704164
[Parsed_metadata_3 @ 0x5580] something else on the same pipe
frame:0    pts:11566667 pts_time:11.566667
lavfi.scene_score=0.600000
frame:2    pts:NOPTS   pts_time:NOPTS
lavfi.scene_score=0.9
"""


def test_the_parser_reads_pts_in_microseconds_sorted_and_once_per_frame() -> None:
    assert parse_cuts(_PRINTED) == [
        SceneCut(at_s=11.566667, score=0.704164),
        SceneCut(at_s=13.566667, score=0.74943),
    ]


def test_the_parser_finds_nothing_in_nothing() -> None:
    assert parse_cuts("") == []


# --- real ffmpeg ------------------------------------------------------------------------------


def test_cuts_are_found_on_the_first_frame_of_each_new_scene(
    three_scenes: Path, ffmpeg_tools: FFmpegTools
) -> None:
    cuts = detect_cuts(three_scenes, ffmpeg_tools, timeout_s=60)

    assert [cut.at_s for cut in cuts] == pytest.approx([f / FPS for f in CUT_FRAMES], abs=MS)
    assert all(DEFAULT_THRESHOLD < cut.score <= 1 for cut in cuts)


def test_a_clip_of_one_scene_has_no_cuts(one_scene: Path, ffmpeg_tools: FFmpegTools) -> None:
    assert detect_cuts(one_scene, ffmpeg_tools, timeout_s=60) == []


@pytest.mark.parametrize(
    ("start_s", "duration_s", "expected"),
    [
        (10.0, 2.0, [CUT_FRAMES[0] / FPS - 10]),  # the first cut only
        (12.0, None, [CUT_FRAMES[1] / FPS - 12]),  # the second, to the end
        (1.0, 5.0, []),  # inside the first scene
        (CUT_FRAMES[0] / FPS, None, [(CUT_FRAMES[1] - CUT_FRAMES[0]) / FPS]),  # starts on a cut
    ],
)
def test_times_count_from_the_window_start(
    three_scenes: Path,
    ffmpeg_tools: FFmpegTools,
    start_s: float,
    duration_s: float | None,
    expected: list[float],
) -> None:
    cuts = detect_cuts(
        three_scenes, ffmpeg_tools, start_s=start_s, duration_s=duration_s, timeout_s=60
    )

    assert [cut.at_s for cut in cuts] == pytest.approx(expected, abs=MS)


def test_a_higher_threshold_keeps_only_the_stronger_cuts(
    three_scenes: Path, ffmpeg_tools: FFmpegTools
) -> None:
    scores = [cut.score for cut in detect_cuts(three_scenes, ffmpeg_tools, timeout_s=60)]
    between = (min(scores) + max(scores)) / 2

    stronger = detect_cuts(three_scenes, ffmpeg_tools, threshold=between, timeout_s=60)

    assert [cut.score for cut in stronger] == [max(scores)]


def test_a_file_that_is_not_a_video_fails_with_ffmpegs_error(
    tmp_path: Path, ffmpeg_tools: FFmpegTools
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")

    with pytest.raises(FFmpegError):
        detect_cuts(text, ffmpeg_tools, timeout_s=60)
