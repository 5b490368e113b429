"""Probing: the fields of MediaInfo, the traps of the corpus, the files it must refuse, keyframes,
and the ffprobe backend."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import av
import pytest

from reskin.errors import InputError, MediaError, ProbeError
from reskin.media.binaries import FFmpegTools
from reskin.media.probe import (
    OPEN_OPTIONS,
    REORDER_WINDOW,
    PacketTime,
    ffprobe_packets_command,
    ffprobe_streams_command,
    keyframe_times,
    media_info_from_ffprobe,
    packet_from_csv,
    probe,
    shown_name,
)
from reskin.media.runner import run

from .corpus import Corpus, Listener


def test_an_mp4_with_audio(make_clip: Callable[..., Path]) -> None:
    clip = make_clip(duration_s=3.0, width=720, height=720, fps=24, audio=True)

    info = probe(clip)

    assert info.path == clip
    assert info.container == "mp4"
    assert info.format_name.startswith("mov,mp4")
    assert info.size_bytes == clip.stat().st_size
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert (info.width, info.height) == (720, 720)
    assert (info.display_width, info.display_height) == (720, 720)
    assert info.rotation == 0
    assert info.fps == pytest.approx(24.0)
    assert info.variable_fps is False
    assert info.video_codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 2)


def test_a_silent_clip(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(audio=False))

    assert (info.has_audio, info.audio_codec, info.audio_channels) == (False, None, None)


def test_mono_audio_channels(make_clip: Callable[..., Path]) -> None:
    assert probe(make_clip(audio_channels=1)).audio_channels == 1


def test_mov_is_told_apart_from_mp4(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(container="mov"))

    assert info.container == "mov"
    assert info.format_name.startswith("mov,mp4")


def test_matroska_is_read(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(container="mkv"))

    assert info.container == "matroska"
    assert info.format_name.startswith("matroska")
    assert (info.width, info.height) == (720, 720)


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotation_swaps_the_displayed_size(make_clip: Callable[..., Path], rotation: int) -> None:
    info = probe(make_clip(width=1280, height=720, rotation=rotation))

    assert info.rotation == rotation
    assert (info.width, info.height) == (1280, 720)
    assert (info.display_width, info.display_height) == (720, 1280)


def test_variable_frame_rate_is_flagged(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(fps=30, variable_fps=True))

    assert info.variable_fps is True
    assert info.fps == pytest.approx(20.0, rel=0.05)  # two frames of every three


def _ffmpeg(tools: FFmpegTools, *args: str | Path) -> None:
    run([tools.ffmpeg, "-nostdin", "-v", "error", "-y", *args], timeout_s=60)


@pytest.fixture(scope="module")
def impostors(
    ffmpeg_tools: FFmpegTools,
    make_clip: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """Files named .mp4 that are not MP4/MOV/Matroska videos."""
    folder = tmp_path_factory.mktemp("impostors")
    png, wav = folder / "image.png", folder / "sound.wav"
    _ffmpeg(ffmpeg_tools, "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", png)
    _ffmpeg(ffmpeg_tools, "-f", "lavfi", "-i", "sine=duration=1", wav)
    audio_only = folder / "audio-only.mp4"
    _ffmpeg(ffmpeg_tools, "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audio_only)
    files = {"audio-only": audio_only}
    for name, source in (("png", png), ("wav", wav)):
        files[name] = folder / f"{name}.mp4"
        shutil.copyfile(source, files[name])
    files["text"] = folder / "text.mp4"
    files["text"].write_text("hello, I am not a video\n")
    files["empty"] = folder / "empty.mp4"
    files["empty"].write_bytes(b"")
    # An HLS playlist that would pull another local video in (MEDIA.md, hostile inputs).
    files["hls"] = folder / "playlist.mp4"
    files["hls"].write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\n{make_clip()}\n#EXT-X-ENDLIST\n"
    )
    whole = make_clip().read_bytes()
    files["truncated"] = folder / "truncated.mp4"
    files["truncated"].write_bytes(whole[: len(whole) // 2])  # moov is at the end: lost
    return files


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("png", "not an MP4, MOV or Matroska video"),
        ("wav", "not an MP4, MOV or Matroska video"),
        ("text", "not an MP4, MOV or Matroska video"),
        ("hls", "not an MP4, MOV or Matroska video"),
        ("truncated", "is damaged or cut short"),
        ("empty", "is empty"),
        ("audio-only", "has no video stream"),
    ],
)
def test_files_that_are_not_videos_are_refused(
    impostors: dict[str, Path], name: str, reason: str
) -> None:
    with pytest.raises(ProbeError, match=reason) as caught:
        probe(impostors[name])

    assert isinstance(caught.value, InputError)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(impostors[name].name)
    assert "try again" in message  # says what to do


def test_the_whitelist_is_what_refuses_a_png(impostors: dict[str, Path]) -> None:
    # Without the format options PyAV opens the PNG happily: the guard is doing the work.
    with av.open(str(impostors["png"])) as container:
        assert container.format.name == "png_pipe"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="cannot read the file"):
        probe(tmp_path / "nothing.mp4")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="not a file"):
        probe(tmp_path)


# --- traps of the corpus (tests/media/corpus.py) ---------------------------------------------


def test_variable_frame_rate_is_flagged_in_matroska_too(corpus: Corpus) -> None:
    # Matroska states the nominal rate as the average: only the gaps between frames tell.
    with av.open(str(corpus.path("vfr-mkv")), container_options=dict(OPEN_OPTIONS)) as raw:
        stream = raw.streams.video[0]
        assert stream.average_rate == stream.guessed_rate == 30

    info = probe(corpus.path("vfr-mkv"))

    assert info.variable_fps is True
    assert info.fps == pytest.approx(20.0, rel=0.05)


@pytest.mark.parametrize("name", ["plain", "webm-vp9-opus", "60fps", "hevc-10bit-mov", "25s"])
def test_a_constant_frame_rate_is_not_flagged(corpus: Corpus, name: str) -> None:
    # WebM keeps milliseconds: 24 fps comes out as gaps of 41 and 42 ms, which is still constant.
    info = probe(corpus.path(name))

    assert info.variable_fps is False
    assert info.fps == pytest.approx(60.0 if name == "60fps" else 24.0, abs=0.01)


@pytest.mark.parametrize("fps", [120, 240])
def test_high_rates_in_matroska_are_not_mistaken_for_variable(
    make_clip: Callable[..., Path], fps: int
) -> None:
    # Milliseconds again: 240 fps comes out as gaps of 4 and 5 ms, a quarter apart.
    clip = make_clip(duration_s=1.0, width=320, height=240, fps=fps, audio=False, container="mkv")

    info = probe(clip)

    assert info.variable_fps is False
    assert info.fps == pytest.approx(fps)


@pytest.mark.parametrize(
    ("name", "container", "codec", "pix_fmt", "audio"),
    [
        ("hevc-10bit-mov", "mov", "hevc", "yuv420p10le", ("aac", 1)),
        ("webm-vp9-opus", "matroska", "vp9", "yuv420p", ("opus", 1)),
        ("audio-5.1", "mp4", "h264", "yuv420p", ("aac", 6)),
        ("odd-1279x719", "mp4", "mpeg4", "yuv420p", ("aac", 1)),
    ],
)
def test_codecs_and_containers_of_the_corpus(
    corpus: Corpus,
    name: str,
    container: str,
    codec: str,
    pix_fmt: str,
    audio: tuple[str, int],
) -> None:
    info = probe(corpus.path(name))

    assert (info.container, info.video_codec, info.pix_fmt) == (container, codec, pix_fmt)
    assert (info.audio_codec, info.audio_channels) == audio


@pytest.mark.parametrize(("name", "size"), [("odd-1279x719", (1279, 719)), ("4k", (3840, 2160))])
def test_odd_and_huge_sizes_are_reported_as_they_are(
    corpus: Corpus, name: str, size: tuple[int, int]
) -> None:
    info = probe(corpus.path(name))

    assert (info.width, info.height) == size


@pytest.mark.parametrize("name", ["truncated-index-at-start", "truncated-mkv"])
def test_a_file_cut_short_behind_a_whole_index_is_refused(corpus: Corpus, name: str) -> None:
    # The header still promises 4 s; only the packets show the data stops at about 2 s.
    with av.open(str(corpus.path(name)), container_options=dict(OPEN_OPTIONS)) as raw:
        assert raw.duration is not None
        assert raw.duration / av.time_base == pytest.approx(4.0, abs=0.05)

    with pytest.raises(
        ProbeError, match=r"is cut short: it states 4\.0 s but its data stops at 2\.0 s"
    ):
        probe(corpus.path(name))


def test_a_file_cut_short_with_its_index_at_the_end_is_called_damaged(corpus: Corpus) -> None:
    with pytest.raises(ProbeError, match="is damaged or cut short"):
        probe(corpus.path("truncated-end"))


def test_corruption_in_the_middle_passes_the_probe(corpus: Corpus) -> None:
    # The probe reads packets, not pictures: the full decode of verify.py is what catches this.
    assert probe(corpus.path("corrupt")).duration_s == pytest.approx(4.0, abs=0.05)


def test_messages_use_the_given_name_made_printable(corpus: Corpus) -> None:
    with pytest.raises(ProbeError) as caught:
        probe(corpus.path("text"), name="holiday\n\x1b[31mclip.mp4")

    message = str(caught.value)
    assert message.startswith("holiday??[31mclip.mp4 is not an MP4")
    assert "\n" not in message
    assert "\x1b" not in message


def test_shown_name_shortens_long_names() -> None:
    assert shown_name("a" * 200) == "a" * 77 + "..."
    assert shown_name("") == "(no name)"


# --- keyframes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gop_half_second(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 24 fps with a keyframe every 12 frames, and no scene-cut keyframes."""
    path = tmp_path_factory.mktemp("gop") / "gop.mp4"
    _ffmpeg(
        ffmpeg_tools,
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "12", "-keyint_min", "12",
        "-sc_threshold", "0", path,
    )  # fmt: skip
    return path


