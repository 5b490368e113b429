"""Orchestration: what the Prefect flow adds per clip, against the same core called directly.

``.venv/bin/python -m bench.orchestration [--clips 10] [--embedded 3]
[--databases sqlite,postgres,sqlite-nolimits]``

For each database in turn, a fresh ``prefect server start`` on it (started by the bench;
``postgres`` is a throwaway cluster, :mod:`bench.postgres`), warmed with one round, then
``--clips`` rounds in a fresh process with ``PREFECT_API_URL`` aimed at it (Prefect reads its
settings once per process). The stand-in of the API runs in the bench's process with its
fastest jobs (queued 0 s, generating 0 s, ``ultrafast`` renders). Each round edits the same
small clip twice, alternating which goes first:

- ``flow``: :func:`flows.edit_video.run_edit_flow`, the ``edit_video`` flow: the core pipeline
  with each stage a task, the shared limits (a global concurrency slot, the creates rate limit),
  artifacts and logs;
- ``direct``: the same pipeline (:func:`reskin.edit.pipeline.edit`) with the core's stage
  functions called directly: the one composition both run, so nothing here is a copy.

Each edit has a prompt of its own, so nothing is resumed or reused. Both poll with the same
settings (0.1 to 0.5 s between status requests), so the wait costs both the same. The per-clip
overhead is the median of the per-round differences (flow - direct). ``RESKIN_CREATES_PER_MINUTE``
is 600 here (one create every 0.1 s) so that the limit itself, which spaces creates on purpose,
is not counted as overhead.

``--embedded N`` then runs N more rounds in a child process with no ``PREFECT_API_URL``: Prefect's
embedded server (informational; its start-up is shown on its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.report import command_of, publish, ram_gib
from reskin.edit.pipeline import STAGES
from reskin.media.binaries import find_ffmpeg
from reskin.media.commands import synthetic_clip_command
from reskin.media.runner import run

RESULTS = Path(__file__).parent / "results" / "orchestration.md"
#: ``sqlite-nolimits``: a SQLite server, the runs with ``RESKIN_MAX_JOBS_IN_FLIGHT=0`` and
#: ``RESKIN_CREATES_PER_MINUTE=0`` (one user with nothing to share the limits with).
DATABASES = ("sqlite", "postgres", "sqlite-nolimits")
PROMPT = "turn the scene into a snowy winter night"


@dataclass
class Round:
    flow_s: float
    direct_s: float
    first: str
    #: The flow's own ``timings_s`` and the direct pipeline's, by stage.
    flow_stages: dict[str, float] = field(default_factory=dict)
    direct_stages: dict[str, float] = field(default_factory=dict)


def bench_env(standin_url: str, key: str, work: Path) -> dict[str, str]:
    return {
        "AIMLAPI_BASE_URL": standin_url,
        "AIMLAPI_API_KEY": key,
        "RESKIN_WORK_DIR": str(work),
        "RESKIN_UPLOAD": "datauri",
        "RESKIN_POLL_EXPECTED_S": "1",
        "RESKIN_POLL_MIN_INTERVAL_S": "0.1",
        "RESKIN_POLL_MAX_INTERVAL_S": "0.5",
        "RESKIN_POLL_DEADLINE_S": "300",
        "RESKIN_CREATES_PER_MINUTE": "600",
        "RESKIN_LIMITS_PREFIX": "reskin-bench",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_COLORS": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


async def direct_edit(request_json: str) -> dict[str, float]:
    """The same pipeline the flow runs (:func:`reskin.edit.pipeline.edit`), with the core's
    stages called directly instead of as tasks; seconds per stage."""
    from reskin.edit.pipeline import edit
    from reskin.edit.request import EditRequest
    from reskin.edit.services import open_services
    from reskin.settings import load_settings

    request = EditRequest.model_validate_json(request_json)
    async with open_services(load_settings()) as services:
        result = await edit(request, services)
    return result.timings_s


async def rounds(clip: Path, out: Path, count: int, tag: str) -> list[Round]:
    """``count`` rounds of one flow edit and one direct edit, alternating which goes first."""
    from flows.edit_video import run_edit_flow
    from reskin.edit.request import EditRequest

    done: list[Round] = []
    for index in range(count):
        order = ("flow", "direct") if index % 2 == 0 else ("direct", "flow")
        seconds: dict[str, float] = {}
        stages: dict[str, dict[str, float]] = {}
        for side in order:
            request = EditRequest(
                input=str(clip),
                prompt=f"{PROMPT} ({tag} {side} {index})",
                output=str(out / f"{tag}-{side}-{index}.mp4"),
            )
            started = time.perf_counter()
            if side == "flow":
                result, _ = await run_edit_flow(request)
                stages[side] = dict(result.timings_s)
            else:
                stages[side] = await direct_edit(request.model_dump_json())
            seconds[side] = time.perf_counter() - started
        done.append(
            Round(seconds["flow"], seconds["direct"], order[0], stages["flow"], stages["direct"])
        )
        print(
            f"  {tag} round {index + 1}: flow {seconds['flow']:.2f} s, direct "
            f"{seconds['direct']:.2f} s, +{seconds['flow'] - seconds['direct']:.2f} s",
            file=sys.stderr,
        )
    return done


def make_clip(folder: Path) -> Path:
    """4 s of 1280x720 at 30 fps, H.264 + AAC: small, and it conforms as it is."""
    clip = folder / "clip.mp4"
    argv = synthetic_clip_command(
        find_ffmpeg().ffmpeg, clip, duration_s=4.0, width=1280, height=720, fps=30
    )
    run(argv, timeout_s=300)
    return clip


def child(arguments: argparse.Namespace) -> int:
    """``--child``: rounds in this process against whatever ``PREFECT_API_URL`` says (none: the
    embedded server); with ``--warm``, one round first that is not counted."""
    folder = Path(arguments.child)
    started = time.perf_counter()
    import prefect  # noqa: F401 (the import is part of a fresh process's cost)

    imported = time.perf_counter() - started
    clip, out = folder / "clip.mp4", folder / "out"
    if arguments.warm:
        print(f"{arguments.tag}: warming up, one round not counted", file=sys.stderr)
        asyncio.run(rounds(clip, out, 1, f"{arguments.tag} warm-up"))
    done = asyncio.run(rounds(clip, out, arguments.rounds, arguments.tag))
    (folder / "rounds.json").write_text(
        json.dumps({"import_s": imported, "rounds": [asdict(item) for item in done]})
    )
    return 0


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration", description=__doc__)
    parser.add_argument("--clips", type=int, default=10, help="rounds against each server")
    parser.add_argument("--embedded", type=int, default=3, help="rounds in embedded mode (0: none)")
    parser.add_argument(
        "--databases",
        default="sqlite,postgres,sqlite-nolimits",
        help="the servers' databases, in turn: sqlite, postgres (a throwaway cluster), "
        "sqlite-nolimits (SQLite, the runs with the shared limits switched off)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the table goes")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(arguments)
    if args.child:
        return child(args)
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if args.clips < 1 or args.embedded < 0 or not set(databases) <= set(DATABASES):
        parser.error(
            "give --clips of 1 or more, --embedded of 0 or more, --databases among "
            + ", ".join(DATABASES)
        )

    from reskin.standin.config import StandInConfig
    from reskin.standin.server import StandIn

    scratch = Path(tempfile.mkdtemp(prefix="reskin-bench-orch-"))
    started = time.monotonic()
    config = StandInConfig(
        queued_s=0, generating_s=0, render_preset="ultrafast", work_dir=scratch / "standin"
    )
    servers: list[ServerRun] = []
    embedded: dict[str, object] = {}
    try:
        clip = make_clip(scratch)
        with StandIn(config) as standin:
            base = bench_env(standin.base_url, standin.key, scratch / "work")
            for database in databases:
                servers.append(run_on_server(scratch, base, clip, database, args.clips))
            if args.embedded:
                embedded = run_child(scratch / "embedded", base, clip, args.embedded, "embedded")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    command = command_of("bench.orchestration", arguments)
    report = render(servers, embedded, command, time.monotonic() - started)
    publish(report, args.output)
    return 0


@dataclass
class ServerRun:
    database: str
    healthy_s: float
    done: list[Round]


def run_on_server(
    scratch: Path, base: dict[str, str], clip: Path, database: str, count: int
) -> ServerRun:
    """A fresh ``prefect server start`` on ``database``, warmed, then ``count`` rounds."""
    from tests.prefect_server import start_prefect_server

    runs_env = dict(base)
    if database == "sqlite-nolimits":
        runs_env.update({"RESKIN_MAX_JOBS_IN_FLIGHT": "0", "RESKIN_CREATES_PER_MINUTE": "0"})
    with contextlib.ExitStack() as stack:
        server_env: dict[str, str] = {}
        if database == "postgres":
            from bench.postgres import throwaway_postgres

            url = stack.enter_context(throwaway_postgres())
            server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = url
        began = time.monotonic()
        server = start_prefect_server(scratch / f"prefect-{database}", env=server_env)
        stack.callback(server.stop)
        healthy_s = time.monotonic() - began
        print(f"{database}: server healthy after {healthy_s:.1f} s", file=sys.stderr)
        data = run_child(
            scratch / database,
            {**runs_env, "PREFECT_API_URL": server.api_url},
            clip,
            count,
            database,
            warm=True,
        )
    raw = data["rounds"]
    assert isinstance(raw, list)
    return ServerRun(database, healthy_s, [Round(**item) for item in raw])


def run_child(
    folder: Path,
    env_extra: dict[str, str],
    clip: Path,
    count: int,
    tag: str,
    *,
    warm: bool = False,
) -> dict[str, object]:
    """``count`` rounds in a fresh process (Prefect reads its settings once, at import), with
    ``env_extra`` over a clean environment; what it measured, and its wall time."""
    (folder / "out").mkdir(parents=True)
    shutil.copy(clip, folder / "clip.mp4")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RESKIN_"))}
    env.update({**env_extra, "PREFECT_HOME": str(folder / "prefect-home")})
    env["RESKIN_WORK_DIR"] = str(folder / "work")
    argv = [sys.executable, "-m", "bench.orchestration", "--child", str(folder)]
    argv += ["--rounds", str(count), "--tag", tag, *(["--warm"] if warm else [])]
    print(f"{tag}: {count} rounds in a fresh process", file=sys.stderr)
    started = time.perf_counter()
    subprocess.run(
        argv,
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.DEVNULL,
    )
    data: dict[str, object] = json.loads((folder / "rounds.json").read_text())
    data["process_s"] = time.perf_counter() - started
    return data


def render(
    servers: list[ServerRun], embedded: dict[str, object], command: str, total_s: float
) -> str:
    lines = [
        "# Orchestration: the Prefect flow against the same core called directly",
        "",
        f"- command: `{command}` ({total_s / 60:.1f} min in all)",
        f"- machine: {os.cpu_count()} cores (nproc), {ram_gib():.1f} GiB RAM, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; load "
        f"average at the end {os.getloadavg()[0]:.2f}",
        "- Prefect servers: `prefect server start` on loopback, started by the bench, one per "
        "database in turn: SQLite (Prefect's default) and PostgreSQL (a throwaway cluster, "
        "`bench/postgres.py`; what Prefect advises for more than one writer); "
        "`sqlite-nolimits` is SQLite with the runs' shared limits switched off "
        "(`RESKIN_MAX_JOBS_IN_FLIGHT=0`, `RESKIN_CREATES_PER_MINUTE=0`); each warmed "
        "with one round not counted; the rounds run in a fresh process per server",
        "- clip: 4 s of 1280x720 at 30 fps, H.264 + AAC (index at the end: conformed by a "
        "stream copy, no re-encode), sent as a data URI; stand-in in the bench's process, "
        "jobs queued 0 s and generating 0 s, `ultrafast` renders",
        "- each round: one flow edit and one direct edit, alternating which goes first; "
        "overhead = median of the per-round differences",
        "",
        "| database | server healthy after s | rounds | flow median s | direct median s | "
        "**overhead per clip s** | outside the poll s | goal <= 2 s |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for server in servers:
        overhead = _overhead(server.done)
        met = "met" if overhead <= 2.0 else f"missed by {overhead - 2.0:.2f} s"
        lines.append(
            f"| {server.database} | {server.healthy_s:.1f} | {len(server.done)} | "
            f"{statistics.median(i.flow_s for i in server.done):.2f} | "
            f"{statistics.median(i.direct_s for i in server.done):.2f} | "
            f"**{overhead:+.2f}** | {statistics.median(_outside_poll(server.done)):+.2f} | "
            f"{met} |"
        )
    lines += [
        "",
        "Outside the poll: wall time minus the poll stage, per round, flow - direct; an upper "
        "bound of what the flow adds around the job, since part of it (reporting the submit "
        "task, starting the poll task) overlaps the job's own time.",
    ]
    for server in servers:
        lines += _server_section(server)
    raw = embedded.get("rounds")
    if isinstance(raw, list) and raw:
        diffs = [float(r["flow_s"]) - float(r["direct_s"]) for r in raw]
        lines += [
            "",
            "## Embedded server (informational)",
            "",
            f"A fresh process with no `PREFECT_API_URL`, {len(raw)} rounds: the whole process "
            f"took {float(str(embedded.get('process_s', 0))):.1f} s (`import prefect` "
            f"{float(str(embedded.get('import_s', 0))):.2f} s). Flow - direct per round: "
            + ", ".join(f"{d:+.2f} s" for d in diffs)
            + " (the first flow run starts the embedded server; no shared limits without a "
            "server).",
        ]
    return "\n".join(lines) + "\n"


def _overhead(done: list[Round]) -> float:
    return statistics.median(item.flow_s - item.direct_s for item in done)


def _outside_poll(done: list[Round]) -> list[float]:
    return [
        (item.flow_s - item.flow_stages.get("poll", 0.0))
        - (item.direct_s - item.direct_stages.get("poll", 0.0))
        for item in done
    ]


def _server_section(run: ServerRun) -> list[str]:
    lines = [
        "",
        f"## {run.database}",
        "",
        "| round | first | flow s | direct s | flow - direct s |",
        "|---:|---|---:|---:|---:|",
    ]
    for index, item in enumerate(run.done, 1):
        lines.append(
            f"| {index} | {item.first} | {item.flow_s:.2f} | {item.direct_s:.2f} "
            f"| {item.flow_s - item.direct_s:+.2f} |"
        )
    lines += [
        "",
        "Stage times (median s; the flow's own `timings_s`, the direct pipeline's laps; "
        "each flow stage is one task run, the submit stage includes taking a job slot):",
        "",
        "| stage | flow | direct | flow - direct |",
        "|---|---:|---:|---:|",
    ]
    for stage in STAGES:
        mine = statistics.median(i.flow_stages.get(stage, 0.0) for i in run.done)
        theirs = statistics.median(i.direct_stages.get(stage, 0.0) for i in run.done)
        lines.append(f"| {stage} | {mine:.3f} | {theirs:.3f} | {mine - theirs:+.3f} |")
    flow_staged = statistics.median(sum(i.flow_stages.values()) for i in run.done)
    lines.append(
        f"| outside the stages (flow start and end, limits, publish) | "
        f"{statistics.median(i.flow_s for i in run.done) - flow_staged:.3f} | - | - |"
    )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
