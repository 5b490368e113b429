"""Restoring sound: the pure mux plan and argv, then real muxes on stand-in-like results,
measured: a beep-per-second clip must keep its beeps on its flashes within one frame."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from reskin.errors import FFmpegError, VerificationError
from reskin.media.audio_mode import AudioMode
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import synthetic_clip_command
from reskin.media.conform import Window, conform, plan_conform_file
from reskin.media.probe import MediaInfo, probe
from reskin.media.runner import run
from reskin.media.sound import (
    TRACK_NAME,
    OriginalSound,
    finish,
    mux_argv,
    plan_mux,
    prepare_track,
)
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.standin.server import StandIn
from tests.infos import media_info

from .corpus import Corpus, MakeClip
from .marks import audio_seconds, beep_onsets, edit_at_standin, flash_onsets, render_result

LIMITS = spec_for(DEFAULT_MODEL).limits

FRAME_24 = 1 / 24
SOURCE = Path("/job/input.mkv")
ORIGINAL = OriginalSound(path=SOURCE, start_s=0.5, duration_s=5.0, sent_s=5.0, has_audio=True)


def result_info(duration_s: float, *, has_audio: bool = False) -> MediaInfo:
    return media_info(
        path=Path("/job/result.mp4"),
        size_bytes=1_000_000,
        duration_s=duration_s,
        width=1280,
        height=720,
        fps=24.0,
        has_audio=has_audio,
        audio_codec="aac" if has_audio else None,
        audio_channels=2 if has_audio else None,
    )


# --- the plan -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result_s", "duration_s"),
    [(5.0, 5.0), (5.08, 5.0), (4.92, 4.92), (4.9, 4.9)],
)
def test_small_differences_are_padded_or_cut_never_stretched(
    result_s: float, duration_s: float
) -> None:
    plan = plan_mux(result_info(result_s), ORIGINAL, mode=AudioMode.RESTORE)

    assert (plan.sound, plan.tempo) == ("original", None)
    assert plan.duration_s == pytest.approx(duration_s)
    assert plan.expect_audio


def test_a_result_the_model_re_timed_gets_its_sound_stretched() -> None:
    plan = plan_mux(result_info(6.0), ORIGINAL, mode=AudioMode.RESTORE)

    assert plan.tempo == pytest.approx(5 / 6)
    assert plan.duration_s == pytest.approx(6.0)
    assert "the service changed the length from 5.00 s to 6.00 s" in plan.notes


def test_a_result_re_timed_beyond_atempo_is_padded_instead() -> None:
    plan = plan_mux(result_info(12.0), ORIGINAL, mode=AudioMode.RESTORE)

    assert plan.tempo is None
    assert plan.duration_s == 12.0
    assert any("too far to stretch" in note for note in plan.notes)


def test_a_padded_clip_is_cut_back_to_its_own_length() -> None:
    padded = OriginalSound(path=SOURCE, start_s=0.0, duration_s=1.0, sent_s=3.0, has_audio=True)

    plan = plan_mux(result_info(3.0), padded, mode=AudioMode.RESTORE)

    assert (plan.duration_s, plan.tempo) == (1.0, None)
    assert "cut back to the original 1.00 s" in plan.notes


@pytest.mark.parametrize(
    ("mode", "source_audio", "result_audio", "sound", "note"),
    [
        (AudioMode.RESTORE, False, False, "none", "the source has no sound"),
        (AudioMode.RESTORE, True, True, "original", None),
        (AudioMode.MODEL, True, True, "result", None),
        (AudioMode.MODEL, True, False, "none", "the service returned no sound"),
        (AudioMode.NONE, True, True, "none", None),
    ],
)
def test_where_the_sound_comes_from(
    mode: AudioMode, source_audio: bool, result_audio: bool, sound: str, note: str | None
) -> None:
    original = OriginalSound(
        path=SOURCE, start_s=0.0, duration_s=5.0, sent_s=5.0, has_audio=source_audio
    )

    plan = plan_mux(result_info(5.0, has_audio=result_audio), original, mode=mode)

    assert plan.sound == sound
    assert plan.expect_audio is (sound != "none")
    if note:
        assert any(note in line for line in plan.notes)


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_restore_copies_the_picture_and_takes_the_windows_sound_from_the_source(
    ffmpeg_tools: FFmpegTools,
) -> None:
    plan = plan_mux(result_info(5.0), ORIGINAL, mode=AudioMode.RESTORE)

    argv = mux_argv(plan, Path("/job/result.mp4"), ORIGINAL, Path("/job/final.mp4"), ffmpeg_tools)

    inputs = [argv[i + 1] for i, part in enumerate(argv) if part == "-i"]
    assert inputs == ["/job/result.mp4", str(SOURCE)]
    second = argv.index("-i", argv.index("-i") + 1)
    assert argv[second - 4 : second] == ["-ss", "0.500000", "-t", "5.000000"]
    assert "[1:a:0]apad" in _value(argv, "-filter_complex")
    assert "0:v:0" in argv
    assert (_value(argv, "-c:v"), _value(argv, "-c:a")) == ("copy", "aac")
    assert (_value(argv, "-ac"), _value(argv, "-ar")) == ("2", "48000")
    assert argv[-3:] == ["-t", "5.000000", "/job/final.mp4"]
    assert "-shortest" not in argv


TRACK = Path("/job/sound.m4a")


def test_a_track_encoded_ahead_is_copied_when_the_plan_takes_the_window_as_it_is(
    ffmpeg_tools: FFmpegTools,
) -> None:
    plan = plan_mux(result_info(4.92), ORIGINAL, mode=AudioMode.RESTORE)  # 2 frames short

    argv = mux_argv(
        plan, Path("/job/result.mp4"), ORIGINAL, Path("/job/final.mp4"), ffmpeg_tools, TRACK
    )

    inputs = [argv[i + 1] for i, part in enumerate(argv) if part == "-i"]
    assert inputs == ["/job/result.mp4", str(TRACK)]
    assert (_value(argv, "-c"), "-c:a" in argv, "-filter_complex" in argv) == ("copy", False, False)
    assert [p for p in argv if p in ("-map", "0:v:0", "1:a:0")] == [
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
    ]
    assert argv[-3:] == ["-t", "4.920000", "/job/final.mp4"]


@pytest.mark.parametrize(
    ("result_s", "why"),
    [(6.0, "stretched"), (12.0, "padded past the window: the track ends with it")],
)
def test_a_track_is_left_when_the_sound_is_stretched_or_longer_than_the_window(
    ffmpeg_tools: FFmpegTools, result_s: float, why: str
) -> None:
    plan = plan_mux(result_info(result_s), ORIGINAL, mode=AudioMode.RESTORE)

    argv = mux_argv(
        plan, Path("/job/result.mp4"), ORIGINAL, Path("/job/final.mp4"), ffmpeg_tools, TRACK
    )

    assert str(TRACK) not in argv, why
    assert _value(argv, "-c:a") == "aac"


@pytest.mark.parametrize(("mode", "kept"), [(AudioMode.MODEL, True), (AudioMode.NONE, False)])
def test_model_and_none_copy_the_result(
    ffmpeg_tools: FFmpegTools, mode: AudioMode, kept: bool
) -> None:
    plan = plan_mux(result_info(5.0, has_audio=True), ORIGINAL, mode=mode)

    argv = mux_argv(plan, Path("/job/result.mp4"), ORIGINAL, Path("/job/final.mp4"), ffmpeg_tools)

    assert argv.count("-i") == 1
    assert _value(argv, "-c") == "copy"
    assert ("0:a:0?" in argv) is kept
    assert ("-an" in argv) is not kept


# --- real muxes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beeps(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 1280x720, 30 fps: white and a 1 kHz beep for 0.1 s at each whole second."""
    path = tmp_path_factory.mktemp("beeps") / "beeps.mp4"
    argv = synthetic_clip_command(
        ffmpeg_tools.ffmpeg, path, duration_s=6.0, width=1280, height=720, fps=30, sync_marks=True
    )
    run(argv, timeout_s=60)
    return path


