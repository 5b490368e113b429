"""Peak memory of one whole ``reskin edit`` on the S3 path, against the input's size.

``.venv/bin/python -m bench.s3_memory [--sizes 10,100,200] [--runs 3] [--variants V,...]
[--via cli|function]`` (variants: ``passthrough``, ``copy``; both by default)

Everything is real and on loopback: a moto S3 server (``tests/s3_server.py``), the stand-in of
the API (in this process, so its renders never count against reskin), and a ``prefect server
start`` (so the measured process holds no embedded Prefect server). For each size a 10 s 1080p
clip of a noisy test pattern with sound is encoded at the bitrate that makes it that big
(H.264 yuv420p, so it conforms; "200" is held at 190 MB, under the model's 200 MB), and
uploaded to the bucket. Variants:

- ``passthrough``: the clip conforms as it is; the service is handed a presigned URL of the
  user's own object (downloaded once by reskin to check it, never uploaded);
- ``copy``: the same clip remuxed with its index at the end, so reskin must remux it and hand
  the service its own copy (uploaded to S3 in parts, or inline when within the data-URI budget).

Each run is ``reskin edit s3://.../in.mp4 --output s3://.../out.mp4 --json`` in a fresh work
folder (so nothing is resumed), with ``RESKIN_UPLOAD=auto``, started by ``/usr/bin/time``:
its maximum RSS (the kernel's own, taken at exit) is the peak of the run's largest process,
which is ``reskin`` itself. Beside it: ``VmHWM`` of the ``reskin`` process from
``/proc/<pid>/status``, polled every 50 ms (a cross-check: it names the process), and the
largest ffmpeg child seen by the polling. The table goes to stdout and to
``bench/results/s3_memory.md``.

``--via function`` runs the same request through ``reskin.cli.edit``'s own functions
(``build_request``, ``run_edit``) in a process of the same shape, without typer: for when the
command line itself stands in the way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg

from bench.report import command_of, publish, ram_gib
from reskin.media.binaries import find_ffmpeg
from reskin.media.conform import plan_conform_file
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from tests.prefect_server import PrefectServer, start_prefect_server
from tests.s3_server import S3Server, start_s3_server

MB = 1_000_000
MIB = 1024 * 1024
#: The model takes at most 200 MB: the "200" clip stays safely under it.
LARGEST_MB = 190
DURATION_S = 10
WIDTH, HEIGHT, FPS = 1920, 1080, 30
SAMPLE_S = 0.05
TIME = "/usr/bin/time"  # GNU time: %M is the maximum RSS of what it ran, in kB
RUN_TIMEOUT_S = 900
#: The limits a clip is conformed to: the default model's.
LIMITS = spec_for(DEFAULT_MODEL).limits
RESULTS = Path(__file__).parent / "results" / "s3_memory.md"
PROMPT = "turn the scene into a snowy winter night"
VARIANTS = ("passthrough", "copy")
#: ``--via function``: what ``reskin edit --json`` does, minus typer's option parsing.
FUNCTION_ENTRY = """
import logging, sys
logging.getLogger("httpx").setLevel(logging.WARNING)
from reskin.cli.edit import build_request, require_service, run_edit
from reskin.settings import load_settings