def test_keyframe_times_reads_the_keyframes(gop_half_second: Path) -> None:
    assert keyframe_times(gop_half_second, 10.0) == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])


def test_keyframe_times_stops_at_the_limit(gop_half_second: Path) -> None:
    assert keyframe_times(gop_half_second, 1.2) == pytest.approx([0.0, 0.5, 1.0])


def test_keyframe_times_agree_with_the_decoder(gop_half_second: Path) -> None:
    with av.open(str(gop_half_second), container_options=dict(OPEN_OPTIONS)) as raw:
        decoded = [f.time for f in raw.decode(video=0) if f.key_frame and f.time is not None]

    assert keyframe_times(gop_half_second, 10.0) == pytest.approx(decoded)


def test_keyframe_times_refuses_what_probe_refuses(corpus: Corpus) -> None:
    with pytest.raises(ProbeError, match="not an MP4"):
        keyframe_times(corpus.path("concat-relative"), 10.0)


# --- the ffprobe backend --------------------------------------------------------------------
# The bundled ffmpeg has no ffprobe, so the parser is tested on ffprobe's output built here in
# its documented shapes (-print_format json -show_format -show_streams for the streams;
# -print_format csv=p=0 -show_entries packet=... for the packets), the plumbing with a stand-in
# script that records its argv and prints such output, and the real thing only where an ffprobe
# is on PATH (Debian's, in CI's second leg and on these machines).


