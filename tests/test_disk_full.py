"""``reskin edit`` on a full disk, end to end: one line naming the folder and the space to free,
nothing partial at the output, and the rerun after freeing space pays nothing more.

Real processes against the stand-in and the session's Prefect server, with real full disks:
small tmpfs mounts (``tests/disk.py``, root only, else skipped) at the output's folder or the
work folder. A disk "fills while the job runs" as another program would fill it: once the
journal holds the accepted job, a filler file takes every free byte. An output folder that
fills while the job runs is ``tests/edit/test_results.py`` (the same core, without the
seconds each ``reskin`` process costs).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.cli.test_edit import assert_one_error_line
from tests.conftest import InputClip
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)
from tests.processes import edit_command, journal_entry, rerun, wait_until

pytestmark = pytest.mark.slow

MB = 1_000_000
#: How long a job takes at the stand-in when the disk is to fill while it runs.
JOB_S = 2.0


def start(command: list[str], env: dict[str, str], stderr: Path) -> subprocess.Popen[bytes]:
    with stderr.open("wb") as err:
        return subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
        )


def finish(process: subprocess.Popen[bytes], stderr: Path) -> subprocess.CompletedProcess[str]:
    out, _ = process.communicate(timeout=120)
    return subprocess.CompletedProcess(
        process.args, process.returncode, out.decode(), stderr.read_text()
    )


def fill_once_accepted(
    command: list[str],
    env: dict[str, str],
    standin: StandIn,
    disks: SmallDisks,
    disk: Path,
    tmp_path: Path,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with a job of :data:`JOB_S`, and fill ``disk`` once the job is accepted."""
    config = standin.config
    standin.set_faults(slow_jobs=JOB_S / (config.queued_s + config.generating_s))
    work = Path(env["RESKIN_WORK_DIR"])
    stderr = tmp_path / "first.stderr"
    first = start(command, env, stderr)
    try:

        def accepted() -> bool:
            entry = journal_entry(work)
            return entry is not None and entry[0] == "accepted"

        wait_until(accepted, first, stderr, "accepted job in the journal")
        disks.fill(disk)
    except BaseException:
        first.kill()
        first.wait()
        raise
    done = finish(first, stderr)
    standin.set_faults(slow_jobs=1.0)
    return done


def others(folder: Path) -> list[str]:
    """What is in ``folder`` but the test's own fillers."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".filler-"))


def test_an_output_folder_too_small_is_refused_before_paying_and_the_rerun_pays_once(
    cli_env: dict[str, str],
    standin: StandIn,
    input_clip: InputClip,
    small_disks: SmallDisks,
    tmp_path: Path,
):
    out = small_disks.mount(tmp_path / "out", 2 * MB)
    output = out / "edited.mp4"
    command = edit_command(input_clip(duration_s=3.0), output)

    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=cli_env, check=False
    )

    line = assert_one_error_line(done)
    assert line == (
        f"error: no space left in {out} for the final video: free at least 5 MB there and "
        "rerun the same command (nothing was paid for yet)"
    )
    # --json: the same line as one JSON object on stdout, and nothing else there.
    assert json.loads(done.stdout) == {
        "error": line.removeprefix("error: "),
        "kind": "DiskFullError",
        "exit_code": 1,
    }
    assert others(out) == []  # no output, no partial of any name
    assert standin.stats().create_calls == 0

    small_disks.resize(out, 64 * MB)
    result = rerun(command, cli_env)
    assert result["output"] == str(output)
    assert probe(output).has_audio
    assert standin.stats().create_calls == 1


def test_a_work_folder_that_fills_while_the_job_runs_is_resumed_without_paying_again(
    cli_env: dict[str, str],
    standin: StandIn,
    input_clip: InputClip,
    small_disks: SmallDisks,
    tmp_path: Path,
):
    work = small_disks.mount(Path(cli_env["RESKIN_WORK_DIR"]), 32 * MB)
    output = tmp_path / "out" / "edited.mp4"
    command = edit_command(input_clip(duration_s=3.0), output)

    done = fill_once_accepted(command, cli_env, standin, small_disks, work, tmp_path)

    line = assert_one_error_line(done)
    assert line.startswith(f"error: no space left in {work} for the result: free at least ")
    assert line.endswith("(the paid generation is kept: the rerun uses it without paying again)")
    assert not output.exists()
    assert list(work.rglob("*.part")) == []
    entry = journal_entry(work)
    assert entry is not None
    assert entry[0] == "accepted"  # the rerun resumes it

    small_disks.free_up()
    result = rerun(command, cli_env)
    assert result["generation_id"] == entry[1]
    assert result["resumed"] is True
    assert probe(output).has_audio
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (1, 1)
