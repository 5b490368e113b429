"""``reskin server start|status|stop`` and ``reskin edit`` through its runner (issue 17).

One real background ``prefect server start`` and reskin runner (the point of the command),
started and stopped by ``reskin server`` as a user runs it, with an edit, a failure, a Ctrl-C
and a runner killed mid-edit through the runner, all on that one start; the rest is
in-process: which Prefect an edit picks, and what a stale record or a taken port does. The
runner's wire alone is ``tests/cli/test_runner.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reskin.cli import prefect_server, remote
from reskin.cli.forksocket import serving
from reskin.cli.processes import alive
from reskin.cli.server import (
    FOLDER,
    NOT_RUNNING,
    STATE,
    Server,
    configured_api_url,
    home_of,
    prefect_for_edit,
    recorded,
    start,
)
from reskin.edit.pipeline import STAGES as PIPELINE_STAGES
from reskin.errors import ConfigError
from reskin.settings import Settings
from reskin.standin.server import StandIn
from tasks.cancel import INTERRUPTED
from tests.cli.test_edit import assert_one_error_line, edit_args, journal_rows
from tests.conftest import InputClip, standin_settings
from tests.prefect_server import PrefectServer, migrated_database
from tests.processes import end_group, rerun, wait_until
from tests.processes import start as start_process

pytestmark = pytest.mark.slow

#: How long the job of the edit whose runner is killed takes at the stand-in: long enough
#: that the kill lands while it runs, short enough for the rerun to wait it out.
JOB_S = 8.0


def reskin(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reskin", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def flow_runs(api_url: str) -> list[dict[str, object]]:
    response = httpx.post(f"{api_url}/flow_runs/filter", json={}, timeout=30)
    response.raise_for_status()
    rows: list[dict[str, object]] = response.json()
    return rows


def test_start_status_edits_through_the_runner_then_stop(
    standin: StandIn, input_clip: InputClip, tmp_path: Path
) -> None:
    """The whole life of ``reskin server`` as a user runs it, on one server start (each costs
    10 to 20 s of CPU): start (the server and its runner), status, an edit, a failure, a Ctrl-C
    and a runner killed mid-edit, each through the runner, then stop."""
    work = tmp_path / "work"
    env = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    env.update(standin_settings(standin, work))
    # A database migrated once per machine (tests/prefect_server.py), as a second start finds
    # its own: the first start of a new one migrates it, 5 s of CPU the suite need not spend.
    (work / FOLDER).mkdir(parents=True)
    shutil.copyfile(migrated_database(), work / FOLDER / "prefect.db")

    assert reskin(env, "server", "status").returncode == NOT_RUNNING
    started = reskin(env, "server", "start", "--port", "0")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        state = Server(**json.loads((work / FOLDER / STATE).read_text()))
        runner = runner_of(work)
        first, second, _ = started.stdout.splitlines()
        assert first.startswith(f"started: a Prefect server for reskin, pid {state.pid}")
        assert state.ui_url in first
        # Prefect's command, its garbage collector off the event loop (reskin/cli/prefect_server).
        argv = Path(f"/proc/{state.pid}/cmdline").read_bytes().split(b"\0")
        assert argv[1:5] == [b"-m", prefect_server.MODULE.encode(), b"server", b"start"]
        assert second.startswith(f"started: the reskin runner, pid {runner.pid}")
        # Only its owner reads the runner's token; the key is not in the file.
        runner_json = work / FOLDER / remote.STATE
        assert stat.S_IMODE(runner_json.stat().st_mode) == 0o600
        assert standin.key not in runner_json.read_text()
        again = reskin(env, "server", "start", "--port", "0")
        assert again.stdout.splitlines()[:2] == [
            f"already running: a Prefect server for reskin, {state.describe()}",
            f"already running: the reskin runner, {runner.describe()}, log "
            f"{work / FOLDER / remote.LOG}",
        ]
        status = reskin(env, "server", "status")
        assert status.returncode == 0
        assert status.stdout.startswith(f"running: pid {state.pid}")
        assert f"runner: pid {runner.pid}, on 127.0.0.1:{runner.port}" in status.stdout

        clip = input_clip(duration_s=3.0)
        output = tmp_path / "out" / "edited.mp4"
        edited = reskin(env, *edit_args(clip, output))
        assert edited.returncode == 0, edited.stderr
        assert edited.stderr.startswith(
            f"Prefect: the reskin server, UI at {state.ui_url}, run by its runner "
            f"(pid {runner.pid})\n"
        )
        said, fidelity, run_line = edited.stdout.splitlines()
        assert said.startswith(f"done: {output} (")
        assert "300 credits" in said
        assert fidelity.startswith("fidelity: motion ")
        assert output.is_file()
        (run,) = flow_runs(state.api_url)  # the run is on that server, done, with its stages
        assert run["state_type"] == "COMPLETED"
        assert clip.name in str(run["name"])
        assert run_line == f"run: {run['id']} (see it in the Prefect UI)"
        stages = task_runs(state.api_url, str(run["id"]))
        assert set(PIPELINE_STAGES) <= stages
        assert "take_in done in" in edited.stderr  # the runner's records, drawn here
        # The command itself ran in a copy of the runner's fork server, already imported.
        forks = serving(work / FOLDER)
        assert forks is not None
        assert f"fork server: pid {forks}" in reskin(env, "server", "status").stdout
        assert "runs `reskin edit` for pid" in (work / FOLDER / remote.LOG).read_text()

        # A failure: the same one line, exit code and --json object as a run in the process.
        standin.set_faults(job_error=1)
        failing = edit_args(clip, tmp_path / "out" / "failed.mp4", "--json", prompt="a failure")
        failed = reskin(env, *failing)
        line = assert_one_error_line_after(failed, "Prefect: the reskin server")
        assert "failed at the service" in line
        assert json.loads(failed.stdout) == {
            "error": line.removeprefix("error: "),
            "kind": "GenerationFailedError",
            "exit_code": 1,
        }
        assert not (tmp_path / "out" / "failed.mp4").exists()

        # What only the media stack sees (the client leaves it to the runner): answered in one
        # line, the words of a run in the process, before any flow run is made.
        notes = tmp_path / "notes.mp4"
        notes.write_text("not a video\n")
        made = len(flow_runs(state.api_url))
        for args, said in (
            (edit_args(notes, tmp_path / "out" / "n.mp4"), NOT_A_VIDEO),
            (edit_args(clip, tmp_path / "out" / "w.mp4", "--end", "60"), END_AFTER_THE_CLIP),
        ):
            line = assert_one_error_line(reskin(env, *args))
            assert line.startswith(said), line
        assert len(flow_runs(state.api_url)) == made

        ctrl_c_in_the_client_cancels_the_edit_in_the_runner(
            env, standin, clip, tmp_path, state.api_url
        )
        killed_runner_is_one_line_and_the_rerun_resumes(env, standin, clip, tmp_path, work)
        runner = runner_of(work)  # started again by the second `start` above
    finally:
        stopped = reskin(env, "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == (
        f"stopped: the reskin runner, pid {runner.pid}\nstopped: pid {state.pid}\n"
    )
    assert not alive(state.pid)
    assert not alive(runner.pid)
    # The fork server goes with its runner (the end of its pipe), once its copies have ended.
    deadline = time.monotonic() + 30
    while alive(forks):
        assert time.monotonic() < deadline, "the fork server outlived its runner by 30 s"
        time.sleep(0.05)
    assert not (work / FOLDER / STATE).exists()
    assert not runner_json.exists()
    assert reskin(env, "server", "status").stdout.startswith("not running")
    assert reskin(env, "server", "stop").stdout == "not running\n"


def test_with_a_prefect_server_of_ones_own_start_runs_only_a_runner_for_it(
    cli_env: dict[str, str], prefect_server: PrefectServer, input_clip: InputClip, tmp_path: Path
) -> None:
    """``PREFECT_API_URL`` set: ``reskin server start`` starts no server, only the runner, whose
    flow runs go to that server; ``reskin edit`` with the same API runs there, one without it
    does not; ``stop`` stops the runner and leaves the user's server alone."""
    env, api = dict(cli_env), prefect_server.api_url
    work = Path(env["RESKIN_WORK_DIR"])
    started = reskin(env, "server", "start")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        runner = runner_of(work)
        assert runner.api_url == api
        assert not (work / FOLDER / STATE).exists()  # no server of reskin's own
        assert started.stdout.startswith(
            f"started: the reskin runner, {runner.describe()}, its flow runs on {api}"
        )
        status = reskin(env, "server", "status")
        assert status.returncode == 0
        assert status.stdout.startswith(f"runner: {runner.describe()}, its flow runs on {api}")

        clip = input_clip(duration_s=3.0)
        output = tmp_path / "out" / "edited.mp4"
        edited = reskin(env, *edit_args(clip, output))
        assert edited.returncode == 0, edited.stderr
        assert edited.stderr.startswith(
            f"Prefect: {api}, run by the reskin runner (pid {runner.pid})\n"
        )
        assert output.is_file()
        assert any(clip.name in str(row["name"]) for row in flow_runs(api))

        # The same settings but no PREFECT_API_URL: not this runner's API, not run there.
        elsewhere = {name: value for name, value in env.items() if name != "PREFECT_API_URL"}
        routed = subprocess.run(
            [sys.executable, "-c", ROUTE],
            env=elsewhere, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert routed.stdout.strip() == "in this process"
    finally:
        stopped = reskin(env, "server", "stop")
    assert stopped.stdout.startswith(f"stopped: the reskin runner, pid {runner.pid}")
    assert httpx.get(f"{api}/health", timeout=30).status_code == 200  # the user's, still up


#: Where ``route_edit`` sends an edit, said by a process of its own (it reads the environment).
ROUTE = """
from reskin.cli.server import route_edit
from reskin.settings import load_settings
runner, _ = route_edit(load_settings())
print("in this process" if runner is None else f"runner {runner.pid}")
"""


def ctrl_c_in_the_client_cancels_the_edit_in_the_runner(
    env: dict[str, str], standin: StandIn, clip: Path, tmp_path: Path, api_url: str
) -> None:
    """Ctrl-C during a 429's wait: the client ends at once, with one line, after the runner
    has unwound the edit (its reservation given back), so the rerun pays once; the flow run
    is over in the UI too, not left running."""
    standin.set_faults(create_429=1, retry_after_s=60)
    output = tmp_path / "out" / "interrupted.mp4"
    accepted = standin.stats().jobs_accepted
    calls = standin.stats().create_calls
    stderr = tmp_path / "interrupted.stderr"
    command = edit_json(clip, output, "interrupted")
    client = start_process(command, env, stderr)
    try:
        wait_until(lambda: standin.stats().create_calls > calls, client, stderr, "the 429")
        time.sleep(0.5)  # in the 429's wait
        os.killpg(client.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        interrupted = time.monotonic()
        client.wait(timeout=30)
        took = time.monotonic() - interrupted
    finally:
        end_group(client)
    said = stderr.read_text()
    assert client.returncode == 130, said
    assert took < 10, f"Ctrl-C took {took:.1f} s to end the client"
    assert "Traceback" not in said
    last = said.strip().splitlines()[-1]
    assert last.startswith("interrupted"), said
    assert "rerun" in last
    assert not output.exists()
    assert standin.stats().jobs_accepted == accepted
    # Over in the UI too: Cancelled, saying how to go on (Prefect's engine said Crashed).
    (run,) = [row for row in flow_runs(api_url) if str(row["name"]).endswith(": interrupted")]
    state = run["state"]
    assert isinstance(state, dict)
    assert (run["state_type"], state["message"]) == ("CANCELLED", INTERRUPTED)
    result = rerun(command, env)
    assert result["resumed"] is False  # no reservation was left behind to refuse it
    assert standin.stats().jobs_accepted == accepted + 1


def killed_runner_is_one_line_and_the_rerun_resumes(
    env: dict[str, str], standin: StandIn, clip: Path, tmp_path: Path, work: Path
) -> None:
    """The runner killed while it waits for an accepted job: the client says so in one line;
    after `reskin server start` (a new runner) the rerun resumes the job, paid once."""
    output = tmp_path / "out" / "resumed.mp4"
    runner = runner_of(work)
    config = standin.config
    standin.set_faults(slow_jobs=JOB_S / (config.queued_s + config.generating_s))
    accepted = standin.stats().jobs_accepted
    stderr = tmp_path / "killed.stderr"
    command = edit_json(clip, output, "a runner killed")
    client = start_process(command, env, stderr)
    try:

        def journaled() -> bool:  # accepted by the service, and its id in the journal
            rows = journal_rows(work) if (work / "journal.sqlite3").exists() else []
            return standin.stats().jobs_accepted > accepted and ("accepted",) in [
                row[:1] for row in rows
            ]

        wait_until(journaled, client, stderr, "an accepted job in the journal")
        os.kill(runner.pid, signal.SIGKILL)
        client.wait(timeout=30)
    finally:
        end_group(client)
    standin.set_faults(slow_jobs=1.0)
    said = stderr.read_text()
    assert client.returncode == 1, said
    assert "Traceback" not in said
    last = said.strip().splitlines()[-1]
    assert last.startswith(f"error: the reskin runner (pid {runner.pid}"), said
    assert "stopped during the edit: rerun the same command to go on" in last
    restarted = reskin(env, "server", "start", "--port", "0")
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.splitlines()[1].startswith("started: the reskin runner")
    result = rerun(command, env)
    assert result["resumed"] is True
    assert standin.stats().jobs_accepted == accepted + 1  # the killed run's job, paid once
    assert output.is_file()


def edit_json(clip: Path, output: Path, prompt: str) -> list[str]:
    """``reskin edit ... --json`` with a prompt of its own (a request of its own)."""
    return [sys.executable, "-m", "reskin", *edit_args(clip, output, "--json", prompt=prompt)]


def runner_of(work: Path) -> remote.Runner:
    return remote.Runner(**json.loads((work / FOLDER / remote.STATE).read_text()))


def task_runs(api_url: str, flow_run_id: str) -> set[str]:
    """The stage names of a flow run's task runs (``poll``, not ``poll-1``)."""
    body = {"task_runs": {"flow_run_id": {"any_": [flow_run_id]}}}
    response = httpx.post(f"{api_url}/task_runs/filter", json=body, timeout=30)
    response.raise_for_status()
    return {str(row["name"]).split(" ", 1)[0].rsplit("-", 1)[0] for row in response.json()}


NOT_A_VIDEO = "error: notes.mp4 is not an MP4, MOV or Matroska video: export it as an MP4"
END_AFTER_THE_CLIP = "error: --end 60.00 s is after the end of the video (3."


def assert_one_error_line_after(done: subprocess.CompletedProcess[str], first: str) -> str:
    """Exit 1, no traceback, the line saying where the edit runs, records, then one
    ``error:`` line, last; that line."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.rstrip("\n").splitlines()
    assert lines[0].startswith(first), done.stderr
    return assert_one_error_line(
        subprocess.CompletedProcess(done.args, 1, done.stdout, "\n".join(lines[1:]) + "\n")
    )


# --- in-process ------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({"work_dir": str(tmp_path / "work")})


def test_an_edit_without_a_server_says_it_goes_embedded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    said = prefect_for_edit(settings)
    assert said is not None
    assert said.startswith("Prefect: embedded server")
    assert "`reskin server start`" in said
    assert "PREFECT_API_URL" not in os.environ


def test_a_users_own_prefect_api_wins_and_is_not_mentioned(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert prefect_for_edit(settings) is None
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"


def test_the_active_profiles_api_url_counts_as_configured(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "team"\n\n[profiles.team]\nPREFECT_API_URL = "http://prefect.team:4200/api"\n'
        "\n[profiles.local]\n"
    )
    assert configured_api_url({"PREFECT_HOME": str(home)}) == "http://prefect.team:4200/api"
    chosen = {"PREFECT_HOME": str(home), "PREFECT_PROFILE": "local"}
    assert configured_api_url(chosen) is None
    assert configured_api_url({"PREFECT_HOME": str(tmp_path / "none")}) is None


def test_a_stale_record_is_not_a_server_and_is_removed(settings: Settings) -> None:
    home = home_of(settings)
    home.mkdir(parents=True)
    # This process: alive, but no Prefect server (as a pid reused after a reboot would be).
    stale = Server(pid=os.getpid(), host="127.0.0.1", port=9, home=str(home), started_at=0.0)
    (home / STATE).write_text(json.dumps(stale.__dict__))
    assert recorded(home) is None
    assert not (home / STATE).exists()


def test_a_taken_port_is_one_line_and_starts_nothing(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is taken"):
            start(settings, port=port)
    assert not (home_of(settings) / STATE).exists()


def test_a_server_that_does_not_answer_is_named_and_the_edit_goes_embedded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    # A process that looks like `prefect server` to the record's check, listening nowhere.
    # Popen returns while the kernel may still be setting up the new program's argv (its
    # /proc cmdline reads empty for that moment), so wait for the program's first line.
    hung = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; print(flush=True); time.sleep(60)",
            "prefect",
            "server",
        ],
        stdout=subprocess.PIPE,
    )
    assert hung.stdout is not None
    try:
        hung.stdout.readline()
        home = home_of(settings)
        home.mkdir(parents=True)
        record = Server(pid=hung.pid, host="127.0.0.1", port=9, home=str(home), started_at=0.0)
        (home / STATE).write_text(json.dumps(record.__dict__))
        said = prefect_for_edit(settings)
        assert said is not None
        assert said.startswith("Prefect: embedded server")
        assert f"pid {hung.pid}, does not answer" in said
        assert "PREFECT_API_URL" not in os.environ
    finally:
        hung.kill()
        hung.wait()
        hung.stdout.close()
