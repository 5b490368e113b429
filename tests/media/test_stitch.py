"""Stitching: the command as data, then real ffmpeg on tiny clips whose frames can be told apart
by brightness alone (black, white, a single white frame), so a dropped, repeated or blended frame
shows in a list of numbers."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import ffmpeg
import pytest

from reskin.errors import VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS
from reskin.media.probe import OPEN_OPTIONS, probe
from reskin.media.runner import run
from reskin.media.stitch import (
    Piece,
    Stitched,
    concat_command,
    concat_list,
    copyable,
    expected_frames,
    stitch,
    stitch_command,
    stitch_pieces,
    units,
)
from reskin.media.x264 import Matching, matching_options

from .corpus import MakeClip

EXE = Path("/opt/ffmpeg/bin/ffmpeg")
OUT = Path("/data/out.mp4")
#: The output of the real runs: another size and rate than most pieces.
SIZE = {"width": 256, "height": 192}
FPS = 24
_LABELS = re.compile(r"^(\[[\w:]+\])+|\[\w+\]$")
#: Mean brightness (0..255) below which a frame is black, above which it is white.
DARK, BRIGHT = 16, 240


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _steps(argv: list[str]) -> list[str]:
    """The filters of the graph, labels dropped, in the order ffmpeg-python wrote them."""
    return [_LABELS.sub("", part) for part in _graph(argv).split(";")]


def _graph(argv: list[str]) -> str:
    return _value(argv, "-filter_complex")


def _command(pieces: Sequence[Piece], **changes: Any) -> list[str]:
    options: dict[str, Any] = {"width": 1280, "height": 720, "fps": 24, "preset": "veryfast"}
    options.update(crf=20, **changes)
    return stitch_command(EXE, pieces, OUT, **options)


def _pieces(*frames_and_overlaps: tuple[int, int]) -> list[Piece]:
    return [
        Piece(Path(f"/data/piece{index}.mp4"), frames, overlap)
        for index, (frames, overlap) in enumerate(frames_and_overlaps)
    ]


# --- the command ------------------------------------------------------------------------------


def test_every_piece_is_opened_with_the_guards() -> None:
    argv = _command(_pieces((24, 0), (24, 0), (24, 8)))
    inputs = [index for index, part in enumerate(argv) if part == "-i"]

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    assert [argv[i + 1] for i in inputs] == [f"/data/piece{n}.mp4" for n in range(3)]
    for flag, value in FILE_INPUT_GUARDS.items():
        where = [i for i, part in enumerate(argv) if part == f"-{flag}"]
        assert len(where) == len(inputs)
        assert all(argv[i + 1] == value for i in where)
        assert all(w < i for w, i in zip(where, inputs, strict=True))


def test_each_piece_is_normalised_then_made_exactly_its_length() -> None:
    argv = _command(_pieces((30, 0)), width=256, height=192)

    assert _steps(argv) == [
        "fps=24",
        "scale=256:192",
        "setsar=1",
        "format=yuv420p",
        "tpad=stop=30:stop_mode=clone",
        "trim=end_frame=30",
        "setpts=PTS-STARTPTS",
    ]


def test_a_hard_cut_is_a_concat_back_on_the_output_time_base() -> None:
    steps = _steps(_command(_pieces((24, 0), (24, 0))))

    assert steps[-2:] == ["concat=a=0:n=2:v=1", "settb=1/24"]


def test_a_cross_fade_starts_overlap_frames_before_the_end_of_what_came_before() -> None:
    # cut, fade, cut: 24 + 24 frames, then 8 of the third piece's 24 over the last 8 of those.
    steps = _steps(_command(_pieces((24, 0), (24, 0), (24, 8), (24, 0))))
    joins = [step for step in steps if step.startswith(("concat", "settb", "xfade"))]

    assert joins == [
        "concat=a=0:n=2:v=1",
        "settb=1/24",
        "xfade=duration=0.333333:offset=1.666667:transition=fade",
        "concat=a=0:n=2:v=1",
        "settb=1/24",
    ]


def test_a_fractional_rate_is_written_exactly() -> None:
    argv = _command(_pieces((30, 0), (30, 0)), fps=30000 / 1001)

    assert _value(argv, "-r") == "30000/1001"
    assert "settb=1001/30000" in _steps(argv)
    assert "fps=30000/1001" in _steps(argv)


def test_the_output_is_h264_constant_rate_silent_mp4_without_metadata() -> None:
    argv = _command(_pieces((24, 0)))

    assert _value(argv, "-vcodec") == "libx264"
    assert _value(argv, "-pix_fmt") == "yuv420p"
    assert _value(argv, "-preset") == "veryfast"
    assert _value(argv, "-crf") == "20"
    assert _value(argv, "-r") == "24"
    assert _value(argv, "-fps_mode") == "cfr"
    assert _value(argv, "-movflags") == "+faststart"
    assert _value(argv, "-map_metadata") == "-1"
    assert _value(argv, "-f") == "mp4"
    assert "-an" in argv
    assert argv[-1] == str(OUT)


@pytest.mark.parametrize(
    ("pieces", "message"),
    [
        ([], "no pieces"),
        (_pieces((24, 2)), "first piece"),
        (_pieces((0, 0)), "frames"),
        (_pieces((24, 0), (24, -1)), "overlap"),
        (_pieces((24, 0), (8, 9)), "overlaps by more"),
        (_pieces((4, 0), (24, 5)), "overlaps by more"),
        ([Piece(Path("/data/a.mp4"), 24), Piece(Path("/data/a.mp4"), 24)], "file of its own"),
    ],
)
def test_impossible_pieces_are_refused(pieces: list[Piece], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _command(pieces)


def test_a_bad_preset_or_odd_size_is_refused() -> None:
    with pytest.raises(ValueError, match="option value"):
        _command(_pieces((24, 0)), preset="fast; rm")
    with pytest.raises(ValueError, match="even"):
        _command(_pieces((24, 0)), width=255)


def test_expected_frames_is_the_frames_less_the_overlaps() -> None:
    assert expected_frames(_pieces((24, 0), (23, 0), (30, 8), (12, 4))) == 24 + 23 + 30 + 12 - 12


# --- real ffmpeg ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(
    ffmpeg_tools: FFmpegTools, make_clip: MakeClip, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Pieces as the service might return them, 24 frames at 24 fps unless named otherwise."""
    folder = tmp_path_factory.mktemp("pieces")

    def make(name: str, **options: Any) -> Path:
        path = folder / f"{name}.mp4"
        run(_solid_command(ffmpeg_tools.ffmpeg, path, **options), timeout_s=60)
        return path

    return {
        "black": make("black"),
        "black_again": make("black_again"),
        "white_first": make("white_first", white=[0]),
        "white_last": make("white_last", white=[23]),
        "white_30fps": make("white_30fps", colour="white", fps=30, frames=30, size="160x120"),
        # As a service with B-frames and CABAC would return them (x264 veryfast).
        "black_veryfast": make("black_veryfast", preset="veryfast"),
        "white_first_veryfast": make("white_first_veryfast", white=[0], preset="veryfast"),
        "pattern_30fps": make_clip(duration_s=1, width=320, height=240, fps=30, audio=False),
    }