def conformed(
    source: Path, folder: Path, tools: FFmpegTools, window: Window | None = None
) -> tuple[Path, OriginalSound]:
    info = probe(source)
    plan = plan_conform_file(info, window=window, limits=LIMITS)
    done = conform(
        source,
        folder / "conformed.mp4",
        plan,
        tools,
        timeout_s=60,
        preset="ultrafast",
        limits=LIMITS,
    )
    return done.path, OriginalSound.of(source, plan, info)


def assert_in_sync(final: Path, expected_marks: list[float]) -> tuple[float, float]:
    """Flashes where expected, each beep on its flash within a frame; the first and last
    offsets (beep minus flash, seconds)."""
    flashes, sounds = flash_onsets(final), beep_onsets(final)
    assert len(flashes) == len(sounds) == len(expected_marks), (flashes, sounds)
    assert flashes == pytest.approx(expected_marks, abs=FRAME_24)
    first, last = sounds[0] - flashes[0], sounds[-1] - flashes[-1]
    assert abs(first) <= FRAME_24
    assert abs(last) <= FRAME_24
    return first, last


def test_restored_sound_lines_up_with_the_edit_within_a_frame_at_start_and_end(
    beeps: Path,
    ffmpeg_tools: FFmpegTools,
    standin: StandIn,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The whole way: a window starting between keyframes (re-encoded), the stand-in's silent
    24 fps edit, the window's sound put back."""
    clip, original = conformed(beeps, tmp_path, ffmpeg_tools, Window(0.5, 5.5))
    result = edit_at_standin(standin, clip, tmp_path / "result.mp4")
    caplog.set_level(logging.INFO, logger="reskin.media.sound")

    final = finish(result, tmp_path / "final.mp4", original, ffmpeg_tools, timeout_s=60)

    assert not probe(result).has_audio
    assert (final.has_audio, final.audio_codec, final.audio_channels) == (True, "aac", 2)
    assert final.duration_s == pytest.approx(5.0, abs=0.1)
    assert final.fps == pytest.approx(24.0)
    assert audio_seconds(final.path) == pytest.approx(5.0, abs=0.03)
    first, last = assert_in_sync(final.path, [0.5, 1.5, 2.5, 3.5, 4.5])
    print(f"sync offsets: first {first * 1000:+.1f} ms, last {last * 1000:+.1f} ms")
    assert "sound: restore, original sound, 5.00 s" in caplog.text


def pcm(path: Path) -> bytes:
    """The first audio stream, decoded: mono 48 kHz 16-bit samples."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    chunks: list[bytes] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [bytes(out.planes[0]) for out in resampler.resample(frame)]
    return b"".join(chunks)


def test_a_track_encoded_ahead_gives_the_final_video_the_same_sound_in_sync(
    beeps: Path,
    ffmpeg_tools: FFmpegTools,
    standin: StandIn,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The window's sound encoded before the result exists, then copied under it: the same
    samples at the same times as the mux that encodes it (the control, beside it)."""
    clip, original = conformed(beeps, tmp_path, ffmpeg_tools, Window(0.5, 5.5))
    result = edit_at_standin(standin, clip, tmp_path / "result.mp4")
    track = prepare_track(original, tmp_path, ffmpeg_tools, timeout_s=60)
    assert track == tmp_path / TRACK_NAME
    caplog.set_level(logging.INFO, logger="reskin.media.sound")

    copied = finish(
        result, tmp_path / "copied.mp4", original, ffmpeg_tools, timeout_s=60, track=track
    )
    encoded = finish(result, tmp_path / "encoded.mp4", original, ffmpeg_tools, timeout_s=60)

    assert "sound: restore, original sound, 5.00 s (encoded ahead)" in caplog.text
    assert (copied.audio_codec, copied.audio_channels) == ("aac", 2)
    assert copied.duration_s == pytest.approx(encoded.duration_s, abs=1e-3)
    assert pcm(copied.path) == pcm(encoded.path)
    assert_in_sync(copied.path, [0.5, 1.5, 2.5, 3.5, 4.5])


def test_a_source_without_sound_gets_no_track(ffmpeg_tools: FFmpegTools, tmp_path: Path) -> None:
    silent = OriginalSound(path=SOURCE, start_s=0.0, duration_s=5.0, sent_s=5.0, has_audio=False)

    assert prepare_track(silent, tmp_path, ffmpeg_tools, timeout_s=60) is None
    assert list(tmp_path.iterdir()) == []


def test_a_track_that_fails_leaves_nothing_behind(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    mute = make_clip(duration_s=2.0, audio=False)  # said to have sound: ffmpeg finds none
    lying = OriginalSound(path=mute, start_s=0.0, duration_s=2.0, sent_s=2.0, has_audio=True)

    with pytest.raises(FFmpegError):
        prepare_track(lying, tmp_path / "job", ffmpeg_tools, timeout_s=60)
    assert not (tmp_path / "job" / TRACK_NAME).exists()
    assert [p.name for p in (tmp_path / "job").iterdir()] == []


@pytest.mark.parametrize(
    ("extra", "length"),
    [
        ((("tpad", {"stop_duration": 0.08}),), 6.0),  # the model ran 2 frames long: cut
        ((("trim", {"duration": 5.92}),), 5.92),  # 2 frames short: the sound is cut with it
    ],
)
def test_a_result_slightly_longer_or_shorter_is_reconciled_without_drift(
    beeps: Path,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    extra: tuple[tuple[str, dict[str, float]], ...],
    length: float,
) -> None:
    clip, original = conformed(beeps, tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4", extra=extra)

    final = finish(result, tmp_path / "final.mp4", original, ffmpeg_tools, timeout_s=60)

    assert final.duration_s == pytest.approx(length, abs=0.05)
    assert audio_seconds(final.path) == pytest.approx(length, abs=0.03)
    assert_in_sync(final.path, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_a_result_the_model_stretched_gets_its_sound_stretched(
    beeps: Path, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    clip, original = conformed(beeps, tmp_path, ffmpeg_tools)
    longer = (("tpad", {"stop_duration": 1.2}),)  # 7.2 s for 6 s: 20 % longer
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4", extra=longer)

    final = finish(result, tmp_path / "final.mp4", original, ffmpeg_tools, timeout_s=60)

    assert final.duration_s == pytest.approx(7.2, abs=0.05)
    # atempo overlaps windows of about 40 ms, so a stretched onset smears by up to half of one.
    assert beep_onsets(final.path) == pytest.approx([1.2 * k for k in range(6)], abs=FRAME_24)


def test_a_padded_short_clip_comes_back_at_its_own_length(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    clip, original = conformed(make_clip(duration_s=1.0), tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4")

    final = finish(result, tmp_path / "final.mp4", original, ffmpeg_tools, timeout_s=60)

    assert probe(clip).duration_s == pytest.approx(3.0, abs=0.05)
    assert probe(result).duration_s == pytest.approx(3.0, abs=0.05)
    assert final.duration_s == pytest.approx(1.0, abs=0.05)
    assert audio_seconds(final.path) == pytest.approx(1.0, abs=0.03)


def test_the_result_is_not_probed_again_when_its_probe_is_handed_over(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path, probes: Callable[[], list[str]]
) -> None:
    source, result = make_clip(), make_clip(audio=False)
    original = OriginalSound(path=source, start_s=0.0, duration_s=3.0, sent_s=3.0, has_audio=True)
    output = tmp_path / "final.mp4"
    with pytest.raises(ValueError, match="describes"):  # the source's probe given as the result's
        finish(result, output, original, ffmpeg_tools, timeout_s=60, result_info=probe(source))
    assert not output.exists()
    result_info = probe(result)
    probed = len(probes())

    final = finish(result, output, original, ffmpeg_tools, timeout_s=60, result_info=result_info)

    assert [line.split()[1] for line in probes()[probed:]] == ["final.mp4"]  # the output only
    assert (final.path, final.has_audio) == (output, True)
    assert final.duration_s == pytest.approx(3.0, abs=0.1)


def test_a_silent_source_stays_silent(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip, original = conformed(make_clip(audio=False), tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4")
    caplog.set_level(logging.INFO, logger="reskin.media.sound")

    final = finish(result, tmp_path / "final.mp4", original, ffmpeg_tools, timeout_s=60)

    assert not final.has_audio
    assert final.duration_s == pytest.approx(3.0, abs=0.05)
    assert "the source has no sound: the result stays silent" in caplog.text


@pytest.mark.parametrize("name", ["audio-5.1", "webm-vp9-opus"])
def test_5_1_and_opus_sources_come_back_as_aac_stereo(
    name: str, corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    source = corpus.path(name)
    clip, original = conformed(source, tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4")

    final = finish(result, tmp_path / "final.mp4", original, ffmpeg_tools, timeout_s=60)

    assert probe(source).audio_codec in ("aac", "opus")
    assert (final.audio_codec, final.audio_channels) == ("aac", 2)
    assert final.duration_s == pytest.approx(3.0, abs=0.1)


def test_model_mode_keeps_the_services_sound_as_it_is(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    clip, original = conformed(make_clip(audio_channels=6), tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4", keep_audio=True)

    final = finish(
        result, tmp_path / "final.mp4", original, ffmpeg_tools, mode=AudioMode.MODEL, timeout_s=60
    )

    assert final.has_audio
    assert audio_seconds(final.path) == pytest.approx(audio_seconds(result), abs=0.03)


def test_model_mode_without_sound_from_the_service_says_so(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip, original = conformed(make_clip(), tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4")
    caplog.set_level(logging.INFO, logger="reskin.media.sound")

    final = finish(
        result, tmp_path / "final.mp4", original, ffmpeg_tools, mode=AudioMode.MODEL, timeout_s=60
    )

    assert not final.has_audio
    assert "the service returned no sound" in caplog.text


def test_none_mode_strips_the_sound(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    clip, original = conformed(make_clip(), tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4", keep_audio=True)

    final = finish(
        result, tmp_path / "final.mp4", original, ffmpeg_tools, mode=AudioMode.NONE, timeout_s=60
    )

    assert probe(result).has_audio
    assert not final.has_audio


def test_a_failing_mux_leaves_nothing_at_the_output_path(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    clip, _ = conformed(make_clip(), tmp_path, ffmpeg_tools)
    result = render_result(ffmpeg_tools, clip, tmp_path / "result.mp4")
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("not a video\n")
    broken = OriginalSound(path=not_a_video, start_s=0, duration_s=3, sent_s=3, has_audio=True)
    out = tmp_path / "out"

    with pytest.raises(FFmpegError) as caught:
        finish(result, out / "final.mp4", broken, ffmpeg_tools, timeout_s=60)

    assert caught.value.returncode not in (0, None)
    assert caught.value.argv[0] == str(ffmpeg_tools.ffmpeg)
    assert list(out.iterdir()) == []


def test_a_final_file_that_fails_verification_never_reaches_the_output_path(
    corpus: Corpus, make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    """A result damaged in the middle copies "fine"; only the full decode sees it."""
    source = make_clip(duration_s=4.0)
    original = OriginalSound(path=source, start_s=0, duration_s=4, sent_s=4, has_audio=True)
    output = tmp_path / "final.mp4"
    output.write_bytes(b"the previous final file")

    with pytest.raises(VerificationError, match=r"final\.mp4 does not decode to its end"):
        finish(corpus.path("corrupt"), output, original, ffmpeg_tools, timeout_s=60)

    assert output.read_bytes() == b"the previous final file"
    assert [path.name for path in tmp_path.iterdir()] == ["final.mp4"]
