"""Long videos: a 60 s clip edited whole as segments, against a 10 s edit, on the stand-in.

``.venv/bin/python -m bench.long_video [--runs 3] [--generating-s 60] [--long-s 600]
[--parts wall,local,memory,seams] [--wall-rounds 1] [--looks both|off|on] [--in-flight 4]
[--long-scenes] [--clip-dir DIR] [--quick] [--output PATH]``

Four measures, each a ratio or a difference of things measured side by side in this run:

1. **Wall time.** One 60 s 1280x720 30 fps clip of five scenes (cuts at 11.37, 23.71, 35.43
   and 47.19 s) edited whole through :func:`reskin.edit.pipeline.edit`, against one 10 s clip
   of the same kind (same generator, size and rate, one scene) on the same stand-in, with
   ``one_look`` on (the first segment's frame lent to the others) and off (every segment at
   once). Two stand-ins in turn: jobs queued 2 s and generating ``--generating-s`` (60 s by
   default: a bounded stand-in for the real service's documented 4 min job), then the
   stand-in's demo default (generating 8 s), where local work weighs more. Paid jobs are the
   stand-in's ``jobs_accepted``; billed seconds its credits / 100. Where the time goes: each
   edit's stages run through :class:`Timed`, which records every segment's conform, create
   (accepted), poll (job seen done) and fetch (downloaded, decoded whole) on the edit's own
   clock; the page shows when the last create went and the timeline of the median 60 s edit.
2. **Local work against the bare commands.** On the 60 s clip, reskin's own local steps called
   directly (:func:`~reskin.media.scenes.detect_cuts`, the keyframes and the plan, each
   segment's :func:`~reskin.media.conform.plan_conform_file` and
   :func:`~reskin.media.conform.conform`, :func:`~reskin.media.stitch.stitch_pieces`,
   :func:`~reskin.media.sound.finish`) against the very argv those functions build, run bare
   with :mod:`subprocess`; alternating which side goes first, ``--runs`` times, medians.
3. **Peak memory** of a process running one long edit (``one_look`` off, jobs generating 1 s,
   ``ultrafast`` encodes: it is about memory, not time) of the 60 s clip and of the same clip
   joined to itself for ``--long-s`` (the same scenes, segments and bytes a second: only the
   length differs), and with ``--long-scenes`` of a ``--long-s`` clip of five long scenes at
   24 fps (every segment 10 s): the child's own ``VmHWM`` (the kernel's peak of its memory;
   the stand-in and ffmpeg not included), at each ``--in-flight`` limit (default: 4, the
   setting's default); with ``--malloc-arena-max N``, again with ``MALLOC_ARENA_MAX=N`` in the
   edit's process.

``--parts`` runs some of the measures only (``wall``, ``local``, ``memory``, ``seams``);
``--wall-rounds N`` repeats the wall-time edits, interleaved, and reports the median ratio and
its spread; ``--clip-dir`` keeps the generated clips for the next run.
4. **Seams.** For each join inside a shot of the 60 s edits on the 8 s stand-in, with
   ``RESKIN_SEGMENT_JOIN=cut`` and ``crossfade`` and both ``one_look`` settings: the mean
   absolute difference of the frames across the join over the median frame-to-frame difference
   of the 12 frame pairs on each side (frames decoded with PyAV at 160x90, gray, the corner
   mark of the clip masked out).

Every edit runs in a child process of its own (``--child``: the same module) with a fresh
``RESKIN_WORK_DIR``, ``RESKIN_MAX_JOBS_IN_FLIGHT=0``, ``RESKIN_CREATES_PER_MINUTE=0``,
``RESKIN_UPLOAD=datauri`` and ``RESKIN_POLL_EXPECTED_S`` set to the stand-in's generating time
(what the learned durations would say), so nothing is reused and its peak memory is its own.
The stand-in runs in this process (``ultrafast`` renders, two at once). Wall time is the
child's own, from opening the services to the end of the edit (imports not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
import numpy.typing as npt

from bench.report import command_of, publish, ram_gib
from reskin.edit import prepare, results, send, wait
from reskin.edit.pipeline import Direct
from reskin.edit.prepare import Clip, Taken, ToSend
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched
from reskin.edit.services import Services
from reskin.edit.stages import Stages
from reskin.edit.wait import Finished
from reskin.media.audio_mode import AudioMode
from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.media.commands import (
    GLOBAL_ARGS,
    conform_copy_command,
    conform_encode_command,
    render_command,
    synthetic_clip_command,
)
from reskin.media.conform import Action, ConformPlan, conform, plan_conform_file
from reskin.media.conform_plan import Window
from reskin.media.probe import MediaInfo, keyframe_times, probe
from reskin.media.runner import run
from reskin.media.scenes import detect_cuts, scene_command
from reskin.media.sound import OriginalSound, finish, mux_argv, plan_mux
from reskin.media.stitch import (
    Piece,
    concat_command,
    concat_list,
    copyable,
    expected_frames,
    stitch_command,
    stitch_pieces,
    units,
)
from reskin.media.verify import decode_check_command
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.settings import Settings
from reskin.standin.config import StandInConfig
from reskin.standin.looks import choose_look
from reskin.standin.server import StandIn
from reskin.storage.upload import Placed
from reskin.submission import Submitted

RESULTS = Path(__file__).parent / "results" / "long_video.md"
QUICK_RESULTS = Path(tempfile.gettempdir()) / "long_video.quick.md"
PROMPT = "sepia film"
SPEC = spec_for(DEFAULT_MODEL)
#: The 60 s clip's scene cuts (first frames of new scenes), as in tests/edit/test_long.py.
SCENES = (11.37, 23.71, 35.43, 47.19)
SIZE = (1280, 720)
SOURCE_FPS = 30
#: The long clip for memory: 24 fps, five scenes of 97 to 136 s.
LONG_FPS = 24
LONG_SCENES_AT = (0.162, 0.353, 0.555, 0.782)
OUT_FPS = 24.0
#: The corner mark of the clips (top-left quarter), masked out of the seam scores.
MARK_SHARE = 0.25
SEAM_WIDTH = 160
CONTEXT_FRAMES = 12
TIMEOUT_S = 1800.0
STEPS = (
    "scene cuts",
    "keyframes + plan",
    "segment conforms",
    "stitch, re-encoded",
    "stitch, exact pieces copied",
    "sound",
)
CREDITS_PER_S = 100
T = TypeVar("T")
#: The measures, in the order they run (``--parts``).
PARTS = ("local", "wall", "seams", "memory")


# --- the child: one edit, its wall time and its peak memory -------------------------------------
class Timed(Direct):
    """The core's stages (:data:`reskin.edit.pipeline.DIRECT`), each segment's recorded: when
    each of its stages started and ended, in seconds from ``origin`` (the timeline of
    section 1). ``submit`` ends when the create is accepted, ``poll`` when the job is seen
    done, ``fetch`` when its result is downloaded and decoded whole."""

    def __init__(self, origin: float, name: str = "", laps: list[dict[str, Any]] | None = None):
        self.origin = origin
        self.name = name
        self.laps: list[dict[str, Any]] = [] if laps is None else laps

    def segment(self, name: str) -> Stages:
        return Timed(self.origin, name, self.laps)

    async def _lap(self, stage: str, work: Awaitable[T], note: str = "") -> T:
        start = time.monotonic() - self.origin
        try:
            return await work
        finally:
            end = time.monotonic() - self.origin
            self.laps.append(
                {"segment": self.name, "stage": stage, "start": start, "end": end, "note": note}
            )

    async def conform(self, taken: Taken, planned: ToSend, services: Services) -> Clip:
        work = prepare.conform(taken, planned, services)
        return await self._lap("conform", work, planned.conform.action.value)

    async def submit(
        self, request: EditRequest, taken: Taken, placed: Placed | None, services: Services
    ) -> Submitted:
        return await self._lap("submit", send.submit(request, taken, placed, services))

    async def poll(
        self, taken: Taken, submitted: Submitted, services: Services, **options: Any
    ) -> Finished:
        return await self._lap("poll", wait.poll(taken, submitted, services, **options))

    async def fetch(self, taken: Taken, finished: Finished, services: Services) -> Fetched:
        return await self._lap("fetch", results.fetch(taken, finished, services))


def child(spec_path: Path) -> int:
    """Run one edit as ``spec_path`` says (the environment is the parent's doing) and print
    one JSON line: the result, the wall time, the peak RSS of this process and of its largest
    child (ffmpeg), in KiB."""
    from reskin.edit.pipeline import edit
    from reskin.edit.services import open_services
    from reskin.settings import load_settings

    request = EditRequest.model_validate(json.loads(spec_path.read_text()))
    stages = Timed(time.monotonic())

    async def one() -> tuple[dict[str, Any], float]:
        async with open_services(load_settings()) as services:
            result = await edit(request, services, stages)
        return result.model_dump(mode="json"), time.monotonic() - stages.origin

    result, wall = asyncio.run(one())
    # VmHWM, not ru_maxrss: Linux carries the parent's peak over fork and exec into a child's
    # ru_maxrss (the bench, with the stand-in, would show through); VmHWM is this process's own.
    status = Path("/proc/self/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    print(
        json.dumps(
            {
                "result": result,
                "wall_s": wall,
                "maxrss_kib": int(found[1]) if found else 0,
                "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "timeline": stages.laps,
            }
        )
    )
    return 0


@dataclass
class Edit:
    """One edit run in a child process, as the parent saw it."""

    label: str
    clip: str
    one_look: bool
    join: str
    wall_s: float
    jobs: int
    result: dict[str, Any]
    maxrss_kib: int
    #: Which round of the wall-time edits it belongs to (0 for the others).
    round: int = 0
    #: Each segment's stages, when they started and ended (:class:`Timed`).
    timeline: list[dict[str, Any]] = field(default_factory=list)
    #: The machine's load average (1 min) as the edit started: the bench's own is about 1.
    load: float = math.nan

    @property
    def billed_s(self) -> float:
        credits = self.result.get("credits_used")
        return float(credits) / CREDITS_PER_S if credits is not None else math.nan

    @property
    def output(self) -> Path:
        return Path(self.result["output"])

    @property
    def timings(self) -> dict[str, float]:
        timings: dict[str, float] = self.result["timings_s"]
        return timings


def edit_in_child(
    standin: StandIn,
    clip: Path,
    folder: Path,
    *,
    label: str,
    one_look: bool,
    join: str = "cut",
    expected_s: float,
    extra_env: dict[str, str] | None = None,
) -> Edit:
    """Edit ``clip`` whole in a fresh process with a fresh work folder under ``folder``."""
    folder.mkdir(parents=True)
    spec = folder / "request.json"
    request = {
        "input": str(clip),
        "prompt": PROMPT,
        "output": str(folder / "out.mp4"),
        "one_look": one_look,
    }
    spec.write_text(json.dumps(request))
    # The ffmpeg the bench runs with (RESKIN_FFMPEG_BINARY, e.g. the bundled one) is the edits'.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIMLAPI_", "RESKIN_")) or k == "RESKIN_FFMPEG_BINARY"
    }
    env.update(
        {
            "AIMLAPI_BASE_URL": standin.base_url,
            "AIMLAPI_API_KEY": standin.key,
            "RESKIN_WORK_DIR": str(folder / "work"),
            "RESKIN_MAX_JOBS_IN_FLIGHT": "0",
            "RESKIN_CREATES_PER_MINUTE": "0",
            "RESKIN_UPLOAD": "datauri",
            "RESKIN_POLL_EXPECTED_S": f"{max(expected_s, 0.5):g}",
            "RESKIN_SEGMENT_JOIN": join,
            **(extra_env or {}),
        }
    )
    standin.reset()
    load = os.getloadavg()[0]
    argv = [sys.executable, "-m", "bench.long_video", "--child", str(spec)]
    out_path, err_path = folder / "stdout.txt", folder / "stderr.txt"
    sampled = 0
    started = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(  # files, not pipes: nothing fills while it is sampled
            argv, env=env, cwd=Path(__file__).resolve().parent.parent, stdout=out, stderr=err
        )
        # The child's own peak, read from outside too: a failed edit reports nothing itself.
        while process.poll() is None:
            sampled = max(sampled, _vm_hwm_kib(process.pid))
            if time.monotonic() - started > TIMEOUT_S:
                process.kill()
            time.sleep(0.2)
    if process.returncode != 0:
        tail = err_path.read_text().strip().splitlines()
        error = tail[-1] if tail else f"exit code {process.returncode}"
        print(f"  {label}: FAILED after {time.monotonic() - started:.0f} s: {error}",
              file=sys.stderr)  # fmt: skip
        return Edit(label, clip.name, one_look, join, time.monotonic() - started,
                    standin.stats().jobs_accepted, {"segments": [], "timings_s": {},
                    "credits_used": None, "output": "", "error": error}, sampled)  # fmt: skip
    answer = json.loads(out_path.read_text().strip().splitlines()[-1])
    item = Edit(
        label=label,
        clip=clip.name,
        one_look=one_look,
        join=join,
        wall_s=answer["wall_s"],
        jobs=standin.stats().jobs_accepted,
        result=answer["result"],
        maxrss_kib=answer["maxrss_kib"],
        timeline=answer.get("timeline", []),
        load=load,
    )
    print(
        f"  {label}: {item.wall_s:.1f} s, {item.jobs} jobs, {item.billed_s:g} billed s, "
        f"peak {item.maxrss_kib / 1024:.0f} MiB",
        file=sys.stderr,
    )
    return item


def _vm_hwm_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found[1]) if found else 0


# --- 1 and 4: wall time and seams on a stand-in ---------------------------------------------------
def _rendered(lead_s: float | None) -> str:
    if lead_s is None:
        return ", renders at acceptance"
    return f", renders started {lead_s:g} s before the generating time ends"


@dataclass
class WallSet:
    """The edits of one stand-in configuration."""

    queued_s: float
    generating_s: float
    #: The stand-in's ``render_lead_s``: None when it renders at acceptance.
    render_lead_s: float | None = None
    edits: list[Edit] = field(default_factory=list)

    def find(self, clip: str, one_look: bool, join: str = "cut", round: int = 0) -> Edit:
        return next(
            e
            for e in self.edits
            if e.clip == clip and e.one_look == one_look and e.join == join and e.round == round
        )

    @property
    def rounds(self) -> int:
        return 1 + max((e.round for e in self.edits), default=0)

    def ratios(self, one_look: bool) -> list[float]:
        """The 60 s edit's wall time over the 10 s edit's, round by round."""
        found = []
        for index in range(self.rounds):
            try:
                sixty = self.find("sixty.mp4", one_look, round=index)
                ten = self.find("ten.mp4", one_look, round=index)
            except StopIteration:
                continue
            found.append(sixty.wall_s / ten.wall_s)
        return found


def wall_set(
    clips: dict[str, Path],
    scratch: Path,
    *,
    queued_s: float,
    generating_s: float,
    crossfade: bool,
    rounds: int = 1,
    looks: Sequence[bool] = (True, False),
    render_lead_s: float | None = None,
) -> WallSet:
    """``rounds`` rounds of the edits, each the 10 s edit and the 60 s one side by side for
    each of ``looks`` (the 10 s one first and last: any drift of the machine's load weighs on
    both sides), with the cross-fade edits after them when asked."""
    print(f"stand-in queued {queued_s:g} s, generating {generating_s:g} s", file=sys.stderr)
    out = WallSet(queued_s, generating_s, render_lead_s)
    config = StandInConfig(
        queued_s=queued_s,
        generating_s=generating_s,
        render_preset="ultrafast",
        render_lead_s=render_lead_s,
        work_dir=scratch / f"standin-{generating_s:g}",
    )
    # Alternating: the short edit first and last, the 60 s edits between; the order of the
    # looks turns round by round.
    plan: list[tuple[int, str, bool, str]] = []
    for index in range(rounds):
        order = list(looks) if index % 2 == 0 else list(reversed(looks))
        plan += [(index, "ten", order[0], "cut")]
        plan += [(index, "sixty", look, "cut") for look in order]
        plan += [(index, "ten", look, "cut") for look in order[1:]]
    if crossfade:
        plan += [(0, "sixty", look, "crossfade") for look in looks]
    with StandIn(config) as standin:
        for index, (round_, name, one_look, join) in enumerate(plan):
            label = f"g{generating_s:g}-{index}-{name}-{'look' if one_look else 'all'}-{join}"
            item = edit_in_child(
                standin,
                clips[name],
                scratch / label,
                label=label,
                one_look=one_look,
                join=join,
                expected_s=generating_s,
            )
            item.round = round_
            out.edits.append(item)
    return out


Gray = npt.NDArray[np.float32]


def gray_frames(path: Path) -> Gray:
    """Every frame of ``path``, 160 px wide, gray, the corner mark zeroed."""
    frames: list[Gray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        height = 0
        for frame in container.decode(stream):
            height = round(SEAM_WIDTH * frame.height / frame.width / 2) * 2
            pixels = frame.reformat(width=SEAM_WIDTH, height=height, format="gray").to_ndarray()
            frames.append(pixels.astype(np.float32))
    stack = np.stack(frames)
    stack[:, : math.ceil(height * MARK_SHARE) + 2, : math.ceil(SEAM_WIDTH * MARK_SHARE) + 2] = 0
    return stack


@dataclass(frozen=True)
class Seam:
    at_s: float
    at_join: float
    window_max: float


def seams(item: Edit, crossfade_frames: int) -> list[Seam]:
    """Each join inside a shot of ``item``'s output: the difference across the join (the last
    frame before it and the first after: for a cross-fade, the fade's end), and the largest
    difference anywhere over the fade's frames (the same window for a hard cut), each over the
    median difference of the 12 frame pairs on each side of that window."""
    cuts = [round(c * SOURCE_FPS) / SOURCE_FPS for c in SCENES]
    frames = gray_frames(item.output)
    diffs = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # diffs[k-1]: frames k-1 -> k

    def pair(k: int) -> float:
        return float(diffs[k - 1])

    found: list[Seam] = []
    for segment in item.result["segments"][1:]:
        start = float(segment["start_s"])
        if min(abs(start - c) for c in cuts) <= 1.5 / SOURCE_FPS:
            continue  # a scene cut: the picture changes there anyway
        join = round(start * OUT_FPS)
        first = join - crossfade_frames
        before = [pair(k) for k in range(first - CONTEXT_FRAMES, first)]
        after = [pair(k) for k in range(join + 1, join + 1 + CONTEXT_FRAMES)]
        usual = statistics.median(before + after)
        window = [pair(k) for k in range(first, join + 1)]
        found.append(Seam(start, pair(join) / usual, max(window) / usual))
    return found


# --- 2: local work against the bare commands ---------------------------------------------------
@dataclass
class LocalRun:
    reskin: dict[str, float] = field(default_factory=dict)
    bare: dict[str, float] = field(default_factory=dict)


def conform_argv(source: Path, output: Path, plan: ConformPlan, tools: FFmpegTools,
                 settings: Settings) -> list[str]:  # fmt: skip
    """The argv :func:`reskin.media.conform.conform` runs for ``plan``, built with the same
    public builders."""
    if plan.action is Action.COPY:
        return conform_copy_command(tools.ffmpeg, source, output, start_s=plan.start_s,
                                    duration_s=plan.read_s, audio=plan.audio)  # fmt: skip
    return conform_encode_command(
        tools.ffmpeg, source, output, start_s=plan.start_s, duration_s=plan.read_s,
        width=plan.width, height=plan.height, fps=plan.fps, pad_to_s=plan.pad_to_s,
        audio=plan.audio != "none", preset=settings.conform_preset, crf=settings.conform_crf,
    )  # fmt: skip


@dataclass
class LocalBench:
    runs: list[LocalRun]
    segments: int
    actions: list[str]
    ffmpeg_runs: int


def local_bench(clip: Path, scratch: Path, tools: FFmpegTools, runs: int) -> LocalBench:
    """Reskin's local steps on ``clip`` against the argv they build, run bare."""
    from reskin.edit.segments import plan_segments

    settings = Settings(_env_file=None)
    info = probe(clip)
    duration = info.duration_s
    threshold = settings.scene_threshold
    timeout = settings.ffmpeg_timeout_s
    # The plan, once, untimed: what both sides then do.
    cuts = detect_cuts(clip, tools, threshold=threshold, duration_s=duration, timeout_s=timeout)
    plan = plan_segments(SPEC, fps=info.fps, start_s=0.0, end_s=duration,
                         cuts_s=[c.at_s for c in cuts],
                         keyframes_s=keyframe_times(clip, duration))  # fmt: skip
    windows = [Window(s.sent_start_s, s.end_s) for s in plan.segments]
    conform_plans = [plan_conform_file(info, window=w, limits=SPEC.limits) for w in windows]
    # The pieces: each segment as the stand-in renders it (its own command), made once.
    base = scratch / "local"
    base.mkdir()
    look = choose_look(PROMPT).filters
    pieces: list[Piece] = []
    for index, (segment, cplan) in enumerate(zip(plan.segments, conform_plans, strict=True)):
        sent = base / f"sent-{index}.mp4"
        run(conform_argv(clip, sent, cplan, tools, settings), timeout_s=timeout)
        piece = base / f"piece-{index}.mp4"
        run(render_command(tools.ffmpeg, sent, piece, filters=look, width=SIZE[0],
                           height=SIZE[1], fps=OUT_FPS, preset="ultrafast"),
            timeout_s=timeout)  # fmt: skip
        frames = round(segment.end_s * OUT_FPS) - round(segment.sent_start_s * OUT_FPS)
        overlap = round(segment.start_s * OUT_FPS) - round(segment.sent_start_s * OUT_FPS)
        pieces.append(Piece(piece, frames, overlap))
    original = OriginalSound(clip, 0.0, duration, duration, info.has_audio)
    stitch_options: dict[str, Any] = dict(width=SIZE[0], height=SIZE[1], fps=OUT_FPS,
                                          preset=settings.conform_preset,
                                          crf=settings.conform_crf)  # fmt: skip

    def reskin_side(folder: Path) -> dict[str, float]:
        laps: dict[str, float] = {}
        lap = time.perf_counter()

        def step(name: str) -> None:
            nonlocal lap
            now = time.perf_counter()
            laps[name] = now - lap
            lap = now

        found = detect_cuts(clip, tools, threshold=threshold, duration_s=duration,
                            timeout_s=timeout)  # fmt: skip
        step("scene cuts")
        plan_segments(SPEC, fps=info.fps, start_s=0.0, end_s=duration,
                      cuts_s=[c.at_s for c in found],
                      keyframes_s=keyframe_times(clip, duration))  # fmt: skip
        step("keyframes + plan")
        for index, window in enumerate(windows):
            cplan = plan_conform_file(info, window=window, limits=SPEC.limits)
            job = folder / f"segment-{index:03d}"
            job.mkdir()
            conform(clip, job / "clip.mp4", cplan, tools, timeout_s=timeout,
                    preset=settings.conform_preset, crf=settings.conform_crf,
                    limits=SPEC.limits)  # fmt: skip
        step("segment conforms")
        stitched = stitch_pieces(pieces, folder / "units", folder / "stitched.mp4", tools,
                                 timeout_s=timeout, allow_copy=False,
                                 **stitch_options).info  # fmt: skip
        step("stitch, re-encoded")
        if copy:
            stitch_pieces(pieces, folder / "copied", folder / "copied.mp4", tools,
                          timeout_s=timeout, **stitch_options)  # fmt: skip
        step("stitch, exact pieces copied")
        finish(folder / "stitched.mp4", folder / "final.mp4", original, tools,
               mode=AudioMode.RESTORE, timeout_s=timeout, result_info=stitched)  # fmt: skip
        step("sound")
        return laps

    # The stand-in's pieces (x264 ultrafast: no B-frames) are mostly exact: joined by copy.
    copy = copyable(pieces, width=SIZE[0], height=SIZE[1], fps=OUT_FPS)
    print(f"  local: pieces {'copyable' if copy else 'not copyable'}", file=sys.stderr)

    # The bare side's argv, built before its timing (a person would have typed them).
    stitched_info: list[MediaInfo] = []

    def bare_side(folder: Path) -> dict[str, float]:
        laps: dict[str, float] = {}
        exe = tools.ffmpeg

        def sh(argv: list[str]) -> None:
            subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)

        scene = scene_command(exe, clip, threshold=threshold, duration_s=duration)
        conforms = [conform_argv(clip, folder / f"clip-{i}.mp4", p, tools, settings)
                    for i, p in enumerate(conform_plans)]  # fmt: skip
        stitched = folder / "stitched.mp4"
        # As stitch_pieces: each unit encoded on its own, two at once, then joined by copy.
        parts = units(pieces)
        (folder / "units").mkdir()
        names = [f"unit-{index:05d}.mp4" for index in range(len(parts))]
        encodes = [stitch_command(exe, unit, folder / "units" / name, **stitch_options)
                   for unit, name in zip(parts, names, strict=True)]  # fmt: skip
        listing = folder / "units" / "units.ffconcat"
        rate = Fraction(stitch_options["fps"])
        listing.write_text(concat_list(names, [float(expected_frames(u) / rate) for u in parts]))
        joined = concat_command(exe, listing, stitched)
        (folder / "copied").mkdir()
        for index, piece in enumerate(pieces):
            (folder / "copied" / names[index]).symlink_to(piece.path.resolve())
        copied_listing = folder / "copied" / "units.ffconcat"
        copied_listing.write_text(
            concat_list(names, [float(p.frames / rate) for p in pieces], cut=True)
        )
        copied = concat_command(exe, copied_listing, folder / "copied.mp4")
        final = folder / "final.mp4"
        lap = time.perf_counter()
        sh(scene)
        laps["scene cuts"] = time.perf_counter() - lap
        laps["keyframes + plan"] = 0.0
        lap = time.perf_counter()
        for argv in conforms:
            sh(argv)
        laps["segment conforms"] = time.perf_counter() - lap
        lap = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(sh, encodes))
        sh(joined)
        laps["stitch, re-encoded"] = time.perf_counter() - lap
        lap = time.perf_counter()
        if copy:
            sh(copied)
        laps["stitch, exact pieces copied"] = time.perf_counter() - lap
        if not stitched_info:  # the mux argv needs the stitched file's facts: untimed, once
            stitched_info.append(probe(stitched))
        mux = mux_argv(plan_mux(stitched_info[0], original, mode=AudioMode.RESTORE),
                       stitched, original, final, tools)  # fmt: skip
        lap = time.perf_counter()
        sh(mux)
        sh(decode_check_command(exe, final))
        laps["sound"] = time.perf_counter() - lap
        return laps

    done: list[LocalRun] = []
    for index in range(runs + 1):  # the first is a warm-up of both, not counted
        one = LocalRun()
        order = ("reskin", "bare") if index % 2 == 0 else ("bare", "reskin")
        for side in order:
            folder = base / f"{side}-{index}"
            folder.mkdir()
            if side == "reskin":
                one.reskin = reskin_side(folder)
            else:
                one.bare = bare_side(folder)
            shutil.rmtree(folder, ignore_errors=True)
        r, b = sum(one.reskin.values()), sum(one.bare.values())
        tag = "warm-up" if index == 0 else f"run {index}"
        print(f"  local {tag}: reskin {r:.2f} s, bare {b:.2f} s, x{r / b:.3f}", file=sys.stderr)
        if index:
            done.append(one)
    actions = [p.action.value for p in conform_plans]
    ffmpeg_runs = 1 + len(conform_plans) + len(units(pieces)) + 1 + 2
    return LocalBench(done, len(plan.segments), actions, ffmpeg_runs)