def _solid_command(
    exe: Path,
    output: Path,
    *,
    colour: str = "black",
    fps: int = 24,
    frames: int = 24,
    size: str = "320x240",
    white: Sequence[int] = (),
    preset: str = "ultrafast",
) -> list[str]:
    """A clip of one colour, with the frames numbered in ``white`` all white."""
    source = ffmpeg.input(
        f"color=c={colour}:size={size}:rate={fps}", f="lavfi", format_whitelist="lavfi"
    )
    video = source.video
    if white:
        marked = "+".join(f"eq(n,{n})" for n in white)
        video = video.filter(
            "drawbox", x=0, y=0, w="iw", h="ih", color="white", t="fill", enable=marked
        )
    out = ffmpeg.output(
        video,
        str(output),
        vcodec="libx264",
        preset=preset,
        pix_fmt="yuv420p",
        **{"frames:v": frames},
    )
    argv: list[str] = out.compile(cmd=[str(exe), *GLOBAL_ARGS])
    return argv


def _stitched(tools: FFmpegTools, folder: Path, pieces: Sequence[Piece]) -> list[float]:
    """Stitch ``pieces`` at :data:`FPS` and :data:`SIZE`; the brightness of every frame."""
    output = folder / "stitched.mp4"
    info = stitch(pieces, output, tools, width=SIZE["width"], height=SIZE["height"], fps=FPS,
                  preset="ultrafast", crf=23, timeout_s=60)  # fmt: skip
    assert (info.width, info.height, info.fps, info.has_audio) == (256, 192, FPS, False)
    return _brightness(output)


