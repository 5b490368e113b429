"""A short edit's own stages, this tree against another, side by side (issue 17: the 2x goal).

``.venv/bin/python -m bench.stages --baseline-tree DIR [--tree DIR2] [--rounds 5] [--output PATH]``

``DIR`` is another tree of the project (e.g. ``git archive HEAD | tar -x -C DIR`` of the commit
before a change); ``--tree`` the one to measure against it (default: this one). Both sides edit
the same 4 s 1280x720 30 fps H.264 clip with sound (it conforms as it is, as in ``bench.cli``)
on one stand-in of the API in this process (jobs queued 0.2 s, generating 0.5 s, ``ultrafast``
renders), through the core pipeline (:func:`reskin.edit.pipeline.edit` with
:data:`~reskin.edit.pipeline.DIRECT`: no Prefect, no command line), each in a fresh process of
its own with ``PYTHONPATH`` at its tree, so only the stages differ. Every round runs one
process per side, the order alternating; each process edits twice, the first edit warming it
up (imports, the file cache, ffmpeg's ``drawtext`` check) and the second counted, each with a
prompt of its own so nothing is resumed. Reported per stage: the median of ``timings_s`` over
the rounds; the CPU seconds of the counted edit (the process and every ffmpeg it waited for;
the stand-in's renders, in the bench's process, are not in it); and the ffmpeg/ffprobe
processes it started.

Timings on a shared machine are noisy: compare the two sides of one run, never runs apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.report import command_of, publish, ram_gib

RESULTS = Path(__file__).parent / "results" / "stages.md"
REPO = Path(__file__).resolve().parent.parent
SIDES = ("before", "after")
#: The stages outside the remote job (``poll`` is the stand-in's own time).
OWN_STAGES = (
    "take_in",
    "plan",
    "conform",
    "place",
    "submit",
    "fetch",
    "fidelity",
    "sound",
    "deliver",
)
TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Edit:
    """The counted edit of one process: seconds per stage, CPU seconds, processes started."""

    stages: dict[str, float]
    cpu_s: float
    runs: list[str]

    @property
    def own_s(self) -> float:
        return sum(self.stages.get(name, 0.0) for name in OWN_STAGES)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def child(arguments: argparse.Namespace) -> int:
    """``--child``: two edits in this process; the second's stages, CPU and ffmpeg runs as
    JSON on stdout."""
    from pydantic import SecretStr

    from reskin.edit.pipeline import edit
    from reskin.edit.request import EditRequest
    from reskin.edit.services import Services
    from reskin.settings import Settings

    started: list[str] = []

    class Runs(logging.Handler):
        """The runner's debug line of every process it starts ("running <argv>")."""

        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("running "):
                started.append(Path(message.split()[1]).name)

    runner_log = logging.getLogger("reskin.media.runner")
    runner_log.setLevel(logging.DEBUG)
    runner_log.addHandler(Runs())
    folder = Path(arguments.child)
    settings = Settings(
        _env_file=None,
        api_key=SecretStr(arguments.key),
        base_url=arguments.base_url,
        work_dir=folder / "work",
        poll_expected_s=1,
        poll_min_interval_s=0.1,
        poll_max_interval_s=0.5,
    )

    async def one(tag: str) -> tuple[dict[str, float], float, list[str]]:
        services = Services(settings)
        request = EditRequest(
            input=arguments.clip,
            prompt=f"a snowy winter night, {tag} {time.time_ns()}",
            output=str(folder / f"{tag}.mp4"),
        )
        started.clear()
        cpu = _cpu()
        try:
            result = await edit(request, services)
        finally:
            await services.aclose()
        return dict(result.timings_s), _cpu() - cpu, list(started)

    asyncio.run(one("warm"))
    stages, cpu, runs = asyncio.run(one("counted"))
    import reskin

    print(json.dumps({"stages": stages, "cpu_s": cpu, "runs": runs, "reskin": reskin.__file__}))
    return 0


