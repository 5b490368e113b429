"""``reskin edit`` as a user runs it: a real process against the stand-in and a real Prefect
server (``PREFECT_API_URL``), real ffmpeg.

What "one line" means for a failure, honestly: the CLI keeps the stage lines the tasks log (a
user wants to see where a run is), and Prefect prints them on stderr as timestamped log
records. So a failed run's stderr is zero or more such one-line records, then exactly one line
starting with ``error:``, and that line is the last one; no traceback anywhere (Prefect's own
lines, the traceback among them, go to the server, not the terminal). A failure caught before
Prefect starts (a bad option, no key) prints the error line alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reskin.edit.pipeline import STAGES as PIPELINE_STAGES
from reskin.edit.pipeline import edit
from reskin.edit.request import EditRequest
from reskin.edit.services import open_services
from reskin.media.probe import probe
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from tests.conftest import InputClip, RunReskin
from tests.prefect_server import PrefectServer
from tests.s3_server import S3Server

pytestmark = pytest.mark.slow

#: One log record as Prefect's console handler prints it: "22:16:39.657 | INFO    | name - ...".
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| [A-Z]+ +\| \S")
STAGES = set(PIPELINE_STAGES)


def edit_args(clip: Path, output: Path, *extra: str, prompt: str = "sepia film") -> list[str]:
    return ["edit", str(clip), "--prompt", prompt, "--output", str(output), *extra]


def assert_one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """Exit 1, no traceback, log records then one ``error:`` line, last; that line."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.rstrip("\n").splitlines()
    assert lines, "nothing on stderr"
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [lines[-1]], done.stderr
    strays = [line for line in lines[:-1] if not LOG_LINE.match(line)]
    assert strays == [], done.stderr
    return lines[-1]


def assert_nothing_written(output: Path) -> None:
    """No output, and no partial file of any name beside where it would have been."""
    assert not output.exists()
    beside = list(output.parent.iterdir()) if output.parent.exists() else []
    assert beside == []


def journal_rows(work_dir: Path) -> list[tuple[Any, ...]]:
    """The submission journal, read-only: (state, generation_id) rows."""
    uri = f"file:{work_dir / 'journal.sqlite3'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:  # `with db` does not close
        return db.execute("SELECT state, generation_id FROM submissions").fetchall()


# --- success ------------------------------------------------------------------------------------


def test_edit_prints_done_and_writes_the_output_with_sound(
    run_reskin: RunReskin, input_clip: InputClip, prefect_server: PrefectServer, tmp_path: Path
):
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    done = run_reskin(*edit_args(clip, output))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    first, fidelity, second = done.stdout.splitlines()
    assert first.startswith(f"done: {output} (")
    assert re.fullmatch(r"fidelity: motion [01]\.\d\d, structure [01]\.\d\d", fidelity), fidelity
    assert "with sound" in first
    assert "300 credits" in first  # the stand-in bills 100 credits a second
    info = probe(output)
    assert info.has_audio
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    # The output and its before/after preview; no partial file left beside them.
    assert sorted(output.parent.iterdir()) == [output, output.with_suffix(".preview.png")]
    # The run id it prints is a flow run the server knows, completed.
    run_id = re.fullmatch(r"run: (\S+) \(see it in the Prefect UI\)", second)
    assert run_id is not None, second
    with prefect_server.client() as http:
        flow_run = http.get(f"/flow_runs/{run_id.group(1)}").json()
    assert flow_run["state_type"] == "COMPLETED"