# --- 3: peak memory ---------------------------------------------------------------------------
@dataclass
class MemoryRun:
    name: str
    clip_s: float
    make_s: float
    in_flight: int
    edit: Edit
    #: ``MALLOC_ARENA_MAX`` of the edit's process (None: glibc's default, 8 per core).
    arena_max: int | None = None


def memory_runs(clips: dict[str, Path], make_s: dict[str, float], scratch: Path,
                names: Sequence[tuple[str, int]],
                arenas: Sequence[int | None] = (None,)) -> list[MemoryRun]:  # fmt: skip
    """Each of ``names`` (clip, jobs in flight), for each of ``arenas`` (``MALLOC_ARENA_MAX``
    of the edit's process, read by glibc when it starts; None: unset), in that order."""
    config = StandInConfig(queued_s=0, generating_s=1, render_preset="ultrafast",
                           work_dir=scratch / "standin-memory")  # fmt: skip
    print("stand-in queued 0 s, generating 1 s (memory)", file=sys.stderr)
    out: list[MemoryRun] = []
    with StandIn(config) as standin:
        for arena_max in arenas:
            for name, in_flight in names:
                label = f"memory-{name}-{in_flight}"
                env = {
                    "RESKIN_CONFORM_PRESET": "ultrafast",
                    "RESKIN_MAX_JOBS_IN_FLIGHT": str(in_flight),
                    # The joined clip's sound ends a few milliseconds after its 600 s of picture.
                    "RESKIN_MAX_INPUT_S": "660",
                }
                if arena_max is not None:
                    label += f"-arenas{arena_max}"
                    env["MALLOC_ARENA_MAX"] = str(arena_max)
                item = edit_in_child(standin, clips[name], scratch / label, label=label,
                                     one_look=False, expected_s=1.0, extra_env=env)  # fmt: skip
                seconds = probe(clips[name]).duration_s
                out.append(MemoryRun(name, seconds, make_s[name], in_flight, item, arena_max))
    return out


