"""Taking a user's file into a job: the private copy, its server-made name, and every refusal."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from reskin.errors import DiskFullError, InputError, ProbeError
from reskin.media.binaries import FFmpegTools
from reskin.media.intake import STAGED_NAME, make_job_dir, take_in
from reskin.media.probe import probe
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)

from .corpus import SPECS, Corpus, Listener, Spec

CAP = 500_000_000


@pytest.fixture
def job(tmp_path: Path) -> Path:
    return make_job_dir(tmp_path / "jobs")


def _user_file(corpus: Corpus, name: str, folder: Path, as_name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / as_name
    shutil.copyfile(corpus.path(name), path)
    return path


def test_job_folders_are_new_private_and_distinct(tmp_path: Path) -> None:
    first, second = make_job_dir(tmp_path / "jobs"), make_job_dir(tmp_path / "jobs")

    assert first != second
    assert first.parent == second.parent == tmp_path / "jobs"
    assert list(first.iterdir()) == []
    assert stat.S_IMODE(first.stat().st_mode) == 0o700


def test_a_video_is_copied_under_a_name_reskin_chose(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path
) -> None:
    mine = _user_file(corpus, "plain", tmp_path / "home", "Holiday (final).mp4")

    taken = take_in(mine, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    assert taken.source == mine
    assert taken.path == job / "input.mp4"
    assert taken.info.path == taken.path
    assert taken.path.read_bytes() == mine.read_bytes()
    assert taken.info == probe(taken.path)
    assert taken.sha256 == hashlib.sha256(mine.read_bytes()).hexdigest()  # taken while copying
    assert sorted(p.name for p in job.iterdir()) == ["input.mp4"]


def test_an_input_is_probed_once_for_the_probe_and_the_decode_check(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path, probes: Callable[[], list[str]]
) -> None:
    taken = take_in(corpus.path("plain"), job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    assert [line.split()[1] for line in probes()] == [corpus.path("plain").name]
    assert taken.info == probe(taken.path)  # the decode check returned the one probe, moved


@pytest.mark.parametrize(
    ("name", "expected"),
    [("hevc-10bit-mov", "input.mov"), ("webm-vp9-opus", "input.mkv"), ("vfr-mkv", "input.mkv")],
)
def test_the_extension_follows_the_content(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path, name: str, expected: str
) -> None:
    # The user calls it .mp4; what it is decides the name.
    mine = _user_file(corpus, name, tmp_path / "home", "clip.mp4")

    assert take_in(mine, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60).path.name == expected


def test_the_users_file_name_never_reaches_an_argv(
    corpus: Corpus,
    ffmpeg_tools: FFmpegTools,
    job: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A real MP4 named like a playlist: were the name passed on, ffmpeg would pick its HLS demuxer.
    mine = _user_file(corpus, "plain", tmp_path / "home", "clip.m3u8")
    caplog.set_level(logging.DEBUG, logger="reskin.media.runner")

    taken = take_in(mine, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    commands = [r.getMessage() for r in caplog.records if r.getMessage().startswith("running ")]
    assert commands, "the full decode should have run ffmpeg"
    assert all("clip.m3u8" not in command and "home" not in command for command in commands)
    # Only files of the job's own folder, named by reskin (ffprobe, where there is one, reads
    # the copy before it gets its final name).
    assert all(str(job) in command for command in commands)
    assert taken.path.parent == job


def test_the_copy_does_not_follow_later_changes(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path
) -> None:
    mine = _user_file(corpus, "plain", tmp_path / "home", "clip.mp4")
    original = mine.read_bytes()

    taken = take_in(mine, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)
    mine.write_text("changed after the intake")

    assert taken.path.read_bytes() == original
    assert taken.path.stat().st_ino != mine.stat().st_ino


def test_a_file_over_the_cap_is_refused_before_copying(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path
) -> None:
    size = corpus.path("plain").stat().st_size

    with pytest.raises(InputError, match=r"^plain\.mp4 is .* MB, over the 0\.01 MB limit: trim"):
        take_in(corpus.path("plain"), job, ffmpeg_tools, max_bytes=10_000, timeout_s=60)

    assert size > 10_000
    assert list(job.iterdir()) == []


@pytest.mark.parametrize(("name", "reason"), [("empty", "is empty"), ("text", "is not an MP4")])
def test_content_refusals_are_probe_errors_naming_the_users_file(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path, name: str, reason: str
) -> None:
    mine = _user_file(corpus, name, tmp_path / "home", "my clip.mp4")

    with pytest.raises(ProbeError) as caught:
        take_in(mine, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    message = str(caught.value)
    assert message.startswith(f"my clip.mp4 {reason}")
    assert message.endswith("try again")
    assert "\n" not in message
    assert list(job.iterdir()) == []


def test_a_missing_file_is_refused(ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^nowhere\.mp4: cannot read the file .*: check the path"):
        take_in(tmp_path / "nowhere.mp4", job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)


def test_a_folder_is_refused(ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a regular file"):
        take_in(tmp_path, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)


def test_a_fifo_is_refused_without_waiting_for_a_writer(
    ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)

    with pytest.raises(InputError, match=r"^clip\.mp4 is not a regular file"):
        take_in(fifo, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)


def test_a_symlink_to_a_video_is_taken_as_the_video(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path
) -> None:
    link = tmp_path / "link.mp4"
    link.symlink_to(corpus.path("plain"))

    taken = take_in(link, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    assert not taken.path.is_symlink()
    assert taken.path.read_bytes() == corpus.path("plain").read_bytes()


def test_damage_in_the_middle_is_refused_as_the_users_problem(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path, tmp_path: Path
) -> None:
    mine = _user_file(corpus, "corrupt", tmp_path / "home", "wedding.mp4")

    with pytest.raises(ProbeError, match=r"^wedding\.mp4 is damaged: it does not decode") as caught:
        take_in(mine, job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    assert "\n" not in str(caught.value)
    assert list(job.iterdir()) == []


def test_without_the_decode_check_the_damage_gets_through(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path
) -> None:
    # The decode check is what refuses the corrupt file: without it the intake accepts it.
    taken = take_in(
        corpus.path("corrupt"), job, ffmpeg_tools, max_bytes=CAP, timeout_s=60, decode_check=False
    )

    assert taken.path == job / "input.mp4"


def test_a_job_folder_takes_one_input(corpus: Corpus, ffmpeg_tools: FFmpegTools, job: Path) -> None:
    take_in(corpus.path("plain"), job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    with pytest.raises(FileExistsError):
        take_in(corpus.path("no-audio"), job, ffmpeg_tools, max_bytes=CAP, timeout_s=60)

    assert probe(job / "input.mp4").has_audio  # the first input is untouched
    assert not (job / STAGED_NAME).exists()


@pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
def test_every_clip_of_the_corpus_gets_its_expected_outcome(
    corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path: Path, spec: Spec, no_hits: Listener
) -> None:
    job = make_job_dir(tmp_path / "jobs")
    clip = corpus.clips[spec.name]
    if clip.outcome == "conform":
        taken = take_in(clip.path, job, ffmpeg_tools, max_bytes=CAP, timeout_s=120)
        assert taken.path.parent == job
        return
    with pytest.raises(ProbeError) as caught:
        take_in(clip.path, job, ffmpeg_tools, max_bytes=CAP, timeout_s=120)
    message = str(caught.value)
    assert message.startswith(clip.path.name)
    assert "\n" not in message
    assert message.endswith("try again")
    assert list(job.iterdir()) == []


def test_an_input_the_jobs_disk_cannot_hold_is_refused_before_the_copy(
    ffmpeg_tools: FFmpegTools, small_disks: SmallDisks, tmp_path: Path
) -> None:
    job = make_job_dir(small_disks.mount(tmp_path / "disk", 1_000_000) / "jobs")
    user_file = tmp_path / "big.mp4"
    user_file.write_bytes(bytes(2_000_000))  # refused on its size: never probed

    with pytest.raises(DiskFullError) as caught:
        take_in(user_file, job, ffmpeg_tools, max_bytes=CAP, timeout_s=30)

    assert caught.value.folder == job
    assert "for the copy of big.mp4: free at least 3 MB there" in str(caught.value)
    assert list(job.iterdir()) == []
