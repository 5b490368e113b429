"""The command line's own cost (issue 17): ``reskin edit`` of a 4 s clip against the bare steps,
and how fast a mistake is answered.

``.venv/bin/python -m bench.cli [--rounds 3] [--mistakes 3] [--baseline-tree DIR]``

Everything runs on loopback, started by the bench: the stand-in of the API in this process
(jobs queued 0.2 s, generating 0.5 s, ``ultrafast`` renders: a real render of the clip), and,
for the server side, ``reskin server start`` in a work folder of the bench's own (stopped at
the end). One 4 s 1280x720 30 fps H.264 clip with sound, which conforms as it is.

Each round runs, in turn (the order rotates every round):

- ``bare``: the steps a careful person would script: base64 of the clip, one ``curl`` POST with
  it as a data URI, ``curl`` status requests every 0.25 s until it is done, ``curl`` of the
  result, one ``ffmpeg`` mux of the result's picture with the clip's sound;
- ``embedded``: ``reskin edit --json`` as a process, no ``PREFECT_API_URL``, no ``reskin
  server``: Prefect's embedded server starts in the process;
- ``server``: the same with the flow in its own process, against the background server of
  ``reskin server start`` (named in ``PREFECT_API_URL``, so its runner is not used);
- ``server-nolimits``: the same with the shared limits off (``RESKIN_MAX_JOBS_IN_FLIGHT=0``,
  ``RESKIN_CREATES_PER_MINUTE=0``): on the server's SQLite each slot is a write that can meet
  a lock (``docs/bench.md``, orchestration), and one user on one machine has nobody to share
  them with;
- ``runner``: ``reskin edit`` as a user runs it once ``reskin server start`` runs: a thin
  client of the reskin runner, which runs the flow (``reskin/cli/runner.py``);
- ``runner-nolimits``: the same with a second ``reskin server start`` (and runner) whose
  settings switch the shared limits off;
- ``runner-own``: ``reskin edit`` against a Prefect server of the user's own
  (``PREFECT_API_URL``: here the first side's server), once ``reskin server start`` in that
  environment has started a runner for it (and no server).

The in-process sides use a limits prefix of their own (``RESKIN_LIMITS_PREFIX``), so that the
creates' pace (10 a minute by default) never holds one side back for another's create. The CPU
of a runner side counts the runner's own (``/proc/<pid>/stat``) besides the client's.

Each reskin edit has a prompt of its own, so nothing is resumed; both poll the same stand-in
(reskin with 0.1 to 0.5 s between status requests). A first round warms every side (its
Prefect home's database, the server's, the file cache) and is not counted: the goal is the
second run and later. The ratio is the median of the per-round ratios against ``bare``; the
stage table (``--json``'s ``timings_s``) shows where reskin's time goes, and "outside the
stages" is the process's start, its imports, Prefect's start and the flow's orchestration.

The mistakes of the issue (a missing input, a text file named ``.mp4``, an end before the
start, an unknown model, an ``.avi`` output) run as ``reskin edit`` processes ``--mistakes``
times each: wall and CPU seconds to the one-line answer, in the first side's work folder (the
command starts in a copy of its fork server: reskin/cli/launch.py; the CPU counts the copy's)
and in the embedded side's (none runs there: a process of its own). ``--baseline-tree DIR``
runs them for another tree too (e.g. ``git archive HEAD | tar -x -C DIR`` of an older commit),
side by side, with ``PYTHONPATH=DIR``, and the import time of ``reskin.cli.app`` of both.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import command_of, publish, ram_gib
from bench.short_edit import edit_env, short_edit
from reskin.cli.forksocket import serving
from reskin.edit.pipeline import STAGES
from reskin.media.binaries import FFmpegTools
from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn

RESULTS = Path(__file__).parent / "results" / "cli.md"
SIDES = (
    "bare",
    "embedded",
    "server",
    "server-nolimits",
    "runner",
    "runner-nolimits",
    "runner-own",
)
#: The shared limits off (docs/limits.md): one user on one machine has no one to share with.
NO_LIMITS = {"RESKIN_MAX_JOBS_IN_FLIGHT": "0", "RESKIN_CREATES_PER_MINUTE": "0"}
BARE_POLL_S = 0.25
TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Timed:
    """One process (or the bare script): wall seconds, CPU seconds of its processes."""

    wall_s: float
    cpu_s: float
    stages: Mapping[str, float] = field(default_factory=dict)


def curl() -> str:
    found = shutil.which("curl")
    if found is None:
        raise RuntimeError("the bare steps need curl on PATH")
    return found


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(
    argv: Sequence[str], env: Mapping[str, str], *, check: bool = True
) -> tuple[Timed, str, str]:
    # A command run by a copy of the work folder's fork server: that copy's CPU too (the fork
    # server waits for it, so it is in the fork server's children's CPU).
    forks = serving(work_home(env)) if "RESKIN_WORK_DIR" in env else None
    copies = process_cpu(forks) if forks is not None else 0.0
    cpu, began = children_cpu(), time.perf_counter()
    done = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=TIMEOUT_S,
        check=False,
        # Not the repository: a process's working folder comes first on its sys.path, before
        # the PYTHONPATH that picks --baseline-tree.
        cwd=tempfile.gettempdir(),
    )
    timed = Timed(time.perf_counter() - began, children_cpu() - cpu)
    if forks is not None:
        timed = Timed(timed.wall_s, timed.cpu_s + process_cpu(forks) - copies)
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return timed, done.stdout, done.stderr


# --- the sides -------------------------------------------------------------------------------


def bare(standin: StandIn, clip: Path, tools: FFmpegTools, work: Path, prompt: str) -> Timed:
    """The bare steps, as a script would run them (see the module docstring)."""
    job = Path(tempfile.mkdtemp(prefix="bare-", dir=work))
    url = f"{standin.base_url}/v2/video/generations"
    auth = f"Authorization: Bearer {standin.key}"
    cpu, began = children_cpu(), time.perf_counter()
    inline = base64.b64encode(clip.read_bytes()).decode()
    body = job / "body.json"
    body.write_text(
        json.dumps(
            {
                "model": DEFAULT_MODEL,
                "prompt": prompt,
                "video_url": f"data:video/mp4;base64,{inline}",
            }
        )
    )
    created = subprocess.run(
        [curl(), "-sSf", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
         "--data-binary", f"@{body}", url],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    generation = json.loads(created.stdout)["id"]
    while True:
        status = subprocess.run(
            [curl(), "-sSf", "-G", "-H", auth, "--data-urlencode", f"generation_id={generation}",
             url],
            capture_output=True, check=True, text=True,
        )  # fmt: skip
        answer = json.loads(status.stdout)
        if answer["status"] == "completed":
            break
        if answer["status"] == "error" or time.perf_counter() - began > TIMEOUT_S:
            raise RuntimeError(f"the bare job failed: {answer}")
        time.sleep(BARE_POLL_S)
    result = job / "result.mp4"
    subprocess.run([curl(), "-sSf", "-o", str(result), answer["video"]["url"]], check=True)
    subprocess.run(
        [str(tools.ffmpeg), "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(result),
         "-i", str(clip), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac",
         "-shortest", "-movflags", "+faststart", str(job / "out.mp4")],
        check=True,
    )  # fmt: skip
    timed = Timed(time.perf_counter() - began, children_cpu() - cpu)
    shutil.rmtree(job, ignore_errors=True)
    return timed


def reskin_edit(
    env: Mapping[str, str], clip: Path, output: Path, prompt: str, runner: int | None = None
) -> Timed:
    """One ``reskin edit --json``; with ``runner`` (its pid), that process's CPU counted too."""
    argv = [sys.executable, "-m", "reskin", "edit", str(clip), "--prompt", prompt,
            "--output", str(output), "--json"]  # fmt: skip
    before = process_cpu(runner) if runner is not None else 0.0
    timed, stdout, stderr = timed_run(argv, env)
    if runner is not None:
        if not any(said in stderr for said in ("run by its runner", "run by the reskin runner")):
            raise RuntimeError(f"the edit did not run in the runner:\n{stderr[-2000:]}")
        timed = Timed(timed.wall_s, timed.cpu_s + process_cpu(runner) - before)
    stages = json.loads(stdout)["timings_s"]
    output.unlink(missing_ok=True)
    output.with_name(f"{output.stem}.preview.png").unlink(missing_ok=True)
    return Timed(timed.wall_s, timed.cpu_s, stages)