# --- clips ---------------------------------------------------------------------------------------
def make_clips(tools: FFmpegTools, scratch: Path, long_s: float | None, sixty_s: float,
               long_scenes: bool = False) -> tuple[dict[str, Path], dict[str, float]]:  # fmt: skip
    """The clips, made in ``scratch`` (one already there under its name is kept: its making
    time then shows as 0). ``long``: the 60 s clip over and over for ``long_s`` (its scenes,
    its segments, its bytes a second: only the length differs); ``long-scenes`` (with
    ``long_scenes``): ``long_s`` of five long scenes at 24 fps, so every segment is 10 s."""
    plans: dict[str, dict[str, Any]] = {
        "ten": dict(duration_s=10.0, fps=SOURCE_FPS, scenes=()),
        "sixty": dict(duration_s=sixty_s, fps=SOURCE_FPS,
                      scenes=tuple(s for s in SCENES if s < sixty_s)),
    }  # fmt: skip
    if long_s is not None and long_scenes:
        cuts = tuple(round(long_s * share, 2) for share in LONG_SCENES_AT)
        plans["long-scenes"] = dict(duration_s=long_s, fps=LONG_FPS, scenes=cuts)
    scratch.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    seconds: dict[str, float] = {}
    for name, options in plans.items():
        suffix = f"-{options['duration_s']:g}s" if name == "long" else ""
        path = scratch / f"{name}{suffix}.mp4"
        paths[name] = path
        if path.is_file():
            seconds[name] = 0.0
            continue
        started = time.monotonic()
        run(synthetic_clip_command(tools.ffmpeg, path, width=SIZE[0], height=SIZE[1],
                                   sync_marks=True, mark="corner", **options),
            timeout_s=TIMEOUT_S)  # fmt: skip
        seconds[name] = time.monotonic() - started
        print(f"clip {name}: {options['duration_s']:g} s made in {seconds[name]:.1f} s",
              file=sys.stderr)  # fmt: skip
    if long_s is not None:
        paths["long"], seconds["long"] = _repeated(tools, paths["sixty"], long_s, sixty_s)
    return paths, seconds