class _Probed(NamedTuple):
    """What the two ffprobe runs print for a clip: format and streams, and the packet rows."""

    data: dict[str, object]
    rows: list[str]


def _ffprobe_output(
    *,
    seconds: float = 3.0,
    fps: int = 24,
    gaps: list[float] | None = None,
    data_stops_s: float | None = None,
    format_name: str = "mov,mp4,m4a,3gp,3g2,mj2",
    brand: str | None = "isom",
    rate: str = "24/1",
    average: str = "24/1",
    video_side_data: list[dict[str, object]] | None = None,
    video_tags: dict[str, str] | None = None,
    audio: bool = True,
    video: bool = True,
) -> _Probed:
    """What ffprobe prints for a generated clip, in the shapes of its JSON and CSV writers."""
    streams: list[dict[str, object]] = []
    rows: list[str] = []
    if video:
        stream: dict[str, object] = {
            "index": 0,
            "codec_name": "h264",
            "codec_type": "video",
            "width": 1280,
            "height": 720,
            "pix_fmt": "yuv420p",
            "r_frame_rate": rate,
            "avg_frame_rate": average,
            "time_base": "1/12288",
            "start_time": "0.000000",
            "duration": f"{seconds:.6f}",
            "tags": {"language": "und", "handler_name": "VideoHandler", **(video_tags or {})},
        }
        if video_side_data is not None:
            stream["side_data_list"] = video_side_data
        streams.append(stream)
        stop = seconds if data_stops_s is None else data_stops_s
        at, n = 0.0, 0
        while at < stop - 1e-9:
            gap = gaps[n % len(gaps)] if gaps else 1 / fps
            rows.append(f"0,{at:.6f},{at:.6f},{gap:.6f}")
            at, n = at + gap, n + 1
    if audio:
        # AAC's first packet carries side data (skip samples): its row ends with a comma, and
        # the side data's own section, with no entry asked for, is an empty line.
        rows[:0] = [f"{len(streams)},-0.021333,-0.021333,0.021333,", ""]
        streams.append(
            {
                "index": len(streams),
                "codec_name": "aac",
                "codec_type": "audio",
                "sample_rate": "48000",
                "channels": 2,
                "channel_layout": "stereo",
                "time_base": "1/48000",
                "duration": f"{seconds:.6f}",
            }
        )
    fmt: dict[str, object] = {
        "filename": "/job/input.mp4",
        "nb_streams": len(streams),
        "format_name": format_name,
        "start_time": "0.000000",
        "duration": f"{seconds:.6f}",
        "size": "1000",
        "probe_score": 100,
    }
    if brand is not None:
        fmt["tags"] = {"major_brand": brand, "minor_version": "512"}
    return _Probed({"streams": streams, "format": fmt}, rows)


