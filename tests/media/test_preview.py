"""The before/after contact sheet: the pure layout and argv, then real sheets of generated clips,
each tile compared with the frames of its clip decoded by PyAV."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import ffmpeg
import pytest

from reskin.errors import FFmpegError, InputError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS, render_command
from reskin.media.preview import (
    SheetPlan,
    SheetRows,
    can_draw_text,
    contact_sheet,
    contact_sheet_command,
    plan_sheet,
    sheet_from_rows,
    sheet_moments,
    tile_size,
)
from reskin.media.probe import OPEN_OPTIONS, probe
from reskin.media.runner import run
from reskin.media.verify import verify
from tests.infos import media_info

from .corpus import MakeClip

EXE = Path("/opt/ffmpeg/bin/ffmpeg")
#: Mean absolute difference (0..255) per channel on a 16x9 grid.
Signature = list[tuple[float, float, float]]
#: A tile and the frame it was taken from differ by the scaling and the 256-colour palette
#: only (measured: about 1); a negative of the picture differs by about 200.
SAME_PICTURE = 6.0


# --- the layout -----------------------------------------------------------------------------


def test_moments_are_the_middles_of_equal_parts() -> None:
    assert sheet_moments(3.0, 4) == (0.375, 1.125, 1.875, 2.625)
    assert sheet_moments(10.0, 1) == (5.0,)
    assert sheet_moments(0.125, 2) == (0.03125, 0.09375)


@pytest.mark.parametrize(("duration", "frames"), [(3.0, 0), (3.0, 13), (0.0, 4), (-1.0, 4)])
def test_impossible_moments_are_refused(duration: float, frames: int) -> None:
    with pytest.raises(ValueError, match="contact sheet"):
        sheet_moments(duration, frames)


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([(1920, 1080), (1280, 720)], (320, 180)),
        ([(720, 720), (1280, 720)], (320, 180)),  # the square one is padded
        ([(720, 1280), (720, 1280)], (102, 180)),  # portrait: 101.25 up to even
        ([(4000, 1000), (1280, 720)], (540, 180)),  # a panorama's tile is at most 3:1
    ],
)
def test_one_tile_fits_both_pictures(
    sizes: list[tuple[int, int]], expected: tuple[int, int]
) -> None:
    assert tile_size(sizes, tile_height=180) == expected


def test_a_plan_spans_the_shorter_clip_from_the_window_start() -> None:
    before = media_info(duration_s=10.0, width=1080, height=1920)  # portrait
    after = media_info(duration_s=5.0, width=1280, height=720, rotation=0)

    plan = plan_sheet(before, after, frames=4, tile_height=180, before_start_s=6.0)

    assert plan.moments_s == (0.5, 1.5, 2.5, 3.5)  # over 10 - 6 = 4 s, not the result's 5 s
    assert (plan.tile_width, plan.tile_height, plan.width, plan.height) == (320, 180, 1280, 360)
    assert plan.before_start_s == 6.0


def test_a_window_start_after_the_input_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError, match=r"nothing after 5\.00 s to compare: give the start"):
        plan_sheet(media_info(duration_s=5.0), media_info(), before_start_s=5.0)


# --- the command ----------------------------------------------------------------------------

PLAN = SheetPlan(tile_width=320, tile_height=180, moments_s=(0.375, 1.125), before_start_s=1.5)


def test_the_command_is_one_guarded_run_with_a_branch_per_tile() -> None:
    argv = contact_sheet_command(EXE, Path("in.mkv"), Path("/job/result.mp4"), Path("s.png"), PLAN)

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    inputs = [i for i, arg in enumerate(argv) if arg == "-i"]
    assert [argv[i + 1] for i in inputs] == [str(Path("in.mkv").resolve()), "/job/result.mp4"]
    for start, end in zip([0, *inputs], inputs, strict=False):
        options = argv[start:end]
        for name, value in FILE_INPUT_GUARDS.items():
            assert options[options.index(f"-{name}") + 1] == value
    # Only the input is seeked, to where the edited window began.
    assert argv[inputs[0] - 2 : inputs[0]] == ["-ss", "1.500000"]
    assert argv.count("-ss") == 1

    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.count("tpad=stop_duration=2.125000:stop_mode=clone") == 2
    assert graph.count("select=gte(t\\,0.375000)") == 2
    assert graph.count("select=gte(t\\,1.125000)") == 2
    assert graph.count("trim=end_frame=1") == 4
    assert graph.count("scale=320:180:force_original_aspect_ratio=decrease") == 4
    assert graph.count("pad=320:180:(ow-iw)/2:(oh-ih)/2") == 4
    assert graph.count("hstack=inputs=2") == 2
    assert graph.count("vstack=inputs=2") == 1
    assert "palettegen=stats_mode=single" in graph
    assert "paletteuse=dither=none" in graph
    assert "drawtext" not in graph

    output = argv[argv.index("-map") + 2 :]
    assert output[-1] == str(Path("s.png").resolve())
    for option, value in [("-f", "image2"), ("-update", "1"), ("-frames:v", "1")]:
        assert output[output.index(option) + 1] == value
    assert output[output.index("-vcodec") + 1] == "png"
    assert output[output.index("-pred") + 1] == "none"


def test_labels_are_fixed_words_and_one_moment_needs_no_stacking() -> None:
    one = SheetPlan(tile_width=320, tile_height=180, moments_s=(1.0,))
    argv = contact_sheet_command(EXE, Path("a.mp4"), Path("b.mp4"), Path("s.png"), one, labels=True)

    graph = argv[argv.index("-filter_complex") + 1]
    assert "text=input" in graph
    assert "text=result" in graph
    assert "hstack" not in graph
    assert "-ss" not in argv


# --- real sheets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    """Decoded RGB pixels of a PNG or a video frame."""

    width: int
    height: int
    line_size: int
    data: bytes

    def signature(self, x0: int, y0: int, width: int, height: int) -> Signature:
        """Mean colour of 16x9 blocks of a region (every other pixel of every other row)."""
        cells: Signature = []
        for gy in range(9):
            for gx in range(16):
                total, count = [0, 0, 0], 0
                for y in range(y0 + gy * height // 9, y0 + (gy + 1) * height // 9, 2):
                    row = y * self.line_size
                    for x in range(x0 + gx * width // 16, x0 + (gx + 1) * width // 16, 2):
                        at = row + 3 * x
                        total[0] += self.data[at]
                        total[1] += self.data[at + 1]
                        total[2] += self.data[at + 2]
                        count += 1
                cells.append((total[0] / count, total[1] / count, total[2] / count))
        return cells

    def mean(self, x0: int, y0: int, width: int, height: int) -> float:
        cells = self.signature(x0, y0, width, height)
        return sum(sum(cell) for cell in cells) / (3 * len(cells))


def rgb(frame: av.VideoFrame, width: int | None = None, height: int | None = None) -> Picture:
    small = frame.reformat(width=width, height=height, format="rgb24")
    plane = small.planes[0]
    return Picture(small.width, small.height, plane.line_size, bytes(plane))


def read_sheet(path: Path) -> Picture:
    with av.open(str(path), mode="r", container_options={"protocol_whitelist": "file"}) as png:
        return rgb(next(png.decode(video=0)))


def fitted(width: int, height: int, plan: SheetPlan) -> tuple[int, int]:
    scale = min(plan.tile_width / width, plan.tile_height / height)
    return round(width * scale), round(height * scale)


def frame_signatures(
    path: Path, plan: SheetPlan, near_s: list[float]
) -> list[tuple[float, Signature | None]]:
    """Every frame of ``path`` (its time), with its signature as the sheet would show it
    (fitted into a tile) when it lies within a few frames of a time of ``near_s``."""
    found: list[tuple[float, Signature | None]] = []
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        for frame in container.decode(video=0):
            at = float(frame.time or 0.0)
            signature = None
            if any(abs(at - near) <= 0.15 for near in near_s):
                width, height = fitted(frame.width, frame.height, plan)
                signature = rgb(frame, width, height).signature(0, 0, width, height)
            found.append((at, signature))
    return found


def distance(a: Signature, b: Signature) -> float:
    return sum(abs(x - y) for p, q in zip(a, b, strict=True) for x, y in zip(p, q, strict=True)) / (
        3 * len(a)
    )


def check_row(
    sheet: Picture, row: int, clip: Path, other: Path, plan: SheetPlan, offset_s: float = 0.0
) -> None:
    """Each tile of ``row`` is the frame of ``clip`` at (or first after) its moment, closer to it
    than to its neighbours, and nothing like ``other``'s frame there."""
    times = [moment + offset_s for moment in plan.moments_s]
    frames = frame_signatures(clip, plan, times)
    others = frame_signatures(other, plan, list(plan.moments_s))
    info = probe(clip)
    width, height = fitted(info.display_width, info.display_height, plan)
    for index, at in enumerate(times):
        expected = next((i for i, (t, _) in enumerate(frames) if t >= at - 1e-6), len(frames) - 1)
        tile = sheet.signature(
            index * plan.tile_width + (plan.tile_width - width) // 2,
            row * plan.tile_height + (plan.tile_height - height) // 2,
            width,
            height,
        )
        near = [i for i in range(expected - 2, expected + 3) if 0 <= i < len(frames)]
        scores = {i: distance(tile, signature_of(frames, i)) for i in near}
        assert min(scores, key=scores.__getitem__) == expected, f"row {row} tile {index}: {scores}"
        assert scores[expected] < SAME_PICTURE
        moment = plan.moments_s[index]
        there = min(range(len(others)), key=lambda i: abs(others[i][0] - moment))
        assert distance(tile, signature_of(others, there)) > 10 * SAME_PICTURE