request = build_request(input=sys.argv[1], prompt=sys.argv[2], output=sys.argv[3])
require_service(load_settings())
print(run_edit(request)[0].model_dump_json())
"""


@dataclass
class Peaks:
    """What the sampler saw of one ``reskin`` process and its descendants (kB)."""

    reskin_hwm_kb: int = 0
    #: The largest VmHWM seen per child command name (ffmpeg, ...).
    children_kb: dict[str, int] = field(default_factory=dict)
    samples: int = 0


@dataclass
class Run:
    size_mb: float
    variant: str
    conform: str
    backend: str
    #: /usr/bin/time's maximum RSS: reskin's peak (or a child's, were one bigger).
    peak_mb: float
    #: VmHWM of the reskin process, polled.
    polled_mb: float
    child_mb: float
    child_name: str
    wall_s: float
    timings: dict[str, float]


# --- the clips -----------------------------------------------------------------------------
def clip_command(exe: Path, output: Path, *, video_kbps: int, faststart: bool) -> list[str]:
    """A conforming 10 s 1080p30 H.264 yuv420p clip of ``video_kbps``: a test pattern under
    temporal noise (so every bit is spent) and a 440 Hz tone in AAC."""
    source = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={DURATION_S}"
    video = ffmpeg.input(source, f="lavfi", format_whitelist="lavfi").video.filter(
        "noise", alls=40, allf="t+u"
    )
    tone = f"sine=frequency=440:sample_rate=48000:duration={DURATION_S}"
    audio = ffmpeg.input(tone, f="lavfi", format_whitelist="lavfi").audio
    options: dict[str, object] = {
        "f": "mp4",
        "vcodec": "libx264",
        "pix_fmt": "yuv420p",
        "preset": "ultrafast",
        "b:v": f"{video_kbps}k",
        "maxrate": f"{video_kbps}k",
        "bufsize": f"{video_kbps}k",
        "acodec": "aac",
        "b:a": "128k",
        "ac": 2,
        "t": DURATION_S,
        "map_metadata": -1,
    }
    if faststart:
        options["movflags"] = "+faststart"
    stream = ffmpeg.output(video, audio, str(output), **options)
    argv: list[str] = ffmpeg.compile(
        stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error"),
        cmd=str(exe),
        overwrite_output=True,
    )
    return argv


def remux_tail_command(exe: Path, source: Path, output: Path) -> list[str]:
    """The same streams with the index at the end (no faststart): reskin must remux it."""
    stream = ffmpeg.output(
        ffmpeg.input(str(source), format_whitelist="mov,mp4,m4a,3gp,3g2,mj2"),
        str(output),
        c="copy",
        f="mp4",
        map_metadata=-1,
    )
    argv: list[str] = ffmpeg.compile(
        stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error"),
        cmd=str(exe),
        overwrite_output=True,
    )
    return argv


def make_clip(exe: Path, folder: Path, size_mb: float) -> Path:
    """A faststart clip of about ``size_mb`` MB (within 5 %, never over the target)."""
    target = min(size_mb, LARGEST_MB) * MB
    path = folder / f"in-{size_mb:g}.mp4"
    audio_bytes = 128_000 / 8 * DURATION_S
    kbps = max(500, int((target - audio_bytes) * 8 / DURATION_S / 1000 * 0.985))
    for _ in range(4):
        run(clip_command(exe, path, video_kbps=kbps, faststart=True), timeout_s=900)
        size = path.stat().st_size
        if 0.95 * target <= size <= target:
            return path
        kbps = max(500, int(kbps * (0.98 * target) / size))
    raise RuntimeError(f"could not make a {size_mb:g} MB clip (last {size / MB:.1f} MB)")


# --- sampling a process tree -----------------------------------------------------------------
def _status_kb(pid: int, field_name: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _descendants(pid: int) -> Iterator[int]:
    stack = _children(pid)
    while stack:
        child = stack.pop()
        yield child
        stack += _children(child)


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def sample(launcher: int, peaks: Peaks, stop: threading.Event) -> None:
    """Poll the VmHWM of ``reskin`` (the one child of ``launcher``, /usr/bin/time) and of its
    descendants until ``stop``. A child still named like reskin has not exec'd yet: spawned by
    vfork, it shows reskin's own memory, so it is not counted as a child."""
    reskin: int | None = None
    while not stop.is_set():
        if reskin is None:
            children = _children(launcher)
            reskin = children[0] if children else None
        if reskin is not None:
            own_name = _name(reskin)  # "time" until it has exec'd python
            hwm = _status_kb(reskin, "VmHWM")
            if hwm is not None:
                peaks.reskin_hwm_kb = max(peaks.reskin_hwm_kb, hwm)
            for child in _descendants(reskin):
                child_hwm, name = _status_kb(child, "VmHWM"), _name(child)
                if child_hwm is not None and name != own_name:
                    peaks.children_kb[name] = max(peaks.children_kb.get(name, 0), child_hwm)
            peaks.samples += 1
        stop.wait(SAMPLE_S)


