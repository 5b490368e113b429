"""The serve path (``python -m deployments.serve``) and the deploy path (``prefect.yaml`` through
``make up``) register the same two deployments: the one-clip form, and the nightly batch with
its next runs scheduled.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from deployments.definitions import (
    DEFAULT_CRON,
    DEFAULT_TIMEZONE,
    EDIT_VIDEO,
    EDIT_VIDEO_TAGS,
    NIGHTLY,
    NIGHTLY_TAGS,
    WORK_POOL,
    Nightly,
)
from deployments.up import REPO
from reskin.batch.request import BatchRequest
from reskin.edit.request import EditRequest
from tests.deployments.conftest import Api, UpStack, base_env
from tests.prefect_server import PrefectServer

pytestmark = pytest.mark.slow

SERVE_TIMEOUT_S = 90.0
#: The server's recent-deployments scheduler looks every 5 s.
SCHEDULE_TIMEOUT_S = 60.0
CANARY = "sk-reskin-canary-" + secrets.token_hex(8)


@dataclass
class Served:
    """A running ``python -m deployments.serve`` and the server it registered with."""

    process: subprocess.Popen[bytes]
    log: Path
    server: PrefectServer
    nightly: Nightly
    #: When serve was started: a deployment of the same name another test's serve left on the
    #: session's server (tests/deployments/test_key_block.py) is older, and not this one's.
    started: datetime

    @property
    def api(self) -> Api:
        return Api(self.server.api_url)

    def deployment(self, name: str) -> dict[str, Any]:
        """The deployment once serve has registered it; fail with serve's log if it died."""

        def registered() -> dict[str, Any] | None:
            if self.process.poll() is not None:
                text = self.log.read_text(errors="replace")
                raise AssertionError(f"serve exited ({self.process.returncode}):\n{text}")
            try:
                found = self.api.deployment(name)
            except httpx.HTTPStatusError:
                return None
            updated = datetime.fromisoformat(found["updated"])
            return found if updated >= self.started else None

        found: dict[str, Any] = wait_for(f"{name} on the server", registered)
        return found


@pytest.fixture
def served(prefect_server: PrefectServer, tmp_path: Path) -> Iterator[Served]:
    """``python -m deployments.serve`` against the session's server, a Berlin cron and a key in
    its environment; stopped by its process group at the end (harder if it ignores SIGTERM)."""
    nightly = Nightly(
        cron="0 2 * * *",
        timezone="Europe/Berlin",
        inbox=str(tmp_path / "inbox"),
        output_dir=str(tmp_path / "outbox"),
        prompt="hand-drawn watercolour",
    )
    env = {
        **base_env(),
        "PREFECT_HOME": os.environ["PREFECT_HOME"],
        "PREFECT_API_URL": prefect_server.api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "AIMLAPI_API_KEY": CANARY,
    }
    options = {
        "--cron": nightly.cron,
        "--timezone": nightly.timezone,
        "--inbox": nightly.inbox,
        "--output-dir": nightly.output_dir,
        "--prompt": nightly.prompt,
    }
    log = tmp_path / "serve.log"
    started = datetime.now(UTC)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deployments.serve", *itertools.chain(*options.items())],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Served(process, log, prefect_server, nightly, started)
    finally:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
                break


def wait_for(
    what: str,
    probe: Callable[[], Any],
    hint: Callable[[], str] = lambda: "",
    timeout_s: float = SERVE_TIMEOUT_S,
) -> Any:
    """``probe()`` once it returns something truthy; fail after ``timeout_s`` with ``hint()``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout_s:.0f} s{hint()}")


def scheduled_runs(api: Api, deployment_id: str) -> list[dict[str, Any]]:
    return api.filter(
        "flow_runs",
        {
            "deployments": {"id": {"any_": [deployment_id]}},
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            "sort": "EXPECTED_START_TIME_ASC",
        },
    )


def scheduler_hint(server_log: Path) -> str:
    """Why a server may schedule nothing: its scheduler's errors are only in its log."""
    text = server_log.read_text(errors="replace") if server_log.exists() else ""
    if "Can't evaluate bulk DML statement" in text:
        return (
            f"; the scheduler failed ({server_log}): Prefect 3.8's scheduler needs "
            "SQLAlchemy below 2.1 (pin sqlalchemy<2.1)"
        )
    return f"; see the server's log {server_log}"