CLIP = Path("/job/input.mp4")


@pytest.mark.parametrize("build", [ffprobe_streams_command, ffprobe_packets_command])
def test_both_ffprobe_commands_guard_their_input(build: Callable[[Path, Path], list[str]]) -> None:
    argv = build(Path("/opt/ffprobe"), Path("/job/input.mp4"))

    assert argv[0] == "/opt/ffprobe"
    where = argv.index("-i")
    assert argv[where + 1] == "/job/input.mp4"
    assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert argv[argv.index("-format_whitelist") + 1] == "mov,matroska"
    assert argv.index("-protocol_whitelist") < where
    assert argv.index("-format_whitelist") < where
    assert argv[argv.index("-loglevel") + 1] == "error"


def test_the_streams_command_asks_for_json_without_packets() -> None:
    argv = ffprobe_streams_command(Path("/opt/ffprobe"), CLIP)

    assert argv[argv.index("-print_format") + 1] == "json"
    assert {"-show_format", "-show_streams"} <= set(argv)
    assert not {"-show_entries", "-show_packets"} & set(argv)


def test_the_packets_command_asks_for_csv_rows_of_four_columns() -> None:
    argv = ffprobe_packets_command(Path("/opt/ffprobe"), CLIP)

    assert argv[argv.index("-print_format") + 1] == "csv=p=0"  # no section name, no header
    entries = argv[argv.index("-show_entries") + 1]
    assert entries == "packet=stream_index,pts_time,dts_time,duration_time"
    assert not {"-show_format", "-show_streams", "-show_packets"} & set(argv)


