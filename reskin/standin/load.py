"""Load mode: thousands of jobs in flight for benchmarks, with no download and no encoding.

With ``StandInConfig.load_mode`` on, a create still checks the key, the faults, the body and the
model, but does not bring in ``video_url`` (a URL is never fetched, a data URI never decoded) and
renders nothing: every job is recorded at once and, after its queued and generating times, serves
one result prepared at start (:func:`prepare_result`: a 3 s 1280x720 24 fps H.264 clip, made once
with ffmpeg). The answers keep their documented shapes, each in its model's (``video`` as a list
for Aleph); credits are the model's for the prepared clip. The clip is the same for every model:
a benchmark measures the wire and the waits, not a model's frame rate or size.

:func:`spread_fraction` spreads jobs' generating times by their id (``generating_spread_s``), so
that whoever holds an id (a benchmark) can compute when its job completes.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from reskin.media.binaries import FFmpegTools
from reskin.media.commands import synthetic_clip_command
from reskin.media.runner import run

#: The prepared result: a short clip in the output box, as a render would make it.
PREPARED_S = 3.0
PREPARED_FPS = 24


@dataclass(frozen=True)
class PreparedResult:
    """The one result every load-mode job serves, and a finished "render" to attach to jobs."""

    path: Path
    duration_s: float
    done: Future[None]


def prepare_result(tools: FFmpegTools, folder: Path, *, width: int, height: int) -> PreparedResult:
    """Render the shared result once into ``folder`` (about a second of ffmpeg)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prepared-result.mp4"
    argv = synthetic_clip_command(
        tools.ffmpeg,
        path,
        duration_s=PREPARED_S,
        width=width,
        height=height,
        fps=PREPARED_FPS,
        audio=False,
    )
    run(argv, timeout_s=120)
    done: Future[None] = Future()
    done.set_result(None)
    return PreparedResult(path=path, duration_s=PREPARED_S, done=done)


def spread_fraction(job_id: str) -> float:
    """A number in [0, 1) fixed by ``job_id``: the share of ``generating_spread_s`` it gets."""
    digest = hashlib.sha256(job_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
