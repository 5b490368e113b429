"""The credit budget of a batch: what it spent, what its clips in flight will likely cost, and
when to stop sending new ones.

The rule, exactly (``docs/batch.md`` says the same):

- **spent**: the credits of the clips this batch finished and paid for (a clip skipped as
  already done, or whose earlier generation was resumed, costs nothing new);
- **rate**: credits per billed second, learned from every clip that finished with its credits
  reported (resumed ones included: they show the price too); unknown until the first one;
- **in flight**: each running clip's billed seconds (its window, or its probed length, clamped
  to what the model bills: :meth:`reskin.registry.spec.Billing.billed_seconds`; the model's
  most when the length is unknown, as for a URL or an ``s3://`` object, whose length would
  take a download or ranged reads to tell) times the rate; nothing while the rate is unknown;
- **committed** = spent + in flight. A clip is sent only while committed < budget. When it is
  reached, no new clip is sent: the batch waits for the clips in flight, and if the budget is
  still reached once none is left (estimates replaced by what was really billed), every clip
  not sent is marked "over budget".
- While the rate is unknown, clips go one at a time: the first finished clip tells the price
  before several are paid at once.

So a batch can end above its budget by at most what its last clips in flight cost beyond their
estimates, plus the last clip sent below the budget; a clip whose credits the service does not
report counts as free.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reskin.edit.request import EditRequest
from reskin.edit.segments import billed_estimate_s
from reskin.edit.source import is_remote
from reskin.errors import ReskinError
from reskin.media.probe import probe
from reskin.registry import spec_for

log = logging.getLogger(__name__)


@dataclass
class Budget:
    """Credits a batch may spend, and what it has spent and committed so far."""

    limit: float
    #: Billed seconds each clip (by index) is expected to cost; None when not known.
    estimates: Mapping[int, float | None] = field(default_factory=dict)
    #: What a clip of unknown length is assumed to bill: the model's most.
    max_billed_s: float = field(kw_only=True)
    spent: float = 0.0
    _credits_seen: float = 0.0
    _billed_seen: float = 0.0
    _in_flight: dict[int, float] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        """Credits per billed second seen so far; None before any clip reported its credits."""
        if self._billed_seen <= 0:
            return None
        return self._credits_seen / self._billed_seen

    @property
    def in_flight(self) -> float:
        """What the clips in flight are expected to cost (0 while the rate is unknown)."""
        rate = self.rate
        if rate is None:
            return 0.0
        return sum(self._in_flight.values()) * rate

    @property
    def committed(self) -> float:
        return self.spent + self.in_flight

    def reached(self) -> bool:
        return self.committed >= self.limit

    def parallel(self, max_parallel: int) -> int:
        """How many clips may be in flight now: one until the price is known."""
        return max_parallel if self.rate is not None else 1

    def started(self, index: int) -> None:
        estimate = self.estimates.get(index)
        self._in_flight[index] = self.max_billed_s if estimate is None else estimate

    def finished(
        self, index: int, *, credits: float | None, billed_s: float | None, paid: bool
    ) -> None:
        """Clip ``index`` ended: ``credits`` as reported, for ``billed_s`` billed seconds."""
        self._in_flight.pop(index, None)
        if credits is None:
            return
        if paid:
            self.spent += credits
        if billed_s is not None and billed_s > 0:
            self._credits_seen += credits
            self._billed_seen += billed_s


def billed_estimate(request: EditRequest, model: str) -> float | None:
    """The seconds ``request`` will be billed for: its window, or the local input's length
    (probed with PyAV, a few milliseconds), as the model bills it (a long video as its
    segments: :func:`reskin.edit.segments.billed_estimate_s`); None when unknown (a URL or an
    ``s3://`` object, an unreadable file, a model without known limits)."""
    try:
        spec = spec_for(model)
    except ReskinError:
        return None
    start = request.start_s or 0.0
    if request.end_s is not None:
        return billed_estimate_s(spec, request.end_s - start)
    if is_remote(request.input):
        return None
    try:
        info = probe(Path(request.input).expanduser())
    except ReskinError as exc:
        log.debug("no length for %s (%s): the most a clip bills is assumed", request.input, exc)
        return None
    return billed_estimate_s(spec, max(info.duration_s - start, 0.0), info.fps)
