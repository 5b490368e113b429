"""Poll policies over many job lengths: how late a finished job is seen, and what it costs.

**Simulation.** The real ``wait_for_generation`` loop on a fake clock (no network, no sleeping),
so what is measured is the policy as shipped. Two job-length distributions (log-normal, median
240 s, sigma 0.3, like the documented job; uniform 60..600 s), ``--jobs`` seeded durations each,
``--seeds`` seeds; per policy the completion-to-detection delay (p50, p95) and the status
requests per job (mean, p50); the figures are the medians over the seeds. Policies: fixed pollers
(2, 3, 5, 10, 15, 30 s), reskin as shipped (the settings' prior, learning from the jobs it has
seen, as ``reskin/edit/wait.py`` does through ``reskin/durations.py``), and reskin with no history
(the settings' prior alone: a first job on a new machine).

**Stand-in.** The same comparison with real short jobs: the local stand-in serves jobs whose
lengths are the distribution divided by ``--scale``, the real client polls them over loopback
HTTP with the schedules scaled the same way, and the detection delay is the client's time of the
"completed" answer minus the job's completion time (read from the stand-in in this process, same
monotonic clock). Each job is polled by every compared policy at once, and the same durations are
simulated at the same scale, so the two columns differ only by what real HTTP adds.

``python -m bench.poll_policy [--jobs 1000] [--seeds 5] [--standin-jobs 200] [--scale 10]``
writes ``bench/results/poll_policy.md`` and ``bench/results/poll_policy.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import math
import os
import platform
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest, Generation, JobState
from reskin.aimlapi.polling import JobWatch, PollSchedule, wait_for_generation
from reskin.durations import RECENT
from reskin.edit.wait import schedule_of
from reskin.media.binaries import find_ffmpeg
from reskin.media.commands import synthetic_clip_command
from reskin.media.runner import run as run_ffmpeg
from reskin.registry import DEFAULT_MODEL
from reskin.settings import Settings
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri

RESULTS = Path(__file__).parent / "results"
FIXED_S = (2, 3, 5, 10, 15, 30)
RESKIN = "reskin"
RESKIN_COLD = "reskin, no history"
#: Policies the stand-in check compares (every one polls each real job).
STANDIN_POLICIES = (RESKIN, "fixed 5 s", "fixed 15 s")
GOAL_P50_S = 2.0
GOAL_P95_S = 4.0

_RUNNING = Generation(id="g", status="generating")
_DONE = Generation.model_validate(
    {"id": "g", "status": "completed", "video": {"url": "https://cdn.test/r.mp4"}}
)


# --- what is compared ------------------------------------------------------------------------
@dataclass(frozen=True)
class Distribution:
    key: str
    label: str
    draw: Callable[[random.Random], float]


DISTRIBUTIONS = (
    Distribution(
        "log-normal",
        "log-normal, median 240 s, sigma 0.3",
        lambda rng: 240.0 * math.exp(rng.gauss(0.0, 0.3)),
    ),
    Distribution("uniform", "uniform 60..600 s", lambda rng: rng.uniform(60.0, 600.0)),
)


@dataclass(frozen=True)
class FixedSchedule(PollSchedule):
    """Ask every ``min_interval_s``, whatever the prior."""

    def next_interval(self, elapsed_s: float) -> float:
        return self.min_interval_s


def fixed(every_s: float) -> FixedSchedule:
    return FixedSchedule(expected_s=0, min_interval_s=every_s, max_interval_s=every_s)


def shipped() -> PollSchedule:
    """reskin's schedule from the settings' defaults (no environment, no .env)."""
    return schedule_of(Settings.model_construct())


def scaled(schedule: PollSchedule, factor: float) -> PollSchedule:
    """``schedule`` for jobs ``factor`` times shorter: every time in it divided by ``factor``."""
    times = {
        field.name: value / factor
        for field in dataclasses.fields(schedule)
        if field.name.endswith("_s") and (value := getattr(schedule, field.name)) is not None
    }
    return dataclasses.replace(schedule, **times)


# --- figures -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    delay_s: float
    requests: int
    #: What the job's watch measured (``None`` when it never saw the job running).
    observed_s: float | None = None


@dataclass(frozen=True)
class Figures:
    p50_s: float
    p95_s: float
    requests_mean: float
    requests_p50: float

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], *, unit: float = 1.0) -> Figures:
        delays = [o.delay_s * unit for o in outcomes]
        requests = [float(o.requests) for o in outcomes]
        return cls(
            pct(delays, 0.5),
            pct(delays, 0.95),
            statistics.fmean(requests),
            pct(requests, 0.5),
        )

    @classmethod
    def median(cls, runs: Sequence[Figures]) -> Figures:
        return cls(
            statistics.median(f.p50_s for f in runs),
            statistics.median(f.p95_s for f in runs),
            statistics.median(f.requests_mean for f in runs),
            statistics.median(f.requests_p50 for f in runs),
        )


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- simulation --------------------------------------------------------------------------------
async def simulate(duration_s: float, schedule: PollSchedule) -> Outcome:
    """One job of ``duration_s`` polled by ``schedule`` through the real loop, on a fake clock."""
    now = 0.0
    calls = 0

    async def sleep(seconds: float) -> None:
        nonlocal now
        now += seconds

    async def fetch(generation_id: str) -> Generation:
        nonlocal calls
        calls += 1
        return _DONE if now >= duration_s else _RUNNING

    watch = JobWatch()
    await wait_for_generation(
        fetch, "g", deadline_s=1e7, schedule=schedule, clock=lambda: now, sleep=sleep, watch=watch
    )
    return Outcome(now - duration_s, calls, watch.duration_s)


async def simulate_learning(
    durations: Iterable[float], base: PollSchedule
) -> tuple[list[Outcome], PollSchedule]:
    """Jobs one after another, each scheduled from the durations seen before it (at most
    ``RECENT``, as ``reskin/durations.py`` keeps); returns the outcomes and the last schedule."""
    history: deque[float] = deque(maxlen=RECENT)
    outcomes = []
    schedule = base
    for duration in durations:
        schedule = base.learned(history)
        outcome = await simulate(duration, schedule)
        outcomes.append(outcome)
        if outcome.observed_s is not None and outcome.observed_s > 0:
            history.append(outcome.observed_s)
    return outcomes, base.learned(history)


@dataclass
class Simulated:
    #: figures[distribution][policy]: medians over the seeds.
    figures: dict[str, dict[str, Figures]]
    #: Every seed's figures of reskin's two variants, to show their spread.
    seeds: dict[str, dict[str, list[Figures]]]
    #: reskin's schedule after a whole run of each distribution (first seed).
    learned: dict[str, PollSchedule]
    #: phases[distribution][jobs]: reskin's figures over a stretch of the run (seed medians).
    phases: dict[str, dict[str, Figures]]


#: Stretches of a run that show how fast reskin learns: (label, first job, end).
PHASES = (("jobs 1-10", 0, 10), ("jobs 11-100", 10, 100), ("jobs 101-", 100, None))


async def simulation(jobs: int, seeds: Sequence[int]) -> Simulated:
    base = shipped()
    figures: dict[str, dict[str, Figures]] = {}
    per_seed: dict[str, dict[str, list[Figures]]] = {}
    learned: dict[str, PollSchedule] = {}
    phases: dict[str, dict[str, Figures]] = {}
    for dist in DISTRIBUTIONS:
        runs: dict[str, list[Figures]] = {}
        stretches: dict[str, list[Figures]] = {}
        for index, seed in enumerate(seeds):
            rng = random.Random(f"{dist.key}-{seed}")
            durations = [dist.draw(rng) for _ in range(jobs)]
            outcomes, last = await simulate_learning(durations, base)
            if index == 0:
                learned[dist.key] = last
            runs.setdefault(RESKIN, []).append(Figures.of(outcomes))
            for label, first, end in PHASES:
                if outcomes[first:end]:
                    stretches.setdefault(label, []).append(Figures.of(outcomes[first:end]))
            cold = [await simulate(d, base) for d in durations]
            runs.setdefault(RESKIN_COLD, []).append(Figures.of(cold))
            for every in FIXED_S:
                outs = [await simulate(d, fixed(every)) for d in durations]
                runs.setdefault(f"fixed {every} s", []).append(Figures.of(outs))
        figures[dist.key] = {name: Figures.median(r) for name, r in runs.items()}
        per_seed[dist.key] = {name: runs[name] for name in (RESKIN, RESKIN_COLD)}
        phases[dist.key] = {label: Figures.median(f) for label, f in stretches.items()}
    return Simulated(figures, per_seed, learned, phases)


def fixed_curve_at(figures: dict[str, Figures], requests: float) -> tuple[float, float]:
    """The fixed pollers' (p50, p95) at ``requests`` per job, interpolated on log-log axes."""
    points = sorted(
        (f.requests_mean, f.p50_s, f.p95_s)
        for name, f in figures.items()
        if name.startswith("fixed")
    )
    for (r0, a0, b0), (r1, a1, b1) in itertools.pairwise(points):
        if r0 <= requests <= r1:
            t = math.log(requests / r0) / math.log(r1 / r0)
            return (a0 * (a1 / a0) ** t, b0 * (b1 / b0) ** t)
    raise ValueError(f"{requests:.1f} requests per job is outside the fixed pollers' range")