def _brightness(path: Path) -> list[float]:
    """The mean brightness (0..255) of every decoded frame of ``path``, in order."""
    levels: list[float] = []
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        for frame in container.decode(video=0):
            plane = frame.reformat(width=16, height=16, format="gray").planes[0]
            data = bytes(plane)
            values = [data[y * plane.line_size + x] for y in range(16) for x in range(16)]
            levels.append(sum(values) / len(values))
    return levels


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(23, id="a-frame-long"),
        pytest.param(25, id="a-frame-short"),
        pytest.param(30, id="six-frames-short"),
    ],
)
def test_a_piece_of_another_size_and_rate_lasts_exactly_the_frames_asked(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path, frames: int
) -> None:
    # 30 frames at 30 fps, 320x240: 24 frames once at 24 fps.
    levels = _stitched(ffmpeg_tools, tmp_path, [Piece(clips["pattern_30fps"], frames)])

    assert len(levels) == frames


def test_a_short_piece_repeats_its_last_frame(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    levels = _stitched(ffmpeg_tools, tmp_path, [Piece(clips["white_last"], 30)])

    assert len(levels) == 30
    assert all(level < DARK for level in levels[:23])
    assert all(level > BRIGHT for level in levels[23:])


def test_a_hard_cut_shows_the_next_piece_from_its_first_frame(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    pieces = [Piece(clips["black"], 24), Piece(clips["white_first"], 24)]

    levels = _stitched(ffmpeg_tools, tmp_path, pieces)

    assert len(levels) == 48
    assert [level > BRIGHT for level in levels[22:27]] == [False, False, True, False, False]


def test_a_cross_fade_blends_the_overlap(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # black for 24 frames, then white (30 fps, 160x120) faded in over the last 8 of them.
    pieces = [Piece(clips["black"], 24), Piece(clips["white_30fps"], 24, overlap=8)]

    levels = _stitched(ffmpeg_tools, tmp_path, pieces)

    assert len(levels) == 24 + 24 - 8
    assert all(level < DARK for level in levels[:17])  # the fade's first frame is still black
    fade = levels[16:24]
    assert fade == sorted(fade)
    assert 64 < levels[20] < 192  # the middle of the fade is half way
    assert all(level > BRIGHT for level in levels[24:])


def test_cuts_and_fades_mix_in_one_chain(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # cut, fade, cut: 12 black | 12 black with a white first | 12 white over 4 | 12 black
    pieces = [
        Piece(clips["black"], 12),
        Piece(clips["white_first"], 12),
        Piece(clips["white_30fps"], 12, overlap=4),
        Piece(clips["black_again"], 12),
    ]

    levels = _stitched(ffmpeg_tools, tmp_path, pieces)

    assert len(levels) == expected_frames(pieces) == 44
    bright = [level > BRIGHT for level in levels]
    assert bright[11:14] == [False, True, False]  # the first cut
    assert DARK < levels[21] < BRIGHT  # inside the fade (frames 20..23)
    assert all(bright[24:32])
    assert not any(bright[32:])  # the second cut


def test_a_result_of_the_wrong_length_is_refused_in_one_line(
    clips: dict[str, Path],
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ffmpeg makes what it is asked: a short result can only be staged, by the probe's answer.
    real = probe(clips["black"])
    monkeypatch.setattr(
        "reskin.media.stitch.probe",
        lambda path, **_: dataclasses.replace(real, path=path, duration_s=23 / FPS),
    )

    with pytest.raises(VerificationError, match=r"has 23 frames .* expected 24") as caught:
        stitch(
            [Piece(clips["black"], 24)],
            tmp_path / "short.mp4",
            ffmpeg_tools,
            width=SIZE["width"],
            height=SIZE["height"],
            fps=FPS,
            preset="ultrafast",
            crf=23,
            timeout_s=60,
        )

    assert "\n" not in str(caught.value)
    assert caught.value.path == tmp_path / "short.mp4"


# --- in units: bounded memory at any length ---------------------------------------------------


def test_units_end_where_the_next_piece_fades_in_and_carry_the_tail_they_fade_from() -> None:
    pieces = _pieces((12, 0), (12, 0), (12, 4), (12, 0))
    made = units(pieces)
    assert [[(p.frames, p.overlap, p.skip) for p in unit] for unit in made] == [
        [(12, 0, 0)],
        [(8, 0, 0)],  # up to where the third fades in
        [(4, 0, 8), (12, 4, 0)],  # the second's last 4 frames, faded into the third
        [(12, 0, 0)],
    ]
    assert [unit[-1].path for unit in made] == [p.path for p in pieces]
    assert sum(expected_frames(unit) for unit in made) == expected_frames(pieces)


def test_the_concat_list_takes_plain_names_only() -> None:
    assert concat_list(["unit-00000.mp4", "unit-00001.mp4"], [0.5, 1 / 3]) == (
        "ffconcat version 1.0\nfile 'unit-00000.mp4'\nduration 0.500000\n"
        "file 'unit-00001.mp4'\nduration 0.333333\n"
    )
    for name in ("../x.mp4", "/tmp/x.mp4", "a'b.mp4", ""):
        with pytest.raises(ValueError, match="plain file name"):
            concat_list([name], [1.0])


def test_the_concat_is_a_stream_copy_of_mp4_files_only(tmp_path: Path) -> None:
    argv = concat_command(Path("/usr/bin/ffmpeg"), tmp_path / "units.ffconcat", tmp_path / "o.mp4")
    assert _value(argv, "-f") == "concat"
    assert _value(argv, "-safe") == "1"
    assert _value(argv, "-protocol_whitelist") == "file"
    assert _value(argv, "-format_whitelist") == "concat,mov"
    assert _value(argv, "-c") == "copy"


def test_in_units_cuts_and_fades_give_the_same_frames_as_one_command(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    pieces = [
        Piece(clips["black"], 12),
        Piece(clips["white_first"], 12),
        Piece(clips["white_30fps"], 12, overlap=4),
        Piece(clips["black_again"], 12),
    ]
    output = tmp_path / "joined.mp4"
    info = stitch_pieces(
        pieces,
        tmp_path / "units",
        output,
        ffmpeg_tools,
        width=SIZE["width"],
        height=SIZE["height"],
        fps=FPS,
        preset="ultrafast",
        crf=23,
        timeout_s=60,
    ).info
    assert (info.width, info.height, info.fps) == (256, 192, FPS)
    levels = _brightness(output)
    assert len(levels) == 44
    bright = [level > BRIGHT for level in levels]
    assert bright[11:14] == [False, True, False]
    assert DARK < levels[21] < BRIGHT  # inside the fade, made within the third unit
    assert all(bright[24:32])
    assert not any(bright[32:])


def test_exact_pieces_are_joined_by_copy_and_a_surplus_frame_cut_at_the_outpoint(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # 24 black frames, then the white-first clip less its last frame: no B-frames (ultrafast).
    pieces = [Piece(clips["black"], 24), Piece(clips["white_first"], 23)]
    assert copyable(pieces, width=320, height=240, fps=24)
    assert not copyable(pieces, **SIZE, fps=24)  # another size: encoded
    assert not copyable([Piece(clips["black"], 25)], width=320, height=240, fps=24)  # short
    assert not copyable([*pieces[:1], Piece(clips["white_first"], 23, overlap=2)], width=320,
                        height=240, fps=24)  # fmt: skip
    output = tmp_path / "copied.mp4"
    info = stitch_pieces(
        pieces,
        tmp_path / "units",
        output,
        ffmpeg_tools,
        width=320,
        height=240,
        fps=24,
        preset="ultrafast",
        crf=23,
        timeout_s=60,
    ).info
    assert (tmp_path / "units" / "unit-00000.mp4").is_symlink()  # nothing was encoded
    assert info.duration_s == pytest.approx(47 / 24, abs=0.5 / 24)
    levels = _brightness(output)
    assert len(levels) == 47
    assert [level > BRIGHT for level in levels[22:27]] == [False, False, True, False, False]


# --- mixed: the exact results copied, the others encoded to their parameters -------------------


def _params(path: Path) -> bytes:
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
        return bytes(box.streams.video[0].codec_context.extradata or b"")


def _frame_hashes(path: Path) -> list[str]:
    """A hash of every decoded frame's pixels: equal hashes, the same picture to the bit."""
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
        return [
            hashlib.sha256(frame.to_ndarray(format="yuv420p").tobytes()).hexdigest()
            for frame in box.decode(video=0)
        ]


def _decode_errors(tools: FFmpegTools, path: Path) -> str:
    """What ffmpeg says decoding ``path`` whole, stopping at the first error (empty: none)."""
    argv = [str(tools.ffmpeg), "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60).stderr


def _mixed(
    tools: FFmpegTools, folder: Path, pieces: Sequence[Piece], **options: Any
) -> tuple[Stitched, Path]:
    output = folder / "mixed.mp4"
    made = stitch_pieces(
        pieces,
        folder / "units",
        output,
        tools,
        width=320,
        height=240,
        fps=24,
        preset="ultrafast",
        crf=30,
        timeout_s=60,
        **options,
    )
    return made, output


def test_x264_options_are_read_from_its_sei_and_none_without_it(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    found = matching_options(clips["black"])  # x264 ultrafast, crf 23, not tagged
    assert found is not None
    options = dict(item.split("=") for item in found.x264_params.split(":"))
    assert options["cabac"] == "0"
    assert options["bframes"] == "0"
    assert options["crf"] == "23.0"
    assert options["psy"] == "0"
    assert found.colour["color_primaries"] == 2  # unspecified, as the result has it
    # The same stream without its SEI: nothing says how it was made.
    bare = tmp_path / "bare.mp4"
    run(_strip_sei(ffmpeg_tools.ffmpeg, clips["black"], bare), timeout_s=60)
    assert matching_options(bare) is None
    assert _params(bare) == _params(clips["black"])


def _strip_sei(exe: Path, source: Path, output: Path) -> list[str]:
    guards = [part for name, value in FILE_INPUT_GUARDS.items() for part in (f"-{name}", value)]
    return [
        str(exe), *GLOBAL_ARGS, *guards, "-i", str(source), "-map", "0:v:0", "-c", "copy",
        "-bsf:v", "filter_units=remove_types=6", str(output),
    ]  # fmt: skip


@pytest.mark.parametrize("made_by", ["", "_veryfast"], ids=["ultrafast", "b-frames-cabac"])
def test_exact_results_are_copied_and_the_others_encoded_to_their_parameters(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path, made_by: str
) -> None:
    # exact | 30 fps at 160x120 (encoded) | exact with a white first frame
    black, white_first = clips[f"black{made_by}"], clips[f"white_first{made_by}"]
    pieces = [Piece(black, 24), Piece(clips["white_30fps"], 24), Piece(white_first, 24)]

    made, output = _mixed(ffmpeg_tools, tmp_path, pieces)

    assert made.copied == (True, False, True)
    units_dir = tmp_path / "units"
    assert (units_dir / "unit-00000.mp4").is_symlink()
    assert not (units_dir / "unit-00001.mp4").is_symlink()
    # The encoded unit has the copied results' H.264 parameters, byte for byte: one MP4 track.
    assert _params(units_dir / "unit-00001.mp4") == _params(black)
    assert _params(output) == _params(black)
    assert _decode_errors(ffmpeg_tools, output) == ""
    hashes = _frame_hashes(output)
    assert len(hashes) == expected_frames(pieces) == 72
    # The copied results show their very frames; the encoded one its own picture.
    assert hashes[:24] == _frame_hashes(black)
    assert hashes[48:] == _frame_hashes(white_first)
    levels = _brightness(output)
    assert all(level < DARK for level in levels[:24])
    assert all(level > BRIGHT for level in levels[24:49])
    assert all(level < DARK for level in levels[49:])
    assert made.info.duration_s == pytest.approx(72 / 24, abs=0.5 / 24)


def test_a_cross_fade_unit_is_encoded_between_copied_ones(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # cut, cut, fade, cut: the second's own unit ends where the third fades in (8 frames short
    # of the file: encoded), the third is the fade (encoded), the first and last are copied.
    pieces = [
        Piece(clips["black"], 24),
        Piece(clips["white_first"], 24),
        Piece(clips["white_30fps"], 24, overlap=8),
        Piece(clips["black_again"], 24),
    ]

    made, output = _mixed(ffmpeg_tools, tmp_path, pieces)

    assert made.copied == (True, False, False, True)
    assert _decode_errors(ffmpeg_tools, output) == ""
    hashes = _frame_hashes(output)
    assert len(hashes) == expected_frames(pieces) == 88
    assert hashes[-24:] == _frame_hashes(clips["black_again"])
    levels = _brightness(output)
    assert levels[24] > BRIGHT  # the white first frame, encoded
    assert levels[25] < DARK
    fade = levels[40:48]
    assert fade == sorted(fade)
    assert DARK < levels[44] < BRIGHT
    assert all(level > BRIGHT for level in levels[48:64])
    assert all(level < DARK for level in levels[64:])


def test_an_exact_result_with_other_parameters_is_encoded_to_the_most_common_ones(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # Exact all three, but the middle one made otherwise (CABAC, B-frames): one track has one
    # set of parameters, so it is the one encoded, to the two others' set.
    pieces = [
        Piece(clips["black"], 24),
        Piece(clips["white_first_veryfast"], 24),
        Piece(clips["black_again"], 24),
    ]

    made, output = _mixed(ffmpeg_tools, tmp_path, pieces)

    assert made.copied == (True, False, True)
    assert _params(tmp_path / "units" / "unit-00001.mp4") == _params(clips["black"])
    assert _decode_errors(ffmpeg_tools, output) == ""
    assert [level > BRIGHT for level in _brightness(output)] == [False] * 24 + [True] + [False] * 47


def test_results_not_known_to_be_x264_are_all_encoded(
    clips: dict[str, Path], ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    bare = tmp_path / "bare.mp4"
    run(_strip_sei(ffmpeg_tools.ffmpeg, clips["black"], bare), timeout_s=60)
    pieces = [Piece(bare, 24), Piece(clips["white_30fps"], 24)]

    made, output = _mixed(ffmpeg_tools, tmp_path, pieces)

    assert made.copied == (False, False)
    assert not (tmp_path / "units" / "unit-00000.mp4").is_symlink()
    assert _decode_errors(ffmpeg_tools, output) == ""
    assert len(_brightness(output)) == 48


def test_an_encoded_unit_that_does_not_match_has_every_unit_encoded(
    clips: dict[str, Path],
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another x264 stream's options (CABAC, B-frames): the encoded unit's parameters differ
    # from the copied results', so nothing is copied after all, and the join is still whole.
    other = tmp_path / "other.mp4"
    run(_solid_command(ffmpeg_tools.ffmpeg, other, preset="veryfast"), timeout_s=60)
    wrong = matching_options(other)
    monkeypatch.setattr("reskin.media.stitch.matching_options", lambda path: wrong)
    pieces = [Piece(clips["black"], 24), Piece(clips["white_30fps"], 24)]

    made, output = _mixed(ffmpeg_tools, tmp_path, pieces)

    assert made.copied == (False, False)
    assert _params(output) == _params(other)
    assert _decode_errors(ffmpeg_tools, output) == ""
    assert len(_brightness(output)) == 48


def test_a_match_ffmpeg_refuses_has_every_unit_encoded_as_before(
    clips: dict[str, Path],
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Whatever makes the matched encode fail (here a pixel aspect ratio setsar refuses), the
    # stitch still comes out whole, every unit encoded with the stitch's own settings.
    refused = Matching("psy=0", {}, -1)
    monkeypatch.setattr("reskin.media.stitch.matching_options", lambda path: refused)
    pieces = [Piece(clips["black"], 24), Piece(clips["white_30fps"], 24)]

    made, output = _mixed(ffmpeg_tools, tmp_path, pieces)

    assert made.copied == (False, False)
    assert _decode_errors(ffmpeg_tools, output) == ""
    assert len(_brightness(output)) == 48


def test_the_concat_list_cuts_only_the_files_flagged_from_their_pictures_first_frame() -> None:
    # b's picture starts a frame in (504 / 12288 s): read from there, cut half a frame early.
    listing = concat_list(
        ["a.mp4", "b.mp4"], [1.0, 0.5], cut=[False, True], starts_s=[0.0, 504 / 12288],
        frame_s=1 / 24,
    )  # fmt: skip
    assert listing == (
        "ffconcat version 1.0\nfile 'a.mp4'\nduration 1.000000\n"
        "file 'b.mp4'\ninpoint 0.041015\noutpoint 0.520182\nduration 0.500000\n"
    )
