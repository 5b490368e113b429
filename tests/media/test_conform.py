"""Conforming: the pure planner on probe values, then real ffmpeg on generated clips, each
output checked by the stand-in (it must accept every conformed clip on the first try)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest

from reskin.errors import OutOfLimitsError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import synthetic_clip_command
from reskin.media.conform import (
    Action,
    ConformPlan,
    Layout,
    Window,
    conform,
    conform_fps,
    conform_size,
    fits_datauri,
    plan_conform,
    plan_conform_file,
    read_layout,
)
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.standin.server import StandIn
from tests.infos import LEGAL_1080P

from .corpus import Corpus, MakeClip
from .marks import create_at_standin, video_packet_hashes

LIMITS = spec_for(DEFAULT_MODEL).limits

#: A 1080p H.264 clip that breaks no limit.
LEGAL = LEGAL_1080P
#: What read_layout says of a file reskin itself wrote.
CLEAN = Layout(keyframes_s=(0.0, 2.0, 4.0), faststart=True)


def plan(
    layout: Layout | None = CLEAN,
    window: Window | None = None,
    *,
    inline: bool = False,
    **changes: Any,
) -> ConformPlan:
    """The plan for :data:`LEGAL` with ``changes``."""
    return plan_conform(
        dataclasses.replace(LEGAL, **changes),
        window=window,
        layout=layout,
        limits=LIMITS,
        inline=inline,
    )


# --- the planner ----------------------------------------------------------------------------


def test_a_conforming_clip_with_a_clean_layout_passes_through() -> None:
    done = plan()

    assert done.action is Action.PASSTHROUGH
    assert done.describe() == "passthrough (already conforms)"
    assert (done.width, done.height, done.fps, done.audio) == (1920, 1080, 30.0, "copy")
    assert (done.start_s, done.duration_s, done.sent_s, done.cut_back) == (0.0, 5.0, 5.0, False)


@pytest.mark.parametrize(
    ("layout", "reason"),
    [
        (dataclasses.replace(CLEAN, faststart=False), "index at the end"),
        (dataclasses.replace(CLEAN, private_tags=("creation_time", "location")), "location"),
        (dataclasses.replace(CLEAN, extra_streams=1), "1 extra stream"),
        (None, "layout not read"),
    ],
)
def test_a_layout_problem_costs_a_remux_not_a_re_encode(layout: Layout | None, reason: str) -> None:
    done = plan(layout)

    assert done.action is Action.COPY
    assert any(reason in line for line in done.reasons), done.reasons
    assert done.describe().startswith("stream copy, no re-encode (")


def test_an_index_at_the_end_is_no_reason_to_copy_a_clip_sent_inline() -> None:
    # A data URI is read whole before anything is decoded; a URL's reader may start at the front.
    at_the_end = dataclasses.replace(CLEAN, faststart=False)

    assert plan(at_the_end, inline=True).action is Action.PASSTHROUGH
    assert plan(at_the_end).action is Action.COPY
    # Inline changes nothing else: private metadata still costs a remux.
    private = dataclasses.replace(at_the_end, private_tags=("location",))
    assert plan(private, inline=True).reasons == ("metadata to strip (location)",)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"container": "matroska"}, "Matroska container"),
        ({"container": "mov"}, "QuickTime container"),
        ({"audio_codec": "opus"}, "Opus 2-channel sound: AAC stereo"),
        ({"audio_channels": 6}, "AAC 6-channel sound: AAC stereo"),
        ({"fps": 60.0}, None),
        ({"fps": 24.0}, None),
        ({"width": 720, "height": 720}, None),
        ({"width": 2160, "height": 720}, None),
    ],
)
def test_what_a_copy_can_fix_is_copied(changes: dict[str, Any], reason: str | None) -> None:
    done = plan(**changes)

    assert done.action is (Action.COPY if reason else Action.PASSTHROUGH)
    if reason:
        assert reason in done.reasons
    assert done.audio == ("aac" if "audio" in str(changes) else "copy")


@pytest.mark.parametrize(
    ("changes", "reason", "size", "fps"),
    [
        (
            {"rotation": 90},
            "rotated 90°: re-encode to bake the rotation",
            (1080, 1920),
            30.0,
        ),
        ({"variable_fps": True, "fps": 20.4}, "VFR (avg 20.4 fps): 24 fps constant", None, 24.0),
        ({"variable_fps": True, "fps": 29.6}, "VFR (avg 29.6 fps): 30 fps constant", None, 30.0),
        ({"fps": 23.976}, "23.976 fps outside 24..60: 24 fps", None, 24.0),
        ({"fps": 120.0}, "120 fps outside 24..60: 60 fps", None, 60.0),
        ({"fps": 15.0}, "15 fps outside 24..60: 24 fps", None, 24.0),
        ({"width": 1279, "height": 719}, "1279x719 odd size", None, 30.0),
        ({"width": 640, "height": 360}, "640x360 under 720 px: 1280x720", (1280, 720), 30.0),
        ({"width": 3840, "height": 2160}, "3840x2160 over 2160 px", None, 30.0),
        (
            {"video_codec": "hevc", "pix_fmt": "yuv420p10le"},
            "HEVC 10-bit: H.264 yuv420p",
            None,
            30.0,
        ),
        ({"video_codec": "vp9"}, "VP9: H.264 yuv420p", None, 30.0),
        ({"pix_fmt": "yuv444p"}, "H.264 yuv444p: yuv420p", None, 30.0),
        ({"size_bytes": 400_000_000}, "about 400 MB, over the 200 MB limit", None, 30.0),
    ],
)
def test_what_only_an_encode_can_fix_is_re_encoded(
    changes: dict[str, Any], reason: str, size: tuple[int, int] | None, fps: float
) -> None:
    done = plan(**changes)

    assert done.action is Action.ENCODE
    assert any(line.startswith(reason) for line in done.reasons), done.reasons
    assert done.describe().startswith("re-encode (")
    assert done.fps == fps
    if size:
        assert (done.width, done.height) == size
    assert done.audio == "aac"


def test_an_encode_says_every_reason() -> None:
    done = plan(rotation=270, variable_fps=True, fps=20.0, video_codec="hevc", audio_channels=6)

    assert len(done.reasons) == 4
    assert done.reasons[-1] == "AAC 6-channel sound: AAC stereo"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1920, 1080), (1920, 1080)),
        ((1080, 1920), (1080, 1920)),
        ((720, 720), (720, 720)),
        ((640, 360), (1280, 720)),
        ((360, 640), (720, 1280)),
        ((100, 100), (720, 720)),
        ((2160, 720), (2160, 720)),
        ((4096, 2160), (2160, 1140)),
    ],
)
def test_conform_size_exact_cases(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert conform_size(*size, limits=LIMITS) == expected


@pytest.mark.parametrize(
    "size",
    [(1279, 719), (3840, 2160), (719, 1279), (2001, 999), (721, 2161), (1000, 721), (7680, 4320)],
)
def test_conform_size_is_even_within_the_sides_and_keeps_the_aspect(
    size: tuple[int, int],
) -> None:
    width, height = conform_size(*size, limits=LIMITS)

    assert width % 2 == height % 2 == 0
    assert LIMITS.min_side <= min(width, height)
    assert max(width, height) <= LIMITS.max_side
    assert width / height == pytest.approx(size[0] / size[1], rel=0.004)


def test_a_picture_too_narrow_for_any_allowed_size_is_refused() -> None:
    with pytest.raises(OutOfLimitsError, match=r"3000x720, longer than 3:1.*crop it"):
        conform_size(3000, 720, limits=LIMITS)
    with pytest.raises(OutOfLimitsError, match=r"720x2400, longer than 3:1"):
        conform_size(720, 2400, limits=LIMITS)


@pytest.mark.parametrize(
    ("fps", "variable", "expected"),
    [
        (23.976, False, 24.0),
        (29.97, False, 29.97),
        (60.0, False, 60.0),
        (59.94, False, 59.94),
        (120.0, False, 60.0),
        (20.0, True, 24.0),
        (47.6, True, 48.0),
        (0.0, False, 24.0),
        (float("nan"), True, 24.0),
    ],
)
def test_conform_fps(fps: float, variable: bool, expected: float) -> None:
    assert conform_fps(fps, variable=variable, limits=LIMITS) == expected


def test_a_clip_under_3_s_is_padded_to_3_s_and_remembers_its_length() -> None:
    done = plan(duration_s=1.0)

    assert done.action is Action.ENCODE
    assert (done.duration_s, done.read_s, done.pad_to_s, done.sent_s) == (1.0, 1.0, 3.0, 3.0)
    assert done.cut_back
    assert done.reasons[0] == "1.00 s is under 3 s: pad to 3 s with the last frame, cut back after"


def test_a_short_window_is_extended_with_more_of_the_clip_rather_than_padded() -> None:
    done = plan(duration_s=8.0, window=Window(2.0, 3.0))

    assert done.action is Action.COPY  # 2.0 is a keyframe: nothing to encode
    assert (done.start_s, done.duration_s, done.read_s, done.pad_to_s) == (2.0, 1.0, 3.0, None)
    assert done.cut_back
    assert "1.00 s is under 3 s: send 3.00 s of the clip, cut back after" in done.reasons


def test_a_short_window_at_the_end_is_extended_as_far_as_it_goes_then_padded() -> None:
    done = plan(duration_s=8.0, window=Window(7.0, 8.0))

    assert done.action is Action.ENCODE
    assert (done.read_s, done.pad_to_s, done.sent_s) == (1.0, 3.0, 3.0)


def test_a_clip_over_the_maximum_without_a_window_is_refused_with_a_hint() -> None:
    with pytest.raises(OutOfLimitsError) as caught:
        plan(duration_s=25.0)

    message = str(caught.value)
    assert "25.00 s" in message
    assert "10.05 s" in message
    assert "`start_s` and `end_s`" in message
    assert "\n" not in message


def test_a_window_on_a_keyframe_is_copied_and_one_between_keyframes_is_encoded() -> None:
    on_keyframe = plan(duration_s=25.0, window=Window(4.0, 12.0))
    near_keyframe = plan(duration_s=25.0, window=Window(4.01, 12.0))
    between = plan(duration_s=25.0, window=Window(4.5, 12.0))

    assert on_keyframe.action is Action.COPY
    assert "window 4.00..12.00 s of 25.00 s" in on_keyframe.reasons
    assert near_keyframe.action is Action.COPY  # within half a frame: the cut snaps to it
    assert near_keyframe.start_s == 4.0
    assert between.action is Action.ENCODE
    assert "window starts at 4.50 s, between keyframes" in between.reasons
    assert plan(layout=None, duration_s=25.0, window=Window(4.0, 12.0)).action is Action.ENCODE


def test_a_window_to_the_end_and_one_from_the_start() -> None:
    tail = plan(duration_s=12.0, window=Window(4.0))
    head = plan(duration_s=12.0, window=Window(0.0, 6.0))

    assert (tail.start_s, tail.duration_s) == (4.0, 8.0)
    assert (head.action, head.start_s, head.duration_s) == (Action.COPY, 0.0, 6.0)


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (Window(12.0, 14.0), "`start_s` 12.00 s is at or after the end of the video"),
        (Window(5.0, 5.0), "`end_s` 5.00 s is not after `start_s` 5.00 s"),
        (Window(2.0, 13.0), "`end_s` 13.00 s is after the end of the video (12.00 s)"),
        (
            Window(0.0, 11.0),
            "lasts 11.00 s and klingai/video-o1-video-to-video-edit edits at most 10.05 s",
        ),
    ],
)
def test_a_window_outside_the_clip_or_too_long_is_refused(window: Window, words: str) -> None:
    with pytest.raises(OutOfLimitsError) as caught:
        plan(duration_s=12.0, window=window)

    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_end_a_hair_past_the_clip_means_its_end() -> None:
    assert plan(duration_s=9.98, window=Window(0.0, 10.0)).duration_s == 9.98


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_window_needs_real_seconds(bad: float) -> None:
    with pytest.raises(OutOfLimitsError, match="number of seconds"):
        Window(bad)


def test_the_data_uri_budget() -> None:
    assert fits_datauri(LEGAL, max_bytes=6_000_000)
    assert not fits_datauri(LEGAL, max_bytes=5_999_999)


# --- real runs ------------------------------------------------------------------------------


def test_a_conforming_1080p_clip_is_never_re_encoded(
    make_clip: MakeClip,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    standin: StandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = make_clip(duration_s=5.0, width=1920, height=1080, fps=30)
    info = probe(source)
    caplog.set_level(logging.INFO, logger="reskin.media.conform")

    first = plan_conform_file(info, limits=LIMITS)
    copied = conform(source, tmp_path / "c1.mp4", first, ffmpeg_tools, timeout_s=60, limits=LIMITS)
    again = plan_conform_file(copied.info, limits=LIMITS)
    passed = conform(
        copied.path, tmp_path / "c2.mp4", again, ffmpeg_tools, timeout_s=60, limits=LIMITS
    )

    # ffmpeg writes the index last: a remux moves it to the front, copying every packet.
    assert first.action is Action.COPY
    assert first.reasons == ("index at the end: move it to the front",)
    assert video_packet_hashes(copied.path) == video_packet_hashes(source)
    assert again.action is Action.PASSTHROUGH
    assert passed.path.samefile(copied.path)  # a hard link: not even a copy
    assert copied.elapsed_s < 1.0
    assert "conform: stream copy, no re-encode (index at the end" in caplog.text
    assert "conform: passthrough (already conforms)" in caplog.text
    assert create_at_standin(standin, passed.path).status_code == 200
    # Sent inline, the first file goes as it is, index at the end and all: the stand-in (which
    # decodes what it is sent, as the service does) takes it.
    inline = plan_conform_file(info, limits=LIMITS, inline=True)
    linked = conform(source, tmp_path / "c3.mp4", inline, ffmpeg_tools, timeout_s=60, limits=LIMITS)
    assert inline.action is Action.PASSTHROUGH
    assert linked.path.samefile(source)
    assert create_at_standin(standin, linked.path).status_code == 200


def test_private_metadata_is_stripped_by_the_copy(
    ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    source = tmp_path / "phone.mp4"
    argv = synthetic_clip_command(
        ffmpeg_tools.ffmpeg, source, duration_s=3.0, width=720, height=720
    )
    where = argv.index(str(source))
    argv[where:where] = ["-metadata", "location=+48.8577+002.2950/", "-movflags", "+faststart"]
    run(argv, timeout_s=60)
    info = probe(source)

    before = read_layout(source, until_s=1.0)
    done = conform(
        source,
        tmp_path / "out.mp4",
        plan_conform(info, layout=before, limits=LIMITS),
        ffmpeg_tools,
        timeout_s=60,
        limits=LIMITS,
    )
    after = read_layout(done.path, until_s=1.0)

    assert before.faststart
    assert "location" in before.private_tags
    assert done.plan.action is Action.COPY
    assert after.private_tags == ()
    assert after.faststart


@pytest.fixture(scope="module")
def gop_clip(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, 24 fps, a keyframe every second exactly."""
    path = tmp_path_factory.mktemp("gop") / "gop.mp4"
    argv = synthetic_clip_command(
        ffmpeg_tools.ffmpeg, path, duration_s=8.0, width=720, height=720, keyint=24
    )
    run(argv, timeout_s=60)
    return path