def _repeated(tools: FFmpegTools, clip: Path, long_s: float, clip_s: float) -> tuple[Path, float]:
    """``clip`` (``clip_s`` long) joined to itself by stream copy up to ``long_s`` (its last
    scene cuts to its first at every join), beside it; kept when already there."""
    count = max(1, math.ceil(long_s / clip_s - 1e-9))
    path = clip.with_name(f"{clip.stem}-{long_s:g}s.mp4")
    if path.is_file():
        return path, 0.0
    listing = clip.with_name(f"{clip.stem}-{long_s:g}s.ffconcat")
    listing.write_text("ffconcat version 1.0\n" + f"file '{clip.name}'\n" * count)
    started = time.monotonic()
    run([str(tools.ffmpeg), *GLOBAL_ARGS, "-f", "concat", "-safe", "1", "-i", str(listing),
         "-t", f"{long_s:.3f}", "-c", "copy", str(path)], timeout_s=TIMEOUT_S)  # fmt: skip
    return path, time.monotonic() - started


# --- the report --------------------------------------------------------------------------------
def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.long_video", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the local steps")
    parser.add_argument("--generating-s", type=float, default=60.0,
                        help="the bounded stand-in's generating seconds")  # fmt: skip
    parser.add_argument("--long-s", type=float, default=600.0, help="the memory run's long clip")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2 s jobs, one local run, a 120 s long clip",
    )
    parser.add_argument("--output", type=Path, default=None, help="where the page goes")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"which measures to run, comma-separated, of {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument("--wall-rounds", type=int, default=1,
                        help="rounds of the wall-time edits on the bounded stand-in, "
                        "interleaved (median and spread reported)")  # fmt: skip
    parser.add_argument(
        "--looks",
        choices=("both", "off", "on"),
        default="both",
        help="the 60 s edit's one_look settings of the wall-time rounds",
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        nargs="+",
        default=[4],
        help="RESKIN_MAX_JOBS_IN_FLIGHT of the memory runs (4: the default)",
    )
    parser.add_argument(
        "--clip-dir",
        type=Path,
        default=None,
        help="keep the generated clips here and reuse them on later runs",
    )
    parser.add_argument(
        "--long-scenes",
        action="store_true",
        help="memory: also a --long-s clip of five long scenes (every segment 10 s)",
    )
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        nargs="*",
        default=[],
        help="memory: the runs again with MALLOC_ARENA_MAX set to each of these in the edit's "
        "process (glibc's default: 8 arenas per core)",
    )
    parser.add_argument(
        "--render-lead-s",
        type=float,
        default=None,
        help="wall: the stand-in starts each render this many seconds before its job's "
        "generating time ends, not at acceptance (its renders then do not compete with the "
        "edit's own conforms for the 2 cores, as a remote service's would not)",
    )
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(arguments)
    if args.child is not None:
        return child(args.child)
    if args.quick:
        args.runs, args.generating_s, args.long_s = 1, 2.0, 120.0
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    looks = {"both": (True, False), "off": (False,), "on": (True,)}[args.looks]
    output = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    # The ffmpeg of the settings (RESKIN_FFMPEG_BINARY), as the edits find it.
    tools = find_ffmpeg(Settings(_env_file=None).ffmpeg_binary)
    scratch = Path(tempfile.mkdtemp(prefix="reskin-bench-long-"))
    started = time.monotonic()
    commits = [git_head()]
    local: LocalBench | None = None
    sets: list[WallSet] = []
    memory: list[MemoryRun] = []
    seam_rows: list[tuple[Edit, list[Seam]]] = []
    fade_frames = round(Settings(_env_file=None).crossfade_s * OUT_FPS)
    try:
        long_s = args.long_s if "memory" in parts else None
        clips, make_s = make_clips(tools, args.clip_dir or scratch, long_s, 60.0,
                                   long_scenes=args.long_scenes)  # fmt: skip
        if "local" in parts:
            print("local steps against the bare commands", file=sys.stderr)
            local = local_bench(clips["sixty"], scratch, tools, args.runs)
        if "wall" in parts:
            sets.append(wall_set(clips, scratch, queued_s=2.0, generating_s=args.generating_s,
                                 crossfade=args.quick, rounds=args.wall_rounds,
                                 looks=looks, render_lead_s=args.render_lead_s))  # fmt: skip
        if "seams" in parts and not args.quick:  # the stand-in's demo default, and the seams
            sets.append(wall_set(clips, scratch, queued_s=2.0, generating_s=8.0, crossfade=True))
        if "memory" in parts:
            kinds = ("sixty", "long", "long-scenes") if args.long_scenes else ("sixty", "long")
            names = [(name, limit) for limit in args.in_flight for name in kinds]
            arenas = (None, *args.malloc_arena_max)
            memory = memory_runs(clips, make_s, scratch, names, arenas)
        if "seams" in parts and sets:
            seam_rows = [(e, seams(e, fade_frames)) for e in sets[-1].edits
                         if e.clip == "sixty.mp4"]  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    commits.append(git_head())
    command = command_of("bench.long_video", arguments)
    page = render(commits, command, time.monotonic() - started, tools, sets, local, memory,
                  seam_rows, fade_frames)  # fmt: skip
    publish(page, output)
    return 0


