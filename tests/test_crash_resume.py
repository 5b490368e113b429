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
from tests.conftest import InputClip
from tests.processes import edit_command, journal_entry, kill_group, rerun, wait_until

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