@pytest.mark.parametrize(
    ("line", "packet"),
    [
        ("0,0.033333,0.033333,0.033333", PacketTime(0, 0.033333, 0.033333)),
        ("0,0.033333,0.033333,0.033333\r\n", PacketTime(0, 0.033333, 0.033333)),
        # A packet with side data: its row ends with a comma, the side data is the next line.
        ("1,-0.023220,-0.023220,0.023220,", PacketTime(1, -0.02322, 0.02322)),
        ("", None),
        ("\n", None),
        # Unknown times: the decoding time stands in for the presentation time, else unknown.
        ("0,N/A,0.500000,0.040000", PacketTime(0, 0.5, 0.04)),
        ("0,,0.500000,", PacketTime(0, 0.5, 0.0)),
        ("0,N/A,N/A,N/A", PacketTime(0, None, 0.0)),
        ("0,,,", PacketTime(0, None, 0.0)),
        ("0,inf,nan,0.040000", PacketTime(0, None, 0.04)),
        # Columns past the fourth are not ours: ignored, never shifted into the others.
        ("2,1.000000,0.900000,0.040000,extra,1.5", PacketTime(2, 1.0, 0.04)),
        # Not packet rows: a side-data section with entries, a named section, short or odd rows.
        ("Skip Samples,1024,0,0,0", None),
        ("packet,0,0.000000,0.000000,0.033333", None),
        ("0,0.033333,0.033333", None),
        ("0", None),
        ("-1,0.000000,0.000000,0.033333", None),
        ("1.5,0.000000,0.000000,0.033333", None),
        ("\u0661,0.000000,0.000000,0.033333", None),  # an Arabic-Indic one: a digit, not ASCII
        ("stream_index,pts_time,dts_time,duration_time", None),  # a header
    ],
)
def test_packet_rows_are_read_by_column_position(line: str, packet: PacketTime | None) -> None:
    assert packet_from_csv(line) == packet


def test_odd_lines_among_the_rows_change_nothing() -> None:
    probed = _ffprobe_output()
    odd = ["", "Skip Samples,1024,0,0,0", "garbage", "0,N/A,N/A,N/A", "0,0.5", "x,1,2,3"]
    mixed = [line for row in probed.rows for line in (row, *odd)]

    plain = media_info_from_ffprobe(CLIP, 1000, probed.data, probed.rows)

    assert media_info_from_ffprobe(CLIP, 1000, probed.data, mixed) == plain


def test_a_stream_the_streams_do_not_list_is_not_data() -> None:
    # The video stops at 1.9 s of 4; a row of an unlisted stream at 3.99 s must not hide it.
    probed = _ffprobe_output(seconds=4.0, data_stops_s=1.9)

    with pytest.raises(ProbeError, match="is cut short"):
        media_info_from_ffprobe(CLIP, 1000, probed.data, [*probed.rows, "7,3.990000,3.99,0.01"])


def test_ffprobe_output_becomes_the_same_record() -> None:
    info = media_info_from_ffprobe(CLIP, 1000, *_ffprobe_output())

    assert info.path == CLIP
    assert (info.container, info.format_name) == ("mp4", "mov,mp4,m4a,3gp,3g2,mj2")
    assert info.duration_s == pytest.approx(3.0)
    assert (info.width, info.height, info.rotation) == (1280, 720, 0)
    assert (info.fps, info.variable_fps) == (24.0, False)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 2)


@pytest.mark.parametrize(
    ("side_data", "tags", "rotation"),
    [
        ([{"side_data_type": "Display Matrix", "displaymatrix": "...", "rotation": 90}], {}, 90),
        ([{"side_data_type": "Display Matrix", "displaymatrix": "...", "rotation": -90}], {}, 270),
        (None, {"rotate": "90"}, 270),  # old ffprobe: a clockwise tag
        (None, {}, 0),
    ],
)
def test_ffprobe_rotation(
    side_data: list[dict[str, object]] | None, tags: dict[str, str], rotation: int
) -> None:
    info = media_info_from_ffprobe(
        CLIP, 1000, *_ffprobe_output(video_side_data=side_data, video_tags=tags)
    )

    assert info.rotation == rotation
    if rotation in (90, 270):
        assert (info.display_width, info.display_height) == (720, 1280)


def test_ffprobe_matroska_with_uneven_gaps_is_variable() -> None:
    probed = _ffprobe_output(
        format_name="matroska,webm",
        brand=None,
        rate="30/1",
        average="30/1",
        gaps=[0.033, 0.067],
    )

    info = media_info_from_ffprobe(CLIP, 1000, *probed)

    assert info.container == "matroska"
    assert info.variable_fps is True
    assert info.fps == pytest.approx(20.0, rel=0.05)