def form_of(deployment: dict[str, Any], parameter: str, model: str) -> dict[str, Any]:
    """The fields of the one model-typed parameter of a deployment's run form."""
    schema = deployment["parameter_openapi_schema"]
    assert schema["required"] == [parameter]
    assert schema["properties"][parameter]["$ref"] == f"#/definitions/{model}"
    fields: dict[str, Any] = schema["definitions"][model]["properties"]
    return fields


def test_serve_registers_the_form_and_the_nightly_schedule_as_prefect_yaml_does(
    served: Served, up: UpStack
):
    api, nightly = served.api, served.nightly
    batch = served.deployment(NIGHTLY)
    one = served.deployment(EDIT_VIDEO)

    # The one-clip run form is EditRequest, field by field, with its titles.
    form = form_of(one, "request", "EditRequest")
    assert list(form) == list(EditRequest.model_fields)
    assert {name: spec["title"] for name, spec in form.items()} == {
        name: field.title for name, field in EditRequest.model_fields.items()
    }
    assert list(form_of(batch, "batch", "BatchRequest")) == list(BatchRequest.model_fields)
    assert one["tags"] == list(EDIT_VIDEO_TAGS)
    assert batch["tags"] == list(NIGHTLY_TAGS)

    # The nightly: its defaults are the batch asked for, on the Berlin cron, runs already due.
    assert batch["parameters"] == nightly.parameters()
    assert batch["parameters"]["batch"]["dispatch"] == "deployment"
    (schedule,) = batch["schedules"]
    assert schedule["active"] is True
    assert schedule["schedule"]["cron"] == "0 2 * * *"
    assert schedule["schedule"]["timezone"] == "Europe/Berlin"
    runs = wait_for(
        "scheduled run of the nightly",
        lambda: scheduled_runs(api, batch["id"]),
        hint=lambda: scheduler_hint(served.server.log_path),
        timeout_s=SCHEDULE_TIMEOUT_S,
    )
    berlin = ZoneInfo("Europe/Berlin")
    starts = [datetime.fromisoformat(run["expected_start_time"]).astimezone(berlin) for run in runs]
    assert all((start.hour, start.minute, start.second) == (2, 0, 0) for start in starts)
    assert starts[0] - datetime.now(berlin) <= timedelta(days=1)
    assert all(b.date() - a.date() == timedelta(days=1) for a, b in itertools.pairwise(starts))

    # The key in the serve process's environment is nowhere in what it registered.
    assert CANARY not in json.dumps([one, batch])

    # prefect.yaml (deployed by up) declares the same deployments: form, tags, defaults.
    deployed = {name: up.api.deployment(name) for name in (EDIT_VIDEO, NIGHTLY)}
    assert deployed[EDIT_VIDEO]["parameter_openapi_schema"] == one["parameter_openapi_schema"]
    assert deployed[NIGHTLY]["parameter_openapi_schema"] == batch["parameter_openapi_schema"]
    for field in ("tags", "description"):
        assert deployed[EDIT_VIDEO][field] == one[field]
        assert deployed[NIGHTLY][field] == batch[field]
    assert deployed[NIGHTLY]["parameters"] == Nightly().parameters()
    (yaml_schedule,) = deployed[NIGHTLY]["schedules"]
    assert yaml_schedule["schedule"]["cron"] == DEFAULT_CRON
    assert yaml_schedule["schedule"]["timezone"] == DEFAULT_TIMEZONE
    wait_for(
        "scheduled run of prefect.yaml's nightly",
        lambda: scheduled_runs(up.api, deployed[NIGHTLY]["id"]),
        hint=lambda: scheduler_hint(up.server_log),
        timeout_s=SCHEDULE_TIMEOUT_S,
    )
    for deployment in deployed.values():
        assert deployment["work_pool_name"] == WORK_POOL
        # Their runs touch local files only where the deployer's RESKIN_ALLOWED_DIRS says.
        allowed = deployment["job_variables"]["env"]["RESKIN_ALLOWED_DIRS"]
        assert allowed == up.env["RESKIN_ALLOWED_DIRS"]
        # Runs start in the repository, where flows/ and the .env are.
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
        ]
