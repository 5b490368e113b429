"""Fidelity calibration: the scores of the stand-in's normal and faulty results over the media
corpus, and the seams of a long video joined by a hard cut against a cross-fade.

``.venv/bin/python -m bench.fidelity [--output PATH]``

1. **Corpus.** Every clip of the media corpus that reskin conforms (``tests/media/corpus.py``:
   rotated, variable frame rate, 5.1, HEVC 10-bit, VP9, odd sizes, 4K, 360p, 60 fps, 1 s, and
   25 s, which goes as segments) is edited through :func:`reskin.edit.pipeline.edit` on the
   stand-in with the gate off (``min_fidelity=0``): once normally, once under each fault that
   changes the motion or the layout (``reversed_result``, ``other_scene_result``,
   ``shifted_result``). The table lists every result's ``motion`` and ``structure``, and the
   smallest gap between the normal and the faulty distributions of ``min(motion, structure)``:
   the default gate (``RESKIN_MIN_FIDELITY``) must lie inside it.
2. **Seams.** A 40 s clip of one continuous shot (so every join is inside a shot), edited with
   every segment at once and the stand-in's ``look_drift`` on (each job's look drifts, as a real
   model's does between jobs without a style reference), with ``RESKIN_SEGMENT_JOIN=cut`` and
   ``crossfade``: each join's seam score.

Each edit runs in this process with a work folder of its own, so nothing is reused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.report import command_of, publish
from reskin.edit.pipeline import edit
from reskin.edit.request import EditRequest, EditResult
from reskin.edit.services import open_services
from reskin.fidelity.scores import MOTION_FLOOR_PX
from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.media.commands import synthetic_clip_command
from reskin.media.runner import run
from reskin.settings import Settings, load_settings
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from tests.conftest import rotate_clip, standin_settings
from tests.media.corpus import SPECS, build_corpus, listening

FAULTS = ("reversed_result", "other_scene_result", "shifted_result")
LONG_S = 40.0


def make_clip_in(folder: Path, tools: FFmpegTools) -> Any:
    """The corpus's ``make_clip``: a synthetic clip per parameter set, in ``folder``."""
    made: dict[str, Path] = {}

    def make(*, rotation: int = 0, **params: Any) -> Path:
        key = repr((rotation, sorted(params.items())))
        if key not in made:
            container = params.get("container", "mp4")
            path = folder / f"clip-{len(made)}.{container}"
            run(synthetic_clip_command(tools.ffmpeg, path, **params), timeout_s=300)
            if rotation:
                rotated = folder / f"clip-{len(made)}-rotated.{container}"
                rotate_clip(tools, path, rotated, rotation)
                path = rotated
            made[key] = path
        return made[key]

    return make


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def settings_for(standin: StandIn, work: Path, **extra: str) -> dict[str, str]:
    """The suite's settings for the stand-in (shared limits off), clips sent inline."""
    return {**standin_settings(standin, work), "RESKIN_UPLOAD": "datauri", **extra}


async def one_edit(clip: Path, folder: Path, env: dict[str, str], **request: Any) -> EditResult:
    with environment(env):
        settings = load_settings()
        async with open_services(settings) as services:
            return await edit(
                EditRequest(
                    input=str(clip),
                    prompt="sepia film",
                    output=str(folder / "out.mp4"),
                    min_fidelity=0.0,
                    **request,
                ),
                services,
            )


def corpus_rows(standin: StandIn, tools: FFmpegTools, root: Path) -> list[dict[str, Any]]:
    clips = root / "clips"
    clips.mkdir()
    with listening() as listener:
        corpus = build_corpus(tools, make_clip_in(clips, tools), clips, listener)
    rows: list[dict[str, Any]] = []
    for spec in SPECS:
        if spec.outcome != "conform":
            continue
        clip = corpus.path(spec.name)
        for fault in (None, *FAULTS):
            standin.reset()
            if fault is not None:
                standin.set_faults(**{fault: 1000})  # every segment of a long clip too
            folder = Path(tempfile.mkdtemp(dir=root))
            began = time.monotonic()
            result = asyncio.run(one_edit(clip, folder, settings_for(standin, folder / "work")))
            assert result.fidelity is not None
            rows.append(
                {
                    "clip": spec.name,
                    "result": fault or "normal",
                    "motion": result.fidelity.motion,
                    "structure": result.fidelity.structure,
                    "lowest": min(result.fidelity.motion, result.fidelity.structure),
                    "source_motion_px": result.fidelity.source_motion_px,
                    "segments": len(result.segments) or 1,
                    "fidelity_s": result.timings_s.get("fidelity", 0.0),
                    "seconds": round(time.monotonic() - began, 1),
                }
            )
            print(
                f"  {spec.name:16} {fault or 'normal':20} motion {rows[-1]['motion']:.3f} "
                f"structure {rows[-1]['structure']:.3f}",
                flush=True,
            )
    standin.reset()
    return rows