def _decoding_order(times: list[float], every: int) -> list[float]:
    """``times`` as a decoder wants them with B-frames: each group's last frame first."""
    order: list[float] = []
    for start in range(0, len(times), every):
        group = times[start : start + every]
        order += [group[-1], *group[:-1]]
    return order


def _video_rows(times: list[float], gap: float) -> list[str]:
    return [f"0,{at:.6f},{at:.6f},{gap:.6f}" for at in times]


def test_frames_in_decoding_order_are_put_back_in_order() -> None:
    # IBBBP...: presentation times run back by 3 frames, then 16 (the most H.264 reorders).
    probed = _ffprobe_output(seconds=10.0, fps=30, rate="30/1", average="30/1", audio=False)
    times = [n / 30 for n in range(300)]
    for every in (4, 17):
        rows = _video_rows(_decoding_order(times, every), 1 / 30)

        info = media_info_from_ffprobe(CLIP, 1000, probed.data, rows)

        assert (info.variable_fps, info.fps) == (False, 30.0)


def test_a_clock_that_jumps_back_further_than_the_window_is_not_regular() -> None:
    # The same 300 frames twice over (a join that restarted its clock): no steady rate.
    probed = _ffprobe_output(seconds=10.0, fps=30, rate="30/1", average="30/1", audio=False)
    times = [n / 30 for n in range(300)]
    assert len(times) > REORDER_WINDOW

    info = media_info_from_ffprobe(CLIP, 1000, probed.data, _video_rows(times * 2, 1 / 30))

    assert info.variable_fps is True
    assert info.fps == pytest.approx(599 / (299 / 30))  # as many frames in the same span


class _Row(str):
    """A row that can be watched: a str subclass takes a weak reference."""


def test_the_rows_are_read_one_at_a_time_not_held() -> None:
    # 50,000 rows (11 minutes of 30 fps video and 48 kHz AAC: a 10-minute video has 44,000)
    # as a generator, the way run_lines hands them over. Each row is watched by a weak
    # reference: the parse lets each go before it asks for the next, whatever the count. Held
    # in a list, as JSON's packets were, every row stays (the control). Counted rows, not
    # tracemalloc's peak: that is the whole process's, and another thread's allocation in the
    # same window once failed this test in CI.
    rows_wanted = 50_000
    seconds = rows_wanted / (30 + 48_000 / 1024)
    probed = _ffprobe_output(seconds=seconds, fps=30, rate="30/1", average="30/1")
    read = 0
    alive = 0
    most_alive = 0

    def gone() -> None:
        nonlocal alive
        alive -= 1

    def watched(text: str) -> _Row:
        nonlocal alive, most_alive
        row = _Row(text)
        weakref.finalize(row, gone)
        alive += 1
        most_alive = max(most_alive, alive)
        return row

    def rows() -> Iterator[str]:
        nonlocal read
        video, audio = 0, 0
        while read < rows_wanted:
            read += 1
            video_at, audio_at = video / 30, audio * 1024 / 48_000
            if video_at <= audio_at:
                video += 1
                yield watched(f"0,{video_at:.6f},{video_at:.6f},0.033333")
            else:
                audio += 1
                yield watched(f"1,{audio_at:.6f},{audio_at:.6f},0.021333")

    info = media_info_from_ffprobe(CLIP, 1000, probed.data, rows())
    parsed_most_alive = most_alive
    assert read == rows_wanted
    assert alive == 0

    read = rows_wanted - 5_000
    held = list(rows())  # a tenth of the rows, kept

    assert len(held) == 5_000
    assert info.duration_s == pytest.approx(seconds)
    assert (info.variable_fps, info.fps) == (False, 30.0)
    assert parsed_most_alive <= 2  # the row being parsed, and the next while it is made
    assert most_alive == 5_000


def test_ffprobe_quicktime_brand_is_mov() -> None:
    assert media_info_from_ffprobe(CLIP, 1000, *_ffprobe_output(brand="qt  ")).container == "mov"


