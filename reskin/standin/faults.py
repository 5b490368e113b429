"""Fault switches of the stand-in: the failures of the real service, on demand.

Counts mean "the next N calls" (or the next N jobs, downloads): each use spends one. The other
fields are plain switches or the knobs of a fault. The board is shared by the HTTP handlers (an
event loop and worker threads), so every read-modify-write happens under one lock.

======================== =======================================================================
``create_429``           next N creates answer 429 with ``Retry-After: <retry_after_s>``
``create_5xx``           next N creates answer ``status_5xx`` (500, 502 or 503), nothing created
``fetch_5xx``            next N status fetches answer ``status_5xx``
``job_error``            next N accepted jobs end in ``error`` (name ``generation_failed``)
``expired_result``       next N result downloads answer 404, as an expired CDN link does
``cut_download``         next N result downloads declare the full length but stop halfway
``lost_answer``          next N creates are accepted and counted, then answered only after
                         ``lost_answer_delay_s`` (past the client's read timeout)
``unknown_status``       next N accepted jobs report ``unknown_status_word`` and never finish
``reversed_result``      next N accepted jobs render their frames in reverse order
``other_scene_result``   next N accepted jobs render another, moving scene, not the source's
``shifted_result``       next N accepted jobs render the picture shifted and zoomed by a third
``slow_jobs``            factor on queued and generating times of jobs accepted while set
``look_drift``           strength (0..1) of a per-job change of the look of jobs accepted while
                         set without a reference image, as separate jobs of a real model drift
``out_of_credits``       switch: every create answers 403, as an account with no credits left
``detail_errors``        switch: 400 validation errors use ``{"detail": [...]}`` instead
======================== =======================================================================

``reversed_result``, ``other_scene_result`` and ``shifted_result`` make the wrong results a
fidelity check must catch: the look applied, the length and size right, the motion or the layout
wrong (see ``render.py``). A job takes at most one of them, the first set in the table's order.

``look_drift`` makes segments of one long video, each a job of its own, come back in slightly
different looks (see ``looks.drift_filters``); a job that carries a reference image follows it
and does not drift. 0 (the default) renders exactly as without it.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CountedFault = Literal[
    "create_429",
    "create_5xx",
    "fetch_5xx",
    "job_error",
    "expired_result",
    "cut_download",
    "lost_answer",
    "unknown_status",
    "reversed_result",
    "other_scene_result",
    "shifted_result",
]


class Faults(BaseModel):
    """Which failures the stand-in plays, and their knobs."""

    model_config = ConfigDict(extra="forbid")

    create_429: int = Field(default=0, ge=0, description="Next N creates answer 429.")
    create_5xx: int = Field(default=0, ge=0, description="Next N creates answer status_5xx.")
    fetch_5xx: int = Field(default=0, ge=0, description="Next N status fetches answer status_5xx.")
    job_error: int = Field(default=0, ge=0, description="Next N jobs end in the error state.")
    expired_result: int = Field(default=0, ge=0, description="Next N result downloads get 404.")
    cut_download: int = Field(default=0, ge=0, description="Next N result downloads stop halfway.")
    lost_answer: int = Field(
        default=0, ge=0, description="Next N creates are accepted but answered too late."
    )
    unknown_status: int = Field(
        default=0, ge=0, description="Next N jobs report an undocumented status forever."
    )
    reversed_result: int = Field(
        default=0, ge=0, description="Next N jobs render their frames in reverse order."
    )
    other_scene_result: int = Field(
        default=0, ge=0, description="Next N jobs render another scene than the source's."
    )
    shifted_result: int = Field(
        default=0, ge=0, description="Next N jobs render the picture shifted and zoomed."
    )
    slow_jobs: float = Field(
        default=1.0, ge=0.01, le=1000, description="Factor on the queued and generating times."
    )
    look_drift: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Strength of a per-job drift of the look of jobs without a reference image "
        "(0: off).",
    )
    out_of_credits: bool = Field(default=False, description="Every create answers 403.")
    detail_errors: bool = Field(
        default=False, description='Validation errors come back as {"detail": [...]}.'
    )
    retry_after_s: int = Field(
        default=1, ge=0, le=3600, description="Retry-After seconds sent with create_429."
    )
    status_5xx: Literal[500, 502, 503] = Field(
        default=503, description="Status of create_5xx and fetch_5xx."
    )
    lost_answer_delay_s: float = Field(
        default=90.0, ge=0, le=3600, description="How late a lost answer is sent."
    )
    unknown_status_word: str = Field(
        default="waiting",
        pattern=r"^[a-z_]{1,20}$",
        description="Status word of unknown_status jobs.",
    )


class FaultBoard:
    """The live faults, changed by the control endpoint and spent by the handlers."""

    def __init__(self, initial: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = initial.model_copy() if initial else Faults()

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults.model_copy()

    def take(self, name: CountedFault) -> bool:
        """Spend one count of ``name``; True when the fault fires for this call."""
        with self._lock:
            left: int = getattr(self._faults, name)
            if left <= 0:
                return False
            self._faults = self._faults.model_copy(update={name: left - 1})
            return True

    def update(self, changes: dict[str, Any]) -> Faults:
        """Apply a partial update, validated as a whole (raises pydantic's ValidationError)."""
        with self._lock:
            self._faults = Faults.model_validate({**self._faults.model_dump(), **changes})
            return self._faults.model_copy()

    def reset(self) -> Faults:
        """Every fault off."""
        with self._lock:
            self._faults = Faults()
            return self._faults.model_copy()
