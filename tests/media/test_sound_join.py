"""Joining the segments' own sound under a stitched long video: the commands as data, then real
ffmpeg on a small clip with a flash and a beep at every whole second, cut into windows at
moments off the whole seconds and each "edited" as the service does it (24 fps, its sound kept),
so that a beep or a flash that slips shows in a list of times."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import av
import ffmpeg
import pytest

from reskin.errors import VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS
from reskin.media.probe import OPEN_OPTIONS, probe
from reskin.media.runner import run
from reskin.media.sound_join import (
    Snippet,
    join_sound,
    sound_mux_command,
    unit_bounds,
    unit_snippets,
    unit_sound_command,
)
from reskin.media.stitch import Piece, expected_frames, stitch_pieces, units

from .corpus import MakeClip
from .marks import audio_seconds, beep_onsets, flash_onsets

EXE = Path("/usr/bin/ffmpeg")
FPS = 24
#: The source clip: 6 s at 30 fps, a flash of the whole picture and a beep at every second.
SOURCE_S = 6.0


def _graph(argv: list[str]) -> str:
    return argv[argv.index("-filter_complex") + 1]


# --- the commands -----------------------------------------------------------------------------


def test_the_units_sound_lies_on_the_stitched_videos_own_grid() -> None:
    parts = units(
        [Piece(Path("/a.mp4"), 55), Piece(Path("/b.mp4"), 44), Piece(Path("/c.mp4"), 45, 12)]
    )
    # 55 | 44 - 12 | 12 + 45 - 12 frames: 2000 samples a frame at 24 fps.
    assert unit_bounds(parts, 24) == [0, 110_000, 174_000, 264_000]
    # At 30000/1001 fps a frame is 1601.6 samples: each bound rounded on the one grid.
    bounds = unit_bounds([[Piece(Path("/a.mp4"), 5)]] * 3, 30000 / 1001)
    assert bounds == [0, 8008, 16016, 24024]
    fade = unit_snippets(parts[2], 90_000, 24, [True, False])
    assert fade == [Snippet(Path("/b.mp4"), 64_000, 24_000), Snippet(None, 0, 90_000)]
    # Sent 1.8 s into the window, the third piece's clock starts 1/120 s after its first
    # frame's place (43 / 24 s): the second's sound under the fade is read from there too.
    late = [Piece(Path("/b.mp4"), 55, offset_s=0.0), Piece(Path("/c.mp4"), 55, 12, 0, 1 / 120)]
    tail, own = unit_snippets(units(late)[1], 90_000, 24, [True, True])
    assert (tail.start, tail.samples) == (86_000 + 400, 24_000)
    assert (own.start, own.samples) == (0, 90_000)


def test_a_units_sound_is_padded_and_cut_to_its_samples_from_the_guarded_file() -> None:
    argv = unit_sound_command(EXE, [Snippet(Path("/r/a.mp4"), 0, 110_000)], Path("/w/u.pcm"))

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    for flag, value in FILE_INPUT_GUARDS.items():
        assert argv[argv.index(f"-{flag}") + 1] == value
    assert argv[argv.index("-i") + 1] == "/r/a.mp4"
    assert _graph(argv) == (
        "[0:a:0]aresample=48000:first_pts=0,aformat=sample_fmts=s16:channel_layouts=stereo,"
        "apad,atrim=start_sample=0:end_sample=110000,asetpts=PTS-STARTPTS[s0]"
    )
    assert argv[argv.index("-map") + 1] == "[s0]"
    assert argv[-7:] == ["-f", "s16le", "-ar", "48000", "-ac", "2", "/w/u.pcm"]


def test_a_cross_fade_fades_the_sound_over_the_first_snippet_and_silence_opens_nothing() -> None:
    snippets = [Snippet(None, 0, 24_000), Snippet(Path("/r/b.mp4"), 0, 90_000)]
    argv = unit_sound_command(EXE, snippets, Path("/w/u.pcm"))

    assert argv.count("-i") == 1
    chains = _graph(argv).split(";")
    assert chains[0].startswith("anullsrc=r=48000:cl=stereo,")
    assert chains[0].endswith("apad,atrim=end_sample=24000,asetpts=PTS-STARTPTS[s0]")
    assert chains[1].startswith("[0:a:0]aresample=48000")
    assert chains[2] == "[s0][s1]acrossfade=ns=24000:c1=tri:c2=tri[out]"
    with pytest.raises(ValueError, match="one or two"):
        unit_sound_command(EXE, snippets * 2, Path("/w/u.pcm"))


def test_the_mux_copies_the_picture_and_encodes_the_pcm_once() -> None:
    argv = sound_mux_command(
        EXE, Path("/w/p.mp4"), Path("/w/s.pcm"), Path("/w/o.mp4"), duration_s=6
    )

    assert argv[argv.index("-c:v") + 1] == "copy"
    assert argv[argv.index("-c:a") + 1] == "aac"
    assert argv[argv.index("-t") + 1] == "6.000000"
    # The PCM is read as raw s16le only: no other demuxer may open it.
    raw = argv.index("/w/s.pcm")
    assert argv[raw - 11 : raw] == [
        "-protocol_whitelist", "file", "-format_whitelist", "s16le",
        "-f", "s16le", "-ar", "48000", "-ac", "2", "-i",
    ]  # fmt: skip


# --- real ffmpeg ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source(make_clip: MakeClip) -> Path:
    return make_clip(duration_s=SOURCE_S, width=320, height=240, fps=30, sync_marks=True)


def _result(tools: FFmpegTools, source: Path, output: Path, start: float, end: float,
            *, sound: bool = True) -> Path:  # fmt: skip
    """What the service returns for the window ``start .. end`` of ``source``: 24 fps H.264
    (x264 at its fastest: no B-frames), the window's sound as AAC unless ``sound`` is off."""
    src = ffmpeg.input(str(source), ss=f"{start:.6f}", t=f"{end - start:.6f}", **FILE_INPUT_GUARDS)
    streams = [src["v:0"].filter("fps", FPS).filter("format", "yuv420p")]
    options: dict[str, object] = {"an": None}
    if sound:
        streams.append(src["a:0"])
        options = {"c:a": "aac", "ac": 2}
    out = ffmpeg.output(*streams, str(output), vcodec="libx264", preset="ultrafast", **options)
    run(out.compile(cmd=[str(tools.ffmpeg), *GLOBAL_ARGS]), timeout_s=60)
    return output


