"""Local overhead: reskin's own work on one clip against the bare commands that do the same.

``.venv/bin/python -m bench.overhead [--runs 5] [--clips 1080p,4k-hevc] [--upload datauri|s3]
[--profile]``

What is timed, on reskin's side, is its Prefect-free core called directly, stage by stage, with
the remote wait left out (nothing here waits for a job):

- ``intake``: :func:`reskin.media.intake.take_in` (copy + SHA-256 in one pass, probe, full
  decode check against that probe);
- ``conform``: :func:`reskin.media.conform.plan_conform_file` (layout: keyframes, index place,
  tags) and :func:`reskin.media.conform.conform` (hard link or ffmpeg, then a probe and checks);
- ``upload``: :func:`reskin.storage.datauri.data_uri` when the clip fits the data-URI budget
  (``--upload datauri``); nothing with ``--upload s3`` or a clip over the budget (the transfer
  itself is remote work);
- ``download``: :func:`reskin.download.download` of the stand-in's result and the full-decode
  :func:`reskin.media.verify.verify` of it: what :func:`reskin.edit.results.fetch_result`
  does, without its journal row;
- ``sound``: :func:`reskin.media.sound.finish` (mux, verify of the output; the result's probe
  is the download's verify, handed on as ``tasks/postprocess.py`` does);
- ``preview``: :func:`reskin.media.preview.contact_sheet`, given the probes of the intake and
  of ``finish``.

The baseline is what a careful person would type for the same work: ``cp`` and ``sha256sum``,
an ``ffmpeg -xerror ... -f null -`` decode check (ffmpeg prints the stream facts on the way, so
no separate probe), ``ln`` (or the one ``ffmpeg`` re-encode to the same size, rate and
quality), ``base64``, ``curl``, a decode check of the result, one ``ffmpeg`` mux, a decode check
of the output, and the same contact-sheet ``ffmpeg`` command reskin builds (nobody types that
graph by hand). Both sides run in this process, alternating which goes first, several times;
the table gives medians of the per-run ratios.

The stand-in of the API runs in this process only to produce one real result per clip before
any timing (a job made from the clip as reskin conformed it); both sides then download that
same result URL.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import logging
import os
import platform
import pstats
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg
import httpx

from bench.report import command_of, publish, ram_gib
from reskin.download import download
from reskin.edit.results import result_thumbs
from reskin.fidelity.report import report
from reskin.fidelity.scores import measure
from reskin.media.audio_mode import AudioMode
from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.media.conform import Action, conform, fits_datauri, plan_conform_file
from reskin.media.intake import make_job_dir, take_in
from reskin.media.preview import (
    SheetPlan,
    can_draw_text,
    contact_sheet,
    contact_sheet_command,
    plan_sheet,
)
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.media.sound import OriginalSound, finish
from reskin.media.thumbs import iter_thumbs
from reskin.media.verify import verify
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.settings import Settings
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri

#: The limits a clip is conformed to: the default model's.
LIMITS = spec_for(DEFAULT_MODEL).limits

RESULTS = Path(__file__).parent / "results" / "overhead.md"
DURATION_S = 10
STAGES = ("intake", "conform", "upload", "download", "fidelity", "sound", "preview")
PROMPT = "turn the scene into a snowy winter night"
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class ClipSpec:
    name: str
    width: int
    height: int
    fps: int
    vcodec: str
    pix_fmt: str
    video_kbps: int
    about: str


CLIPS = {
    "1080p": ClipSpec(
        "1080p", 1920, 1080, 30, "libx264", "yuv420p", 12_000,
        "10 s 1920x1080 30 fps H.264 yuv420p 12 Mb/s + AAC stereo, index first (conforms)",
    ),
    "4k-hevc": ClipSpec(
        "4k-hevc", 3840, 2160, 30, "libx265", "yuv420p", 20_000,
        "10 s 3840x2160 30 fps HEVC (libx265) 20 Mb/s + AAC stereo (must be re-encoded)",
    ),
}  # fmt: skip


@dataclass
class Pass:
    """One side of one run: seconds per stage, and the ffmpeg commands it ran."""

    stages: dict[str, float] = field(default_factory=dict)
    commands: list[list[str]] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.stages.values())


class ArgvLog(logging.Handler):
    """Collects the argv of every ffmpeg run through reskin's one runner (its debug line)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("running "):
            self.seen.append(shlex.split(message.removeprefix("running ")))