def test_a_window_on_a_keyframe_is_cut_by_copy_to_the_frame(
    gop_clip: Path, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    info = probe(gop_clip)

    done = conform(
        gop_clip,
        tmp_path / "cut.mp4",
        plan_conform_file(info, window=Window(2.0, 6.0), limits=LIMITS),
        ffmpeg_tools,
        timeout_s=60,
        limits=LIMITS,
    )

    assert done.plan.action is Action.COPY
    source_packets = video_packet_hashes(gop_clip)
    assert video_packet_hashes(done.path) == source_packets[48:144]  # frames 2.0 .. 6.0 s


def test_a_window_between_keyframes_is_re_encoded_exactly(
    gop_clip: Path, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    info = probe(gop_clip)
    window_plan = plan_conform_file(info, window=Window(2.5, 6.5), limits=LIMITS)

    done = conform(
        gop_clip,
        tmp_path / "cut.mp4",
        window_plan,
        ffmpeg_tools,
        timeout_s=60,
        preset="ultrafast",
        limits=LIMITS,
    )

    assert window_plan.action is Action.ENCODE
    assert done.info.duration_s == pytest.approx(4.0, abs=0.05)


#: What each clip of the trap corpus must become: action, displayed size (None: as it was),
#: frame rate, sound kept.
EXPECTED: dict[str, tuple[Action, tuple[int, int] | None, float, bool]] = {
    "plain": (Action.COPY, None, 24.0, True),
    "rotated-90": (Action.ENCODE, (720, 1280), 24.0, True),
    "vfr-mp4": (Action.ENCODE, None, 24.0, True),
    "vfr-mkv": (Action.ENCODE, None, 24.0, True),
    "no-audio": (Action.COPY, None, 24.0, False),
    "audio-5.1": (Action.COPY, None, 24.0, True),
    "hevc-10bit-mov": (Action.ENCODE, None, 24.0, True),
    "webm-vp9-opus": (Action.ENCODE, None, 24.0, True),
    "odd-1279x719": (Action.ENCODE, None, 24.0, True),
    "4k": (Action.ENCODE, None, 24.0, True),
    "360p": (Action.ENCODE, (1280, 720), 24.0, True),
    "60fps": (Action.COPY, (720, 720), 60.0, True),
    "1s": (Action.ENCODE, (720, 720), 24.0, True),
    "25s": (Action.ENCODE, (720, 720), 24.0, True),
}
#: The 25 s clip needs a window; 10..15 s starts between its keyframes (0 and 10.4 s).
WINDOWS = {"25s": Window(10.0, 15.0)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_conformable_clip_of_the_corpus_conforms_and_is_accepted(
    name: str, corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path: Path, standin: StandIn
) -> None:
    action, size, fps, sound = EXPECTED[name]
    source = corpus.path(name)
    info = probe(source)

    done_plan = plan_conform_file(info, window=WINDOWS.get(name), limits=LIMITS)
    done = conform(
        source,
        tmp_path / "conformed.mp4",
        done_plan,
        ffmpeg_tools,
        timeout_s=120,
        preset="ultrafast",
        limits=LIMITS,
    )

    assert done_plan.action is action, done_plan.reasons
    out = done.info
    assert (out.container, out.video_codec, out.pix_fmt, out.rotation) == (
        "mp4",
        "h264",
        "yuv420p",
        0,
    )
    assert out.width % 2 == out.height % 2 == 0
    assert min(out.width, out.height) >= 720
    assert max(out.width, out.height) <= 2160
    if size:
        assert (out.width, out.height) == size
    assert out.display_width / out.display_height == pytest.approx(
        info.display_width / info.display_height, rel=0.004
    )
    assert out.fps == pytest.approx(fps, abs=0.01)
    assert not out.variable_fps
    assert out.duration_s == pytest.approx(done_plan.sent_s, abs=0.1)
    assert 3.0 <= out.duration_s <= 10.05
    assert out.has_audio is sound
    if sound:
        assert (out.audio_codec, out.audio_channels) == ("aac", 2)
    # The job is marked to fail later so the stand-in spends no CPU rendering: acceptance is all
    # this test asks of it, and acceptance (200) runs every check of the limits first.
    standin.set_faults(job_error=1)
    answer = create_at_standin(standin, done.path)
    assert answer.status_code == 200, answer.text
    assert standin.stats().jobs_accepted == 1


def test_the_25_s_clip_without_a_window_is_refused(corpus: Corpus) -> None:
    with pytest.raises(OutOfLimitsError, match="`start_s` and `end_s`"):
        plan_conform_file(probe(corpus.path("25s")), limits=LIMITS)


def test_23_976_fps_is_conformed_to_24(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    source = make_clip(fps=23.976)
    info = probe(source)

    done = conform(
        source,
        tmp_path / "out.mp4",
        plan_conform_file(info, limits=LIMITS),
        ffmpeg_tools,
        timeout_s=60,
        preset="ultrafast",
        limits=LIMITS,
    )

    assert info.fps == pytest.approx(23.976, abs=0.001)
    assert done.plan.action is Action.ENCODE
    assert done.info.fps == 24.0


def test_an_output_that_does_not_conform_is_refused_and_never_reaches_the_destination(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    source = make_clip()
    wrong = dataclasses.replace(plan_conform_file(probe(source), limits=LIMITS), width=1280)
    dest = tmp_path / "out" / "conformed.mp4"

    with pytest.raises(VerificationError, match=r"conformed.mp4 does not conform: picture 720x720"):
        conform(source, dest, wrong, ffmpeg_tools, timeout_s=60, limits=LIMITS)

    assert list(dest.parent.iterdir()) == []
