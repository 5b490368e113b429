"""Counters of what the stand-in was asked, so tests can see retries and duplicates."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from typing import Literal

Counter = Literal[
    "create_calls",
    "fetch_calls",
    "jobs_accepted",
    "jobs_refused",
    "result_downloads",
    "uploads",
    "renders_done",
    "renders_failed",
]


@dataclass(frozen=True)
class Stats:
    """A snapshot of the counters since start (or the last reset)."""

    #: Every POST /v2/video/generations, answered or not (401s, faults and refusals included).
    create_calls: int = 0
    #: Every GET /v2/video/generations.
    fetch_calls: int = 0
    #: Creates that made a job (a lost answer still made one).
    jobs_accepted: int = 0
    #: Creates refused with 400 for the request or its video.
    jobs_refused: int = 0
    result_downloads: int = 0
    uploads: int = 0
    renders_done: int = 0
    renders_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Counters:
    """Thread-safe counters behind :class:`Stats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = Stats()

    def bump(self, name: Counter) -> None:
        with self._lock:
            self._stats = replace(self._stats, **{name: getattr(self._stats, name) + 1})

    def snapshot(self) -> Stats:
        with self._lock:
            return self._stats

    def reset(self) -> None:
        with self._lock:
            self._stats = Stats()