def test_ffprobe_data_that_stops_early_is_refused() -> None:
    probed = _ffprobe_output(seconds=4.0, data_stops_s=1.9)

    with pytest.raises(ProbeError, match=r"input\.mp4 is cut short: it states 4\.0 s"):
        media_info_from_ffprobe(CLIP, 1000, *probed)


@pytest.mark.parametrize(
    ("probed", "reason"),
    [
        (_ffprobe_output(video=False), "has no video stream"),
        (_Probed(_ffprobe_output(audio=False).data, []), "has no video frames"),
    ],
)
def test_ffprobe_refusals(probed: _Probed, reason: str) -> None:
    with pytest.raises(ProbeError, match=reason):
        media_info_from_ffprobe(CLIP, 1000, *probed, name="mine.mp4")


def test_ffprobe_unknown_values_are_tolerated() -> None:
    probed = _ffprobe_output(average="0/0")

    info = media_info_from_ffprobe(CLIP, 1000, probed.data, [*probed.rows, "0,N/A,N/A,"])

    assert info.fps == 24.0  # the nominal rate stands in for an unknown average


def _fake_ffprobe(
    folder: Path,
    *,
    probed: _Probed | None = None,
    streams: str | None = None,
    exit_code: int = 0,
    packets_exit_code: int | None = None,
    packets_then: str = "",
) -> Path:
    """A shell script in ffprobe's place: writes its argv to argv-streams or argv-packets (the
    runs are side by side), prints that run's output and exits ``exit_code`` (the packets' run
    ``packets_exit_code``, when given, after running ``packets_then``)."""
    folder.mkdir(parents=True, exist_ok=True)
    probed = probed or _Probed({}, [])
    (folder / "streams.out").write_text(json.dumps(probed.data) if streams is None else streams)
    (folder / "packets.out").write_text("".join(f"{row}\n" for row in probed.rows))
    packets_exit = exit_code if packets_exit_code is None else packets_exit_code
    script = folder / "ffprobe"
    lines = [
        "#!/bin/sh",
        'here=$(dirname "$0")',
        'case " $* " in',
        f'  *" -show_streams "*) kind=streams code={exit_code} ;;',
        f"  *) kind=packets code={packets_exit} ;;",
        "esac",
        'printf "%s\\n" "$@" > "$here/argv-$kind"',
        'cat "$here/$kind.out"',
        'echo "input.mp4: Invalid data found when processing input" >&2',
        f'if [ "$kind" = packets ]; then {packets_then or ":"}; fi',
        'exit "$code"',
    ]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def _tools_with(ffprobe: Path, ffmpeg_tools: FFmpegTools) -> FFmpegTools:
    return FFmpegTools(ffmpeg=ffmpeg_tools.ffmpeg, ffprobe=ffprobe, source="setting", version="x")


def test_probe_runs_both_ffprobes_when_the_tools_have_one(
    tmp_path: Path, ffmpeg_tools: FFmpegTools, make_clip: Callable[..., Path]
) -> None:
    fake = _fake_ffprobe(tmp_path / "bin", probed=_ffprobe_output(seconds=5.0))
    clip = make_clip()

    info = probe(clip, tools=_tools_with(fake, ffmpeg_tools))

    assert info.duration_s == pytest.approx(5.0)  # the script's answer, not the clip's 3 s
    assert info.size_bytes == clip.stat().st_size
    for kind, build in (("streams", ffprobe_streams_command), ("packets", ffprobe_packets_command)):
        argv = (tmp_path / "bin" / f"argv-{kind}").read_text().splitlines()
        assert argv == build(fake, clip)[1:]