def test_json_prints_one_object_and_nothing_else_on_stdout(
    run_reskin: RunReskin, input_clip: InputClip, standin: StandIn, tmp_path: Path
):
    clip = input_clip(duration_s=4.0)
    output = tmp_path / "out" / "edited.mp4"
    done = run_reskin(
        *edit_args(clip, output, "--start", "0.5", "--end", "3.5", "--audio", "restore", "--json")
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1, done.stdout
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    assert result["output"] == str(output)
    assert result["credits_used"] == 300
    assert set(result["timings_s"]) == STAGES
    assert all(seconds >= 0 for seconds in result["timings_s"].values())
    assert result["resumed"] is False
    assert result["has_audio"] is True
    assert result["output_duration_s"] == pytest.approx(3.0, abs=0.1)
    # The fidelity of every edit: both scores, 0..1, a normal result well above the gate.
    assert 0.5 <= result["fidelity"]["motion"] <= 1
    assert 0.5 <= result["fidelity"]["structure"] <= 1
    # The id is the one the service made and the journal recorded.
    assert journal_rows(tmp_path / "work") == [("done", result["generation_id"])]
    assert standin.stats().jobs_accepted == 1
    info = probe(output)
    assert info.has_audio
    assert info.duration_s == pytest.approx(3.0, abs=0.1)


def test_a_result_that_lost_the_motion_fails_in_one_line_and_min_fidelity_0_writes_it(
    run_reskin: RunReskin, input_clip: InputClip, standin: StandIn, tmp_path: Path
):
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    standin.set_faults(reversed_result=1)
    line = assert_one_error_line(run_reskin(*edit_args(clip, output)))
    assert "motion score" in line
    assert "below the minimum fidelity 0.65" in line
    assert "rerun with --min-fidelity 0" in line  # the flag, as the command line names it
    assert_nothing_written(output)

    done = run_reskin(*edit_args(clip, output, "--min-fidelity", "0", "--json"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["resumed"] is True
    assert result["reused_download"] is True
    assert result["fidelity"]["motion"] < 0.5
    assert output.is_file()
    assert standin.stats().jobs_accepted == 1  # the kept result, not paid again


def test_an_s3_output_lands_in_the_bucket_not_in_a_local_folder_named_s3(
    run_reskin: RunReskin, input_clip: InputClip, s3_server: S3Server, tmp_path: Path
):
    bucket = s3_server.create_bucket()
    clip = input_clip(duration_s=3.0)
    target = f"s3://{bucket}/edited/clip.mp4"
    done = run_reskin(
        "edit", str(clip), "--prompt", "sepia film", "--output", target, "--json",
        env=s3_server.env(bucket),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == target
    listed = s3_server.client().list_objects_v2(Bucket=bucket)
    keys = sorted(item["Key"] for item in listed.get("Contents", []))
    assert keys == ["edited/clip.mp4", "edited/clip.preview.png"]
    assert not list(tmp_path.rglob("s3:*"))


# --- failures at the service ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "env", "says"),
    [
        # The request id stays in the line: a bracketed part is not taken for rich markup.
        pytest.param(
            {},
            {"AIMLAPI_API_KEY": "sk-wrong-key-0000"},
            "401 to the create: Invalid API key; check AIMLAPI_API_KEY [requestId ",
            id="wrong-key",
        ),
        pytest.param({"job_error": 1}, {}, "failed at the service", id="job-error"),
        pytest.param({"expired_result": 1}, {}, "no longer at its URL", id="expired-result"),
        # More cuts than the download retries: the download gives up.
        pytest.param({"cut_download": 50}, {}, "download of the result failed", id="cut-download"),
    ],
)
def test_a_failure_is_exit_1_one_error_line_last_and_no_output(
    run_reskin: RunReskin,
    input_clip: InputClip,
    standin: StandIn,
    prefect_server: PrefectServer,
    tmp_path: Path,
    fault: dict[str, int],
    env: dict[str, str],
    says: str,
):
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    standin.set_faults(**fault)
    done = run_reskin(*edit_args(clip, output), env=env)
    line = assert_one_error_line(done)
    assert says in line
    assert done.stdout == ""
    assert_nothing_written(output)
    assert not list((tmp_path / "work").rglob("*.part"))  # nor a partial download
    # The run is on the server, failed.
    (flow_run,) = prefect_server.flow_runs_named(clip.name)
    assert flow_run["state_type"] == "FAILED"


def test_json_failure_prints_one_error_object_on_stdout(
    run_reskin: RunReskin, input_clip: InputClip, standin: StandIn, tmp_path: Path
):
    standin.set_faults(job_error=1)
    output = tmp_path / "out" / "edited.mp4"
    done = run_reskin(*edit_args(input_clip(duration_s=3.0), output, "--json"))
    line = assert_one_error_line(done)
    failure = json.loads(done.stdout)  # one object, nothing else
    error = line.removeprefix("error: ")
    assert failure == {"error": error, "kind": "GenerationFailedError", "exit_code": 1}
    assert_nothing_written(output)


# --- refused before Prefect starts ------------------------------------------------------------


def test_no_key_and_the_real_service_says_how_to_get_going_before_any_run(
    run_reskin: RunReskin, input_clip: InputClip, prefect_server: PrefectServer, tmp_path: Path
):
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    done = run_reskin(
        *edit_args(clip, output), env={"AIMLAPI_API_KEY": None, "AIMLAPI_BASE_URL": None}
    )
    line = assert_one_error_line(done)
    assert done.stderr.count("\n") == 1  # the error line alone: no stage line, no run
    for hint in ("AIMLAPI_API_KEY", "reskin stand-in", "reskin demo"):
        assert hint in line
    assert done.stdout == ""
    assert_nothing_written(output)
    # Refused before Prefect started: the server never heard of a run for this input.
    assert prefect_server.flow_runs_named(clip.name) == []


def test_no_key_for_a_stand_in_names_the_missing_key(
    run_reskin: RunReskin, input_clip: InputClip, standin: StandIn, tmp_path: Path
):
    done = run_reskin(
        *edit_args(input_clip(duration_s=3.0), tmp_path / "out" / "edited.mp4"),
        env={"AIMLAPI_API_KEY": None},
    )
    line = assert_one_error_line(done)
    assert done.stderr.count("\n") == 1
    assert standin.base_url in line
    assert "AIMLAPI_API_KEY is not set" in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["--start", "2", "--end", "2"], "--end must be after --start", id="end=start"),
        pytest.param(["--start", "3", "--end", "1"], "--end must be after --start", id="end<start"),
        pytest.param(
            [arg for _ in range(5) for arg in ("--reference-image", "ref.png")],
            "--reference-image: ",
            id="5-reference-images",
        ),
        pytest.param(["--output", "edited.mov"], "--output: must end in .mp4", id="not-mp4"),
        pytest.param(["data:video/mp4;base64,AAAA"], "INPUT: ", id="data-uri-input"),
    ],
)
def test_a_bad_option_is_one_line_exit_1(
    run_reskin: RunReskin, tmp_path: Path, args: list[str], says: str
):
    # The options come after the defaults, so the bad one wins (typer keeps the last value,
    # and a second positional is the input).
    base = ["edit", "--prompt", "sepia film", "--output", str(tmp_path / "edited.mp4")]
    if args[0].startswith("data:"):
        done = run_reskin(*base, *args)
    else:
        done = run_reskin(*base, str(tmp_path / "input.mp4"), *args)
    line = assert_one_error_line(done)
    assert done.stderr.count("\n") == 1
    assert line.startswith(f"error: {says}"), line
    assert done.stdout == ""
    assert list(tmp_path.glob("*.mp4")) == []


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["edit", "in.mp4", "--output", "out.mp4"], id="no-prompt"),
        pytest.param(
            ["edit", "in.mp4", "--prompt", "p", "--output", "o.mp4", "--start", "soon"],
            id="not-a-number",
        ),
        pytest.param(
            ["edit", "in.mp4", "--prompt", "p", "--output", "o.mp4", "--audio", "loud"],
            id="unknown-audio-mode",
        ),
        pytest.param(
            ["edit", "in.mp4", "--prompt", "p", "--output", "o.mp4", "--color"], id="unknown-option"
        ),
    ],
)
def test_a_usage_error_is_exit_2(run_reskin: RunReskin, args: list[str]):
    done = run_reskin(*args)
    assert done.returncode == 2, done.stderr
    assert "Usage:" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


