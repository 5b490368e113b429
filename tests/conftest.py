"""Shared fixtures: a clean environment, ffmpeg, generated clips and a running stand-in.

Clips are made by real ffmpeg from lavfi test patterns, once per parameter set per run (shared
by the xdist workers of a run); the smallest legal clip for the service is 720x720, 3 s, 24 fps.

The suite runs on several xdist workers (``make test``: ``pytest -n 4 --dist loadgroup``, see
``docs/testing.md``). Each worker is a session of its own: its own Prefect home, Prefect servers,
stand-in, S3 server, ports and temporary folders (``tmp_path_factory`` gives each worker a base
folder of its own). Only the generated clips, read-only inputs, are made once for all workers.
Tests that share an expensive stack run together on one worker (:data:`XDIST_GROUPS`, scheduled
by :func:`pytest_xdist_make_scheduler`).

``RESKIN_FFMPEG_BINARY`` set when pytest starts names the suite's ffmpeg: the fixtures, the
stand-in and every test and ``reskin`` process use it (``.ci/run`` runs the suite once with the
bundled ffmpeg that way, once with Debian's). Unset, ffmpeg is found as reskin finds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.media.commands import (
    FILE_INPUT_GUARDS,
    GLOBAL_ARGS,
    synthetic_clip_command,
    tag_rotation_command,
)
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn

MakeClip = Callable[..., Path]

#: The ffmpeg named when pytest started (``RESKIN_FFMPEG_BINARY``), kept for every test.
SUITE_FFMPEG: str | None = os.environ.get("RESKIN_FFMPEG_BINARY") or None

#: Tests that share an expensive stack, by where they live (the first prefix that matches): each
#: group runs on one xdist worker, so its stack starts once per run rather than once per worker
#: (a Prefect server costs 10 to 20 s of CPU to start, and a run has two cores).
#: ``tests/deployments``: the package's ``make up`` stack (a server and two workers);
#: the harness groups: flows run in the test's process (two groups, so neither is the run's
#: tail); the server groups: ``reskin`` processes (and the UI tests' Chromium), two groups for
#: the same reason. Both kinds use the worker's one session ``prefect server start``.
XDIST_GROUPS: dict[str, str] = {
    "tests/deployments/": "deployments",
    "tests/flows/test_edit_video": "prefect-harness-1",
    "tests/flows/": "prefect-harness-2",
    "tests/tasks/test_slot_restart": "prefect-restart",  # restarts a server of its own
    "tests/tasks/test_cancel.py": "prefect-server-1",
    "tests/tasks/": "prefect-harness-2",
    "tests/cli/test_edit.py": "prefect-server-1",
    "tests/cli/test_interrupt.py": "prefect-server-1",
    "tests/cli/test_approval.py": "prefect-server-1",
    "tests/test_long_resume.py": "prefect-server-1",
    "tests/cli/test_models.py": "prefect-server-2",
    "tests/cli/test_progress.py": "prefect-server-2",
    "tests/access/test_cli.py": "prefect-server-2",
    "tests/test_crash_resume.py": "prefect-server-2",
    "tests/test_disk_full.py": "prefect-server-2",
    "tests/test_shared_journal.py": "prefect-server-2",
    "tests/test_prefect_server.py": "prefect-server-2",
    "tests/ui/": "prefect-server-2",
}
#: Modules that take long on their own (``--durations``): sent out right after the groups, so
#: that none of them is what a run waits for at its end.
SLOW_FIRST: tuple[str, ...] = (
    "tests/edit/test_long.py",
    "tests/cli/test_demo.py",
    "tests/cli/test_server.py",  # a `reskin server` of its own, and an edit on it
    "tests/edit/test_fidelity.py",
    "tests/storage/test_s3.py",
    "tests/media/test_corpus_outcomes.py",
    "tests/media/test_conform.py",
    "tests/media/test_sound.py",
    "tests/media/test_preview.py",
    "tests/standin/test_looks.py",
)


def xdist_scope(nodeid: str) -> str:
    """The unit of work a test belongs to under ``--dist loadgroup``: its group (from
    :data:`XDIST_GROUPS`, or an ``@group`` suffix xdist added), else its module, so that the
    module-scoped fixtures (clips, stand-ins of their own) are made on one worker only."""
    if "@" in nodeid:
        return nodeid.rsplit("@", 1)[1]
    for prefix, group in XDIST_GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return nodeid.split("::", 1)[0]


def _xdist_rank(nodeid: str) -> int:
    """Where a test's unit goes in the queue: the groups first, then :data:`SLOW_FIRST`."""
    groups = list(dict.fromkeys(XDIST_GROUPS.values()))
    scope = xdist_scope(nodeid)
    if scope in groups:
        return groups.index(scope)
    for rank, prefix in enumerate(SLOW_FIRST, start=len(groups)):
        if nodeid.startswith(prefix):
            return rank
    return len(groups) + len(SLOW_FIRST)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` as :func:`xdist_scope` groups the tests, in the order the workers
    collected them (:func:`pytest_collection_modifyitems` puts the longest first).

    xdist 3.8's own loadgroup marks a test's group by rewriting ``item._nodeid``, which pytest 9
    no longer reads: every test would be scheduled on its own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    config.option.loadscopereorder = False  # keep the collection's order: longest first

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return GroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, order the tests longest unit first (:func:`_xdist_rank`; every
    worker collects the same order). Mark the grouped tests with their ``xdist_group`` too,
    which xdist's own loadgroup reads. The tests of the ``make up`` stack are marked ``stack``
    (``make stack``, docs/testing.md)."""
    for item in items:
        if item.nodeid.startswith("tests/deployments/"):
            item.add_marker(pytest.mark.stack)
        scope = xdist_scope(item.nodeid)
        if scope in XDIST_GROUPS.values():
            item.add_marker(pytest.mark.xdist_group(scope))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: _xdist_rank(item.nodeid))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what collection imported (Prefect, the flows, numpy) out of every later
    collection, as the ``reskin`` command does (reskin/cli/imports.py): the tests' flow runs
    and stand-in allocate a lot, and each full collection would scan those objects again."""
    gc.freeze()


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
def prefect_harness(prefect_server: PrefectServer) -> Iterator[None]:
    """The flow tests' Prefect API in this process: the session's ``prefect server start``.

    Not ``prefect_test_harness``: that starts a server of its own and migrates a fresh database
    for it (about 16 s of CPU), where a worker that runs the CLI's tests too has one already.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
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
        # Inputs served from loopback (the stand-in's file server) are allowed in the tests
        # only: by default a user's URL is https to a public address (docs/security.md).
        "RESKIN_ALLOW_HTTP": "true",
        "RESKIN_ALLOWED_HOSTS": "127.0.0.1",
    }


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AIMLAPI_*/RESKIN_*/AWS_* variable (but the suite's ffmpeg, :data:`SUITE_FFMPEG`), no
    .env and no AWS profile of a developer can reach a test, and boto3's credential chain never
    asks the (off-loopback) instance metadata address."""
    for name in list(os.environ):
        if name.startswith(("AIMLAPI_", "RESKIN_", "AWS_")):
            monkeypatch.delenv(name)
    if SUITE_FFMPEG:
        monkeypatch.setenv("RESKIN_FFMPEG_BINARY", SUITE_FFMPEG)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def ffmpeg_tools() -> FFmpegTools:
    return find_ffmpeg(Path(SUITE_FFMPEG) if SUITE_FFMPEG else None)


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder for what every xdist worker of this run may share (made once, read by all):
    beside the workers' own base folders under xdist, the session's own folder otherwise."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / name
        folder.mkdir(exist_ok=True)
        return folder
    return tmp_path_factory.mktemp(name, numbered=False)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing), across processes."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def make_clip(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> MakeClip:
    """``make_clip(duration_s=3, width=720, ..., rotation=0)`` -> a real clip, made once per
    parameter set for the whole run (the first worker to ask makes it, under a lock; the others
    wait for it); the parameters are ``synthetic_clip_command``'s. The clips are inputs: no test
    may change one in place (copy it first)."""
    folder = shared_folder(tmp_path_factory, "clips")
    made: dict[tuple[object, ...], Path] = {}

    def make(*, rotation: int = 0, **params: Any) -> Path:
        # The parameters are synthetic_clip_command's own; a clip is made once per set of them.
        key = (rotation, *sorted(params.items()))
        if key in made:
            return made[key]
        container = params.get("container", "mp4")
        name = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        path = folder / f"clip-{name}.{container}"
        with file_lock(folder / f"clip-{name}.lock"):
            if not path.exists():
                partial = folder / f"clip-{name}.partial.{container}"
                run(synthetic_clip_command(ffmpeg_tools.ffmpeg, partial, **params), timeout_s=120)
                if rotation:
                    rotated = folder / f"clip-{name}.rotated.{container}"
                    rotate_clip(ffmpeg_tools, partial, rotated, rotation)
                    partial.unlink()
                    partial = rotated
                partial.replace(path)
        made[key] = path
        return path

    return make


def rotate_clip(tools: FFmpegTools, source: Path, output: Path, degrees: int) -> None:
    """Copy ``source`` with a display rotation of ``degrees`` (counter-clockwise), with any
    ffmpeg reskin supports, and check that a probe reads that rotation back.

    ffmpeg 6.0 and newer take ``-display_rotation`` (``tag_rotation_command``); 5.1 has no such
    option, but its MP4 muxer writes the same display matrix from the stream's ``rotate`` tag
    (``rotate=90`` reads back as 90 in ffprobe and PyAV, as ``-display_rotation 90`` does)."""
    if has_display_rotation(tools.ffmpeg):
        argv = tag_rotation_command(tools.ffmpeg, source, output, degrees=degrees)
    else:
        guards = [part for name, value in FILE_INPUT_GUARDS.items() for part in (f"-{name}", value)]
        argv = [
            str(tools.ffmpeg), *GLOBAL_ARGS, *guards, "-i", str(source.resolve()),
            "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-map_metadata", "-1",
            "-metadata:s:v:0", f"rotate={degrees % 360}", str(output.resolve()),
        ]  # fmt: skip
    run(argv, timeout_s=60)
    shown = probe(output).rotation
    assert shown == degrees % 360, f"{output} reads as rotated {shown}, not {degrees}"


@functools.cache
def has_display_rotation(ffmpeg: Path) -> bool:
    """Whether this ffmpeg takes ``-display_rotation`` (6.0 and newer list it in their help)."""
    listed = run([str(ffmpeg), "-hide_banner", "-h", "full"], timeout_s=30).stdout_text
    return "-display_rotation" in listed


@pytest.fixture(scope="session")
def standin_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """One stand-in for the session: queued 0.2 s, generating 0.5 s, the fastest x264 preset."""
    config = StandInConfig(
        queued_s=0.2,
        generating_s=0.5,
        render_preset="ultrafast",
        work_dir=tmp_path_factory.mktemp("standin"),
        ffmpeg_binary=Path(SUITE_FFMPEG) if SUITE_FFMPEG else None,
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
