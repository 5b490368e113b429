"""The full-decode check: argv, what it lets through, and the damage that ffmpeg hides."""

from __future__ import annotations

import dataclasses
import logging
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest

from reskin.errors import FFmpegError, MediaError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import render_command
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.media.verify import decode_check_command, decoded_seconds, verify, verify_copy

from .corpus import NEVER_OPENED, Corpus, Listener, MakeClip

EXE = Path("/opt/ffmpeg/bin/ffmpeg")
#: verify's arguments for a file whose streams and length are not prescribed.
ANY_FILE: dict[str, Any] = {"expect_audio": None, "expected_duration_s": None, "timeout_s": 60}


def test_the_decode_command_is_guarded_and_strict() -> None:
    argv = decode_check_command(EXE, Path("/job/input.mp4"))

    assert argv[0] == str(EXE)
    assert "-nostdin" in argv
    assert "-xerror" in argv  # the first decode error fails the run
    where = argv.index("-i")
    assert argv[where + 1] == "/job/input.mp4"
    assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert argv[argv.index("-format_whitelist") + 1] == "mov,matroska"
    assert argv.index("-protocol_whitelist") < where
    assert argv.index("-format_whitelist") < where
    assert argv[where + 2 :] == [
        "-map", "0:v", "-map", "0:a?", "-f", "null", "-progress", "pipe:1", "-",
    ]  # fmt: skip


def test_the_decode_command_makes_relative_paths_absolute(tmp_path: Path) -> None:
    # A relative name could read as an option or a protocol ("http:x.mp4"): never pass one.
    argv = decode_check_command(EXE, Path("http:clip.mp4"))

    assert argv[argv.index("-i") + 1] == str(tmp_path / "http:clip.mp4")


def test_decoded_seconds_takes_the_last_report() -> None:
    progress = (
        "frame=10\nout_time_us=416667\nprogress=continue\nout_time_us=3000000\nprogress=end\n"
    )

    assert decoded_seconds(progress) == 3.0
    assert decoded_seconds("out_time_us=N/A\nprogress=end\n") is None
    assert decoded_seconds("") is None


@pytest.mark.parametrize(
    "name", ["plain", "no-audio", "vfr-mkv", "webm-vp9-opus", "hevc-10bit-mov", "rotated-90"]
)
def test_good_files_pass_and_come_back_probed(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, name: str
) -> None:
    info = verify(
        corpus.path(name),
        ffmpeg_tools,
        expect_audio=name != "no-audio",
        expected_duration_s=3.0,
        timeout_s=60,
    )

    assert info == probe(corpus.path(name))


def test_a_missing_audio_stream_is_caught(corpus: Corpus, ffmpeg_tools: FFmpegTools) -> None:
    with pytest.raises(VerificationError, match=r"no-audio\.mp4 has no audio stream, expected one"):
        verify(
            corpus.path("no-audio"),
            ffmpeg_tools,
            expect_audio=True,
            expected_duration_s=None,
            timeout_s=60,
        )


def test_an_unwanted_audio_stream_is_caught(corpus: Corpus, ffmpeg_tools: FFmpegTools) -> None:
    with pytest.raises(VerificationError, match="has an audio stream, expected none"):
        verify(
            corpus.path("plain"),
            ffmpeg_tools,
            expect_audio=False,
            expected_duration_s=None,
            timeout_s=60,
        )


def test_a_wrong_length_is_caught(corpus: Corpus, ffmpeg_tools: FFmpegTools) -> None:
    with pytest.raises(VerificationError, match=r"lasts 3\.00 s, expected 3\.50 s") as caught:
        verify(
            corpus.path("plain"),
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=3.5,
            timeout_s=60,
        )

    error = caught.value
    assert isinstance(error, MediaError)
    assert error.path == corpus.path("plain")
    assert error.reason == "lasts 3.00 s, expected 3.50 s"
    assert "\n" not in str(error)