@pytest.mark.parametrize(("streams_code", "packets_code"), [(1, 1), (0, 1)])
def test_an_ffprobe_refusal_is_a_probe_error(
    tmp_path: Path, ffmpeg_tools: FFmpegTools, streams_code: int, packets_code: int
) -> None:
    # Either run may be the one that refuses: the packets' run reads further into the file.
    fake = _fake_ffprobe(
        tmp_path / "bin",
        probed=_ffprobe_output(),
        exit_code=streams_code,
        packets_exit_code=packets_code,
    )
    text = tmp_path / "source"
    text.write_text("not a video")

    with pytest.raises(ProbeError, match=r"^holiday\.txt is not an MP4, MOV or Matroska video"):
        probe(text, tools=_tools_with(fake, ffmpeg_tools), name="holiday.txt")


def test_an_ffprobe_that_prints_nonsense_is_our_problem(
    tmp_path: Path, ffmpeg_tools: FFmpegTools, make_clip: Callable[..., Path]
) -> None:
    fake = _fake_ffprobe(tmp_path / "bin", streams="this is not json")

    with pytest.raises(MediaError, match="not JSON") as caught:
        probe(make_clip(), tools=_tools_with(fake, ffmpeg_tools))
    assert not isinstance(caught.value, InputError)


def test_an_ffprobe_that_stalls_on_its_packets_is_stopped(
    tmp_path: Path, ffmpeg_tools: FFmpegTools, make_clip: Callable[..., Path]
) -> None:
    # The streams come at once, the packets' run prints its rows and hangs: the timeout ends it.
    fake = _fake_ffprobe(tmp_path / "bin", probed=_ffprobe_output(), packets_then="exec sleep 60")
    started = time.monotonic()

    with pytest.raises(MediaError, match=r"ran longer than 0\.5 s") as caught:
        probe(make_clip(), tools=_tools_with(fake, ffmpeg_tools), timeout_s=0.5)

    assert not isinstance(caught.value, InputError)
    assert time.monotonic() - started < 30


REAL_FFPROBE = shutil.which("ffprobe")
needs_ffprobe = pytest.mark.skipif(
    REAL_FFPROBE is None, reason="no ffprobe on PATH (the pip ffmpeg has none)"
)


@needs_ffprobe
@pytest.mark.parametrize(
    "name", ["plain", "rotated-90", "vfr-mp4", "vfr-mkv", "webm-vp9-opus", "hevc-10bit-mov"]
)
def test_a_real_ffprobe_agrees_with_pyav(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, name: str
) -> None:
    assert REAL_FFPROBE is not None
    tools = _tools_with(Path(REAL_FFPROBE), ffmpeg_tools)
    mine, theirs = probe(corpus.path(name)), probe(corpus.path(name), tools=tools)

    assert dataclasses.replace(theirs, duration_s=mine.duration_s, fps=mine.fps) == mine
    assert theirs.duration_s == pytest.approx(mine.duration_s, abs=0.05)
    assert theirs.fps == pytest.approx(mine.fps, rel=0.02)


@needs_ffprobe
def test_a_real_ffprobe_prints_a_row_for_every_packet(corpus: Corpus) -> None:
    # The rows of Debian's ffprobe, side-data lines and all, against PyAV's own demuxing.
    assert REAL_FFPROBE is not None
    clip = corpus.path("plain")
    printed = run(ffprobe_packets_command(Path(REAL_FFPROBE), clip), timeout_s=60).stdout_text
    with av.open(str(clip), container_options=dict(OPEN_OPTIONS)) as raw:
        demuxed = [
            (p.stream.index, float(p.pts * p.time_base))
            for p in raw.demux()
            if p.pts is not None and p.time_base is not None
        ]

    rows = [packet_from_csv(line) for line in printed.splitlines()]
    packets = [(row.stream_index, row.at_s) for row in rows if row is not None]
    assert [index for index, _ in packets] == [index for index, _ in demuxed]
    assert [at for _, at in packets] == pytest.approx([at for _, at in demuxed], abs=1e-6)


@needs_ffprobe
@pytest.mark.parametrize("name", ["png", "hls-local", "hls-local-m3u8", "concat-relative"])
def test_a_real_ffprobe_refuses_what_pyav_refuses(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, name: str, no_hits: Listener
) -> None:
    assert REAL_FFPROBE is not None
    with pytest.raises(ProbeError):
        probe(corpus.path(name), tools=_tools_with(Path(REAL_FFPROBE), ffmpeg_tools))