def seam_rows(standin: StandIn, tools: FFmpegTools, root: Path) -> list[dict[str, Any]]:
    clip = root / "shot.mp4"
    # One shot, moving all along: every join is inside it.
    run(
        synthetic_clip_command(
            tools.ffmpeg, clip, duration_s=LONG_S, width=1280, height=720, fps=30, keyint=15
        ),
        timeout_s=600,
    )
    rows: list[dict[str, Any]] = []
    for join in ("cut", "crossfade"):
        standin.reset()
        standin.set_faults(look_drift=1.0)
        folder = Path(tempfile.mkdtemp(dir=root))
        env = settings_for(standin, folder / "work", RESKIN_SEGMENT_JOIN=join)
        result = asyncio.run(one_edit(clip, folder, env, one_look=False))
        assert result.fidelity is not None
        for seam in result.fidelity.seams:
            rows.append({"join": join, "after": seam.after, "at_s": seam.at_s, "score": seam.score})
        print(f"  {join}: seams {[s.score for s in result.fidelity.seams]}", flush=True)
    standin.reset()
    return rows


def page(
    corpus: list[dict[str, Any]],
    seams: list[dict[str, Any]],
    tools: FFmpegTools,
    arguments: list[str] | None,
) -> str:
    normal = [row["lowest"] for row in corpus if row["result"] == "normal"]
    # A still picture reversed is the same picture: no fault to catch.
    unchanged = [row for row in corpus if _unchanged(row)]
    faulty = [row["lowest"] for row in corpus if row["result"] != "normal" and not _unchanged(row)]
    default = Settings(_env_file=None).min_fidelity
    caught = sum(value < default for value in faulty)
    passed = sum(value >= default for value in normal)
    lines = [
        "# Fidelity calibration",
        "",
        f"`{command_of('bench.fidelity', arguments)}` on {platform.node()}, "
        f"{os.cpu_count()} cores, ffmpeg {tools.version}.",
        "",
        "## The corpus: normal results against faulty ones",
        "",
        f"- normal results: lowest score (min of motion, structure) from **{min(normal):.3f}** "
        f"to {max(normal):.3f} (median {statistics.median(normal):.3f}), {len(normal)} results",
        f"- faulty results: from {min(faulty):.3f} to **{max(faulty):.3f}** (median "
        f"{statistics.median(faulty):.3f}), {len(faulty)} results",
        f"- the gap: **{max(faulty):.3f} .. {min(normal):.3f}**; the default minimum "
        f"{default:.2f} catches {caught} of {len(faulty)} faulty results and passes "
        f"{passed} of {len(normal)} normal ones",
        *(
            f"- left out: {row['clip']} {row['result']} (the source is still, "
            f"{row['source_motion_px']:.2f} px of motion a sample: reversed, it is the same "
            f"video; scores {row['motion']:.3f}, {row['structure']:.3f})"
            for row in unchanged
        ),
        "",
        "| kind | motion min | motion median | motion max | structure min | structure median "
        "| structure max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("normal", *FAULTS):
        motion = [row["motion"] for row in corpus if row["result"] == kind]
        structure = [row["structure"] for row in corpus if row["result"] == kind]
        lines.append(
            f"| {kind} | {min(motion):.3f} | {statistics.median(motion):.3f} | "
            f"{max(motion):.3f} | {min(structure):.3f} | {statistics.median(structure):.3f} | "
            f"{max(structure):.3f} |"
        )
    lines += [
        "",
        "Every result:",
        "",
        "| clip | result | motion | structure | source motion px | segments | fidelity stage s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row['clip']} | {row['result']} | {row['motion']:.3f} | {row['structure']:.3f} | "
        f"{row['source_motion_px']:.2f} | {row['segments']} | {row['fidelity_s']:.2f} |"
        for row in corpus
    ]
    lines += [
        "",
        f"## Seams: a {LONG_S:g} s shot, every segment at once, the look drifting between jobs",
        "",
        "| join | seams | mean | lowest |",
        "|---|---|---:|---:|",
    ]
    for join in ("cut", "crossfade"):
        scores = [row["score"] for row in seams if row["join"] == join]
        lines.append(
            f"| {join} | {', '.join(f'{s:.2f}' for s in scores)} | "
            f"{statistics.mean(scores):.3f} | {min(scores):.3f} |"
        )
    return "\n".join(lines) + "\n"


def _unchanged(row: dict[str, Any]) -> bool:
    return bool(row["result"] == "reversed_result" and row["source_motion_px"] < MOTION_FLOOR_PX)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity", description=__doc__)
    parser.add_argument("--output", type=Path, default=None, help="where the page goes")
    args = parser.parse_args(argv)
    tools = find_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="bench-fidelity-") as folder:
        root = Path(folder)
        config = StandInConfig(
            queued_s=0.2,
            generating_s=0.5,
            render_preset="ultrafast",
            work_dir=root / "standin",
        )
        with StandIn(config) as standin:
            print("corpus", flush=True)
            corpus = corpus_rows(standin, tools, root)
            print("seams", flush=True)
            seams = seam_rows(standin, tools, root)
    output = args.output or Path(__file__).parent / "results" / "fidelity.md"
    publish(page(corpus, seams, tools, argv), output)


if __name__ == "__main__":
    main()
