"""Where the scenes of a video change: the points a long video is best split at.

A long video is edited in segments the model can take, and a seam hides best where the picture
changes anyway. The cuts are found with ffmpeg's own scene score (the ``select`` filter's
``scene``: how much a frame differs from the one before, 0..1) rather than with PySceneDetect:
ffmpeg decodes in C on every core in constant memory, and reskin already depends on it, so there
is nothing more to install. The picture is scaled to :data:`ANALYSIS_WIDTH` pixels wide first:
a cut shows as plainly in 160 px as in 4K, and the scoring then costs almost nothing.

Timing is exact to the microsecond, and relative to the window asked for:

- the window is seeked before the input (fast: decoding starts at the keyframe before
  ``start_s``) and ffmpeg drops the frames before ``start_s``, so timestamps start at 0 on the
  window's first frame (and count from the container's start, as every ``-ss`` in reskin does);
- the selected frames are retimed to a 1/1000000 time base (``settb``) before they are printed,
  and their integer ``pts`` is read, not ``pts_time``: ffmpeg 5.1 prints ``pts_time`` with six
  significant digits only (11.5667 for 347/30 s; 10 ms steps past 1000 s), 9.0 to the
  microsecond.

A cut is reported at the first frame of the new scene. The window's first frame is never one (it
has nothing before it to differ from).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from reskin.media.binaries import FFmpegTools
from reskin.media.commands import _compile, _file_input, _window_options
from reskin.media.runner import run

log = logging.getLogger(__name__)

#: A frame that differs from the one before by more than this (0..1) starts a new scene. Measured
#: on 320x240 lavfi clips scored at 160 px: a cut between any two of testsrc2, testsrc,
#: smptebars, mandelbrot, gradients and life scores 0.37 to 1.0; within one scene the highest
#: score was 0.08 (a fast pan of testsrc2; the patterns themselves stay under 0.07). 0.3, the
#: usual value for ffmpeg's score, sits in that gap with room on the quiet side, where real
#: footage (flashes, fast pans) is noisier than test patterns.
DEFAULT_THRESHOLD = 0.3
#: The width the picture is scored at, in pixels (the height follows, kept even).
ANALYSIS_WIDTH = 160

#: The time base the printed timestamps are in: microseconds.
_MICROSECONDS = 1_000_000
_PTS = re.compile(r"^frame:\s*\d+\s+pts:\s*(-?\d+)\b")
_SCORE = re.compile(r"^lavfi\.scene_score=([0-9.eE+-]+)\s*$")


@dataclass(frozen=True)
class SceneCut:
    """The first frame of a new scene: when it shows, from the window's start, and its score."""

    at_s: float
    score: float


def scene_command(
    exe: Path,
    source: Path,
    *,
    threshold: float,
    start_s: float = 0.0,
    duration_s: float | None = None,
    analysis_width: int = ANALYSIS_WIDTH,
) -> list[str]:
    """The argv that prints, on stdout, the timestamp (microseconds from the window's start) and
    scene score of every frame of the first video stream of ``source``, from ``start_s`` for
    ``duration_s``, that differs from the one before by more than ``threshold``."""
    if not 0 < threshold < 1:
        raise ValueError(f"a scene threshold is between 0 and 1, got {threshold!r}")
    if isinstance(analysis_width, bool) or analysis_width < 2 or analysis_width % 2:
        raise ValueError(f"the analysis width must be a positive even number, got {analysis_width}")
    src = _file_input(source, **_window_options(start_s, duration_s))
    video = (
        src["v:0"]
        .filter("scale", int(analysis_width), -2)
        .filter("select", f"gt(scene,{float(threshold):.6f})")
        .filter("settb", f"1/{_MICROSECONDS}")
        .filter("metadata", mode="print", key="lavfi.scene_score", file="-")
    )
    return _compile(ffmpeg.output(video, "-", f="null", an=None), exe)


def parse_cuts(text: str) -> list[SceneCut]:
    """The cuts :func:`scene_command` printed, in time order, one per frame (the highest score
    when a frame is printed twice). Lines that are not its output are ignored."""
    best: dict[int, float] = {}
    pts: int | None = None
    for line in text.splitlines():
        line = line.strip()
        if found := _PTS.match(line):
            pts = int(found[1])
        elif (found := _SCORE.match(line)) and pts is not None:
            best[pts] = max(best.get(pts, 0.0), float(found[1]))
            pts = None
    return [SceneCut(at_s=at / _MICROSECONDS, score=best[at]) for at in sorted(best) if at >= 0]


def detect_cuts(
    source: Path,
    tools: FFmpegTools,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    start_s: float = 0.0,
    duration_s: float | None = None,
    timeout_s: float,
) -> list[SceneCut]:
    """The scene cuts of ``source`` from ``start_s`` for ``duration_s`` (None: to its end),
    times from ``start_s``; raises :class:`~reskin.errors.FFmpegError` when ffmpeg fails."""
    argv = scene_command(
        tools.ffmpeg, source, threshold=threshold, start_s=start_s, duration_s=duration_s
    )
    done = run(argv, timeout_s=timeout_s)
    cuts = parse_cuts(done.stdout_text)
    log.debug("%d scene cuts in %s, found in %.2f s", len(cuts), Path(source).name, done.elapsed_s)
    return cuts