# --- clips and the one result ---------------------------------------------------------------
def clip_argv(exe: Path, spec: ClipSpec, output: Path) -> list[str]:
    """A noisy test pattern (every frame differs, so bits are spent as on camera footage) and
    a 440 Hz tone, at the spec's bitrate, index first."""
    source = f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}:duration={DURATION_S}"
    video = ffmpeg.input(source, f="lavfi", format_whitelist="lavfi").video.filter(
        "noise", alls=20, allf="t+u"
    )
    tone = f"sine=frequency=440:sample_rate=48000:duration={DURATION_S}"
    audio = ffmpeg.input(tone, f="lavfi", format_whitelist="lavfi").audio
    options: dict[str, object] = {
        "f": "mp4",
        "vcodec": spec.vcodec,
        "pix_fmt": spec.pix_fmt,
        "preset": "ultrafast",
        "b:v": f"{spec.video_kbps}k",
        "maxrate": f"{spec.video_kbps}k",
        "bufsize": f"{spec.video_kbps * 2}k",
        "acodec": "aac",
        "b:a": "128k",
        "ac": 2,
        "t": DURATION_S,
        "movflags": "+faststart",
        "map_metadata": -1,
    }
    if spec.vcodec == "libx265":
        options["tag:v"] = "hvc1"
        options["x265-params"] = "log-level=error"
    argv: list[str] = ffmpeg.compile(
        ffmpeg.output(video, audio, str(output), **options).global_args(
            "-hide_banner", "-nostdin", "-loglevel", "error"
        ),
        cmd=str(exe),
        overwrite_output=True,
    )
    return argv


def one_result(standin: StandIn, clip: Path, dest: Path) -> str:
    """Run one real job on the stand-in from ``clip``; the URL of its result (also saved to
    ``dest`` to check it)."""
    headers = {"Authorization": f"Bearer {standin.key}"}
    with httpx.Client(base_url=standin.base_url, headers=headers, timeout=120) as http:
        put = http.put(f"/files/{clip.name}", content=clip.read_bytes())
        put.raise_for_status()
        body = {"model": DEFAULT_MODEL, "prompt": PROMPT, "video_url": put.json()["url"]}
        created = http.post("/v2/video/generations", json=body)
        created.raise_for_status()
        generation = created.json()["id"]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = http.get("/v2/video/generations", params={"generation_id": generation})
            status.raise_for_status()
            answer = status.json()
            if answer["status"] == "completed":
                url = str(answer["video"]["url"])
                dest.write_bytes(http.get(url).content)
                return url
            if answer["status"] == "error":
                raise RuntimeError(f"the stand-in's job failed: {answer.get('error')}")
            time.sleep(0.2)
    raise RuntimeError("the stand-in's job did not finish in 600 s")


