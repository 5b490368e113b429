"""A ``reskin edit`` killed with SIGKILL, then run again: the rerun finishes the same paid job.

Real processes against the stand-in and the session's Prefect server. The kill goes to the
process group of the run (started with ``start_new_session``), as a crash of its machine or
container would: ffmpeg children die with it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reskin.media.binaries import FFmpegTools
from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import InputClip, MakeClip
from tests.processes import edit_command, journal_entry, kill_group, rerun, start, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups"),
]

#: How long the killed run's job takes at the stand-in: long enough that the kill surely
#: lands while it runs, short enough for the rerun to wait it out.
JOB_S = 15.0


def test_killed_while_the_job_runs_the_rerun_resumes_it_without_paying_again(
    cli_env: dict[str, str], standin: StandIn, input_clip: InputClip, tmp_path: Path
):
    work = Path(cli_env["RESKIN_WORK_DIR"])
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    command = edit_command(clip, output)
    config = standin.config
    standin.set_faults(slow_jobs=JOB_S / (config.queued_s + config.generating_s))

    stderr = tmp_path / "first.stderr"
    with stderr.open("wb") as err:
        first = subprocess.Popen(
            command,
            env=cli_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:

        def accepted() -> bool:
            entry = journal_entry(work)
            return (
                entry is not None and entry[0] == "accepted" and standin.stats().jobs_accepted == 1
            )

        wait_until(accepted, first, stderr, "accepted job in the journal and the stand-in")
    finally:
        kill_group(first)
    entry = journal_entry(work)
    assert entry is not None
    state, journaled_id = entry
    assert state == "accepted"  # killed before the job was done: nothing was downloaded
    assert not output.exists()

    result = rerun(command, cli_env)
    assert result["generation_id"] == journaled_id
    assert result["resumed"] is True
    assert result["reused_download"] is False
    assert result["output"] == str(output)
    assert probe(output).has_audio
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 1
    assert journal_entry(work) == ("done", journaled_id)


def hold_ffmpeg_writing_into(folder: Path, tools: FFmpegTools, tmp_path: Path) -> Path:
    """An ffmpeg that stops (sleeps) before any run that writes into ``folder``, after leaving
    a mark, and is the real one otherwise: the run is then held right after its download."""
    mark = tmp_path / "holding"
    script = tmp_path / "held-ffmpeg" / "ffmpeg"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *"{folder}/"*) : > "{mark}"; sleep 300;; esac\n'
        f'exec "{tools.ffmpeg}" "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_killed_right_after_the_download_the_rerun_reuses_it(
    cli_env: dict[str, str],
    standin: StandIn,
    input_clip: InputClip,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
):
    work = Path(cli_env["RESKIN_WORK_DIR"])
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    command = edit_command(clip, output)
    held = hold_ffmpeg_writing_into(output.parent, ffmpeg_tools, tmp_path)

    stderr = tmp_path / "first.stderr"
    with stderr.open("wb") as err:
        first = subprocess.Popen(
            command,
            env={**cli_env, "RESKIN_FFMPEG_BINARY": str(held)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        # The first ffmpeg run that writes beside the output is the final mux: the result is
        # downloaded, verified and journaled by then.
        wait_until((tmp_path / "holding").exists, first, stderr, "final mux")
    finally:
        kill_group(first)
    entry = journal_entry(work)
    assert entry is not None
    state, journaled_id = entry
    assert state == "downloaded"
    assert not output.exists()
    assert standin.stats().result_downloads == 1

    result = rerun(command, cli_env)
    assert result["generation_id"] == journaled_id
    assert result["resumed"] is True
    assert result["reused_download"] is True
    info = probe(output)
    assert info.has_audio
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 1  # not fetched again
    assert journal_entry(work) == ("done", journaled_id)
    # The killed run's partial output (atomic_output's hidden temporary beside the output)
    # cannot be removed by the process that was SIGKILLed: the rerun replaces it.
    preview = output.with_suffix(".preview.png")
    leftovers = sorted(p.name for p in output.parent.iterdir() if p not in (output, preview))
    assert leftovers == [], "the killed run's partial output is left beside the output"


def test_a_long_video_killed_after_some_segments_were_accepted_pays_only_for_the_others(
    cli_env: dict[str, str], standin: StandIn, make_clip: MakeClip, tmp_path: Path
):
    # 12 s, two scenes, on Aleph (5 s at most): four segments, two in flight at a time.
    clip = make_clip(duration_s=12.0, width=854, height=480, fps=25, scenes=(5.43,))
    output = tmp_path / "out" / "long.mp4"
    command = [*edit_command(clip, output), "--all-at-once", "--model", "runway/gen4_aleph"]
    env = {
        **cli_env,
        "RESKIN_MAX_JOBS_IN_FLIGHT": "2",
        "RESKIN_CONFORM_PRESET": "ultrafast",
        "RESKIN_LIMITS_PREFIX": f"long-{tmp_path.name[-20:]}",
    }
    config = standin.config
    # Jobs of 6 s: the kill lands while they run (it follows the second accept at once).
    standin.set_faults(slow_jobs=6.0 / (config.queued_s + config.generating_s))

    first = start(command, env, tmp_path / "first.stderr")
    try:
        wait_until(
            lambda: standin.stats().jobs_accepted == 2,
            first,
            tmp_path / "first.stderr",
            "two segments accepted",
        )
    finally:
        kill_group(first)
    assert standin.stats().jobs_accepted == 2  # the other two wait for a slot: never sent
    assert not output.exists()

    standin.set_faults(slow_jobs=1.0)
    # The rerun takes no job slot: the killed run's two are the server's until their leases
    # run out (60 s, tests/tasks/test_slot_restart.py); this is about what is paid.
    env["RESKIN_MAX_JOBS_IN_FLIGHT"] = "0"
    result = rerun(command, env)
    segments = result["segments"]
    assert isinstance(segments, list)
    assert len(segments) == 4
    assert sum(segment["resumed"] for segment in segments) == 2  # the killed run's two
    assert standin.stats().jobs_accepted == 4  # and two more: no segment paid twice
    assert probe(output).duration_s == pytest.approx(12.0, abs=1 / 24)
    # A rerun after success pays nothing: tests/edit/test_long.py (in process, cheaper).