def process_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` and of its children it waited for (ffmpeg), so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def work_home(env: Mapping[str, str]) -> Path:
    return Path(env["RESKIN_WORK_DIR"]) / "prefect-server"


def start_server(env: Mapping[str, str]) -> tuple[Timed, int]:
    """``reskin server start`` in ``env``: its time and the runner's pid."""
    started, out, _ = timed_run(
        [sys.executable, "-m", "reskin", "server", "start", "--port", "0"], env
    )
    print(out.strip(), file=sys.stderr)
    state = Path(env["RESKIN_WORK_DIR"]) / "prefect-server" / "runner.json"
    return started, int(json.loads(state.read_text())["pid"])


# --- mistakes and imports --------------------------------------------------------------------


def mistakes(clip: Path, text: Path, out: Path) -> dict[str, list[str]]:
    return {
        "missing input": [str(out.parent / "missing.mp4"), "--output", str(out)],
        "text file named .mp4": [str(text), "--output", str(out)],
        "end before the start": [str(clip), "--output", str(out), "--start", "3", "--end", "1"],
        "unknown model": [str(clip), "--output", str(out), "--model", "foo"],
        ".avi output": [str(clip), "--output", str(out.with_suffix(".avi"))],
    }


def answer_times(
    env: Mapping[str, str], cases: Mapping[str, list[str]], runs: int, tree: Path | None
) -> tuple[dict[str, list[Timed]], dict[str, str]]:
    """Each mistake's times, and the line it got (its last line on stderr)."""
    if tree is not None:
        # A work folder and a Prefect home of its own: an older tree may not read the
        # journal this one wrote, and would stop there instead of where it really does.
        own = Path(env["RESKIN_WORK_DIR"]).with_name("baseline")
        env = {
            **env,
            "PYTHONPATH": str(tree),
            "RESKIN_WORK_DIR": str(own / "work"),
            "PREFECT_HOME": str(own / "prefect-home"),
        }
    found: dict[str, list[Timed]] = {name: [] for name in cases}
    said: dict[str, str] = {}
    for _ in range(runs):
        for name, args in cases.items():
            argv = [sys.executable, "-m", "reskin", "edit", "--prompt", "sepia", *args]
            timed, _, stderr = timed_run(argv, env, check=False)
            lines = stderr.splitlines()
            if not lines or not lines[-1].startswith("error:"):
                raise RuntimeError(f"{name}: no error line:\n{stderr[-2000:]}")
            said[name] = f"{lines[-1]} ({len(lines)} lines on stderr)"
            found[name].append(timed)
    return found, said


def import_time(env: Mapping[str, str], tree: Path | None, runs: int) -> float:
    """The median CPU seconds of ``python -c 'import reskin.cli.app'`` (the interpreter's own
    start included)."""
    if tree is not None:
        env = {**env, "PYTHONPATH": str(tree)}
    seconds = [
        timed_run([sys.executable, "-c", "import reskin.cli.app"], env)[0].cpu_s
        for _ in range(runs)
    ]
    return statistics.median(seconds)


# --- the whole bench -------------------------------------------------------------------------


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds (after a warm one)")
    parser.add_argument("--mistakes", type=int, default=3, help="runs of each mistake")
    parser.add_argument("--baseline-tree", type=Path, help="another tree, for the mistakes")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the tables go")
    options = parser.parse_args(arguments)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        root = Path(scratch)
        with short_edit(root) as edit:
            page = bench(options, edit.standin, edit.clip, edit.tools, root)
    publish(page, options.output)
    return 0


def bench(
    options: argparse.Namespace, standin: StandIn, clip: Path, tools: FFmpegTools, root: Path
) -> str:
    env = edit_env(standin, root)
    # Work folders: the runner sides find their `reskin server` (and runner) there, the
    # embedded one none.
    embedded_env = {**env, "RESKIN_WORK_DIR": str(root / "work-embedded")}
    nolimits_env = {**env, **NO_LIMITS, "RESKIN_WORK_DIR": str(root / "work-nolimits")}
    started, runner = start_server(env)
    _, runner_nolimits = start_server(nolimits_env)
    api_url = json.loads((root / "work" / "prefect-server" / "server.json").read_text())
    in_process = {
        **env,
        "PREFECT_API_URL": f"http://{api_url['host']}:{api_url['port']}/api",
        "RESKIN_LIMITS_PREFIX": "bench-in-process",
    }
    # A server of the user's own (the first one's) and a runner for it alone.
    own_env = {
        **in_process,
        "RESKIN_WORK_DIR": str(root / "work-own"),
        "RESKIN_LIMITS_PREFIX": "bench-own",
    }
    _, runner_own = start_server(own_env)
    rows: dict[str, list[Timed]] = {side: [] for side in SIDES}
    try:
        for number in range(options.rounds + 1):
            order = SIDES[number % len(SIDES) :] + SIDES[: number % len(SIDES)]
            for side in order:
                prompt = f"a snowy winter night, take {number} {side}"
                output = root / "out" / f"{side}-{number}.mp4"
                if side == "bare":
                    timed = bare(standin, clip, tools, root, prompt)
                elif side.startswith("runner"):
                    pid, side_env = {
                        "runner": (runner, env),
                        "runner-nolimits": (runner_nolimits, nolimits_env),
                        "runner-own": (runner_own, own_env),
                    }[side]
                    timed = reskin_edit(side_env, clip, output, prompt, runner=pid)
                else:
                    side_env = {
                        "embedded": embedded_env,
                        "server": in_process,
                        "server-nolimits": {**in_process, **NO_LIMITS},
                    }[side]
                    timed = reskin_edit(side_env, clip, output, prompt)
                # Each stage's time too: an odd round can be told apart afterwards.
                stages = " ".join(f"{name} {took:.2f}" for name, took in timed.stages.items())
                print(f"round {number} {side}: {timed.wall_s:.2f} s {stages}", file=sys.stderr)
                if number > 0:  # the first round warms up
                    rows[side].append(timed)
        text = root / "notes.mp4"
        text.write_text("a shopping list, not a video\n")
        cases = mistakes(clip, text, root / "out" / "mistake.mp4")
        answers, said = answer_times(env, cases, options.mistakes, None)
        cold = answer_times(embedded_env, cases, options.mistakes, None)[0]
        baseline = (
            answer_times(env, cases, options.mistakes, options.baseline_tree)[0]
            if options.baseline_tree
            else None
        )
        imports = import_time(env, None, 5)
        imports_before = (
            import_time(env, options.baseline_tree, 5) if options.baseline_tree else None
        )
    finally:
        for stopping in (own_env, env, nolimits_env):
            timed_run([sys.executable, "-m", "reskin", "server", "stop"], stopping, check=False)
    return page(
        options, rows, started, (answers, cold), said, baseline, imports, imports_before, tools
    )


def page(
    options: argparse.Namespace,
    rows: Mapping[str, list[Timed]],
    started: Timed,
    answered: tuple[Mapping[str, list[Timed]], Mapping[str, list[Timed]]],
    said: Mapping[str, str],
    baseline: Mapping[str, list[Timed]] | None,
    imports: float,
    imports_before: float | None,
    tools: FFmpegTools,
) -> str:
    med = statistics.median
    answers, cold = answered
    lines = [
        "# The command line: `reskin edit` against the bare steps, and mistakes",
        "",
        f"Command: `{command_of('bench.cli', None)}`",
        "",
        f"Machine: {os.cpu_count()} cores, {ram_gib():.1f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}; load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        f"ffmpeg: {tools.source} {tools.version} (`{tools.ffmpeg}`), for every side: reskin's "
        "stages, the bare steps' mux and the stand-in's renders (`RESKIN_FFMPEG_BINARY` picks "
        "another).",
        "",
        f"## A 4 s clip, second run and later ({options.rounds} rounds)",
        "",
        "| side | wall s (median) | per round | x bare (median of rounds) | CPU s (median) |",
        "|---|---:|---|---:|---:|",
    ]
    for side in SIDES:
        walls = [timed.wall_s for timed in rows[side]]
        ratios = [
            timed.wall_s / base.wall_s for timed, base in zip(rows[side], rows["bare"], strict=True)
        ]
        lines.append(
            f"| {side} | {med(walls):.2f} | {', '.join(f'{w:.2f}' for w in walls)} | "
            f"**{med(ratios):.2f}x** | {med(t.cpu_s for t in rows[side]):.2f} |"
        )
    lines += [
        "",
        f"`reskin server start` itself (the server and its runner): {started.wall_s:.1f} s "
        f"wall, {started.cpu_s:.1f} s CPU of the command (the server's and the runner's own CPU "
        "is not a child of the bench). CPU of the runner sides: the client's, its copy's (the "
        "fork server's) and the runner's; of the server side: the client's and its copy's; of "
        "no side: the Prefect server's.",
        "",
        "Where reskin's time goes (medians, seconds; `--json`'s `timings_s`):",
        "",
        f"| side | {' | '.join(STAGES)} | stages | outside the stages |",
        f"|---|{'---:|' * (len(STAGES) + 2)}",
    ]
    for side in SIDES[1:]:
        timings = rows[side]
        cells = [med(t.stages.get(stage, 0.0) for t in timings) for stage in STAGES]
        inside = med(sum(t.stages.values()) for t in timings)
        outside = med(t.wall_s - sum(t.stages.values()) for t in timings)
        lines.append(
            f"| {side} | {' | '.join(f'{c:.2f}' for c in cells)} | {inside:.2f} | {outside:.2f} |"
        )
    lines += [
        "",
        f"## Mistakes: `reskin edit` to its one-line answer ({options.mistakes} runs each)",
        "",
        "With `reskin server start` the command runs in a copy of its fork server, imported "
        "(reskin/cli/launch.py); without one (a work folder where none runs), in a process of "
        "its own. CPU: the client's and its copy's.",
        "",
        "| mistake | wall s (median) | CPU s (median) | no fork server: wall s | CPU s |"
        + (" before: wall s | before: CPU s |" if baseline else ""),
        "|---|---:|---:|---:|---:|" + ("---:|---:|" if baseline else ""),
    ]
    for name, runs in answers.items():
        alone = cold[name]
        row = (
            f"| {name} | {med(t.wall_s for t in runs):.2f} | {med(t.cpu_s for t in runs):.2f} "
            f"| {med(t.wall_s for t in alone):.2f} | {med(t.cpu_s for t in alone):.2f} |"
        )
        if baseline:
            before = baseline[name]
            row += f" {med(t.wall_s for t in before):.2f} | {med(t.cpu_s for t in before):.2f} |"
        lines.append(row)
    lines += ["", "What each got:", ""]
    lines += [f"- {name}: `{line}`" for name, line in said.items()]
    lines += [
        "",
        f"`python -c 'import reskin.cli.app'`: {imports:.2f} s CPU (median of 5)"
        + (f"; before: {imports_before:.2f} s" if imports_before is not None else "")
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