def signature_of(frames: list[tuple[float, Signature | None]], index: int) -> Signature:
    signature = frames[index][1]
    assert signature is not None, f"frame {index} was not measured"
    return signature


@pytest.fixture(scope="module")
def negative(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The default clip (720x720, 3 s) as a "result": negated, stretched to 1280x720, 24 fps."""
    output = tmp_path_factory.mktemp("preview") / "negative.mp4"
    argv = render_command(
        ffmpeg_tools.ffmpeg,
        make_clip(),
        output,
        filters=[("negate", {})],
        width=1280,
        height=720,
        preset="ultrafast",
    )
    run(argv, timeout_s=60)
    return output


@pytest.mark.parametrize("before_start_s", [0.0, 1.0])
def test_the_sheet_shows_the_input_over_the_result_at_the_same_moments(
    make_clip: MakeClip,
    negative: Path,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    before_start_s: float,
) -> None:
    before = make_clip()
    dest = tmp_path / "sheet.png"

    made = contact_sheet(
        before,
        negative,
        dest,
        ffmpeg_tools,
        timeout_s=60,
        before_start_s=before_start_s,
        labels=False,
    )

    plan = plan_sheet(probe(before), probe(negative), before_start_s=before_start_s)
    sheet = read_sheet(made)
    assert made == dest
    assert (sheet.width, sheet.height) == (4 * 320, 2 * 180) == (plan.width, plan.height)
    assert dest.stat().st_size < 300_000
    assert [path.name for path in tmp_path.iterdir()] == ["sheet.png"]
    check_row(sheet, 0, before, negative, plan, offset_s=before_start_s)
    check_row(sheet, 1, negative, before, plan)
    # The square input is padded to the 16:9 tile with black bars; the result fills its tile.
    for index in range(4):
        left = index * 320
        assert sheet.mean(left, 0, 70, 180) < 2
        assert sheet.mean(left + 250, 0, 70, 180) < 2
        assert sheet.mean(left + 70, 0, 180, 180) > 60
        assert sheet.mean(left, 180, 70, 180) > 60


def test_the_probes_a_caller_holds_are_used_not_taken_again(
    make_clip: MakeClip,
    negative: Path,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    probes: Callable[[], list[str]],
) -> None:
    before = make_clip()
    before_info, after_info = probe(before), probe(negative)
    dest = tmp_path / "sheet.png"
    with pytest.raises(ValueError, match="describes"):  # the input's probe given as the result's
        contact_sheet(before, negative, dest, ffmpeg_tools, timeout_s=60, after_info=before_info)
    assert not dest.exists()
    probed = len(probes())

    made = contact_sheet(
        before,
        negative,
        dest,
        ffmpeg_tools,
        timeout_s=60,
        labels=False,
        before_info=before_info,
        after_info=after_info,
    )

    assert len(probes()) == probed
    plan = plan_sheet(before_info, after_info)
    assert (read_sheet(made).width, read_sheet(made).height) == (plan.width, plan.height)


def test_a_clip_shorter_than_the_sheet_repeats_its_frames(
    make_clip: MakeClip, negative: Path, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    three_frames = make_clip(duration_s=0.125, audio=False)

    sheet = read_sheet(
        contact_sheet(three_frames, negative, tmp_path / "s.png", ffmpeg_tools, timeout_s=60)
    )

    plan = plan_sheet(probe(three_frames), probe(negative))
    assert plan.moments_s == (0.015625, 0.046875, 0.078125, 0.109375)
    assert (sheet.width, sheet.height) == (1280, 360)
    check_row(sheet, 0, three_frames, negative, plan)  # frames 1, 2, 2 and 2 again
    check_row(sheet, 1, negative, three_frames, plan)


def test_a_portrait_input_is_turned_upright_and_padded(
    make_clip: MakeClip, negative: Path, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    phone = make_clip(width=1280, height=720, audio=False, rotation=90)  # shown 720x1280

    sheet = read_sheet(
        contact_sheet(phone, negative, tmp_path / "s.png", ffmpeg_tools, timeout_s=60)
    )

    # 720x1280 fits a 320x180 tile as about 101x180, centred: bars of about 109 px each side.
    assert (sheet.width, sheet.height) == (1280, 360)
    for index in range(4):
        left = index * 320
        assert sheet.mean(left + 4, 30, 100, 150) < 2
        assert sheet.mean(left + 216, 30, 100, 150) < 2
        assert sheet.mean(left + 115, 30, 90, 150) > 60


def test_labels_when_ffmpeg_can_draw_text_and_none_when_it_cannot(
    make_clip: MakeClip,
    negative: Path,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = make_clip()
    plain = read_sheet(
        contact_sheet(
            before, negative, tmp_path / "plain.png", ffmpeg_tools, timeout_s=60, labels=False
        )
    )
    labelled = read_sheet(
        contact_sheet(before, negative, tmp_path / "labelled.png", ffmpeg_tools, timeout_s=60)
    )
    # The label sits in the top-left corner of each row; the rest of the sheet is untouched.
    corner = (0, 0, 64, 32)
    differs = plain.signature(*corner) != labelled.signature(*corner)
    assert differs == can_draw_text(ffmpeg_tools.ffmpeg)
    # The palette is made from the whole sheet, so the rest may shift by a shade, no more.
    rest = (320, 0, 960, 360)
    assert distance(plain.signature(*rest), labelled.signature(*rest)) < 1

    # With no font to be found, the same ffmpeg (under another name: the check is cached per
    # binary) cannot draw text, and the sheet is drawn without labels instead of failing.
    fonts = tmp_path / "no-fonts.conf"
    fonts.write_text(
        f"<?xml version='1.0'?><fontconfig><dir>{tmp_path / 'none'}</dir>"
        f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(fonts))
    renamed = tmp_path / "ffmpeg-without-fonts"
    renamed.symlink_to(ffmpeg_tools.ffmpeg)
    bare = FFmpegTools(ffmpeg=renamed, ffprobe=None, source="setting", version="test")

    assert not can_draw_text(renamed)
    fallback = read_sheet(
        contact_sheet(before, negative, tmp_path / "fallback.png", bare, timeout_s=60)
    )
    assert fallback.data == plain.data


@pytest.mark.parametrize(
    ("program", "error", "message"),
    [
        ("false", FFmpegError, "failed with exit code 1"),
        # Exits 0 and writes nothing, as ffmpeg does when a branch never gets its frame.
        (
            "true",
            VerificationError,
            r"the contact sheet sheet.png was not made whole: ffmpeg wrote",
        ),
    ],
)
def test_a_failed_sheet_leaves_the_destination_as_it_was(
    make_clip: MakeClip,
    negative: Path,
    tmp_path: Path,
    program: str,
    error: type[Exception],
    message: str,
) -> None:
    exe = shutil.which(program)
    assert exe is not None
    tools = FFmpegTools(ffmpeg=Path(exe), ffprobe=None, source="setting", version="test")
    dest = tmp_path / "sheet.png"
    dest.write_bytes(b"the previous sheet")

    with pytest.raises(error, match=message):
        contact_sheet(make_clip(), negative, dest, tools, timeout_s=60)

    assert dest.read_bytes() == b"the previous sheet"
    assert [path.name for path in tmp_path.iterdir()] == ["sheet.png"]


# --- the sheet from the rows that the decodes cut ----------------------------------------------


@pytest.mark.parametrize(("shape", "before_start_s"), [("square", 1.0), ("portrait", 0.0)])
def test_the_sheet_from_the_rows_the_decode_checks_cut_is_the_sheet_from_the_clips(
    make_clip: MakeClip,
    negative: Path,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    shape: str,
    before_start_s: float,
) -> None:
    before = {
        "square": lambda: make_clip(),  # padded into the result's 16:9 tile
        "portrait": lambda: make_clip(width=1280, height=720, audio=False, rotation=90),
    }[shape]()
    plan = plan_sheet(probe(before), probe(negative), before_start_s=before_start_s)
    window = probe(before).duration_s - before_start_s
    rows = SheetRows(plan.moments_s, before_start_s, tmp_path / "before.png", window_s=window)

    # The decode checks of the input and of the result, each cutting its row.
    after_row = tmp_path / "after.png"
    for clip, also in ((before, rows.before_args()), (negative, rows.after_args(after_row))):
        verify(
            clip, ffmpeg_tools, expect_audio=None, expected_duration_s=None, timeout_s=60, also=also
        )
    drawn = sheet_from_rows(
        rows, after_row, tmp_path / "rows.png", ffmpeg_tools, plan=plan, timeout_s=60
    )
    direct = contact_sheet(
        before,
        negative,
        tmp_path / "clips.png",
        ffmpeg_tools,
        timeout_s=60,
        before_start_s=before_start_s,
    )

    assert rows.fits(plan)
    assert read_sheet(drawn).data == read_sheet(direct).data  # pixel for pixel
    assert drawn.read_bytes() == direct.read_bytes()


def test_rows_fit_only_the_sheet_they_were_cut_for(
    ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    plan = SheetPlan(tile_width=320, tile_height=180, moments_s=(0.5, 1.5, 2.5, 3.5))
    rows = SheetRows(plan.moments_s, 0.0, tmp_path / "before.png", window_s=4.0)

    assert rows.fits(plan)
    assert (rows.cut_width, rows.row_width) == (540, 4 * 540)  # tiles up to 3:1
    assert rows.shown_whole(media_info(duration_s=4.0))
    assert not rows.shown_whole(media_info(duration_s=3.9))
    assert not rows.fits(SheetPlan(320, 180, (0.45, 1.35, 2.25, 3.15)))  # a shorter result
    assert not rows.fits(SheetPlan(320, 180, plan.moments_s, before_start_s=1.0))
    assert not rows.fits(SheetPlan(320, 240, plan.moments_s))
    with pytest.raises(ValueError, match="another sheet"):
        sheet_from_rows(
            rows,
            tmp_path / "after.png",
            tmp_path / "s.png",
            ffmpeg_tools,
            plan=SheetPlan(320, 180, (1.0,)),
            timeout_s=60,
        )


def test_a_row_not_whole_draws_nothing(ffmpeg_tools: FFmpegTools, tmp_path: Path) -> None:
    plan = SheetPlan(tile_width=320, tile_height=180, moments_s=(0.5, 1.5, 2.5, 3.5))
    rows = SheetRows(plan.moments_s, 0.0, tmp_path / "before.png", window_s=4.0)
    black = ffmpeg.input("color=black:size=2160x180:duration=0.1", f="lavfi")
    argv = ffmpeg.output(black, str(rows.before), vcodec="png", **{"frames:v": 1}).compile(
        cmd=[str(ffmpeg_tools.ffmpeg), *GLOBAL_ARGS]
    )
    run(argv, timeout_s=60)
    after = tmp_path / "after.png"
    after.write_bytes(rows.before.read_bytes()[:-40])  # a decode cut short of its end
    dest = tmp_path / "sheet.png"
    dest.write_bytes(b"the previous sheet")

    with pytest.raises(VerificationError, match=r"its row after\.png does not read"):
        sheet_from_rows(rows, after, dest, ffmpeg_tools, plan=plan, timeout_s=60)

    assert dest.read_bytes() == b"the previous sheet"
    after.write_bytes(rows.before.read_bytes())  # whole
    drawn = sheet_from_rows(rows, after, dest, ffmpeg_tools, plan=plan, timeout_s=60)
    assert read_sheet(drawn).mean(0, 0, 1280, 360) < 20  # black tiles (and the labels)


def test_whether_ffmpeg_draws_text_is_learnt_from_its_first_sheet(
    make_clip: MakeClip,
    negative: Path,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = make_clip()

    def sheets(name: str, count: int) -> list[list[str]]:
        """``count`` sheets by the suite's ffmpeg under a name of its own (the knowledge is
        kept per binary): the ffmpeg runs of each."""
        renamed = tmp_path / name
        renamed.symlink_to(ffmpeg_tools.ffmpeg)
        tools = FFmpegTools(ffmpeg=renamed, ffprobe=None, source="setting", version="test")
        runs = []
        for index in range(count):
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="reskin.media.runner"):
                made = contact_sheet(before, negative, tmp_path / f"{name}-{index}.png", tools,
                                     timeout_s=60)  # fmt: skip
            assert (read_sheet(made).width, read_sheet(made).height) == (1280, 360)
            runs.append([m for r in caplog.records if (m := r.getMessage()).startswith("running")])
        return runs

    # Fonts found: the labelled sheet is the one run, no check of its own first.
    if can_draw_text(ffmpeg_tools.ffmpeg):
        (first,) = sheets("ffmpeg-with-fonts", 1)
        assert len(first) == 1
        assert "drawtext" in first[0]

    # No font: the labelled run fails, the sheet is drawn unlabelled; the next one at once.
    fonts = tmp_path / "no-fonts.conf"
    fonts.write_text(
        f"<?xml version='1.0'?><fontconfig><dir>{tmp_path / 'none'}</dir>"
        f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(fonts))
    first, second = sheets("ffmpeg-without-fonts", 2)
    assert ["drawtext" in line for line in first] == [True, False]
    assert ["drawtext" in line for line in second] == [False]
