"""``reskin server start|status|stop`` and ``reskin edit`` on that server (issue 17).

One real background ``prefect server start`` (the point of the command), started and stopped
by ``reskin server`` as a user runs it, with one edit run against it; the rest is in-process:
which Prefect an edit picks, and what a stale record or a taken port does.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reskin.cli.server import (
    FOLDER,
    NOT_RUNNING,
    STATE,
    Server,
    alive,
    configured_api_url,
    home_of,
    prefect_for_edit,
    recorded,
    start,
)
from reskin.errors import ConfigError
from reskin.settings import Settings
from reskin.standin.server import StandIn
from tests.conftest import InputClip, standin_settings
from tests.prefect_server import migrated_database

pytestmark = pytest.mark.slow


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


def test_start_status_an_edit_on_it_then_stop(
    standin: StandIn, input_clip: InputClip, tmp_path: Path
) -> None:
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
        assert started.stdout.startswith(f"started: a Prefect server for reskin, pid {state.pid}")
        assert state.ui_url in started.stdout
        again = reskin(env, "server", "start", "--port", "0")
        assert again.stdout.startswith(
            f"already running: a Prefect server for reskin, pid {state.pid}"
        )
        status = reskin(env, "server", "status")
        assert status.returncode == 0
        assert status.stdout.startswith(f"running: pid {state.pid}")

        clip = input_clip(duration_s=3.0)
        output = tmp_path / "out" / "edited.mp4"
        edited = reskin(env, "edit", str(clip), "--prompt", "sepia", "--output", str(output))
        assert edited.returncode == 0, edited.stderr
        assert f"Prefect: the reskin server, UI at {state.ui_url}\n" in edited.stderr
        assert output.is_file()
        (run,) = flow_runs(state.api_url)  # the run is on that server, done
        assert run["state_type"] == "COMPLETED"
        assert clip.name in str(run["name"])
    finally:
        stopped = reskin(env, "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"stopped: pid {state.pid}\n"
    assert not alive(state.pid)
    assert not (work / FOLDER / STATE).exists()
    assert reskin(env, "server", "status").stdout.startswith("not running")
    assert reskin(env, "server", "stop").stdout == "not running\n"


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
    hung = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "prefect", "server"]
    )
    try:
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
