"""Edits in a row through ``reskin server start``: how many stand still for a minute.

``.venv/bin/python -m bench.stalls [--edits 250] [--tree DIR] [--output PATH]``

One ``reskin server start`` (its Prefect server on SQLite and the reskin runner), then
``--edits`` ``reskin edit`` processes one after another, each with a prompt of its own, of the
short edit the command-line benches time (``bench/short_edit.py``: a 4 s clip, the stand-in's
one-second jobs), with the creates' pace at its maximum (600 a minute) so that nothing waits
for its turn. Reported: each edit's wall time and stages, how many took over
:data:`STALL_S`, and how many of the server's errors were ``database is locked``.

Why: a Prefect server on SQLite stood still for 60 s now and then (``docs/server.md``). With
``--tree`` an older tree of the project runs instead (``git archive <commit> | tar -x -C DIR``;
``PYTHONPATH=DIR``), to count the stalls of the code before a change on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.report import command_of, publish, ram_gib
from bench.short_edit import edit_env, short_edit

RESULTS = Path(__file__).parent / "results" / "stalls.md"
#: An edit this long (the short edit takes about 3 s) stood still.
STALL_S = 30.0


def edit(env: Mapping[str, str], clip: Path, output: Path, prompt: str) -> tuple[float, str]:
    """One ``reskin edit --json``: its wall time and its stages (or its error)."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reskin", "edit", str(clip), "--prompt", prompt, "--output",
         str(output), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - began
    try:
        stages = json.loads(done.stdout)["timings_s"]
    except (ValueError, KeyError):
        return wall, f"failed: {done.stderr.strip().splitlines()[-1:]}"
    output.unlink(missing_ok=True)
    output.with_name(f"{output.stem}.preview.png").unlink(missing_ok=True)
    return wall, " ".join(f"{name} {took:.2f}" for name, took in stages.items())


def locked(log: str) -> int:
    """How many of the server's errors were SQLite's lock (one traceback line each)."""
    return sum(
        line.startswith("sqlite3.OperationalError: database is") for line in log.splitlines()
    )


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stalls", description=__doc__)
    parser.add_argument("--edits", type=int, default=250, help="edits in a row")
    parser.add_argument("--tree", type=Path, help="another tree of the project to run")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the page goes")
    options = parser.parse_args(arguments)
    with tempfile.TemporaryDirectory(prefix="bench-stalls-") as scratch:
        root = Path(scratch)
        with short_edit(root) as short:
            env = {**edit_env(short.standin, root), "RESKIN_CREATES_PER_MINUTE": "600"}
            if options.tree is not None:
                env["PYTHONPATH"] = str(options.tree.resolve())
            reskin = [sys.executable, "-m", "reskin"]
            started = subprocess.run([*reskin, "server", "start", "--port", "0"], env=env,
                                     capture_output=True, text=True, check=True)  # fmt: skip
            print(started.stdout.strip(), file=sys.stderr)
            walls: list[float] = []
            rows: list[str] = []
            try:
                for number in range(options.edits):
                    out = root / f"out-{number}.mp4"
                    wall, stages = edit(env, short.clip, out, f"snow, take {number}")
                    walls.append(wall)
                    rows.append(f"| {number} | {wall:.2f} | {stages} |")
                    print(f"{number} {wall:.2f} {stages}", file=sys.stderr)
            finally:
                subprocess.run([*reskin, "server", "stop"], env=env, check=False)
            log = (root / "work" / "prefect-server" / "server.log").read_text(errors="replace")
    stalled = [row for row, wall in zip(rows, walls, strict=True) if wall > STALL_S]
    lines = [
        "# Edits in a row through `reskin server start`: how many stand still",
        "",
        f"Command: `{command_of('bench.stalls', arguments)}`",
        "",
        f"Machine: {os.cpu_count()} cores, {ram_gib():.1f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}; tree: {options.tree or 'this one'}.",
        "",
        f"- edits: {len(walls)}; wall median {statistics.median(walls):.2f} s, "
        f"max {max(walls):.2f} s",
        f"- over {STALL_S:.0f} s: **{len(stalled)}**",
        f"- errors `database is locked` in the server's log: **{locked(log)}**",
        "",
        "| edit | wall s | stages s |",
        "|---:|---:|---|",
        *(stalled or ["| - | - | none stood still |"]),
    ]
    publish("\n".join(lines) + "\n", options.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
