"""ffmpeg argv builders: pure, asserted on the argv alone; only the last section runs ffmpeg,
on one small generated clip of three scenes (what the long-video tests build on)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from reskin.media.binaries import FFmpegTools
from reskin.media.commands import (
    GLOBAL_ARGS,
    conform_copy_command,
    conform_encode_command,
    fit_size,
    keep_video_command,
    mux_sound_command,
    render_command,
    synthetic_clip_command,
    tag_rotation_command,
)
from reskin.media.probe import OPEN_OPTIONS, keyframe_times, probe
from tests.conftest import MakeClip

from .marks import (
    CORNER,
    audio_seconds,
    beep_onsets,
    flash_onsets,
    scene_cuts,
    scene_of,
    scene_spans,
    sync_offsets,
)

EXE = Path("/opt/ffmpeg/bin/ffmpeg")
SRC = Path("/data/in.mov")
OUT = Path("/data/out.mp4")


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, part in enumerate(argv) if part == flag]


def _render(**changes: object) -> list[str]:
    options: dict[str, object] = {
        "filters": [("hue", {"s": 0}), ("eq", {"contrast": 1.3})],
        "width": 1280,
        "height": 720,
    }
    options.update(changes)
    return render_command(EXE, SRC, OUT, **options)  # type: ignore[arg-type]


def test_render_starts_with_the_global_guards() -> None:
    argv = _render()

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    assert "-nostdin" in argv


def test_render_opens_its_input_with_the_whitelists() -> None:
    argv = _render()
    where = argv.index("-i")

    assert argv[where + 1] == str(SRC)
    assert _value(argv, "-protocol_whitelist") == "file"
    assert _value(argv, "-format_whitelist") == "mov,matroska"
    assert argv.index("-protocol_whitelist") < where
    assert argv.index("-format_whitelist") < where


def test_render_encodes_h264_yuv420p_24fps_cfr_faststart_without_metadata() -> None:
    argv = _render()

    assert _value(argv, "-vcodec") == "libx264"
    assert _value(argv, "-pix_fmt") == "yuv420p"
    assert _value(argv, "-r") == "24"
    assert _value(argv, "-fps_mode") == "cfr"
    assert _value(argv, "-movflags") == "+faststart"
    assert _value(argv, "-map_metadata") == "-1"
    assert _value(argv, "-f") == "mp4"
    assert _value(argv, "-preset") == "veryfast"
    assert argv[-1] == str(OUT)


def test_render_chain_scales_then_applies_the_look_then_fps() -> None:
    graph = _value(_render(), "-filter_complex")

    steps = [part.split("]")[1].split("[")[0] for part in graph.split(";")]
    look = ["hue=s=0", "eq=contrast=1.3"]
    assert steps == ["scale=1280:720", "setsar=1", *look, "fps=24", "format=yuv420p"]
    assert graph.startswith("[0:v:0]")


def test_render_drops_audio_unless_asked() -> None:
    argv = _render()

    assert "-an" in argv
    assert _values(argv, "-map") == ["[s5]"]


def test_render_keeps_the_first_audio_stream_optionally_as_aac_stereo() -> None:
    argv = _render(keep_audio=True)

    assert "-an" not in argv
    assert "0:a:0?" in _values(argv, "-map")  # '?': a silent source must not fail
    assert _value(argv, "-c:a") == "aac"
    assert _value(argv, "-ac") == "2"


@pytest.mark.parametrize(("fps", "rate"), [(16, "16"), (16.0, "16"), (24.0, "24")])
def test_render_takes_the_models_frame_rate(fps: float, rate: str) -> None:
    argv = _render(fps=fps)

    assert _value(argv, "-r") == rate
    assert f"fps={rate}" in _value(argv, "-filter_complex")


def test_render_keeps_the_whole_source_unless_capped() -> None:
    assert "-t" not in _render()
    assert "-t" not in _render(keep_audio=True)


@pytest.mark.parametrize("keep_audio", [False, True])
def test_render_cap_cuts_the_output_after_max_duration(keep_audio: bool) -> None:
    argv = _render(max_duration_s=5.0, keep_audio=keep_audio)

    assert _value(argv, "-t") == "5.000000"
    assert argv.index("-t") > argv.index("-i")  # an output option: it cuts what is written
    assert ("-an" in argv) is not keep_audio


@pytest.mark.parametrize("cap", [0, -1.0, float("nan")])
def test_render_refuses_a_cap_that_is_not_a_positive_duration(cap: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        _render(max_duration_s=cap)


def test_render_makes_paths_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    argv = render_command(EXE, Path("-in.mp4"), Path("out.mp4"), filters=[], width=720, height=720)

    assert _value(argv, "-i") == str(tmp_path / "-in.mp4")
    assert argv[-1] == str(tmp_path / "out.mp4")


@pytest.mark.parametrize(("width", "height"), [(1279, 720), (1280, 719), (0, 720)])
def test_render_refuses_sizes_yuv420p_cannot_hold(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even size"):
        _render(width=width, height=height)


@pytest.mark.parametrize(
    "step",
    [
        ("drawtext", {"text": "hello"}),  # text could carry anything: never allowed
        ("eq;movie=/etc/passwd", {"contrast": 1.0}),
        ("eq", {"contrast=1:x": 1.0}),
        ("eq", {"contrast": True}),
    ],
)
def test_render_takes_only_plain_names_and_numbers(step: tuple[str, dict[str, object]]) -> None:
    with pytest.raises(ValueError, match="filter"):
        _render(filters=[step])


def test_synthetic_clip_uses_lavfi_only_and_a_fixed_length() -> None:
    argv = synthetic_clip_command(EXE, OUT, duration_s=3.5, width=720, height=1280, fps=30)

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    assert _values(argv, "-f")[:2] == ["lavfi", "lavfi"]
    assert _values(argv, "-format_whitelist") == ["lavfi", "lavfi"]
    assert _values(argv, "-i") == [
        "testsrc2=size=720x1280:rate=30:duration=3.5",
        "sine=frequency=440:sample_rate=48000:duration=3.5",
    ]
    assert _value(argv, "-t") == "3.5"
    assert _value(argv, "-vcodec") == "libx264"
    assert _value(argv, "-acodec") == "aac"
    assert _value(argv, "-map_metadata") == "-1"
    assert argv[-1] == str(OUT)


def test_synthetic_clip_options() -> None:
    argv = synthetic_clip_command(
        EXE, OUT, audio=False, container="mkv", pattern="smptebars", variable_fps=True
    )

    assert len(_values(argv, "-i")) == 1
    assert _value(argv, "-i").startswith("smptebars=")
    assert "-acodec" not in argv
    assert _values(argv, "-f")[-1] == "matroska"
    assert _value(argv, "-fps_mode") == "vfr"
    assert "select=mod(n\\,3)" in _value(argv, "-filter_complex")


def test_synthetic_clip_refuses_an_unknown_pattern() -> None:
    with pytest.raises(ValueError, match="pattern"):
        synthetic_clip_command(EXE, OUT, pattern="movie=x.mp4")  # type: ignore[arg-type]


def test_tag_rotation_copies_with_a_display_rotation_on_the_guarded_input() -> None:
    argv = tag_rotation_command(EXE, SRC, OUT, degrees=90)
    where = argv.index("-i")

    assert _value(argv, "-display_rotation") == "90"
    assert argv.index("-display_rotation") < where
    assert _value(argv, "-format_whitelist") == "mov,matroska"
    assert _value(argv, "-c") == "copy"
    assert _values(argv, "-map") == ["0:v:0", "0:a:0?"]
    with pytest.raises(ValueError, match="multiple of 90"):
        tag_rotation_command(EXE, SRC, OUT, degrees=45)


@pytest.mark.parametrize(
    ("size", "fitted"),
    [
        ((1920, 1080), (1280, 720)),
        ((1280, 720), (1280, 720)),
        ((720, 720), (720, 720)),
        ((1080, 1920), (720, 1280)),  # portrait gets a portrait box
        ((3840, 2160), (1280, 720)),
        ((2160, 720), (1280, 426)),
        ((1279, 719), (1278, 718)),  # never upscaled, made even
        ((2000, 2000), (720, 720)),
    ],
)
def test_fit_size(size: tuple[int, int], fitted: tuple[int, int]) -> None:
    assert fit_size(*size, long_side=1280, short_side=720) == fitted


# --- conform and sound builders -------------------------------------------------------------


def _guarded_inputs(argv: list[str]) -> list[str]:
    """Every ``-i`` of ``argv``, each checked to carry both whitelists before it."""
    inputs = []
    previous = 0
    for where, part in enumerate(argv):
        if part != "-i":
            continue
        options = argv[previous:where]
        assert options[options.index("-protocol_whitelist") + 1] == "file", argv
        assert options[options.index("-format_whitelist") + 1] == "mov,matroska", argv
        inputs.append(argv[where + 1])
        previous = where + 1
    return inputs


def _input_options(argv: list[str], index: int) -> list[str]:
    starts = [i + 2 for i, part in enumerate(argv) if part == "-i"]
    begin = ([len(GLOBAL_ARGS) + 1, *starts])[index]
    return argv[begin : argv.index("-i", begin)]


def test_conform_copy_copies_the_video_and_strips_what_it_must() -> None:
    argv = conform_copy_command(EXE, SRC, OUT, audio="copy")

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    assert _guarded_inputs(argv) == [str(SRC)]
    assert "-ss" not in argv
    assert _values(argv, "-map") == ["0:v:0", "0:a:0?"]
    assert (_value(argv, "-c:v"), _value(argv, "-c:a")) == ("copy", "copy")
    assert "-filter_complex" not in argv
    assert (_value(argv, "-f"), _value(argv, "-movflags")) == ("mp4", "+faststart")
    assert (_value(argv, "-map_metadata"), _value(argv, "-map_chapters")) == ("-1", "-1")
    assert argv[-1] == str(OUT)


def test_conform_copy_cuts_on_the_input_and_makes_odd_sound_aac_stereo() -> None:
    argv = conform_copy_command(EXE, SRC, OUT, start_s=2.0, duration_s=4.0, audio="aac")

    assert _input_options(argv, 0)[-4:] == ["-ss", "2.000000", "-t", "4.000000"]
    assert _value(argv, "-c:v") == "copy"
    assert (_value(argv, "-c:a"), _value(argv, "-ac"), _value(argv, "-ar")) == ("aac", "2", "48000")


def test_conform_copy_seeks_never_before_the_keyframe_it_names() -> None:
    # 1/3 s written in decimals rounds down; the seek must round up or land a GOP early.
    argv = conform_copy_command(EXE, SRC, OUT, start_s=1 / 3, audio="none")

    assert _value(argv, "-ss") == "0.333334"
    assert "-an" in argv
    assert _values(argv, "-map") == ["0:v:0"]


def test_conform_encode_scales_sets_the_rate_and_forces_yuv420p() -> None:
    argv = conform_encode_command(
        EXE, SRC, OUT, width=1080, height=1920, fps=24000 / 1001, audio=True, crf=18
    )
    graph = _value(argv, "-filter_complex")

    assert _guarded_inputs(argv) == [str(SRC)]
    steps = [part.split("]")[1].split("[")[0] for part in graph.split(";")]
    assert steps == ["scale=1080:1920", "setsar=1", "fps=24000/1001", "format=yuv420p"]
    assert _values(argv, "-map") == ["[s3]", "0:a:0?"]
    assert (_value(argv, "-vcodec"), _value(argv, "-pix_fmt")) == ("libx264", "yuv420p")
    assert (_value(argv, "-r"), _value(argv, "-fps_mode")) == ("24000/1001", "cfr")
    assert (_value(argv, "-preset"), _value(argv, "-crf")) == ("veryfast", "18")
    assert (_value(argv, "-c:a"), _value(argv, "-ac")) == ("aac", "2")
    assert (_value(argv, "-map_metadata"), _value(argv, "-movflags")) == ("-1", "+faststart")
    assert "-t" not in argv


def test_conform_encode_pads_a_short_clip_with_its_last_frame_and_silence() -> None:
    argv = conform_encode_command(
        EXE, SRC, OUT, duration_s=1.0, width=720, height=720, fps=24, pad_to_s=3.0, audio=True
    )
    graph = _value(argv, "-filter_complex")

    assert "tpad=stop_duration=3.000000:stop_mode=clone" in graph
    assert "[0:a:0]apad" in graph
    assert _input_options(argv, 0)[-2:] == ["-t", "1.000000"]
    assert _values(argv, "-t") == ["1.000000", "3.000000"]  # read 1 s, write 3 s


def test_conform_encode_of_a_window_limits_the_output_too() -> None:
    # ffmpeg 5.1 went 0.7 s past the input's -t after a seek 478.5 s into a 600 s clip.
    argv = conform_encode_command(
        EXE, SRC, OUT, start_s=478.541667, duration_s=9.333333, width=720, height=720, fps=24
    )
    assert _input_options(argv, 0)[-4:] == ["-ss", "478.541667", "-t", "9.333333"]
    assert _values(argv, "-t") == ["9.333333", "9.333333"]  # read the window, write no more


def test_conform_encode_without_sound_says_so() -> None:
    argv = conform_encode_command(EXE, SRC, OUT, width=720, height=720, fps=30, audio=False)

    assert "-an" in argv
    assert len(_values(argv, "-map")) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 721},
        {"fps": 0},
        {"fps": float("nan")},
        {"start_s": -1.0},
        {"duration_s": 0.0},
        {"pad_to_s": float("inf")},
        {"preset": "fast -i /etc/passwd"},
    ],
)
def test_conform_encode_takes_only_sane_numbers(changes: dict[str, object]) -> None:
    options: dict[str, object] = {"width": 720, "height": 720, "fps": 24, "audio": True}
    options.update(changes)

    with pytest.raises(ValueError):  # noqa: PT011 (each case words it differently)
        conform_encode_command(EXE, SRC, OUT, **options)  # type: ignore[arg-type]


def test_mux_sound_puts_the_windows_sound_under_the_copied_picture() -> None:
    sound = Path("/data/source.mkv")
    argv = mux_sound_command(
        EXE, SRC, sound, OUT, sound_start_s=0.5, sound_duration_s=5.0, duration_s=4.96
    )

    assert _guarded_inputs(argv) == [str(SRC), str(sound)]
    assert "-ss" not in _input_options(argv, 0)
    assert _input_options(argv, 1)[-4:] == ["-ss", "0.500000", "-t", "5.000000"]
    assert _value(argv, "-filter_complex") == "[1:a:0]apad[s0]"
    assert _values(argv, "-map") == ["0:v:0", "[s0]"]
    assert _value(argv, "-c:v") == "copy"
    assert (_value(argv, "-c:a"), _value(argv, "-ac"), _value(argv, "-ar")) == ("aac", "2", "48000")
    assert argv[-3:] == ["-t", "4.960000", str(OUT)]
    assert "-shortest" not in argv


def test_mux_sound_stretches_only_when_asked_and_within_atempo() -> None:
    def mux(tempo: float) -> list[str]:
        return mux_sound_command(
            EXE, SRC, SRC, OUT, sound_start_s=0, sound_duration_s=5, duration_s=6, tempo=tempo
        )

    assert _value(mux(5 / 6), "-filter_complex") == "[1:a:0]atempo=0.833333[s0];[s0]apad[s1]"
    assert "-ss" not in mux(0.8)
    with pytest.raises(ValueError, match="atempo"):
        mux(0.4)


@pytest.mark.parametrize(("keep", "maps"), [(True, ["0:v:0", "0:a:0?"]), (False, ["0:v:0"])])
def test_keep_video_copies_the_result_and_cuts_it(keep: bool, maps: list[str]) -> None:
    argv = keep_video_command(EXE, SRC, OUT, duration_s=1.0, keep_audio=keep)

    assert _guarded_inputs(argv) == [str(SRC)]
    assert _values(argv, "-map") == maps
    assert _value(argv, "-c") == "copy"
    assert ("-an" in argv) is not keep
    assert argv[-3:] == ["-t", "1.000000", str(OUT)]
    assert "-t" not in keep_video_command(EXE, SRC, OUT, duration_s=None, keep_audio=keep)


def test_synthetic_clip_sync_marks_and_keyframes() -> None:
    argv = synthetic_clip_command(EXE, OUT, fps=30, sync_marks=True, keyint=30)
    graph = _value(argv, "-filter_complex")

    assert "drawbox=color=white:enable=lt(mod(t\\,1)\\,0.1)" in graph
    assert "volume=eval=frame:volume=lt(mod(t\\,1)\\,0.1)" in graph
    assert _values(argv, "-i")[1].startswith("sine=frequency=1000:sample_rate=48000")
    assert (_value(argv, "-g"), _value(argv, "-sc_threshold")) == ("30", "0")
    assert "-g" not in synthetic_clip_command(EXE, OUT)


# --- scenes -----------------------------------------------------------------------------------


def test_synthetic_clip_scenes_join_other_sources_cut_to_whole_frames() -> None:
    argv = synthetic_clip_command(
        EXE, OUT, duration_s=8.0, width=320, height=240, fps=30, scenes=(2.37, 5.71)
    )
    graph = _value(argv, "-filter_complex")
    sources = [source.split("=", 1)[0] for source in _values(argv, "-i")]

    assert sources == ["testsrc2", "mandelbrot", "life", "sine"]
    assert _values(argv, "-format_whitelist") == ["lavfi"] * 4
    # 2.37 s is frame 71.1: frame 71; 5.71 s is frame 171.3: frame 171; 8 s is 240 frames.
    assert "[0:v]trim=end_frame=71:start_frame=0[" in graph
    assert "[1:v]trim=end_frame=130:start_frame=30[" in graph  # 100 frames after a 1 s lead-in
    assert "[2:v]trim=end_frame=99:start_frame=30[" in graph
    assert "concat=a=0:n=3:v=1" in graph
    assert "settb=1/30[" in graph
    assert "setpts=N" in graph
    assert _value(argv, "-force_key_frames") == (
        "expr:gte(t,2.350000)*lt(t,2.383333)+gte(t,5.683333)*lt(t,5.716667)"
    )
    assert _value(argv, "-t") == "8"


def test_synthetic_clip_without_scenes_is_one_source() -> None:
    argv = synthetic_clip_command(EXE, OUT, scenes=())

    assert len(_values(argv, "-i")) == 2
    assert "-force_key_frames" not in argv
    assert "-filter_complex" not in argv


def test_synthetic_clip_with_keyint_forces_no_keyframe_at_the_cuts() -> None:
    argv = synthetic_clip_command(EXE, OUT, duration_s=4.0, fps=24, keyint=24, scenes=(1.5,))

    assert (_value(argv, "-g"), _value(argv, "-sc_threshold")) == ("24", "0")
    assert "-force_key_frames" not in argv


def test_synthetic_clip_corner_mark_is_a_quarter_box_at_the_top_left() -> None:
    argv = synthetic_clip_command(
        EXE, OUT, width=1280, height=720, sync_marks=True, mark="corner", scenes=(1.37,)
    )
    graph = _value(argv, "-filter_complex")

    assert "drawbox=color=white:enable=lt(mod(t\\,1)\\,0.1):h=180:t=fill:w=320:x=0:y=0" in graph
    assert "volume=eval=frame:volume=lt(mod(t\\,1)\\,0.1)" in graph


@pytest.mark.parametrize(
    "scenes",
    [
        (2.0, 1.0),  # not ascending
        (1.0, 1.01),  # the same frame at 24 fps
        (0.01,),  # rounds to the first frame
        (3.0,),  # at the end
        (5.0,),  # after it
        (float("nan"),),
        (-1.0,),
    ],
)
def test_synthetic_clip_refuses_cuts_that_leave_no_scene(scenes: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="scene cut"):
        synthetic_clip_command(EXE, OUT, duration_s=3.0, fps=24, scenes=scenes)


def test_synthetic_clip_refuses_an_unknown_mark() -> None:
    with pytest.raises(ValueError, match="mark"):
        synthetic_clip_command(EXE, OUT, mark="middle")  # type: ignore[arg-type]


def test_scene_spans_round_the_cuts_as_the_clip_does() -> None:
    spans = scene_spans((2.37, 5.71), duration_s=8.0, fps=30)

    assert spans == [(0.0, 71 / 30), (71 / 30, 171 / 30), (171 / 30, 8.0)]
    assert [scene_of(t, spans) for t in (0.0, 2.36, 71 / 30, 5.69, 5.7, 7.99, 8.0)] == [
        0, 0, 1, 1, 2, 2, 2,
    ]  # fmt: skip


# --- a real clip of three scenes --------------------------------------------------------------

FRAME_30 = 1 / 30
SCENES = (2.37, 5.71)  # cuts between frames: at 71 / 30 and 171 / 30 s


@pytest.fixture(scope="module")
def scenes_clip(make_clip: MakeClip) -> Path:
    """8 s, 320x240, 30 fps, three scenes, a corner mark and a beep at every whole second."""
    return make_clip(
        duration_s=8.0,
        width=320,
        height=240,
        fps=30,
        sync_marks=True,
        mark="corner",
        scenes=SCENES,
    )


def test_a_clip_of_scenes_lasts_exactly_its_duration(scenes_clip: Path) -> None:
    info = probe(scenes_clip)
    with av.open(str(scenes_clip), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        frames = sum(1 for _ in container.decode(video=0))

    assert frames == 240
    assert info.duration_s == pytest.approx(8.0, abs=1e-3)
    assert (info.width, info.height, info.fps) == (320, 240, 30)
    assert audio_seconds(scenes_clip) == pytest.approx(8.0, abs=0.03)


def test_ffmpeg_finds_the_cuts_and_nothing_at_the_marks(
    scenes_clip: Path, ffmpeg_tools: FFmpegTools
) -> None:
    cuts = [start for start, _ in scene_spans(SCENES, duration_s=8.0, fps=30)[1:]]

    assert scene_cuts(ffmpeg_tools.ffmpeg, scenes_clip) == pytest.approx(cuts, abs=FRAME_30)


def test_corner_marks_and_beeps_are_at_every_second_and_in_sync(scenes_clip: Path) -> None:
    seconds = [float(second) for second in range(8)]

    assert flash_onsets(scenes_clip, CORNER) == pytest.approx(seconds, abs=FRAME_30)
    assert beep_onsets(scenes_clip) == pytest.approx(seconds, abs=0.002)
    marks = sync_offsets(scenes_clip, CORNER)
    assert [mark.beep_s for mark in marks] == pytest.approx(seconds, abs=0.002)
    assert max(abs(mark.offset_s) for mark in marks) <= FRAME_30


def test_the_whole_picture_is_no_mark_when_the_mark_is_in_the_corner(scenes_clip: Path) -> None:
    assert flash_onsets(scenes_clip) == []


def test_every_scene_starts_on_a_keyframe(scenes_clip: Path) -> None:
    starts = [start for start, _ in scene_spans(SCENES, duration_s=8.0, fps=30)]

    # 240 frames, under x264's 250-frame GOP: the forced ones are the only keyframes after 0.
    assert keyframe_times(scenes_clip, 8.0) == pytest.approx(starts, abs=1e-3)