# --- one edit ------------------------------------------------------------------------------
def child_env(
    base: dict[str, str], s3: S3Server, bucket: str, standin: StandIn, prefect: PrefectServer,
    work: Path,
) -> dict[str, str]:  # fmt: skip
    """The ``reskin`` process's environment: nothing of the developer's AWS, AI/ML API, reskin
    or Prefect settings; everything aimed at the loopback servers."""
    env = {
        name: value
        for name, value in base.items()
        if not name.startswith(("AIMLAPI_", "RESKIN_", "AWS_", "PREFECT_"))
    }
    env.update(s3.env(bucket))
    env.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
            "AWS_CONFIG_FILE": str(work / "no-aws-config"),
            "PREFECT_API_URL": prefect.api_url,
            "PREFECT_HOME": str(work / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_COLORS": "false",
            "AIMLAPI_BASE_URL": standin.base_url,
            "AIMLAPI_API_KEY": standin.key,
            "RESKIN_WORK_DIR": str(work / "work"),
            "RESKIN_UPLOAD": "auto",
            "RESKIN_POLL_EXPECTED_S": "1",
            "RESKIN_POLL_MIN_INTERVAL_S": "0.2",
            "RESKIN_POLL_MAX_INTERVAL_S": "0.5",
            "RESKIN_POLL_DEADLINE_S": "600",
            "RESKIN_CREATES_PER_MINUTE": "600",
        }
    )
    return env


def edit_once(
    argv: Sequence[str], env: dict[str, str], cwd: Path
) -> tuple[dict[str, object], Peaks, int, float, str]:
    """Run one ``reskin edit`` under /usr/bin/time; its JSON, the sampled peaks, time's
    maximum RSS (kB), the wall time and its stderr.

    Why /usr/bin/time rather than this process's own ``wait4``: a child started by vfork
    inherits its parent's high-water mark at exec, so ``wait4`` on a child of this process
    would report at least this process's own peak (the stand-in and boto3 live here). time
    is small, so the reskin it starts begins from a clean slate; what it reports is the larger
    of reskin's peak and its children's (ffmpeg, far below reskin's)."""
    peaks = Peaks()
    stop = threading.Event()
    log_path, time_path = cwd / "stderr.log", cwd / "time.txt"
    launcher = [TIME, "--format=%M", f"--output={time_path}", *argv]
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            launcher, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=log,
        )  # fmt: skip
        sampler = threading.Thread(target=sample, args=(process.pid, peaks, stop), daemon=True)
        sampler.start()
        try:
            stdout, _ = process.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            wall = time.monotonic() - started
            stop.set()
            sampler.join()
            if process.returncode is None:
                process.kill()
                process.wait()
    stderr = log_path.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"reskin edit failed ({process.returncode}):\n{stderr[-3000:]}")
    result: dict[str, object] = json.loads(stdout)
    return result, peaks, int(time_path.read_text().split()[-1]), wall, stderr


def backend_of(stderr: str) -> str:
    match = re.search(r"the service will get the clip as (.+?)(?: \(|$)", stderr, re.MULTILINE)
    if not match:
        return "?"
    shown = match.group(1)
    return shown.split(":", 1)[0] if ":" in shown else shown


def edit_argv(via: str, source: str, output: str) -> list[str]:
    """``reskin edit`` (``via`` cli), or the same request through ``reskin.cli.edit``'s own
    functions in a process of the same shape (``via`` function)."""
    if via == "function":
        return [sys.executable, "-c", FUNCTION_ENTRY, source, PROMPT, output]
    return [
        sys.executable, "-m", "reskin", "edit", source,
        "--prompt", PROMPT, "--output", output, "--json",
    ]  # fmt: skip