async def edit_here(request: EditRequest) -> None:
    async with open_services(load_settings()) as services:
        await edit(request, services)


def test_a_generation_the_service_forgot_is_named_with_the_way_out_then_forced(
    run_reskin: RunReskin,
    cli_env: dict[str, str],
    standin: StandIn,
    input_clip: InputClip,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    # The first, successful edit runs in this process (the core, no Prefect: a CLI run costs
    # seconds of CPU), over the same settings, work folder and so journal as the CLI's.
    for name, value in cli_env.items():
        if name.startswith(("RESKIN_", "AIMLAPI_")):
            monkeypatch.setenv(name, value)
    asyncio.run(edit_here(EditRequest(input=str(clip), prompt="sepia film", output=str(output))))
    output.unlink()
    work = Path(cli_env["RESKIN_WORK_DIR"])
    with contextlib.closing(sqlite3.connect(work / "journal.sqlite3")) as db:
        [(kept,)] = db.execute("SELECT result_path FROM submissions").fetchall()
    Path(kept).unlink()  # the kept download is gone too (cleaned, or another machine)
    standin.forget()  # a restart or a purge of the service

    for _ in range(2):  # the poll meets the 404; the rerun after it knows from the journal
        fetches = standin.stats().fetch_calls
        line = assert_one_error_line(run_reskin(*edit_args(clip, output)))
        assert "no longer knows generation" in line
        assert "--force" in line
        assert not output.exists()
    assert standin.stats().fetch_calls == fetches  # the second refusal asked the service nothing

    done = run_reskin(*edit_args(clip, output, "--force", "--json"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resumed"] is False
    assert output.is_file()
    assert standin.stats().jobs_accepted == 2
