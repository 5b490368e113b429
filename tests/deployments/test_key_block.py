"""A served deployment's run whose key is only in a Prefect Secret block (issue 17, part 5).

``python -m deployments.serve`` runs against the session's Prefect server with
``AIMLAPI_API_KEY_BLOCK`` and no ``AIMLAPI_API_KEY`` in its environment, aimed at a stand-in of
its own whose key is a canary: the stand-in refuses any other key, so a completed edit proves
the run loaded the key from the block. Then the secret search of
``tests/test_prefect_server.py`` reads everything the run left (the server's home and REST
answers, serve's Prefect home and log, the work folder) and finds the canary nowhere. The
same run's summary shows its local output's contact sheet inline (part 6).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.system import Secret
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import SecretStr

from deployments.definitions import EDIT_VIDEO
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from tasks.secrets import SETTING
from tests.conftest import SUITE_FFMPEG, MakeClip, standin_settings
from tests.deployments.conftest import Api, base_env
from tests.deployments.test_serve import wait_for
from tests.prefect_server import PrefectServer
from tests.test_prefect_server import files_under, runs_of, where_found

pytestmark = pytest.mark.slow

CANARY = "sk-reskin-block-canary-" + secrets.token_hex(12)
RUN_TIMEOUT_S = 120.0
_FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class ServedWithBlock:
    """``python -m deployments.serve`` whose runs find their key in the block ``block``."""

    process: subprocess.Popen[bytes]
    log: Path
    home: Path
    work: Path
    env: dict[str, str]
    block: str
    standin: StandIn
    server: PrefectServer

    @property
    def api(self) -> Api:
        return Api(self.server.api_url)


@pytest.fixture
def canary_standin(tmp_path: Path) -> Iterator[StandIn]:
    """A stand-in of its own whose key, the canary, is the one it accepts."""
    config = StandInConfig(
        key=SecretStr(CANARY),
        queued_s=0.2,
        generating_s=0.5,
        render_preset="ultrafast",
        work_dir=tmp_path / "standin",
        ffmpeg_binary=Path(SUITE_FFMPEG) if SUITE_FFMPEG else None,
    )
    with StandIn(config) as standin:
        yield standin


@pytest.fixture
def served_with_block(
    prefect_server: PrefectServer, canary_standin: StandIn, tmp_path: Path
) -> Iterator[ServedWithBlock]:
    block = f"aimlapi-key-{secrets.token_hex(4)}"
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        Secret(value=CANARY).save(block)
    home, work = tmp_path / "serve-prefect-home", tmp_path / "work"
    settings = standin_settings(canary_standin, work)
    del settings["AIMLAPI_API_KEY"]  # the key is in the block only
    env = {
        **base_env(),
        **settings,
        SETTING: block,
        "RESKIN_ALLOWED_DIRS": str(tmp_path),  # the runs read and write the test's folder
        "PREFECT_HOME": str(home),  # its own, so every file serve and its runs wrote is ours
        "PREFECT_API_URL": prefect_server.api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_COLORS": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",  # look for runs every second (default 10 s)
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deployments.serve", "--paused"],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield ServedWithBlock(process, log, home, work, env, block, canary_standin, prefect_server)
    finally:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
                break


def run_edit_video(served: ServedWithBlock, request: dict[str, Any]) -> dict[str, Any]:
    """A run of ``edit-video/edit-video`` made through the REST API (as the UI's form does),
    once serve has taken it and it has ended."""

    def ready() -> bool:
        text = served.log.read_text(errors="replace")
        if served.process.poll() is not None:
            raise AssertionError(f"serve exited ({served.process.returncode}):\n{text}")
        return "being served and polling for scheduled runs" in text

    # Serve (re)registers the deployment before it says so: its id is then this serve's.
    wait_for("serve to be ready", ready)
    registered = served.api.deployment(EDIT_VIDEO)
    with served.server.client() as http:
        made = http.post(
            f"/deployments/{registered['id']}/create_flow_run",
            json={"parameters": {"request": request}},
        )
        made.raise_for_status()
    run_id = made.json()["id"]

    def ended() -> dict[str, Any] | None:
        with served.server.client() as http:
            run: dict[str, Any] = http.get(f"/flow_runs/{run_id}").raise_for_status().json()
        return run if run["state_type"] in _FINAL else None

    def hint() -> str:
        return f"; serve's log:\n{served.log.read_text(errors='replace')[-4000:]}"

    found: dict[str, Any] = wait_for("end of the served run", ended, hint, RUN_TIMEOUT_S)
    return found


def test_a_served_run_takes_its_key_from_the_secret_block_and_leaves_it_nowhere(
    served_with_block: ServedWithBlock,
    prefect_server: PrefectServer,
    make_clip: MakeClip,
    tmp_path: Path,
):
    served = served_with_block
    assert "AIMLAPI_API_KEY" not in served.env  # not in the serve process, nor in its runs
    clip = tmp_path / "in" / f"block-{secrets.token_hex(4)}.mp4"
    clip.parent.mkdir()
    shutil.copyfile(make_clip(duration_s=3.0), clip)
    output = tmp_path / "out" / "edited.mp4"

    run = run_edit_video(
        served, {"input": str(clip), "prompt": "sepia film", "output": str(output)}
    )

    log = served.log.read_text(errors="replace")
    assert run["state_type"] == "COMPLETED", f"{run['state']}\n{log[-4000:]}"
    assert output.is_file()
    # The stand-in accepts only the canary: the job it made came with the key from the block.
    assert served.standin.stats().jobs_accepted == 1
    found = runs_of(prefect_server, run["id"])
    messages = [row["message"] for row in found["logs"]]
    assert f"the key comes from the Prefect Secret block {served.block!r}" in messages
    submitted = [m for m in messages if m.startswith("submitted generation ")]
    assert len(submitted) == 1
    generation_id = submitted[0].split()[2]

    # The summary of this local output shows its before/after contact sheet, inline (part 6).
    sheet = base64.b64encode(output.with_name("edited.preview.png").read_bytes()).decode()
    markdown = [a["data"] for a in found["artifacts"] if a["type"] == "markdown"]
    (summary,) = [text for text in markdown if text.startswith("# reskin edit")]
    assert f"(<data:image/png;base64,{sheet}>)" in summary

    deployment = served.api.deployment(EDIT_VIDEO)
    answers = [
        ("the flow run", json.dumps(run).encode()),
        ("the deployment", json.dumps(deployment).encode()),
        *((kind, json.dumps(rows).encode()) for kind, rows in found.items()),
    ]
    places: dict[str, list[tuple[str, bytes]]] = {
        "serve's log (its runs' output)": [("serve.log", served.log.read_bytes())],
        "the server's Prefect home": files_under(prefect_server.home),
        "serve's Prefect home": files_under(served.home),
        "the work dir": files_under(served.work),
        "the REST answers": answers,
    }
    # The search can fail: what the run surely leaves in each place, it finds there (serve's
    # Prefect home holds nothing of a run that keeps no result: no control there).
    controls = {
        "serve's log (its runs' output)": [generation_id, served.block],
        "the server's Prefect home": [generation_id, served.block],
        "serve's Prefect home": [],
        "the work dir": [generation_id],  # the journal
        "the REST answers": [generation_id, served.block],
    }
    for place, blobs in places.items():
        for control in controls[place]:
            assert where_found(control, blobs), f"the control {control} is not in {place}"
        assert where_found(CANARY, blobs) == [], f"the key is in {place}"