# --- the whole bench -----------------------------------------------------------------------
def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.s3_memory", description=__doc__)
    parser.add_argument("--sizes", default="10,100,200", help="input sizes in MB (200 -> 190)")
    parser.add_argument("--runs", type=int, default=3, help="edits per size and variant")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="passthrough and/or copy (see above)"
    )
    parser.add_argument(
        "--via",
        choices=("cli", "function"),
        default="cli",
        help="cli: `python -m reskin edit ... --json`; function: the same request through "
        "reskin.cli.edit.run_edit in a process of its own (no typer)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the table goes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(arguments)
    if not Path(TIME).is_file():
        parser.error(f"needs GNU time at {TIME}: install it (apt-get install time)")
    sizes = [float(part) for part in args.sizes.split(",") if part]
    variants = [part for part in args.variants.split(",") if part]
    if not sizes or args.runs < 1 or any(v not in VARIANTS for v in variants):
        parser.error("give sizes, --runs of 1 or more and variants among passthrough,copy")

    scratch = Path(tempfile.mkdtemp(prefix="reskin-bench-s3-"))
    base_env = dict(os.environ)
    started = time.monotonic()
    try:
        runs = bench(scratch, base_env, sizes, variants, args.runs, args.via)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    command = command_of("bench.s3_memory", arguments)
    report = render(runs, command, time.monotonic() - started)
    publish(report, args.output)
    return 0


def bench(
    scratch: Path,
    base_env: dict[str, str],
    sizes: list[float],
    variants: list[str],
    runs: int,
    via: str,
) -> list[Run]:
    tools = find_ffmpeg()
    clips = scratch / "clips"
    clips.mkdir()
    s3 = start_s3_server(scratch / "s3")
    prefect = start_prefect_server(scratch / "prefect-server")
    config = StandInConfig(
        queued_s=0.2,
        generating_s=0.5,
        render_preset="ultrafast",
        download_timeout_s=600,
        work_dir=scratch / "standin",
    )
    results: list[Run] = []
    try:
        with StandIn(config) as standin:
            assert config.max_input_bytes >= LARGEST_MB * MB, "the stand-in refuses the clip"
            bucket = s3.create_bucket("reskin-bench")
            client = s3.client()
            for size_mb in sizes:
                clip = make_clip(tools.ffmpeg, clips, size_mb)
                made = {"passthrough": clip}
                if "copy" in variants:
                    tail = clips / f"in-{size_mb:g}-tail.mp4"
                    run(remux_tail_command(tools.ffmpeg, clip, tail), timeout_s=300)
                    made["copy"] = tail
                for variant in variants:
                    path = made[variant]
                    action = plan_conform_file(probe(path), limits=LIMITS).action.value
                    key = f"in/{path.name}"
                    client.upload_file(str(path), bucket, key)
                    print(
                        f"{path.name}: {path.stat().st_size / MB:.1f} MB, plan {action}",
                        file=sys.stderr,
                    )
                    for attempt in range(runs):
                        folder = scratch / "runs" / f"{path.stem}-{attempt}"
                        folder.mkdir(parents=True)
                        out_key = f"out/{path.stem}-{attempt}.mp4"
                        argv = edit_argv(via, f"s3://{bucket}/{key}", f"s3://{bucket}/{out_key}")
                        env = child_env(base_env, s3, bucket, standin, prefect, folder)
                        result, peaks, peak_kb, wall, stderr = edit_once(argv, env, folder)
                        output = str(result.get("output"))
                        if output != f"s3://{bucket}/{out_key}":
                            raise RuntimeError(
                                f"reskin edit wrote its output to {output!r}, not to S3 (does "
                                "reskin/cli/edit.py type --output as a Path, which folds "
                                "s3:// into s3:/?): fix it, or rerun with --via function"
                            )
                        client.head_object(Bucket=bucket, Key=out_key)
                        child_name, child_kb = max(
                            peaks.children_kb.items(), key=lambda item: item[1], default=("-", 0)
                        )
                        timings = result.get("timings_s")
                        row = Run(
                            size_mb=path.stat().st_size / MB,
                            variant=variant,
                            # "stream copy, no re-encode (index at the end: ...)": the action.
                            conform=str(result.get("conform", action)).split(" (")[0],
                            backend=backend_of(stderr),
                            peak_mb=peak_kb / 1024,
                            polled_mb=peaks.reskin_hwm_kb / 1024,
                            child_mb=child_kb / 1024,
                            child_name=child_name,
                            wall_s=wall,
                            timings=dict(timings) if isinstance(timings, dict) else {},
                        )
                        results.append(row)
                        print(
                            f"  run {attempt + 1}: peak {row.peak_mb:.0f} MiB, reskin polled "
                            f"{row.polled_mb:.0f} MiB, {row.child_name} {row.child_mb:.0f} "
                            f"MiB, {wall:.1f} s, {peaks.samples} samples, {row.backend}",
                            file=sys.stderr,
                        )
    finally:
        prefect.stop()
        s3.stop()
    return results


def render(runs: list[Run], command: str, total_s: float) -> str:
    groups: dict[tuple[str, float], list[Run]] = {}
    for row in runs:
        groups.setdefault((row.variant, round(row.size_mb, 1)), []).append(row)
    ordered = sorted(groups.items())
    lines = [
        "# Peak memory of one `reskin edit` on the S3 path, by input size",
        "",
        f"- command: `{command}` ({total_s / 60:.1f} min in all)",
        f"- machine: {os.cpu_count()} cores (nproc), {ram_gib():.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- input: {DURATION_S} s of {WIDTH}x{HEIGHT} at {FPS} fps, H.264 yuv420p of a noisy "
        "test pattern, AAC stereo, in a moto S3 bucket; output to the same bucket; stand-in "
        "and Prefect server in other processes",
        "- peak RSS: `/usr/bin/time`'s maximum RSS of the run (the kernel's, at exit): the "
        "largest process, which is `reskin` (its ffmpeg children stay below it); polled: "
        "VmHWM of the `reskin` process, read every 50 ms; largest child: the biggest VmHWM of "
        "an ffmpeg child seen by the polling",
        "- MiB (2^20 bytes) throughout; input MB are 10^6 bytes; medians over the runs",
        "",
        "| input MB | conform action | clip sent as | peak RSS MiB (min..max) | polled reskin "
        "MiB | largest child MiB | wall s | runs |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for (_, size), rows in ordered:
        peak = [r.peak_mb for r in rows]
        lines.append(
            f"| {size:.1f} | {rows[0].conform} | {rows[0].backend} "
            f"| {statistics.median(peak):.0f} ({min(peak):.0f}..{max(peak):.0f}) "
            f"| {statistics.median(r.polled_mb for r in rows):.0f} "
            f"| {statistics.median(r.child_mb for r in rows):.0f} "
            f"| {statistics.median(r.wall_s for r in rows):.1f} | {len(rows)} |"
        )
    lines += ["", "Every run (peak MiB / wall s):", ""]
    for (_, size), rows in ordered:
        each = ", ".join(f"{r.peak_mb:.0f} / {r.wall_s:.1f}" for r in rows)
        lines.append(f"- {size:.1f} MB, {rows[0].conform}: {each}")
    stages = sorted({stage for row in runs for stage in row.timings})
    if stages:
        lines += [
            "",
            "Stage times (median s, from `--json`):",
            "",
            "| input MB | conform action | " + " | ".join(stages) + " |",
            "|---:|---|" + "---:|" * len(stages),
        ]
        for (_, size), rows in ordered:
            cells = [
                f"{statistics.median(r.timings.get(stage, 0.0) for r in rows):.2f}"
                for stage in stages
            ]
            lines.append(f"| {size:.1f} | {rows[0].conform} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