def _last(item: Edit, stage: str) -> str:
    """When the last of ``item``'s ``stage`` ended, in seconds from the edit's start."""
    ends = [lap["end"] for lap in item.timeline if lap["stage"] == stage]
    return f"{max(ends):.1f}" if ends else "-"


def timeline_table(item: WallSet) -> list[str]:
    """The timeline of the median 60 s edit (one_look off when there is one): each segment's
    conform, create, job seen done and result fetched, in seconds from the edit's start."""
    sixty = sorted(
        (e for e in item.edits if e.clip == "sixty.mp4" and e.join == "cut" and e.timeline),
        key=lambda e: (e.one_look, e.wall_s),
    )
    if not sixty:
        return []
    plain = [e for e in sixty if not e.one_look] or sixty
    shown = plain[(len(plain) - 1) // 2]
    segments: dict[str, dict[str, dict[str, Any]]] = {}
    for lap in shown.timeline:
        segments.setdefault(lap["segment"], {})[lap["stage"]] = lap
    lines = [
        f"Timeline of the 60 s edit of round {shown.round + 1} (one_look={shown.one_look}, "
        f"{shown.wall_s:.1f} s), seconds from the edit's start; segments start after "
        f"take_in and split ({shown.timings.get('take_in', 0) + shown.timings.get('split', 0):.1f}"
        " s); `create` ends when the service accepted it, `done` when the poll saw the job "
        "completed, `fetched` when the result was downloaded and decoded whole:",
        "",
        "| segment | conform | conform s | create sent | job done | fetched |",
        "|---|---|---|---:|---:|---:|",
    ]

    def at(laps: dict[str, dict[str, Any]], stage: str, key: str = "end") -> str:
        return f"{laps[stage][key]:.1f}" if stage in laps else "-"

    ordered = sorted(segments.items(), key=lambda kv: kv[1].get("submit", {}).get("end", 0.0))
    for name, laps in ordered:
        conform = laps.get("conform")
        span = f"{conform['start']:.1f} .. {conform['end']:.1f}" if conform else "-"
        lines.append(
            f"| {name.split(' (')[0] or 'the clip'} | {conform['note'] if conform else '-'} | "
            f"{span} | {at(laps, 'submit')} | {at(laps, 'poll')} | {at(laps, 'fetch')} |"
        )
    return [*lines, ""]


def _fmt_timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items())


