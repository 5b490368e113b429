"""How many generations one worker process keeps polling at once, and at what cost.

``.venv/bin/python -m bench.in_flight [--n 100,250,500,1000] [--clients shared,per-job,httpx-pool]
[--generating-s 40] [--spread-s 20] [--queued-s 2]``

The stand-in of the API runs in load mode (no download, no render: every job serves one result
prepared at start) in a process of its own, ``python -m reskin.standin.cli --load-mode``, so its
memory and CPU never count. For each N and client mode a fresh **worker** process (this module
with ``--worker``) creates N generations and waits for all of them at once on one event loop
with reskin's real code: :class:`reskin.aimlapi.client.AimlapiClient` (built by
``from_settings``, so its pool limits, timeouts and retries are reskin's) and
:func:`reskin.aimlapi.polling.wait_for_generation` on the schedule the flow uses
(:func:`reskin.edit.wait.schedule_of`, its prior set to the jobs' median length). Client modes:

- ``shared``: one client for every job, so every request shares one connection pool
  (``RESKIN_HTTP_MAX_CONNECTIONS``, 1,000 by default, all kept alive);
- ``per-job``: a client per wait, as ``reskin.edit.wait.wait`` opens one for each clip (one
  SSL context for the process, ``reskin.tls.shared_ssl_context``);
- ``httpx-pool``: the shared client on a transport with httpx's default pool (100
  connections, 20 kept alive), as reskin's client was built before it had a pool setting:
  the comparison that shows what the setting is for.

Each job completes at a time the bench knows: accepted, then ``queued_s``, then
``generating_s`` plus its share of ``spread_s`` (``reskin.standin.load.spread_fraction`` of its
id). So the ideal wall time is the last job's completion (from the first create), and each job's
detection delay is when the worker saw it completed minus when it completed. Figures: wall time
against the ideal, delay p50/p95/max, status requests per job, errors and retries, the worker's
peak RSS (its own ``VmHWM`` at exit, and before the first create), its CPU seconds and the worst
lag of its event loop. The table goes to stdout and ``bench/results/in_flight.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bench.report import command_of, publish, ram_gib
from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest, Generation
from reskin.aimlapi.polling import wait_for_generation
from reskin.edit.wait import schedule_of
from reskin.registry import DEFAULT_MODEL
from reskin.settings import Settings

RESULTS = Path(__file__).parent / "results" / "in_flight.md"
MODES = ("shared", "per-job", "httpx-pool")
#: Creates sent at once: the worker's own submission burst, not what is measured.
CREATE_CONCURRENCY = 32
#: The URL is never fetched in load mode; it only has to pass the body's rules.
VIDEO_URL = "https://example.invalid/clip.mp4"
PROMPT = "turn the scene into a snowy winter night"
LAG_TICK_S = 0.1
MIB = 1024 * 1024


@dataclass
class Job:
    generation_id: str = ""
    answered: float = 0.0
    detected: float = 0.0
    fetches: int = 0
    error: str = ""


@dataclass
class Report:
    """What one worker reports; times on the machine's monotonic clock."""

    n: int
    mode: str
    started: float
    ended: float
    jobs: list[Job]
    errors: dict[str, int]
    retries: int
    transient: int
    hwm_mib: float
    base_mib: float
    cpu_s: float
    worst_lag_s: float


@dataclass
class Outcome:
    """One worker's figures, with the stand-in's own times of its jobs (seconds)."""

    n: int
    mode: str
    wall_s: float
    ideal_s: float
    creates_s: float
    delays_s: list[float]
    fetches: list[int]
    errors: dict[str, int]
    retries: int
    hwm_mib: float
    base_mib: float
    cpu_s: float
    worst_lag_s: float
    standin_fetch_calls: int


