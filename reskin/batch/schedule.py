"""Run the clips of a batch: at most ``max_parallel`` at once, in order, within the budget.

The scheduler knows nothing of Prefect: it is handed ``run_clip``, which runs one clip however
the flow dispatches it (a subflow, a deployment run) and says how it ended. One clip failing
never stops the others; a ``run_clip`` that raises counts as that clip failing, with the
exception's message. Cancelling the scheduler cancels the clips in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from reskin.batch.budget import Budget
from reskin.batch.manifest import Clip
from reskin.batch.report import clip_row, one_line
from reskin.batch.request import ClipRow, ClipStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How one clip ended, and the seconds its generation was billed for when known."""

    row: ClipRow
    billed_s: float | None = None


RunClip = Callable[[Clip], Awaitable[Outcome]]
OnRow = Callable[[Clip, ClipRow], None]


async def run_clips(
    clips: Sequence[Clip],
    run_clip: RunClip,
    *,
    max_parallel: int,
    budget: Budget | None = None,
    on_row: OnRow | None = None,
) -> dict[int, ClipRow]:
    """Run every clip of ``clips``; their rows by clip index (see :mod:`reskin.batch.budget`
    for when clips are held back as "over budget")."""
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
    rows: dict[int, ClipRow] = {}
    waiting = deque(clips)
    running: dict[asyncio.Task[Outcome], Clip] = {}

    def record(clip: Clip, row: ClipRow) -> None:
        rows[clip.index] = row
        if on_row is not None:
            on_row(clip, row)

    try:
        while waiting or running:
            if waiting:
                if budget is not None and budget.reached():
                    if not running:
                        log.info(
                            "budget of %g credits reached (%g spent): %d clips not sent",
                            budget.limit,
                            budget.spent,
                            len(waiting),
                        )
                        while waiting:
                            clip = waiting.popleft()
                            record(clip, clip_row(clip, ClipStatus.OVER_BUDGET))
                        continue
                else:
                    limit = max_parallel if budget is None else budget.parallel(max_parallel)
                    if len(running) < limit:
                        clip = waiting.popleft()
                        if budget is not None:
                            budget.started(clip.index)
                        running[asyncio.create_task(_guarded(run_clip, clip))] = clip
                        continue
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                clip = running.pop(task)
                outcome = task.result()
                if budget is not None:
                    budget.finished(
                        clip.index,
                        credits=outcome.row.credits_used,
                        billed_s=outcome.billed_s,
                        paid=outcome.row.paid,
                    )
                record(clip, outcome.row)
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    return rows


async def _guarded(run_clip: RunClip, clip: Clip) -> Outcome:
    try:
        return await run_clip(clip)
    except Exception as exc:
        log.exception("%s: the batch could not run it", clip.label)
        return Outcome(clip_row(clip, ClipStatus.FAILED, error=one_line(str(exc) or repr(exc))))
