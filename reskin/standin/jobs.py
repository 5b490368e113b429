"""Jobs of the stand-in and the states they report.

A job's state is computed when asked, from the clock and its render: ``queued`` for its queued
time, then ``generating`` for at least its generating time *and* until its render has finished,
then ``completed`` (or ``error``). No timer thread moves jobs along, so a thousand idle jobs cost
nothing. The render is submitted at acceptance (or ``render_lead_s`` before the generating time
ends); the worker pool bounds how many run at once.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reskin.media.commands import FilterStep
from reskin.registry.spec import VideoShape
from reskin.standin.looks import Look
from reskin.standin.render import Distortion

INJECTED_ERROR = (
    "generation_failed",
    "The partner model failed to generate this video (stand-in fault job_error).",
)


@dataclass(frozen=True)
class Snapshot:
    """A job's state at one moment."""

    status: str
    error: tuple[str, str] | None = None

    @property
    def completed(self) -> bool:
        return self.status == "completed"


@dataclass
class Job:
    """One accepted generation."""

    id: str
    token: str
    folder: Path
    result: Path
    accepted_at: float
    queued_s: float
    generating_s: float
    look: Look
    keep_audio: bool
    duration_s: float
    credits: int
    injected_error: bool = False
    #: Reference images the body carried (Kling's ``image_list``, Aleph's ``references``).
    references: int = 0
    #: Set by the unknown_status fault: the word reported, forever.
    status_word: str | None = None
    #: Set by the reversed_result, other_scene_result and shifted_result faults: how the render
    #: makes the result wrong (load mode serves its prepared result as it is).
    distortion: Distortion | None = None
    #: Set by the look_drift fault for a job without reference images: the filters added after
    #: its look (``looks.drift_filters``); empty for no drift.
    drift: tuple[FilterStep, ...] = ()
    #: How a completed answer carries the result URL: the model's ``Output.video_shape``.
    video_shape: VideoShape = "object"
    render: Future[None] | None = field(default=None, repr=False)

    def snapshot(self, now: float) -> Snapshot:
        if self.status_word is not None:
            return Snapshot(self.status_word)
        elapsed = now - self.accepted_at
        if elapsed < self.queued_s:
            return Snapshot("queued")
        if elapsed < self.queued_s + self.generating_s:
            return Snapshot("generating")
        if self.injected_error:
            return Snapshot("error", INJECTED_ERROR)
        if self.render is None or not self.render.done():
            return Snapshot("generating")
        if self.render.cancelled():
            return Snapshot("error", ("render_failed", "The stand-in stopped before rendering."))
        failure = self.render.exception()
        if failure is not None:
            return Snapshot("error", ("render_failed", f"The stand-in could not render: {failure}"))
        return Snapshot("completed")

    @property
    def completes_at(self) -> float:
        """The earliest moment (``time.monotonic``) the job can report ``completed``."""
        return self.accepted_at + self.queued_s + self.generating_s

    @property
    def result_ready(self) -> bool:
        render = self.render
        return (
            render is not None
            and render.done()
            and not render.cancelled()
            and render.exception() is None
        )


def generation_body(job: Job, snapshot: Snapshot, result_url: str) -> dict[str, Any]:
    """The documented answer of both create and fetch; ``video`` in the model's shape:
    ``{"url": ...}``, or a list of URLs (Aleph)."""
    video: object = None
    if snapshot.completed:
        video = [result_url] if job.video_shape == "list" else {"url": result_url}
    return {
        "id": job.id,
        "status": snapshot.status,
        "video": video,
        "error": (
            {"name": snapshot.error[0], "message": snapshot.error[1]} if snapshot.error else None
        ),
        "meta": {"usage": {"credits_used": job.credits}} if snapshot.completed else None,
    }


class JobStore:
    """Jobs by id and by result token, shared by the event loop and the worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Job] = {}
        self._by_token: dict[str, Job] = {}

    def add(self, job: Job) -> None:
        with self._lock:
            self._by_id[job.id] = job
            self._by_token[job.token] = job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._by_id.get(job_id)

    def by_token(self, token: str) -> Job | None:
        with self._lock:
            return self._by_token.get(token)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._by_id.values())

    def forget(self) -> int:
        """Drop every job, as a restarted or purged service does; how many were dropped."""
        with self._lock:
            dropped = len(self._by_id)
            self._by_id.clear()
            self._by_token.clear()
            return dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)