class _Count(logging.Handler):
    """Counts the client's retries and the wait loop's "status unavailable" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retries = 0
        self.transient = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "reskin.aimlapi.client" and ", retry " in message:
            self.retries += 1
        elif record.name == "reskin.aimlapi.polling" and "unavailable" in message:
            self.transient += 1


def _kib(field_name: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


async def _lag_watch(stop: asyncio.Event, worst: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(LAG_TICK_S)
        worst[0] = max(worst[0], loop.time() - before - LAG_TICK_S)


async def run_worker(args: argparse.Namespace) -> Report:
    key = os.environ["AIMLAPI_API_KEY"]
    settings = Settings(
        api_key=SecretStr(key),
        base_url=args.base_url,
        poll_expected_s=args.generating_s + args.spread_s / 2,
        poll_deadline_s=args.generating_s + args.spread_s + args.queued_s + 600,
    )
    schedule = schedule_of(settings)
    counter = _Count()
    for name in ("reskin.aimlapi.client", "reskin.aimlapi.polling"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(counter)
        logger.propagate = False
    base_kib = _kib("VmRSS")
    request = CreateRequest(model=DEFAULT_MODEL, prompt=PROMPT, video_url=VIDEO_URL)
    creating = asyncio.Semaphore(CREATE_CONCURRENCY)
    jobs = [Job() for _ in range(args.n)]
    errors: Counter[str] = Counter()
    stop, worst = asyncio.Event(), [0.0]
    lag = asyncio.create_task(_lag_watch(stop, worst))
    # httpx's own default limits, stated so that a change of httpx's defaults shows.
    default_pool = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    transport = httpx.AsyncHTTPTransport(limits=default_pool) if args.mode == "httpx-pool" else None
    async with AimlapiClient.from_settings(settings, transport=transport) as shared:

        async def wait(client: AimlapiClient, job: Job) -> None:
            async def fetch(generation_id: str) -> Generation:
                job.fetches += 1
                return await client.fetch(generation_id)

            await wait_for_generation(
                fetch, job.generation_id, deadline_s=settings.poll_deadline_s, schedule=schedule
            )

        async def one(job: Job) -> None:
            try:
                async with creating:
                    generation = await shared.create(request)
                job.answered = time.monotonic()
                job.generation_id = generation.id
                if args.mode != "per-job":
                    await wait(shared, job)
                else:
                    async with AimlapiClient.from_settings(settings) as own:
                        await wait(own, job)
                job.detected = time.monotonic()
            except Exception as exc:  # a bench counts failures rather than stopping at one
                job.error = type(exc).__name__
                errors[job.error] += 1

        started = time.monotonic()
        await asyncio.gather(*(one(job) for job in jobs))
        ended = time.monotonic()
    stop.set()
    await lag
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return Report(
        n=args.n,
        mode=args.mode,
        started=started,
        ended=ended,
        jobs=jobs,
        errors=dict(errors),
        retries=counter.retries + counter.transient,
        transient=counter.transient,
        hwm_mib=_kib("VmHWM") / 1024,
        base_mib=base_kib / 1024,
        cpu_s=usage.ru_utime + usage.ru_stime,
        worst_lag_s=worst[0],
    )


# --- the driver ------------------------------------------------------------------------------
def start_standin(args: argparse.Namespace, key: str) -> tuple[subprocess.Popen[str], str]:
    argv = [
        sys.executable, "-m", "reskin.standin.cli", "--port", "0", "--load-mode",
        "--queued-s", f"{args.queued_s:g}", "--generating-s", f"{args.generating_s:g}",
        "--generating-spread-s", f"{args.spread_s:g}",
    ]  # fmt: skip
    argv += ["--key", key]  # the stand-in's own throwaway key, made for this run
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        match = re.match(r"stand-in of the AI/ML API at (\S+)", line)
        if match:
            return process, match.group(1)
    process.wait()
    raise RuntimeError(f"the stand-in did not start (exit {process.returncode})")


def control(base_url: str, key: str, what: str) -> dict[str, Any]:
    """A stand-in control endpoint's answer (``stats``, ``jobs``)."""
    answer = httpx.get(
        f"{base_url}/_standin/{what}", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def run_one(args: argparse.Namespace, base_url: str, key: str, n: int, mode: str) -> Outcome:
    before = int(control(base_url, key, "stats")["fetch_calls"])
    argv = [
        sys.executable, "-m", "bench.in_flight", "--worker", "--base-url", base_url,
        "--n", str(n), "--mode", mode, "--queued-s", f"{args.queued_s:g}",
        "--generating-s", f"{args.generating_s:g}", "--spread-s", f"{args.spread_s:g}",
    ]  # fmt: skip
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIMLAPI_", "RESKIN_"))
    }
    env["AIMLAPI_API_KEY"] = key
    # A worker that stalls (httpcore's pool can, see results/in_flight.md) is ended and shown
    # as stalled rather than holding the bench for its poll deadline.
    limit_s = 3 * (args.queued_s + args.generating_s + args.spread_s) + 120
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, check=False, timeout=limit_s
        )
    except subprocess.TimeoutExpired:
        calls = int(control(base_url, key, "stats")["fetch_calls"]) - before
        return stalled(n, mode, limit_s, calls)
    if done.returncode != 0:
        raise RuntimeError(f"the worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    raw = json.loads(done.stdout)
    report = Report(**{**raw, "jobs": [Job(**job) for job in raw["jobs"]]})
    fetch_calls = int(control(base_url, key, "stats")["fetch_calls"]) - before
    times = control(base_url, key, "jobs")
    ok = [job for job in report.jobs if not job.error]
    completes = [float(times[job.generation_id]["completes_at"]) for job in ok]
    return Outcome(
        n=n,
        mode=mode,
        wall_s=report.ended - report.started,
        ideal_s=max(completes, default=report.started) - report.started,
        creates_s=max((job.answered for job in ok), default=report.started) - report.started,
        delays_s=[job.detected - at for job, at in zip(ok, completes, strict=True)],
        fetches=[job.fetches for job in ok],
        errors=report.errors,
        retries=report.retries,
        hwm_mib=report.hwm_mib,
        base_mib=report.base_mib,
        cpu_s=report.cpu_s,
        worst_lag_s=report.worst_lag_s,
        standin_fetch_calls=fetch_calls,
    )


def stalled(n: int, mode: str, limit_s: float, fetch_calls: int) -> Outcome:
    """The row of a worker ended after ``limit_s``: no figures but the requests it made."""
    return Outcome(
        n=n, mode=mode, wall_s=limit_s, ideal_s=float("nan"), creates_s=float("nan"),
        delays_s=[], fetches=[], errors={"stalled, ended": 1}, retries=0, hwm_mib=float("nan"),
        base_mib=float("nan"), cpu_s=float("nan"), worst_lag_s=float("nan"),
        standin_fetch_calls=fetch_calls,
    )  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render(outcomes: list[Outcome], args: argparse.Namespace, command: str, total_s: float) -> str:
    lines = [
        "# In flight: generations one worker process polls at once",
        "",
        f"- command: `{command}` ({total_s / 60:.1f} min in all)",
        f"- machine: {os.cpu_count()} cores (nproc), {ram_gib():.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        + (
            f"**{args.busy} processes burning CPU** beside the runs (`--busy`)"
            if args.busy
            else "nothing else running by the bench's doing"
        ),
        f"- jobs: queued {args.queued_s:g} s, then generating {args.generating_s:g} s plus "
        f"0..{args.spread_s:g} s spread by id; the stand-in in load mode in its own process; "
        f"creates {CREATE_CONCURRENCY} at a time; the poll schedule of `schedule_of(settings)` "
        f"with `poll_expected_s` {args.generating_s + args.spread_s / 2:g}",
        "- ideal: the last job's completion, from the first create; delay: seen completed "
        "minus completed, per job; requests: status requests per job (the stand-in's count "
        "over N in brackets); RSS: the worker's VmHWM at exit (its VmRSS before the first "
        "create in brackets); lag: the worst lateness of a 100 ms tick on the worker's loop",
        "",
        "| N | client | wall s | ideal s | over s | creates s | delay p50 / p95 / max s | "
        "requests/job | errors | retries | peak RSS MiB | CPU s | loop lag s |",
        "|---:|---|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(o.errors.items())) or "0"
        per_job = statistics.mean(o.fetches) if o.fetches else float("nan")
        lines.append(
            f"| {o.n} | {o.mode} | {o.wall_s:.1f} | {o.ideal_s:.1f} | {o.wall_s - o.ideal_s:.1f} "
            f"| {o.creates_s:.1f} "
            f"| {_pct(o.delays_s, 0.5):.2f} / {_pct(o.delays_s, 0.95):.2f} / "
            f"{max(o.delays_s, default=float('nan')):.2f} "
            f"| {per_job:.1f} ({o.standin_fetch_calls / o.n:.1f}) | {errors} "
            f"| {o.retries} | {o.hwm_mib:.0f} ({o.base_mib:.0f}) | {o.cpu_s:.1f} "
            f"| {o.worst_lag_s:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.in_flight", description=__doc__)
    parser.add_argument("--n", default="100,250,500,1000", help="generations per worker")
    parser.add_argument(
        "--clients",
        default="shared,per-job,httpx-pool",
        help="shared, per-job and/or httpx-pool (see above)",
    )
    parser.add_argument("--queued-s", type=float, default=2.0)
    parser.add_argument("--generating-s", type=float, default=40.0)
    parser.add_argument("--spread-s", type=float, default=20.0)
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="processes that burn CPU for the whole run: a worker machine busy with other work",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, default="shared", help=argparse.SUPPRESS)
    args = parser.parse_args(arguments)
    if args.worker:
        args.n = int(args.n)
        report = asyncio.run(run_worker(args))
        print(json.dumps(asdict(report)))
        return 0
    sizes = [int(part) for part in args.n.split(",") if part]
    modes = [part for part in args.clients.split(",") if part]
    if not sizes or any(mode not in MODES for mode in modes):
        parser.error("give --n as numbers and --clients among shared,per-job,httpx-pool")
    key = "bench-" + secrets.token_urlsafe(12)
    started = time.monotonic()
    standin, base_url = start_standin(args, key)
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)
    ]
    outcomes: list[Outcome] = []
    try:
        for mode in modes:
            for n in sizes:
                outcome = run_one(args, base_url, key, n, mode)
                outcomes.append(outcome)
                print(render([outcome], args, "-", 0).splitlines()[-1], file=sys.stderr)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
        standin.terminate()
        standin.wait(timeout=30)
    command = command_of("bench.in_flight", arguments)
    page = render(outcomes, args, command, time.monotonic() - started)
    publish(page, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