def git_head() -> str:
    """The commit the code under test is at (the tree may move while the bench runs)."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    done = subprocess.run([git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False, cwd=Path(__file__).resolve().parent)  # fmt: skip
    return done.stdout.strip() or "unknown"


def render(
    commits: list[str],
    command: str,
    total_s: float,
    tools: FFmpegTools,
    sets: list[WallSet],
    local: LocalBench | None,
    memory: list[MemoryRun],
    seam_rows: list[tuple[Edit, list[Seam]]],
    fade_frames: int,
) -> str:
    seam_generating_s = sets[-1].generating_s if sets else math.nan
    lines = [
        "# Long videos: a 60 s clip edited as segments, against a 10 s edit",
        "",
        f"- command: `{command}` ({total_s / 60:.1f} min in all)",
        f"- machine: {os.cpu_count()} cores (nproc), {ram_gib():.1f} GiB RAM, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; ffmpeg "
        f"{tools.version} ({tools.source})",
        f"- code: commit {commits[0]}"
        + (f" at the start, {commits[1]} at the end" if commits[1] != commits[0] else "")
        + " (plus this bench)",
        f"- model: {SPEC.id} (segments of at most 10 s); prompt {PROMPT!r}",
        "- clips: 1280x720 30 fps H.264 + AAC from `synthetic_clip_command` (a corner mark and "
        "a beep every second); 60 s with scene cuts at "
        f"{', '.join(f'{s:g}' for s in SCENES)} s, and 10 s of one scene",
        "- each edit in a child process of its own, fresh `RESKIN_WORK_DIR`, "
        "`RESKIN_MAX_JOBS_IN_FLIGHT=0`, `RESKIN_CREATES_PER_MINUTE=0`, `RESKIN_UPLOAD=datauri`, "
        "`RESKIN_POLL_EXPECTED_S` = the stand-in's generating seconds; the stand-in in the "
        "bench's process (`ultrafast` renders, 2 at once); `load`: the machine's load average "
        "(1 min) as each edit started (2 cores: above 2, other work shares them)",
        "",
        "## 1. Wall time: 60 s whole against a 10 s edit",
        "",
    ]
    for item in sets:
        job = item.queued_s + item.generating_s
        lines += [
            f"### Stand-in jobs queued {item.queued_s:g} s, generating {item.generating_s:g} s "
            f"(one job: {job:g} s){_rendered(item.render_lead_s)}",
            "",
            "| round | clip | one_look | join | wall s | x the 10 s edit | jobs | billed s | "
            "wall - jobs' own time s | last create s | last fetched s | load | stages s |",
            "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for e in item.edits:
            ten = item.find("ten.mp4", e.one_look, round=e.round)
            rounds = 2 if (e.one_look and e.clip == "sixty.mp4") else 1
            ratio = e.wall_s / ten.wall_s
            lines.append(
                f"| {e.round + 1} | {e.clip.removesuffix('.mp4')} | {e.one_look} | {e.join} | "
                f"{e.wall_s:.1f} | {ratio:.2f} | {e.jobs} | {e.billed_s:g} | "
                f"{e.wall_s - rounds * job:+.1f} | {_last(e, 'submit')} | {_last(e, 'fetch')} | "
                f"{e.load:.1f} | {_fmt_timings(e.timings)} |"
            )
        lines.append("")
        lines += timeline_table(item)
        for one_look, goal in ((False, 1.3), (True, 2.3)):
            ratios = item.ratios(one_look)
            if not ratios:
                continue
            ratio = statistics.median(ratios)
            verdict = "met" if ratio <= goal else f"missed by {ratio - goal:.2f}x"
            spread = (
                f" (median of {len(ratios)} rounds: {', '.join(f'{r:.2f}' for r in ratios)}; "
                f"spread {min(ratios):.2f} .. {max(ratios):.2f})"
                if len(ratios) > 1
                else ""
            )
            lines.append(
                f"- one_look={one_look}: **{ratio:.2f}x**{spread} (goal <= {goal}x): {verdict}"
            )
        lines.append("")

    if local is not None:
        lines += [
            "## 2. Local steps against the bare ffmpeg commands (60 s clip)",
            "",
            f"- {local.segments} segments (conforms: {', '.join(local.actions)}); "
            f"{len(local.runs)} runs after a warm-up, alternating which side goes first; ffmpeg "
            f"runs per side: {local.ffmpeg_runs}",
            "- reskin: `detect_cuts`; `keyframe_times` + `plan_segments`; per segment "
            "`plan_conform_file` + `conform`; `stitch_pieces` (each unit encoded on its own, two "
            "at once, joined by stream copy); `finish` (mux + full-decode verify). bare: "
            "the argv of `scene_command`, `conform_copy_command`/`conform_encode_command`, "
            "`stitch_command` per unit (two at once) and `concat_command`, `mux_sound_command` and "
            "`decode_check_command`, run with subprocess",
            "",
            "| step | reskin s | bare s | reskin - bare s | ratio (median of runs) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in (*STEPS, "total"):
            if name == "total":
                mine = [sum(r.reskin.values()) for r in local.runs]
                theirs = [sum(r.bare.values()) for r in local.runs]
            else:
                mine = [r.reskin[name] for r in local.runs]
                theirs = [r.bare[name] for r in local.runs]
            ratios = [a / b for a, b in zip(mine, theirs, strict=True) if b > 0]
            shown = f"{statistics.median(ratios):.3f}" if ratios else "-"
            label = f"**{name}**" if name == "total" else name
            lines.append(
                f"| {label} | {statistics.median(mine):.3f} | {statistics.median(theirs):.3f} | "
                f"{statistics.median(mine) - statistics.median(theirs):+.3f} | {shown} |"
            )
        total = statistics.median(sum(r.reskin.values()) / sum(r.bare.values()) for r in local.runs)
        lines += [
            "",
            f"- total **{total:.3f}x** (runs: "
            + ", ".join(f"{sum(r.reskin.values()) / sum(r.bare.values()):.3f}" for r in local.runs)
            + f") (goal <= 1.2x): {'met' if total <= 1.2 else 'missed'}",
            "",
        ]
    if memory:
        lines += [
            "## 3. Peak memory of the edit's process",
            "",
            "- one_look off, stand-in jobs queued 0 s and generating 1 s, `RESKIN_CONFORM_PRESET="
            "ultrafast`: this is about memory, not time",
            "",
            "| clip | made in s | `RESKIN_MAX_JOBS_IN_FLIGHT` | segments | jobs | billed s "
            "| wall s | peak RSS (VmHWM) of the edit's process MiB | stages s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    for m in memory:
        e = m.edit
        arenas = "" if m.arena_max is None else f", `MALLOC_ARENA_MAX={m.arena_max}`"
        lines.append(
            f"| {m.name}, {m.clip_s:g} s{arenas} | {m.make_s:.0f} | {m.in_flight} | "
            f"{len(e.result['segments'])} | {e.jobs} | {e.billed_s:g} | {e.wall_s:.1f} | "
            f"**{e.maxrss_kib / 1024:.0f}** | "
            f"{_fmt_timings(e.timings) or 'FAILED: ' + e.result.get('error', '')} |"
        )
    if memory:
        lines.append("")
    for limit, arena_max in sorted({(m.in_flight, m.arena_max or 0) for m in memory}):
        runs = {m.name: m for m in memory if (m.in_flight, m.arena_max or 0) == (limit, arena_max)
                and m.edit.result["segments"]}  # fmt: skip
        if "sixty" not in runs:
            continue
        arenas = f", `MALLOC_ARENA_MAX={arena_max}`" if arena_max else ""
        for name in ("long", "long-scenes"):
            if name in runs:
                grow = runs[name].edit.maxrss_kib / runs["sixty"].edit.maxrss_kib
                lines.append(f"- peak of `{name}` ({runs[name].clip_s:g} s) / of the 60 s clip "
                             f"(`RESKIN_MAX_JOBS_IN_FLIGHT={limit}`{arenas}): "
                             f"**{grow:.2f}x**")  # fmt: skip
    if not seam_rows:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "## 4. Seams inside a shot: hard cut against cross-fade",
        "",
        f"- the 60 s edits of the stand-in generating {seam_generating_s:g} s; frames decoded "
        f"at {SEAM_WIDTH} px wide, gray, "
        "the corner mark masked out; `at the join`: the mean absolute difference of the last "
        "frame before the join and the first after it (for a cross-fade, the fade's end); "
        f"`window max`: the largest such difference over the {fade_frames + 1} frame pairs a "
        f"cross-fade of {fade_frames} frames spans (the same window for a hard cut); each over "
        f"the median difference of the {CONTEXT_FRAMES} frame pairs on each side of the window. "
        "1: no more change than between any two frames of the shot",
        "",
        "| join | one_look | billed s | joins in shots at s | at the join | mean | window max "
        "| mean |",
        "|---|---|---:|---|---|---:|---|---:|",
    ]
    for e, found in seam_rows:
        at = ", ".join(f"{s.at_s:.2f}" for s in found)
        joins = ", ".join(f"{s.at_join:.2f}" for s in found)
        maxes = ", ".join(f"{s.window_max:.2f}" for s in found)
        mean_join = statistics.mean(s.at_join for s in found) if found else math.nan
        mean_max = statistics.mean(s.window_max for s in found) if found else math.nan
        lines.append(
            f"| {e.join} | {e.one_look} | {e.billed_s:g} | {at} | {joins} | {mean_join:.2f} | "
            f"{maxes} | {mean_max:.2f} |"
        )
    by = {(e.join, e.one_look): e for e, _ in seam_rows}
    extra = [
        by[("crossfade", look)].billed_s - by[("cut", look)].billed_s
        for look in (False, True)
        if ("crossfade", look) in by and ("cut", look) in by
    ]
    if extra:
        shown = ", ".join(f"{x:+g}" for x in extra)
        lines += ["", f"- cross-fade bills **{extra[0]:+g} s** more than the hard cut "
                      f"(one_look off, on: {shown})"]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
