"""Simulate poll policies over many job durations: detection delay against status requests.

Runs the real ``wait_for_generation`` loop with a fake clock (no network, no sleeping), so what
is measured is the policy as shipped. ``python bench/poll_policy.py [--jobs N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from reskin.aimlapi.models import Generation
from reskin.aimlapi.polling import PollSchedule, wait_for_generation

DONE = {"status": "completed", "video": {"url": "https://cdn.test/r.mp4"}}


class FixedSchedule(PollSchedule):
    def __init__(self, every_s: float) -> None:
        super().__init__(expected_s=0, min_interval_s=every_s, max_interval_s=every_s)

    def next_interval(self, elapsed_s: float) -> float:
        return self.min_interval_s


@dataclass
class Outcome:
    delay_s: float
    requests: int


async def one_job(duration_s: float, schedule: PollSchedule) -> Outcome:
    now = [0.0]
    calls = [0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def fetch(generation_id: str) -> Generation:
        calls[0] += 1
        if now[0] >= duration_s:
            return Generation.model_validate({"id": generation_id, **DONE})
        return Generation(id=generation_id, status="generating")

    await wait_for_generation(
        fetch, "g", deadline_s=10**6, schedule=schedule, clock=lambda: now[0], sleep=sleep
    )
    return Outcome(now[0] - duration_s, calls[0])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def run(durations: list[float], schedule: PollSchedule) -> tuple[float, float, float]:
    outcomes = [asyncio.run(one_job(d, schedule)) for d in durations]
    delays = [o.delay_s for o in outcomes]
    return pct(delays, 0.5), pct(delays, 0.95), statistics.mean(o.requests for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    distributions: dict[str, Callable[[], float]] = {
        "log-normal (median 240 s, sigma 0.3)": lambda: 240 * math.exp(rng.gauss(0, 0.3)),
        "uniform 60..600 s": lambda: rng.uniform(60, 600),
    }
    policies: dict[str, PollSchedule] = {"reskin": PollSchedule()}
    policies |= {f"fixed {s:g} s": FixedSchedule(s) for s in (2, 3, 5, 10, 15, 30)}
    for name, draw in distributions.items():
        durations = [draw() for _ in range(args.jobs)]
        print(f"\n{name}, {args.jobs} jobs")
        print("| policy | p50 delay (s) | p95 delay (s) | requests per job |")
        print("|---|---|---|---|")
        for label, schedule in policies.items():
            p50, p95, requests = run(durations, schedule)
            print(f"| {label} | {p50:.2f} | {p95:.2f} | {requests:.1f} |")


if __name__ == "__main__":
    main()
