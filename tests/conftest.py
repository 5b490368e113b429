"""Shared fixtures: a clean environment, ffmpeg, generated clips and a running stand-in.

Clips are made by real ffmpeg from lavfi test patterns, once per parameter set per session; the
smallest legal clip for the service is 720x720, 3 s, 24 fps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.media.commands import (
    synthetic_clip_command,
    tag_rotation_command,
)
from reskin.media.runner import run
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn

MakeClip = Callable[..., Path]


@pytest.fixture(scope="session", autouse=True)
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Prefect home of the session's own: no run of a test lands in a developer's database.

    Set in the process environment, so the ``reskin`` processes tests start inherit it.
    """
    home = tmp_path_factory.mktemp("prefect-home")
    saved = {name: os.environ.get(name) for name in _PREFECT_ENV}
    os.environ.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        }
    )
    os.environ.pop("PREFECT_API_URL", None)
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_PREFECT_ENV = (
    "PREFECT_HOME",
    "PREFECT_SERVER_ANALYTICS_ENABLED",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
    "PREFECT_API_URL",
)


@pytest.fixture(scope="session")
def prefect_harness(prefect_home: Path) -> Iterator[None]:
    """One temporary Prefect server and database for the flow tests of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def edit_env(monkeypatch: pytest.MonkeyPatch, standin: StandIn, tmp_path: Path) -> Path:
    """Settings of this process aimed at the session's stand-in, with a work dir of the test's
    own and waits sized for its sub-second jobs; returns the work dir."""
    work = tmp_path / "work"
    for name, value in standin_settings(standin, work).items():
        monkeypatch.setenv(name, value)
    return work


def standin_settings(standin: StandIn, work: Path) -> dict[str, str]:
    """Settings aimed at ``standin``: its URL and key, the work dir ``work``, waits sized for
    its sub-second jobs and small retry delays."""
    return {
        "AIMLAPI_BASE_URL": standin.base_url,
        "AIMLAPI_API_KEY": standin.key,
        "RESKIN_WORK_DIR": str(work),
        "RESKIN_POLL_EXPECTED_S": "1",
        "RESKIN_POLL_MIN_INTERVAL_S": "0.1",
        "RESKIN_POLL_MAX_INTERVAL_S": "0.5",
        "RESKIN_POLL_DEADLINE_S": "60",
        "RESKIN_RETRY_BASE_DELAY_S": "0.05",
        "RESKIN_RETRY_MAX_DELAY_S": "0.2",
        # The limits shared across processes are off (0): they are tested on their own
        # (tests/tasks/test_limits.py, the two-worker deployment test), and on the tests'
        # SQLite Prefect servers each slot is a write that can meet a lock (docs/bench.md).
        "RESKIN_MAX_JOBS_IN_FLIGHT": "0",
        "RESKIN_CREATES_PER_MINUTE": "0",
    }


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AIMLAPI_*/RESKIN_*/AWS_* variable, no .env and no AWS profile of a developer can
    reach a test, and boto3's credential chain never asks the (off-loopback) instance metadata
    address."""
    for name in list(os.environ):
        if name.startswith(("AIMLAPI_", "RESKIN_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def ffmpeg_tools() -> FFmpegTools:
    return find_ffmpeg()


@pytest.fixture(scope="session")
def make_clip(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> MakeClip:
    """``make_clip(duration_s=3, width=720, ..., rotation=0)`` -> a real clip, made once per
    parameter set for the whole session; the parameters are ``synthetic_clip_command``'s."""
    folder = tmp_path_factory.mktemp("clips")
    made: dict[tuple[object, ...], Path] = {}

    def make(*, rotation: int = 0, **params: Any) -> Path:
        # The parameters are synthetic_clip_command's own; a clip is made once per set of them.
        key = (rotation, *sorted(params.items()))
        if key in made:
            return made[key]
        container = params.get("container", "mp4")
        path = folder / f"clip{len(made)}.{container}"
        run(synthetic_clip_command(ffmpeg_tools.ffmpeg, path, **params), timeout_s=120)
        if rotation:
            rotated = folder / f"clip{len(made)}-rot{rotation}.{container}"
            run(
                tag_rotation_command(ffmpeg_tools.ffmpeg, path, rotated, degrees=rotation),
                timeout_s=60,
            )
            path = rotated
        made[key] = path
        return path

    return make


@pytest.fixture(scope="session")
def standin_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """One stand-in for the session: queued 0.2 s, generating 0.5 s, the fastest x264 preset."""
    config = StandInConfig(
        queued_s=0.2,
        generating_s=0.5,
        render_preset="ultrafast",
        work_dir=tmp_path_factory.mktemp("standin"),
    )
    with StandIn(config) as standin:
        yield standin


@pytest.fixture
def standin(standin_session: StandIn) -> Iterator[StandIn]:
    """The session's stand-in with every fault off and counters at zero, before and after."""
    standin_session.reset()
    yield standin_session
    standin_session.reset()


@pytest.fixture
def anyio_backend() -> str:
    """The async tests run on asyncio, like Prefect and the CLI."""
    return "asyncio"


# --- `reskin` processes against one real Prefect server (issue 4) ----------------------------
# Appended below the fixtures above, so its imports sit here rather than at the top.
import shutil  # noqa: E402 (appended section, see above)
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Mapping  # noqa: E402

from tests.prefect_server import PrefectServer, start_prefect_server  # noqa: E402

RunReskin = Callable[..., "subprocess.CompletedProcess[str]"]
InputClip = Callable[..., Path]


@pytest.fixture(scope="session")
def prefect_server(
    prefect_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectServer]:
    """One real ``prefect server start`` for the session, with a Prefect home of its own (not
    the session's ``prefect_home``, which the ``reskin`` processes keep as theirs)."""
    server = start_prefect_server(tmp_path_factory.mktemp("prefect-server-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cli_env(standin: StandIn, prefect_server: PrefectServer, tmp_path: Path) -> dict[str, str]:
    """The whole environment of a ``reskin`` process: aimed at the session's stand-in and
    Prefect server, a work dir of the test's own (``RESKIN_WORK_DIR``), waits sized for the
    stand-in's sub-second jobs, small retry delays."""
    return {
        **os.environ,
        "PREFECT_API_URL": prefect_server.api_url,
        **standin_settings(standin, tmp_path / "work"),
    }


@pytest.fixture
def run_reskin(cli_env: dict[str, str]) -> RunReskin:
    """``run_reskin("edit", ..., env={"NAME": "value" or None})``: a real ``reskin`` process
    with :func:`cli_env` (``None`` removes a variable); its completed process, text output."""

    def run(
        *args: str, env: Mapping[str, str | None] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        merged = {**cli_env}
        for name, value in (env or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return subprocess.run(
            [sys.executable, "-m", "reskin", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=merged,
            check=False,
        )

    return run


@pytest.fixture
def input_clip(make_clip: MakeClip, tmp_path: Path) -> InputClip:
    """``input_clip(**make_clip params)`` -> a copy of the clip under a name no other test
    uses, so a flow run (named after its input file) can be found on the shared server."""

    def copy(**params: Any) -> Path:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        target = folder / f"clip-{uuid.uuid4().hex[:12]}.mp4"
        shutil.copyfile(make_clip(**params), target)
        return target

    return copy


# --- an S3-compatible server on loopback (issue 6): moto, started by the first test using it ---
from tests.s3_server import s3_server  # noqa: E402, F401 (a fixture, registered by its import)