# --- reskin's side --------------------------------------------------------------------------
def reskin_pass(
    clip: Path, url: str, work: Path, tools: FFmpegTools, settings: Settings, upload: str,
    argv_log: ArgvLog, *, check: bool = True,
) -> Pass:  # fmt: skip
    """reskin's core functions on ``clip``, stage by stage (see the module docstring); with
    ``check``, the fidelity check too: the thumbnails written by the intake's and the
    download's decodes, and the scores (``fidelity``)."""
    done = Pass()
    argv_log.seen = []
    job = make_job_dir(work / "jobs")
    lap = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        done.stages[name] = now - lap
        lap = now

    intake = take_in(
        clip,
        job,
        tools,
        max_bytes=settings.download_max_bytes,
        timeout_s=TIMEOUT_S,
        thumbs=job / "source.thumbs" if check else None,
    )
    stage("intake")
    plan = plan_conform_file(intake.info, limits=LIMITS)
    conformed = conform(
        intake.path,
        job / "clip.mp4",
        plan,
        tools,
        timeout_s=TIMEOUT_S,
        preset=settings.conform_preset,
        limits=LIMITS,
        crf=settings.conform_crf,
    )
    stage("conform")
    if upload == "datauri" and fits_datauri(conformed.info, max_bytes=settings.datauri_max_bytes):
        inline = data_uri(conformed.path, max_bytes=settings.datauri_max_bytes)
        del inline
    stage("upload")
    result = job / "result.mp4"
    asyncio.run(download(url, result, max_bytes=settings.download_max_bytes, timeout_s=TIMEOUT_S))
    thumbs = None
    if check and intake.thumbs is not None:
        thumbs = result_thumbs(result, intake.thumbs.width, intake.thumbs.height)
    result_info = verify(
        result,
        tools,
        expect_audio=None,
        expected_duration_s=None,
        timeout_s=TIMEOUT_S,
        name="the service's result",
        thumbs=thumbs,
    )
    stage("download")
    if thumbs is not None and intake.thumbs is not None:
        # What the fidelity stage does with them: read, align to the window, score.
        first = round(plan.start_s * thumbs.fps)
        wanted = round(plan.duration_s * thumbs.fps)
        report(
            measure(iter_thumbs(intake.thumbs, first, wanted), iter_thumbs(thumbs, 0, wanted)),
            fps=thumbs.fps,
            window_s=plan.duration_s,
            result_s=result_info.duration_s,
        )
    stage("fidelity")
    output = job / "out.mp4"
    original = OriginalSound.of(intake.path, plan, intake.info)
    final = finish(
        result,
        output,
        original,
        tools,
        mode=AudioMode.RESTORE,
        timeout_s=TIMEOUT_S,
        result_info=result_info,
    )
    stage("sound")
    contact_sheet(
        intake.path,
        output,
        job / "out.preview.png",
        tools,
        timeout_s=TIMEOUT_S,
        before_info=intake.info,
        after_info=final,
    )
    stage("preview")
    done.commands = list(argv_log.seen)
    shutil.rmtree(job, ignore_errors=True)
    return done


# --- the baseline ---------------------------------------------------------------------------
def decode_argv(exe: Path, path: Path) -> list[str]:
    return [str(exe), "-nostdin", "-hide_banner", "-v", "error", "-xerror", "-i", str(path),
            "-map", "0:v", "-map", "0:a?", "-f", "null", "-"]  # fmt: skip


def encode_argv(exe: Path, source: Path, output: Path, width: int, height: int, fps: float,
                preset: str, crf: int) -> list[str]:  # fmt: skip
    return [str(exe), "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(source),
            "-vf", f"scale={width}:{height},fps={fps:g},format=yuv420p", "-c:v", "libx264",
            "-preset", preset, "-crf", str(crf), "-c:a", "aac", "-ac", "2", "-ar", "48000",
            "-movflags", "+faststart", str(output)]  # fmt: skip


def mux_argv(exe: Path, video: Path, sound: Path, output: Path, seconds: float) -> list[str]:
    return [str(exe), "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(video),
            "-i", str(sound), "-map", "0:v:0", "-map", "1:a:0", "-af", "apad", "-c:v", "copy",
            "-c:a", "aac", "-ac", "2", "-ar", "48000", "-t", f"{seconds:g}",
            "-movflags", "+faststart", str(output)]  # fmt: skip