def test_the_tolerance_is_honoured(corpus: Corpus, ffmpeg_tools: FFmpegTools) -> None:
    info = verify(
        corpus.path("plain"),
        ffmpeg_tools,
        expect_audio=None,
        expected_duration_s=3.2,
        tolerance_s=0.25,
        timeout_s=60,
    )

    assert info.duration_s == pytest.approx(3.0, abs=0.01)


def test_corruption_in_the_middle_is_caught(corpus: Corpus, ffmpeg_tools: FFmpegTools) -> None:
    # The probe passes this file (see test_probe.py); only decoding every frame finds the damage.
    with pytest.raises(VerificationError, match=r"^corrupt\.mp4 does not decode to its end \("):
        verify(
            corpus.path("corrupt"),
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=60,
        )


def test_a_file_cut_behind_its_index_is_caught_by_decoding_too(
    corpus: Corpus, ffmpeg_tools: FFmpegTools
) -> None:
    with pytest.raises(VerificationError, match="does not decode to its end"):
        verify(
            corpus.path("truncated-index-at-start"),
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=60,
        )


def test_the_transcode_that_exits_0_with_half_the_video_is_caught(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    """MEDIA.md: "truncated file, index at start: probe says 4 s, transcode exits 0 with 1.9 s"."""
    output = tmp_path / "conformed.mp4"
    argv = render_command(
        ffmpeg_tools.ffmpeg,
        corpus.path("truncated-index-at-start"),
        output,
        filters=[],
        width=720,
        height=720,
        preset="ultrafast",
    )

    run(argv, timeout_s=60)  # no FFmpegError: ffmpeg calls this a success

    assert probe(output).duration_s == pytest.approx(2.0, abs=0.1)
    with pytest.raises(VerificationError, match=r"conformed.mp4 lasts 2\.00 s, expected 4\.00 s"):
        verify(output, ffmpeg_tools, expect_audio=False, expected_duration_s=4.0, timeout_s=60)


@pytest.fixture(scope="module")
def with_subtitles(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("subtitles")
    srt = folder / "lines.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    path = folder / "subtitled.mkv"
    run(
        [
            ffmpeg_tools.ffmpeg, "-nostdin", "-loglevel", "error", "-y",
            "-i", corpus.path("plain"), "-i", srt, "-map", "0", "-map", "1", "-c", "copy", path,
        ],
        timeout_s=60,
    )  # fmt: skip
    return path


def test_subtitles_do_not_fail_the_check(with_subtitles: Path, ffmpeg_tools: FFmpegTools) -> None:
    info = verify(
        with_subtitles, ffmpeg_tools, expect_audio=True, expected_duration_s=3.0, timeout_s=60
    )

    assert info.container == "matroska"


def test_mapping_every_stream_would_have_failed_on_subtitles(
    with_subtitles: Path, ffmpeg_tools: FFmpegTools
) -> None:
    # Why the check maps 0:v and 0:a? rather than 0: the null muxer cannot take a subtitle.
    argv = decode_check_command(ffmpeg_tools.ffmpeg, with_subtitles)
    argv[argv.index("0:v") - 1 : argv.index("0:a?") + 1] = ["-map", "0"]

    with pytest.raises(FFmpegError):
        run(argv, timeout_s=60)


def test_running_out_of_time_is_an_ffmpeg_error(corpus: Corpus, ffmpeg_tools: FFmpegTools) -> None:
    # Not the file's fault as far as anyone can tell: it must not read as a damaged file.
    with pytest.raises(FFmpegError, match="ran longer than") as caught:
        verify(
            corpus.path("25s"),
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=0.001,
        )
    assert not isinstance(caught.value, VerificationError)


@pytest.mark.parametrize("name", NEVER_OPENED)
def test_hostile_files_fail_the_check(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, name: str, no_hits: Listener
) -> None:
    with pytest.raises(VerificationError, match="does not decode to its end"):
        verify(
            corpus.path(name),
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=60,
        )


def test_a_missing_file_fails_the_check(tmp_path: Path, ffmpeg_tools: FFmpegTools) -> None:
    with pytest.raises(VerificationError, match=r"gone\.mp4 does not decode to its end"):
        verify(
            tmp_path / "gone.mp4",
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=60,
        )


def test_the_name_in_messages_can_be_chosen(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    copy = tmp_path / "input.mp4"
    shutil.copyfile(corpus.path("plain"), copy)

    with pytest.raises(VerificationError, match=r"^result of job 7 lasts"):
        verify(
            copy,
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=9.0,
            timeout_s=60,
            name="result of job 7",
        )


def test_a_file_that_decodes_but_was_cut_is_caught_by_the_probe_afterwards(
    corpus: Corpus, ffmpeg_tools: FFmpegTools
) -> None:
    # Matroska cut in half decodes to its (early) end without an error: the re-probe sees it.
    with pytest.raises(VerificationError) as caught:
        verify(
            corpus.path("truncated-mkv"),
            ffmpeg_tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=60,
        )

    assert caught.value.reason == "is cut short: it states 4.0 s but its data stops at 2.0 s"
    assert str(caught.value).startswith("truncated-mkv.mkv is cut short: it states 4.0 s")


def test_a_known_probe_is_checked_as_a_fresh_one_would_be(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, probes: Callable[[], list[str]]
) -> None:
    path = corpus.path("plain")
    fresh = probe(path)
    longer = dataclasses.replace(fresh, duration_s=fresh.duration_s + 1.0)
    silent = dataclasses.replace(fresh, has_audio=False)
    probes_before = len(probes())

    assert verify(path, ffmpeg_tools, **ANY_FILE, known=fresh) is fresh
    # The decoded length is still compared with the stated one: a known probe is not trusted.
    # ffmpeg 5.1's full decode ends at 3.008 s where 9.0's ends at 3.000 s.
    with pytest.raises(VerificationError, match=r"states 4\.0[01] s but decodes to 3\.0[01] s"):
        verify(path, ffmpeg_tools, **ANY_FILE, known=longer)
    with pytest.raises(VerificationError, match="has no audio stream, expected one"):
        verify(
            path,
            ffmpeg_tools,
            expect_audio=True,
            expected_duration_s=3.0,
            timeout_s=60,
            known=silent,
        )
    assert len(probes()) == probes_before  # nothing probed again


def test_a_known_probe_of_another_file_is_refused(
    corpus: Corpus, ffmpeg_tools: FFmpegTools
) -> None:
    other = probe(corpus.path("no-audio"))

    with pytest.raises(ValueError, match="describes"):
        verify(corpus.path("plain"), ffmpeg_tools, **ANY_FILE, known=other)


# --- a stream copy of a checked file (verify_copy) ------------------------------------------


@pytest.fixture(scope="module")
def results(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """Two "results" of the service made of the same clip (24 fps, no sound): the one a final
    video copies, and another look."""
    folder = tmp_path_factory.mktemp("copies")
    made = []
    for name, look in (("result.mp4", "negate"), ("other.mp4", "hflip")):
        argv = render_command(
            ffmpeg_tools.ffmpeg,
            make_clip(),
            folder / name,
            filters=[(look, {})],
            width=1280,
            height=720,
            preset="ultrafast",
        )
        run(argv, timeout_s=60)
        made.append(folder / name)
    return made[0], made[1]


def muxed(
    tools: FFmpegTools, video: Path, sound: Path, out: Path, *, picture_s: float | None = None
) -> Path:
    """``video``'s picture copied (its first ``picture_s`` only, if given) under ``sound``'s,
    3 s long: the final video's mux, or a damaged one."""
    head = [] if picture_s is None else ["-t", f"{picture_s}"]
    run(
        [str(tools.ffmpeg), "-nostdin", "-v", "error", "-y", *head, "-i", str(video),
         "-i", str(sound), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac",
         "-t", "3", str(out)],
        timeout_s=60,
    )  # fmt: skip
    return out


def test_a_stream_copy_of_checked_frames_passes_without_an_ffmpeg_run(
    results: tuple[Path, Path],
    make_clip: MakeClip,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    final = muxed(ffmpeg_tools, results[0], make_clip(), tmp_path / "final.mp4")

    with caplog.at_level(logging.DEBUG, logger="reskin.media.runner"):
        info = verify_copy(final, results[0], expect_audio=True, expected_duration_s=3.0)

    assert info == probe(final)
    assert info.has_audio
    assert [r for r in caplog.records if r.name == "reskin.media.runner"] == []  # no process


def test_a_copy_of_other_frames_is_caught(
    results: tuple[Path, Path], make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    final = muxed(ffmpeg_tools, results[1], make_clip(), tmp_path / "final.mp4")

    with pytest.raises(
        VerificationError,
        match=r"^final\.mp4 (differs from the checked video at its frame 1|does not hold)",
    ):
        verify_copy(final, results[0], expect_audio=True, expected_duration_s=3.0)


def test_a_copy_that_lost_frames_is_caught_though_its_length_is_right(
    results: tuple[Path, Path], make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # 1.5 s of the picture under 3 s of sound: the file states 3 s, as promised.
    final = muxed(ffmpeg_tools, results[0], make_clip(), tmp_path / "final.mp4", picture_s=1.5)
    assert probe(final).duration_s == pytest.approx(3.0, abs=0.05)

    with pytest.raises(
        VerificationError, match=r"^final\.mp4 holds 36 frames of the checked video, expected 72"
    ):
        verify_copy(final, results[0], expect_audio=True, expected_duration_s=3.0)


def test_a_copy_whose_sound_does_not_decode_is_caught(
    results: tuple[Path, Path], make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    final = muxed(ffmpeg_tools, results[0], make_clip(), tmp_path / "final.mp4")
    with av.open(str(final), mode="r", options={"protocol_whitelist": "file"}) as container:
        sound = [(p.pos, p.size) for p in container.demux(audio=0) if p.size and p.pos]
    damaged = bytearray(final.read_bytes())
    noise = random.Random(7)
    for pos, size in sound[30:90]:  # the middle of the sound, its packets only
        damaged[pos : pos + size] = bytes(noise.randrange(256) for _ in range(size))
    final.write_bytes(bytes(damaged))
    assert probe(final).has_audio  # the packets still read: only a decode sees it

    with pytest.raises(
        VerificationError, match=r"^final\.mp4 does not decode to its end \(its sound: "
    ):
        verify_copy(final, results[0], expect_audio=True, expected_duration_s=3.0)


def test_a_copy_is_held_to_the_same_promises_as_a_decoded_file(
    results: tuple[Path, Path], make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    final = muxed(ffmpeg_tools, results[0], make_clip(), tmp_path / "final.mp4")

    with pytest.raises(VerificationError, match=r"final\.mp4 has an audio stream, expected none"):
        verify_copy(final, results[0], expect_audio=False, expected_duration_s=3.0)
    with pytest.raises(VerificationError, match=r"final\.mp4 lasts 3\.00 s, expected 2\.00 s"):
        verify_copy(final, results[0], expect_audio=True, expected_duration_s=2.0)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(final.read_bytes()[: final.stat().st_size // 2])
    with pytest.raises(VerificationError, match=r"^cut\.mp4 "):
        verify_copy(cut, results[0], expect_audio=True, expected_duration_s=3.0)


def test_extra_outputs_that_fail_never_fail_the_check(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """More outputs of the decode (the contact sheet's row) are a convenience: when one fails,
    the decode is made again without it, and only the file's own damage fails the check."""
    broken = ["-map", "0:v:0", "-frames:v", "1", "-f", "no-such-muxer", str(tmp_path / "x")]

    with caplog.at_level(logging.DEBUG, logger="reskin.media.verify"):
        info = verify(corpus.path("plain"), ffmpeg_tools, **ANY_FILE, also=broken)

    assert info == probe(corpus.path("plain"))
    assert "failed with its extra outputs: again without" in caplog.text
    with pytest.raises(VerificationError, match=r"corrupt\.mp4 does not decode to its end"):
        verify(corpus.path("corrupt"), ffmpeg_tools, **ANY_FILE, also=broken)
