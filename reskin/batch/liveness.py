"""A clip's run elsewhere that died without a word: how the batch tells, and what it does.

With ``dispatch: deployment`` each clip is a run in another process, often on another machine.
When that process dies at once (SIGKILL, the OOM killer, a machine or container lost, its worker
gone with it), nobody tells the Prefect server: the run stays ``Running`` (or ``Pending``, if
it died while starting) for good. Prefect 3.8's server does nothing about such runs by itself
(its late-runs service moves only ``Scheduled`` runs; the foreman marks silent *workers*
offline, not their runs), and ``run_deployment`` waits for a final state, so a batch waited
forever.

What still speaks for a live run is its heartbeat: Prefect's engine emits a
``prefect.flow-run.heartbeat`` event every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds while
the run runs (180 by default, 30 at least). The rule, exactly:

- a run ``Running`` is **silent** since the later of its state's timestamp and its last
  heartbeat; it is **presumed dead** once silent for :data:`SILENT_HEARTBEATS` heartbeats of
  the batch's own ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` (set it alike on the workers: a batch
  beating faster than its clip runs would give up on live ones); never with heartbeats off;
- a run ``Pending`` (a worker took it and is starting its process) does not beat yet, and its
  start can take a minute on a loaded machine (two Python processes, each importing Prefect):
  it is presumed dead after :data:`STARTING_LIMIT_S` (or the silence above, if longer);
- a run not yet taken by any worker (``Scheduled``, ``Late``) is waited for, as before;
- the batch marks a dead run ``Crashed`` (:func:`crash_message` says why), so the UI stops
  showing it running, and handles it as any crashed run.

A crashed run (marked so by the batch, or by its worker, which saw its process end badly) says
nothing about the clip, so the clip is sent once more (:data:`RUNS_PER_CLIP`): the new run
resumes from the submission journal a job the dead one had accepted, so it is not paid again; a
create the dead one sent without learning its answer is refused with the journal's own line
(``force`` pays again). A clip whose runs all crashed fails with :func:`crashed_line`.

A run marked ``Crashed`` that was in fact alive (a network cut longer than the silence) goes on;
the journal still keeps the two runs of its clip to one paid job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reskin.batch.report import one_line

#: Heartbeats in a row a run may miss before the batch presumes it dead.
SILENT_HEARTBEATS = 2.0
#: Seconds a run may stay Pending (its process starting) before it is presumed dead.
STARTING_LIMIT_S = 600.0
#: Runs a clip gets in all when the earlier ones crash.
RUNS_PER_CLIP = 2


class RunPhase(StrEnum):
    """Where a clip's run stands, as far as liveness goes."""

    WAITING = "waiting"  # no worker took it yet: waited for
    STARTING = "starting"  # Pending: a worker is starting its process
    RUNNING = "running"  # it must keep beating
    ENDED = "ended"  # a final state
    OTHER = "other"  # paused, cancelling, ...: left alone


@dataclass(frozen=True)
class Liveness:
    """When a run is presumed dead: running, after ``silent_heartbeats`` heartbeats of
    ``heartbeat_s`` in silence; starting, after ``starting_limit_s``; never when
    ``heartbeat_s`` is None (heartbeats off)."""

    heartbeat_s: float | None
    silent_heartbeats: float = SILENT_HEARTBEATS
    starting_limit_s: float = STARTING_LIMIT_S

    @property
    def silence_limit_s(self) -> float | None:
        if self.heartbeat_s is None:
            return None
        return self.heartbeat_s * self.silent_heartbeats

    def limit_s(self, phase: RunPhase) -> float | None:
        """Seconds of silence after which a run in ``phase`` is presumed dead; None: never."""
        limit = self.silence_limit_s
        if limit is None or phase not in (RunPhase.STARTING, RunPhase.RUNNING):
            return None
        return max(limit, self.starting_limit_s) if phase is RunPhase.STARTING else limit

    def silent_s(self, since: float, last_heartbeat: float | None, now: float) -> float:
        """Seconds since the run last showed it lives: its state changed, or it beat."""
        last = since if last_heartbeat is None else max(since, last_heartbeat)
        return max(0.0, now - last)

    def dead(self, phase: RunPhase, since: float, last_heartbeat: float | None, now: float) -> bool:
        """Whether a run in ``phase`` since ``since`` (seconds, any epoch shared with ``now``),
        whose last known heartbeat was at ``last_heartbeat``, is presumed dead at ``now``."""
        limit = self.limit_s(phase)
        return limit is not None and self.silent_s(since, last_heartbeat, now) > limit


def crash_message(silent_s: float) -> str:
    """The message of the ``Crashed`` state a dead run is given."""
    return (
        f"no heartbeat for {silent_s:.0f} s: its process or machine died without a word; "
        "marked Crashed by its batch"
    )


def crashed_line(message: str | None, *, runs: int) -> str:
    """The one-line error of a clip whose ``runs`` runs all crashed, the last with
    ``message``."""
    how = f"its {runs} runs all crashed" if runs > 1 else "its run crashed"
    said = one_line(message) if message and message.strip() else "no message"
    return (
        f"{how} (last: {said.rstrip('.')}): check the workers, then rerun the batch "
        "(a job already accepted is resumed, not paid again)"
    )