# --- stand-in check ------------------------------------------------------------------------------
@dataclass
class Paired:
    real: dict[str, Figures]
    simulated: dict[str, Figures]
    jobs: int
    fetches_counted: int
    fetches_served: int
    late_renders: int
    wall_s: float
    #: Seconds each status request took, as the client saw it.
    answer_s: list[float]


#: Seconds a stand-in job generates at ``slow_jobs`` 1; the fault's factor sets each job's length.
_BASE_GENERATING_S = 1.0


async def standin_check(
    durations: Sequence[float],
    schedules: dict[str, PollSchedule],
    *,
    scale: float,
    concurrency: int,
    clip: Path,
) -> Paired:
    """Real jobs of ``durations / scale`` on a stand-in, each polled by every schedule (scaled)."""
    config = StandInConfig(
        queued_s=0.0,
        generating_s=_BASE_GENERATING_S,
        render_preset="ultrafast",
        render_workers=2,
        output_long_side=160,
        output_short_side=90,
    )
    small = {name: scaled(s, scale) for name, s in schedules.items()}
    request = CreateRequest(
        model=DEFAULT_MODEL,
        prompt="black and white film",
        video_url=data_uri(clip, max_bytes=50_000_000),
    )
    real: dict[str, list[Outcome]] = {name: [] for name in small}
    answers: list[float] = []
    late = 0
    with StandIn(config) as standin:
        client = AimlapiClient(
            standin.base_url, SecretStr(standin.key), timeout=httpx.Timeout(60.0, connect=10.0)
        )
        create_lock = asyncio.Lock()
        slots = asyncio.Semaphore(concurrency)

        async def poll(generation_id: str, schedule: PollSchedule) -> tuple[float, int]:
            calls = 0
            seen_at = math.nan

            async def fetch(gid: str) -> Generation:
                nonlocal calls, seen_at
                calls += 1
                asked = time.monotonic()
                generation = await client.fetch(gid)
                answers.append(time.monotonic() - asked)
                if generation.state is JobState.COMPLETED and math.isnan(seen_at):
                    seen_at = time.monotonic()
                return generation

            await wait_for_generation(fetch, generation_id, deadline_s=3600, schedule=schedule)
            return seen_at, calls

        async def one(duration_s: float) -> None:
            nonlocal late
            async with slots:
                async with create_lock:  # the length is a fault knob read at acceptance
                    standin.set_faults(slow_jobs=duration_s / scale / _BASE_GENERATING_S)
                    generation = await client.create(request)
                job = standin.service.jobs.get(generation.id)
                assert job is not None
                assert job.render is not None
                rendered: list[float] = []

                def done(_: Future[None]) -> None:
                    rendered.append(time.monotonic())

                job.render.add_done_callback(done)
                due = job.accepted_at + job.queued_s + job.generating_s
                seen = await asyncio.gather(*(poll(generation.id, s) for s in small.values()))
                # The job reports "generating" until its render is done, whatever its length.
                completed_at = max(due, rendered[0])
                late += rendered[0] > due
                for name, (seen_at, calls) in zip(small, seen, strict=True):
                    real[name].append(Outcome((seen_at - completed_at) * scale, calls))

        began = time.monotonic()
        async with client:
            await asyncio.gather(*(one(d) for d in durations))
        wall = time.monotonic() - began
        served = standin.stats().fetch_calls
    simulated: dict[str, Figures] = {}
    for name, schedule in small.items():
        outs = [await simulate(d / scale, schedule) for d in durations]
        simulated[name] = Figures.of(outs, unit=scale)
    return Paired(
        real={name: Figures.of(outs) for name, outs in real.items()},
        simulated=simulated,
        jobs=len(durations),
        fetches_counted=sum(o.requests for outs in real.values() for o in outs),
        fetches_served=served,
        late_renders=late,
        wall_s=wall,
        answer_s=answers,
    )