def baseline_pass(
    clip: Path, url: str, work: Path, tools: FFmpegTools, settings: Settings, upload: str,
    encode: tuple[int, int, float] | None, sheet_argv: Callable[[Path, Path, Path], list[str]],
) -> Pass:  # fmt: skip
    done = Pass()
    exe = tools.ffmpeg
    job = Path(tempfile.mkdtemp(prefix="base-", dir=work))
    lap = time.perf_counter()

    def sh(argv: list[str], stdout: int | None = subprocess.DEVNULL) -> None:
        if argv[0] == str(exe):
            done.commands.append(argv)
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=stdout)

    def stage(name: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        done.stages[name] = now - lap
        lap = now

    source = job / "input.mp4"
    sh(["cp", str(clip), str(source)])
    sh(["sha256sum", str(source)])
    sh(decode_argv(exe, source))
    stage("intake")
    sent = job / "clip.mp4"
    if encode is None:
        sh(["ln", str(source), str(sent)])
    else:
        width, height, fps = encode
        sh(encode_argv(exe, source, sent, width, height, fps,
                       settings.conform_preset, settings.conform_crf))  # fmt: skip
    stage("conform")
    if upload == "datauri" and sent.stat().st_size <= settings.datauri_max_bytes:
        with (job / "clip.b64").open("wb") as out:
            sh(["base64", "-w0", str(sent)], stdout=out.fileno())
    stage("upload")
    result = job / "result.mp4"
    sh(["curl", "-sSf", "-o", str(result), url])
    sh(decode_argv(exe, result))
    stage("download")
    stage("fidelity")  # the bare commands check nothing of the kind
    output = job / "out.mp4"
    sh(mux_argv(exe, result, source, output, DURATION_S))
    sh(decode_argv(exe, output))
    stage("sound")
    sh(sheet_argv(source, output, job / "out.preview.png"))
    stage("preview")
    shutil.rmtree(job, ignore_errors=True)
    return done


# --- counting -------------------------------------------------------------------------------
def video_encodes(commands: Sequence[Sequence[str]]) -> list[str]:
    """The video encoders (not ``copy``, not ``png``) that ``commands`` ran: re-encodes."""
    found: list[str] = []
    for argv in commands:
        for flag, value in itertools.pairwise(argv):
            if flag in ("-c:v", "-vcodec", "-codec:v") and value not in ("copy", "png"):
                found.append(value)
    return found


def decodes_of(commands: Sequence[Sequence[str]]) -> int:
    """Full decodes: commands with a null output (the decode check's thumbnails, when it makes
    them, are a second output of the same decode)."""
    return sum(1 for argv in commands if "null" in argv and "-" in argv)


# --- the whole bench -----------------------------------------------------------------------
@dataclass
class ClipRuns:
    spec: ClipSpec
    size_mb: float
    action: str
    describe: str
    reskin: list[Pass] = field(default_factory=list)
    baseline: list[Pass] = field(default_factory=list)
    #: reskin without the fidelity check, run beside the others: what the check costs.
    unchecked: list[Pass] = field(default_factory=list)
    profile: str = ""


def bench_clip(
    spec: ClipSpec, scratch: Path, standin: StandIn, tools: FFmpegTools, settings: Settings,
    runs: int, upload: str, profile: bool,
) -> ClipRuns:  # fmt: skip
    clip = scratch / f"{spec.name}.mp4"
    print(f"{spec.name}: making the clip", file=sys.stderr)
    run(clip_argv(tools.ffmpeg, spec, clip), timeout_s=1800)
    info = probe(clip)
    plan = plan_conform_file(info, limits=LIMITS)
    work = scratch / f"work-{spec.name}"
    work.mkdir()
    # The stand-in gets the clip as reskin conforms it (one untimed pass makes it).
    seed = make_job_dir(work / "seed")
    intake = take_in(clip, seed, tools, max_bytes=settings.download_max_bytes, timeout_s=TIMEOUT_S)
    sent = conform(intake.path, seed / "clip.mp4", plan, tools, timeout_s=TIMEOUT_S,
                   preset=settings.conform_preset, crf=settings.conform_crf,
                   limits=LIMITS)  # fmt: skip
    print(f"{spec.name}: one job on the stand-in", file=sys.stderr)
    url = one_result(standin, sent.path, seed / "result.mp4")
    shutil.rmtree(seed, ignore_errors=True)
    encode = None if plan.action is not Action.ENCODE else (plan.width, plan.height, plan.fps)

    # The very command reskin runs; its plan needs the two probes and the font check, made
    # once here, outside the baseline's timing (a person would have typed the numbers).
    sheet_plans: dict[str, tuple[SheetPlan, bool]] = {}

    def baseline_sheet(before: Path, after: Path, dest: Path) -> list[str]:
        if "plan" not in sheet_plans:
            sheet_plans["plan"] = (plan_sheet(probe(before), probe(after)),
                                   can_draw_text(tools.ffmpeg))  # fmt: skip
        sheet, labels = sheet_plans["plan"]
        return contact_sheet_command(tools.ffmpeg, before, after, dest, sheet, labels=labels)

    argv_log = ArgvLog()
    runner_log = logging.getLogger("reskin.media.runner")
    runner_log.addHandler(argv_log)
    runner_log.setLevel(logging.DEBUG)
    runner_log.propagate = False
    out = ClipRuns(spec, clip.stat().st_size / 1e6, plan.action.value, plan.describe())
    try:
        # Warm-up of both (caches, page cache, the font check): not counted.
        reskin_pass(clip, url, work, tools, settings, upload, argv_log)
        baseline_pass(clip, url, work, tools, settings, upload, encode, baseline_sheet)
        for index in range(runs):
            order = ("reskin", "baseline", "unchecked")
            for side in order if index % 2 == 0 else order[::-1]:
                if side == "reskin":
                    out.reskin.append(
                        reskin_pass(clip, url, work, tools, settings, upload, argv_log)
                    )
                elif side == "unchecked":
                    out.unchecked.append(
                        reskin_pass(clip, url, work, tools, settings, upload, argv_log, check=False)
                    )
                else:
                    out.baseline.append(
                        baseline_pass(
                            clip, url, work, tools, settings, upload, encode, baseline_sheet
                        )
                    )
            r, b = out.reskin[-1].total, out.baseline[-1].total
            u = out.unchecked[-1].total
            print(f"  run {index + 1}: reskin {r:.2f} s, bare {b:.2f} s, x{r / b:.2f}; "
                  f"without the fidelity check {u:.2f} s, check +{(r - u) / u:.1%}",
                  file=sys.stderr)  # fmt: skip
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            reskin_pass(clip, url, work, tools, settings, upload, argv_log)
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
            out.profile = text.getvalue()
    finally:
        runner_log.removeHandler(argv_log)
    return out


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per clip and side")
    parser.add_argument("--clips", default="1080p,4k-hevc", help="among " + ",".join(CLIPS))
    parser.add_argument("--upload", choices=("datauri", "s3"), default="datauri")
    parser.add_argument("--profile", action="store_true", help="cProfile one more reskin pass")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the table goes")
    args = parser.parse_args(arguments)
    names = [part for part in args.clips.split(",") if part]
    if args.runs < 1 or not names or any(name not in CLIPS for name in names):
        parser.error(f"give --runs of 1 or more and clips among {','.join(CLIPS)}")
    tools = find_ffmpeg()
    settings = Settings(_env_file=None)
    scratch = Path(tempfile.mkdtemp(prefix="reskin-bench-overhead-"))
    started = time.monotonic()
    config = StandInConfig(
        queued_s=0, generating_s=0, render_preset="ultrafast", work_dir=scratch / "standin"
    )
    try:
        with StandIn(config) as standin:
            clips = [
                bench_clip(
                    CLIPS[name],
                    scratch,
                    standin,
                    tools,
                    settings,
                    args.runs,
                    args.upload,
                    args.profile,
                )
                for name in names
            ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    command = command_of("bench.overhead", arguments)
    report = render(clips, command, time.monotonic() - started, tools, args.upload)
    publish(report, args.output)
    return 0


def render(
    clips: list[ClipRuns], command: str, total_s: float, tools: FFmpegTools, upload: str
) -> str:
    lines = [
        "# Local overhead: reskin's local work against the bare commands",
        "",
        f"- command: `{command}` ({total_s / 60:.1f} min in all)",
        f"- machine: {os.cpu_count()} cores (nproc), {ram_gib():.1f} GiB RAM, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; ffmpeg "
        f"{tools.version} ({tools.source}), ffprobe: "
        f"{'yes' if tools.ffprobe else 'none (reskin probes with PyAV)'}",
        f"- upload preparation: {upload} (a data URI only within the "
        "`RESKIN_DATAURI_MAX_BYTES` budget, else nothing local)",
        "- ratio: reskin's time / the bare commands' time, per run (both in one process, "
        "alternating which goes first); medians over the runs; seconds are medians too",
        "",
    ]
    for item in clips:
        ratios = [r.total / b.total for r, b in zip(item.reskin, item.baseline, strict=True)]
        ratio = statistics.median(ratios)
        met = "met" if ratio <= 1.2 else f"missed by {ratio - 1.2:.2f}x"
        reskin_cmds, base_cmds = item.reskin[-1].commands, item.baseline[-1].commands
        checks = [
            (r.total - u.total) / u.total for r, u in zip(item.reskin, item.unchecked, strict=True)
        ]
        check = statistics.median(checks)
        lines += [
            f"## {item.spec.about}",
            "",
            f"- input {item.size_mb:.1f} MB; conform plan: {item.describe}",
            f"- **ratio {ratio:.2f}x** (runs: {', '.join(f'{x:.2f}' for x in ratios)}); "
            f"goal <= 1.2x: {met}",
            f"- **the fidelity check adds {check:+.1%}** to reskin's local work (reskin with it "
            "against reskin without it, run beside each other; runs: "
            f"{', '.join(f'{x:+.1%}' for x in checks)}); goal <= 10 %: "
            f"{'met' if check <= 0.10 else 'missed'}",
            f"- video re-encodes: reskin {len(video_encodes(reskin_cmds))} "
            f"({', '.join(video_encodes(reskin_cmds)) or 'none'}), bare "
            f"{len(video_encodes(base_cmds))}; ffmpeg runs: reskin {len(reskin_cmds)}, bare "
            f"{len(base_cmds)}; full decodes of a file: reskin {decodes_of(reskin_cmds)}, "
            f"bare {decodes_of(base_cmds)}",
            "",
            "| stage | reskin s | bare s | reskin - bare s | ratio |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in (*STAGES, "total"):
            if name == "total":
                mine = statistics.median(p.total for p in item.reskin)
                theirs = statistics.median(p.total for p in item.baseline)
            else:
                mine = statistics.median(p.stages[name] for p in item.reskin)
                theirs = statistics.median(p.stages[name] for p in item.baseline)
            share = f"{mine / theirs:.2f}" if theirs > 0.0005 else "-"
            label = f"**{name}**" if name == "total" else name
            lines.append(
                f"| {label} | {mine:.3f} | {theirs:.3f} | {mine - theirs:+.3f} | {share} |"
            )
        lines += ["", "ffmpeg commands reskin ran (last run):", "", "```"]
        lines += [_short(argv) for argv in reskin_cmds]
        lines += ["```", "", "bare commands (ffmpeg only; plus cp, sha256sum, ln, base64, curl):"]
        lines += ["", "```", *(_short(argv) for argv in base_cmds), "```", ""]
        if item.profile:
            lines += ["cProfile of one more reskin pass (cumulative, top 25):", "", "```"]
            lines += [*_profile_lines(item.profile), "```", ""]
    return "\n".join(lines) + "\n"


def _short(argv: Sequence[str]) -> str:
    shown = ["ffmpeg", *argv[1:]]
    for index, part in enumerate(shown[:-1]):
        if part == "-filter_complex" and len(shown[index + 1]) > 120:
            graph = shown[index + 1]
            shown[index + 1] = f"{graph[:60]}...({len(graph)} chars)"
    text = shlex.join(shown)
    return re.sub(r"/\S*?/reskin-bench-overhead-[^/ ]+/", "", text)


def _profile_lines(text: str) -> list[str]:
    keep = [line.rstrip() for line in text.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(keep) if "ncalls" in line), 0)
    return [re.sub(r"/work/main/(\.venv/lib/python3\.\d+/site-packages/)?", "", line)
            for line in keep[start:]]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