def _frame(seconds: float) -> int:
    return round(seconds * FPS)


def _joined(
    tools: FFmpegTools,
    source: Path,
    folder: Path,
    windows: Sequence[tuple[float, float, float, bool]],
) -> tuple[Path | None, list[Piece]]:
    """Each window ``(sent_start, start, end, sound)`` of ``source`` edited, stitched, its
    sound joined."""
    folder.mkdir(exist_ok=True)
    pieces = []
    for index, (sent, start, end, sound) in enumerate(windows):
        result = _result(tools, source, folder / f"result-{index}.mp4", sent, end, sound=sound)
        frames, overlap = _frame(end) - _frame(sent), _frame(start) - _frame(sent)
        pieces.append(Piece(result, frames, overlap, offset_s=sent - _frame(sent) / FPS))
    picture = folder / "picture.mp4"
    stitch_pieces(pieces, folder / "units", picture, tools, width=320, height=240, fps=FPS,
                  preset="ultrafast", crf=30, timeout_s=60)  # fmt: skip
    output = folder / "joined.mp4"
    info = join_sound(units(pieces), picture, folder / "units", output, tools, fps=FPS,
                      timeout_s=60)  # fmt: skip
    return (None if info is None else output), pieces


def _assert_marks(path: Path, seconds: Sequence[int]) -> None:
    """A beep at each of ``seconds``, each within a frame of it and of its flash."""
    beeps = beep_onsets(path)
    flashes = flash_onsets(path)
    assert len(beeps) == len(seconds), beeps
    for second, beep in zip(seconds, beeps, strict=True):
        assert beep == pytest.approx(second, abs=1 / FPS)
        assert min(abs(flash - beep) for flash in flashes) <= 1 / FPS


def test_hard_cuts_off_the_seconds_keep_every_beep_on_its_flash(
    ffmpeg_tools: FFmpegTools, source: Path, tmp_path: Path
) -> None:
    windows = [(0.0, 0.0, 2.3, True), (2.3, 2.3, 4.1, True), (4.1, 4.1, SOURCE_S, True)]

    output, pieces = _joined(ffmpeg_tools, source, tmp_path, windows)

    assert output is not None
    info = probe(output)
    frames = expected_frames(pieces)
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 2)
    assert frames == _frame(SOURCE_S)
    assert audio_seconds(output) == pytest.approx(frames / FPS, abs=1 / FPS)
    with av.open(str(output), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
        assert len(box.streams.audio) == 1
        assert sum(1 for _ in box.decode(video=0)) == frames
    _assert_marks(output, range(math.ceil(SOURCE_S)))


def test_a_cross_fade_overlaps_the_sound_as_it_does_the_picture(
    ffmpeg_tools: FFmpegTools, source: Path, tmp_path: Path
) -> None:
    # The second window is sent 0.5 s early and faded in over 1.8 .. 2.3 s: the beep at 2 s is
    # inside the fade, where both results carry it; it stays one beep, on its flash.
    windows = [(0.0, 0.0, 2.3, True), (1.8, 2.3, 4.1, True), (4.1, 4.1, SOURCE_S, True)]

    output, pieces = _joined(ffmpeg_tools, source, tmp_path, windows)

    assert output is not None
    assert pieces[1].overlap == 12
    assert audio_seconds(output) == pytest.approx(SOURCE_S, abs=1 / FPS)
    _assert_marks(output, range(math.ceil(SOURCE_S)))


def test_a_result_without_sound_is_silence_as_long_as_its_picture(
    ffmpeg_tools: FFmpegTools, source: Path, tmp_path: Path
) -> None:
    # The middle result came back silent: its beeps (3 s, 4 s) are gone, the 5 s one after it
    # is still on time.
    windows = [(0.0, 0.0, 2.3, True), (2.3, 2.3, 4.5, False), (4.5, 4.5, SOURCE_S, True)]

    output, _ = _joined(ffmpeg_tools, source, tmp_path, windows)

    assert output is not None
    assert audio_seconds(output) == pytest.approx(SOURCE_S, abs=1 / FPS)
    _assert_marks(output, [0, 1, 2, 5])


def test_no_sound_anywhere_writes_nothing_and_a_wrong_length_is_one_line(
    ffmpeg_tools: FFmpegTools,
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    silent = [(0.0, 0.0, 3.0, False), (3.0, 3.0, SOURCE_S, False)]
    output, _ = _joined(ffmpeg_tools, source, tmp_path / "silent", silent)
    assert output is None
    assert not (tmp_path / "silent" / "joined.mp4").exists()

    # ffmpeg writes what it is asked: a short sound can only be staged, by the duration read.
    monkeypatch.setattr("reskin.media.sound_join._audio_seconds", lambda path: 2.0)
    with pytest.raises(VerificationError, match=r"has 2.000 s of sound, expected 6.000 s") as err:
        _joined(ffmpeg_tools, source, tmp_path / "short", [(0.0, 0.0, SOURCE_S, True)])
    assert "\n" not in str(err.value)