def make_clip(folder: Path) -> Path:
    """The smallest clip the stand-in accepts: 3 s, 720x720, 24 fps, no sound, still bars (a
    few kB: every create carries it, and a big body would stall this process's answers)."""
    tools = find_ffmpeg()
    clip = folder / "clip.mp4"
    argv = synthetic_clip_command(
        tools.ffmpeg,
        clip,
        duration_s=3.0,
        width=720,
        height=720,
        fps=24,
        audio=False,
        pattern="smptebars",
    )
    run_ffmpeg(argv, timeout_s=120)
    return clip


# --- report --------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs "
        f"(load average {load} at the start), Python {platform.python_version()}"
    )


def figures_table(figures: dict[str, Figures]) -> list[str]:
    rows = [
        "| policy | p50 delay (s) | p95 delay (s) | requests per job, mean "
        "| requests per job, p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, f in figures.items():
        strong = "**" if name.startswith("reskin") else ""
        rows.append(
            f"| {strong}{name}{strong} | {f.p50_s:.2f} | {f.p95_s:.2f} | "
            f"{f.requests_mean:.1f} | {f.requests_p50:.0f} |"
        )
    return rows


def verdict(key: str, figures: dict[str, Figures]) -> list[str]:
    lines = []
    for name in (RESKIN, RESKIN_COLD):
        f = figures[name]
        curve_p50, curve_p95 = fixed_curve_at(figures, f.requests_mean)
        below = f.p50_s <= curve_p50 and f.p95_s <= curve_p95
        line = (
            f"- {name}: {f.requests_mean:.1f} requests per job, where the fixed pollers' curve "
            f"gives p50 {curve_p50:.2f} s and p95 {curve_p95:.2f} s; reskin has "
            f"{f.p50_s:.2f} s and {f.p95_s:.2f} s: "
            + ("**below the curve**" if below else "**above the curve**")
        )
        if key == "log-normal":
            five = figures["fixed 5 s"].requests_mean
            met = f.p50_s <= GOAL_P50_S and f.p95_s <= GOAL_P95_S and f.requests_mean < five
            line += (
                f"; goal (p50 <= {GOAL_P50_S:g} s, p95 <= {GOAL_P95_S:g} s, fewer requests than "
                f"fixed 5 s's {five:.1f}): " + ("**met**" if met else "**missed**")
            )
        lines.append(line + ".")
    return lines


def seed_spread(runs: dict[str, list[Figures]]) -> list[str]:
    lines = []
    for name, figs in runs.items():
        lo = [min(getattr(f, a) for f in figs) for a in ("p50_s", "p95_s", "requests_mean")]
        hi = [max(getattr(f, a) for f in figs) for a in ("p50_s", "p95_s", "requests_mean")]
        lines.append(
            f"- {name} over the seeds: p50 {lo[0]:.2f}..{hi[0]:.2f} s, p95 {lo[1]:.2f}..{hi[1]:.2f}"
            f" s, requests {lo[2]:.1f}..{hi[2]:.1f}."
        )
    return lines


def describe(schedule: PollSchedule) -> str:
    return (
        f"median {schedule.expected_s:.0f} s, spread {schedule.spread:.2f}: dense every "
        f"{schedule.dense_interval_s:g} s from {schedule.dense_from_s:.0f} s to "
        f"{schedule.dense_until_s:.0f} s"
    )


def plot(sim: Simulated, path: Path) -> None:
    # Imported here: only the report needs them, and the Agg backend needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for ax, dist in zip(axes, DISTRIBUTIONS, strict=True):
        figures = sim.figures[dist.key]
        fixed_points = [(n, f) for n, f in figures.items() if n.startswith("fixed")]
        xs = [f.requests_mean for _, f in fixed_points]
        ax.plot(xs, [f.p50_s for _, f in fixed_points], "o-", color="tab:blue", label="fixed, p50")
        ax.plot(xs, [f.p95_s for _, f in fixed_points], "s--", color="tab:blue", label="fixed, p95")
        for name, f in fixed_points:
            ax.annotate(
                name.removeprefix("fixed "),
                (f.requests_mean, f.p95_s),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
                color="tab:blue",
            )
        for name, fill in ((RESKIN, "tab:red"), (RESKIN_COLD, "none")):
            f = figures[name]
            for shown, delay_s, marker in (("p50", f.p50_s, "o"), ("p95", f.p95_s, "s")):
                ax.plot(
                    [f.requests_mean],
                    [delay_s],
                    marker,
                    ms=9,
                    markerfacecolor=fill,
                    markeredgecolor="tab:red",
                    label=f"{name}, {shown}",
                )
        if dist.key == "log-normal":
            ax.axhline(GOAL_P50_S, color="grey", lw=0.8, ls=":")
            ax.axhline(GOAL_P95_S, color="grey", lw=0.8, ls=":")
            ax.text(11, GOAL_P50_S * 1.04, "goal p50", fontsize=8, color="grey")
            ax.text(11, GOAL_P95_S * 1.04, "goal p95", fontsize=8, color="grey")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([10, 20, 30, 50, 100, 150])
        ax.set_yticks([1, 2, 4, 10, 30])
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{dist.label}")
        ax.set_xlabel("status requests per job (mean)")
        ax.grid(True, which="both", lw=0.3)
    axes[0].set_ylabel("completion-to-detection delay (s)")
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle("Poll policies: detection delay against status requests (medians of the seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(
    args: argparse.Namespace,
    sim: Simulated,
    checks: dict[str, Paired],
    started: datetime,
    host: str,
) -> str:
    command = "python -m bench.poll_policy " + shlex.join(sys.argv[1:])
    out = [
        "# Poll policy: detection delay against status requests",
        "",
        f"- Machine: {host}",
        f"- Command: `{command.strip()}` (from the repository root, in the project's virtualenv)",
        f"- Run: {started:%Y-%m-%d %H:%M} UTC; {args.jobs} jobs per distribution and seed, "
        f"seeds {', '.join(map(str, args.seeds))}; figures are the medians over the seeds",
        "",
        "Delay: from the job's completion to the status answer that says so. Requests: status "
        "requests per job, the one that sees it completed included. Simulated with the real "
        "`wait_for_generation` loop on a fake clock. `reskin` is the policy as shipped: the "
        "settings' prior (median 240 s, spread 0.3), moved toward the durations of the jobs "
        f"seen before (the latest {RECENT}, as `reskin/durations.py` keeps them), jobs run one "
        "after another from an empty history. `reskin, no history` is the settings' prior alone.",
        "",
        "![delay against requests](poll_policy.png)",
    ]
    for dist in DISTRIBUTIONS:
        figures = sim.figures[dist.key]
        out += ["", f"## {dist.label}", "", *figures_table(figures), ""]
        out += verdict(dist.key, figures)
        out += seed_spread(sim.seeds[dist.key])
        learned = describe(sim.learned[dist.key])
        out.append(f"- reskin's schedule after the run (first seed): {learned}.")
        stretches = "; ".join(
            f"{label}: p50 {f.p50_s:.2f} s, p95 {f.p95_s:.2f} s, {f.requests_mean:.1f} requests"
            for label, f in sim.phases[dist.key].items()
        )
        out.append(f"- How fast reskin learns, from an empty history: {stretches}.")
    if checks:
        out += [
            "",
            "## Stand-in: real short jobs against the simulation",
            "",
            f"Real jobs on the local stand-in (in this process, loopback HTTP, the real client), "
            f"{args.scale:g} times shorter than the distribution's (a 240 s job takes "
            f"{240 / args.scale:g} s), polled with every schedule {args.scale:g} times faster; "
            f"up to {args.concurrency} jobs at once, each polled by all three policies at once. "
            "Delays are multiplied back by the scale; the simulated column runs the same durations "
            "and the same scaled schedules on the fake clock. The uniform run's reskin uses the "
            "schedule the simulation learned from that distribution (its history full); the "
            "log-normal run's likewise.",
        ]
        for dist in DISTRIBUTIONS:
            check = checks.get(dist.key)
            if check is None:
                continue
            out += [
                "",
                f"### {dist.label}: {check.jobs} real jobs, {check.wall_s:.0f} s of wall time",
                "",
                "| policy | p50 delay (s), real / simulated | p95 delay (s), real / simulated "
                "| requests per job (mean), real / simulated | requests (p50), real / simulated |",
                "|---|---:|---:|---:|---:|",
            ]
            for name, real in check.real.items():
                s = check.simulated[name]
                out.append(
                    f"| {name} | {real.p50_s:.2f} / {s.p50_s:.2f} | {real.p95_s:.2f} / "
                    f"{s.p95_s:.2f} | {real.requests_mean:.1f} / {s.requests_mean:.1f} | "
                    f"{real.requests_p50:.0f} / {s.requests_p50:.0f} |"
                )
            out += [
                "",
                f"Status requests the client made: {check.fetches_counted}; the stand-in counted "
                f"{check.fetches_served}. Jobs whose render ended after their set length (so "
                f"they completed at the render's end): {check.late_renders}. A status answer took "
                f"{1000 * statistics.median(check.answer_s):.1f} ms (p50) and "
                f"{1000 * pct(check.answer_s, 0.95):.1f} ms (p95), that is "
                f"{statistics.median(check.answer_s) * args.scale:.2f} s and "
                f"{pct(check.answer_s, 0.95) * args.scale:.2f} s once scaled back: the real "
                "delay includes one answer's time, which the simulation (answers in no time) "
                "leaves out.",
            ]
    return "\n".join(out) + "\n"


def print_tables(sim: Simulated) -> None:
    for dist in DISTRIBUTIONS:
        print(f"\n{dist.label}")
        print("\n".join(figures_table(sim.figures[dist.key])))


async def main_async(args: argparse.Namespace) -> None:
    started = datetime.now(UTC)
    host = machine()
    sim = await simulation(args.jobs, args.seeds)
    print_tables(sim)
    checks: dict[str, Paired] = {}
    if args.standin_jobs > 0:
        with tempfile.TemporaryDirectory(prefix="reskin-bench-poll-") as tmp:
            clip = make_clip(Path(tmp))
            for dist in DISTRIBUTIONS:
                rng = random.Random(f"{dist.key}-standin")
                durations = [dist.draw(rng) for _ in range(args.standin_jobs)]
                schedules: dict[str, PollSchedule] = {RESKIN: sim.learned[dist.key]}
                schedules |= {name: fixed(float(name.split()[1])) for name in STANDIN_POLICIES[1:]}
                check = await standin_check(
                    durations,
                    schedules,
                    scale=args.scale,
                    concurrency=args.concurrency,
                    clip=clip,
                )
                checks[dist.key] = check
                print(f"\nstand-in, {dist.label}: real / simulated")
                for name, real in check.real.items():
                    s = check.simulated[name]
                    print(
                        f"  {name}: p50 {real.p50_s:.2f}/{s.p50_s:.2f} s, p95 {real.p95_s:.2f}/"
                        f"{s.p95_s:.2f} s, requests {real.requests_mean:.1f}/{s.requests_mean:.1f}"
                    )
                print(
                    f"  answers: p50 {1000 * statistics.median(check.answer_s):.1f} ms, "
                    f"p95 {1000 * pct(check.answer_s, 0.95):.1f} ms; late renders "
                    f"{check.late_renders}; fetches {check.fetches_counted}/{check.fetches_served}"
                )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        plot(sim, args.out / "poll_policy.png")
        (args.out / "poll_policy.md").write_text(report(args, sim, checks, started, host))
        print(f"\nwrote {args.out / 'poll_policy.md'} and {args.out / 'poll_policy.png'}")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Poll policies: detection delay against status requests."
    )
    parser.add_argument("--jobs", type=int, default=1000, help="job durations per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument(
        "--standin-jobs",
        type=int,
        default=200,
        help="real jobs per distribution on the stand-in (0: simulation only)",
    )
    parser.add_argument("--scale", type=float, default=10.0, help="stand-in jobs this much shorter")
    parser.add_argument("--concurrency", type=int, default=25, help="stand-in jobs at once")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder for poll_policy.md and .png"
    )
    parser.add_argument("--no-write", dest="out", action="store_const", const=None)
    return parser.parse_args(argv)


def main() -> None:
    asyncio.run(main_async(parse()))


if __name__ == "__main__":
    main()