def run_side(tree: Path, clip: Path, base_url: str, key: str, folder: Path) -> Edit:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RESKIN_")}
    env["PYTHONPATH"] = str(tree)
    if os.environ.get("RESKIN_FFMPEG_BINARY"):
        env["RESKIN_FFMPEG_BINARY"] = os.environ["RESKIN_FFMPEG_BINARY"]
    folder.mkdir(parents=True)
    # This file as a script: the other tree may have no bench/stages.py of its own.
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(folder),
            "--clip", str(clip), "--base-url", base_url, "--key", key]  # fmt: skip
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        check=False,
        # Not the repository: the working folder would come before PYTHONPATH on sys.path.
        cwd=folder,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: the edit failed ({done.returncode}):\n{done.stderr[-3000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if not str(answer["reskin"]).startswith(str(tree)):
        raise RuntimeError(f"the side of {tree} ran reskin from {answer['reskin']}")
    return Edit(
        {name: float(value) for name, value in answer["stages"].items()},
        float(answer["cpu_s"]),
        [str(name) for name in answer["runs"]],
    )


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__)
    parser.add_argument("--baseline-tree", type=Path, help="the tree to compare with (before)")
    parser.add_argument("--tree", type=Path, default=REPO, help="the tree measured (after)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, one process per side")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the tables go")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    options = parser.parse_args(arguments)
    if options.child:
        return child(options)
    if options.baseline_tree is None or options.rounds < 1:
        parser.error("give --baseline-tree DIR and --rounds of 1 or more")

    # Here, not at the top: a child imports reskin from the tree it times, not this one.
    from bench.short_edit import short_edit

    trees = {"before": options.baseline_tree.resolve(), "after": options.tree.resolve()}
    rows: dict[str, list[Edit]] = {side: [] for side in SIDES}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as scratch:
        root = Path(scratch)
        with short_edit(root) as edit:
            clip, standin, tools = edit.clip, edit.standin, edit.tools
            for number in range(options.rounds):
                order = SIDES if number % 2 == 0 else SIDES[::-1]
                for side in order:
                    answer = run_side(
                        trees[side],
                        clip,
                        standin.base_url,
                        standin.key,
                        root / f"{side}-{number}",
                    )
                    rows[side].append(answer)
                    print(
                        f"round {number} {side}: own stages {answer.own_s:.2f} s, "
                        f"CPU {answer.cpu_s:.2f} s",
                        file=sys.stderr,
                    )
        ffmpeg = f"{tools.ffmpeg} ({tools.source} {tools.version})"
        probe = "ffprobe" if tools.ffprobe is not None else "PyAV (no ffprobe)"
    page = render(options, arguments, rows, trees, ffmpeg, probe, time.monotonic() - began)
    publish(page, options.output)
    return 0


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def render(
    options: argparse.Namespace,
    arguments: Sequence[str] | None,
    rows: Mapping[str, list[Edit]],
    trees: Mapping[str, Path],
    ffmpeg: str,
    probe: str,
    took_s: float,
) -> str:
    def stage(side: str, name: str) -> float:
        return _median([row.stages.get(name, 0.0) for row in rows[side]])

    lines = [
        "# A short edit's own stages: before and after, side by side",
        "",
        f"Command: `{command_of('bench.stages', arguments)}`",
        "",
        f"Machine: {os.cpu_count()} cores, {ram_gib():.1f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}; ffmpeg {ffmpeg}, probes of the user's input by "
        f"{probe}; load average at the end {os.getloadavg()[0]:.1f}; {took_s:.0f} s in all.",
        "",
        f"Sides: before = `{trees['before']}`, after = `{trees['after']}`. {options.rounds} "
        "rounds, one process per side per round, the order alternating; medians over the rounds.",
        "",
        "| side | " + " | ".join(OWN_STAGES) + " | own stages | poll | CPU s of the edit "
        "| ffmpeg + ffprobe runs |",
        "|---|" + "---:|" * (len(OWN_STAGES) + 4),
    ]
    for side in SIDES:
        cells = [f"{stage(side, name):.3f}" for name in OWN_STAGES]
        counts = sorted({len(row.runs) for row in rows[side]})
        lines.append(
            f"| {side} | "
            + " | ".join(cells)
            + f" | **{_median([row.own_s for row in rows[side]]):.3f}**"
            + f" | {stage(side, 'poll'):.3f}"
            + f" | {_median([row.cpu_s for row in rows[side]]):.3f}"
            + f" | {', '.join(str(c) for c in counts)} |"
        )
    lines += ["", "Per round, own stages and CPU (seconds):", ""]
    for side in SIDES:
        lines.append(
            f"- {side}: " + ", ".join(f"{row.own_s:.2f} ({row.cpu_s:.2f})" for row in rows[side])
        )
    lines += ["", "Processes the counted edit started (first round):", ""]
    for side in SIDES:
        lines.append(f"- {side}: " + ", ".join(rows[side][0].runs))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
