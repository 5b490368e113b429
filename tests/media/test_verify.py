"""The full-decode check: argv, what it lets through, and the damage that ffmpeg hides."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reskin.errors import FFmpegError, MediaError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import render_command
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.media.verify import decode_check_command, decoded_seconds, verify

from .corpus import NEVER_OPENED, Corpus, Listener

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
