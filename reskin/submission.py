"""Submit a generation at most once per request: the journal decides, the client sends.

=================  ============================================================================
journal says       what :func:`submit_once` does
=================  ============================================================================
nothing            reserve, create, record the id (released again if surely not accepted)
reserved, live     another run is sending it right now: wait for its answer, then as below
accepted (fresh)   resume: return the recorded id, send nothing
failed             refuse: the job ended in error; ``force`` pays for a new attempt
lost               refuse: the service answered 404 for it; ``force`` pays for a new one
reserved, silent   refuse: an earlier create got no answer, the job may exist; ``force`` resends
older than kept    the service has forgotten it: submit anew
=================  ============================================================================

A run sending a create touches its reservation every :data:`HEARTBEAT_S` (its create may wait
for a turn of the creates limit or a ``Retry-After`` first); a reservation touched within
:data:`LIVE_S` belongs to a live run, on this machine or another sharing the journal, and a run
asking for the same request waits for that answer instead of refusing or paying again.

An interrupted create (Ctrl-C, a cancelled flow run) releases its reservation when nothing can
have reached the service (:class:`~reskin.aimlapi.client.Sending`): waiting for a turn or out a
``Retry-After``. Interrupted while its body may be at the service, the reservation stays, and
the rerun says how to pay again on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from reskin.aimlapi.client import AimlapiClient, Sending
from reskin.aimlapi.models import CreateRequest
from reskin.errors import (
    ApiError,
    GenerationFailedError,
    GenerationLostError,
    SubmissionUnknownError,
)
from reskin.journal import Entry, Journal, Phase

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: Seconds between two touches of a reservation whose create is being sent.
HEARTBEAT_S = 5.0
#: A reservation touched within this many seconds is being sent by a live run.
LIVE_S = 20.0
#: Seconds between two looks at a reservation another run is sending.
WATCH_S = 0.5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    generation_id: str
    resumed: bool

    @property
    def short_id(self) -> str:
        """The id's first part, enough to tell runs apart in a list."""
        return self.generation_id.split(":", 1)[0][:8]


def lost_line(generation_id: str) -> str:
    """What to say when the service no longer knows ``generation_id``."""
    return (
        f"the service no longer knows generation {generation_id} (it answered 404: restarted "
        "or purged), so its result cannot be fetched; rerun with `force` to pay for a new one"
    )


async def earlier_generation(
    journal: Journal,
    fp: str,
    *,
    force: bool,
    retention_s: float,
    clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
) -> str | None:
    """The live generation the journal holds for request ``fp``; None when one must be sent.

    Waits first while another run is sending the same request. Raises instead when the journal
    says sending again could pay twice, or for nothing: the job failed, the service lost it, or
    an earlier create got no answer (``force`` overrides them all). Called before the clip is
    prepared as well as right before the create, so a refusal costs no ffmpeg run.
    """
    if force:
        return None
    entry = await settled_entry(journal, fp, clock=clock, sleep=sleep)
    if entry is None:
        return None
    if journal.is_stale(entry, retention_s=retention_s):
        log.info("the earlier generation for this request is past retention: submitting anew")
        return None
    if entry.phase is Phase.FAILED:
        raise GenerationFailedError(
            f"this request already failed at the service ({entry.error}); "
            "rerun with `force` to pay for a new attempt",
            generation_id=entry.generation_id or "",
            name="earlier failure",
            detail=entry.error or "",
        )
    if entry.phase is Phase.LOST:
        raise GenerationLostError(
            lost_line(entry.generation_id or "?"), generation_id=entry.generation_id or ""
        )
    if entry.phase is Phase.RESERVED or entry.generation_id is None:
        by = f" ({entry.holder})" if entry.holder else ""
        raise SubmissionUnknownError(
            f"an earlier run{by} sent this request but never learned its generation id, so "
            "the service may already have it; rerun with `force` to submit again (may bill twice)"
        )
    return entry.generation_id


async def settled_entry(
    journal: Journal, fp: str, *, clock: Clock = time.time, sleep: Sleep = asyncio.sleep
) -> Entry | None:
    """The journal's entry for ``fp`` once no live run is in the middle of sending it."""
    told = False
    while True:
        entry = journal.get(fp)
        if entry is None or entry.phase is not Phase.RESERVED or not _live(entry, clock()):
            return entry
        if not told:
            log.info("another run is sending this same request: waiting for its answer")
            told = True
        await sleep(WATCH_S)


def _live(entry: Entry, now: float) -> bool:
    touched = entry.updated_at if entry.updated_at is not None else entry.reserved_at
    return now - touched < LIVE_S


def _unanswered(journal: Journal, fp: str) -> None:
    """Mark ``fp``'s reservation as no longer being sent; a failure here only makes a rerun
    wait :data:`LIVE_S` before it refuses, so it must not hide the error being raised."""
    try:
        journal.unanswered(fp)
    except Exception as exc:
        log.warning("could not mark the journal's reservation as unanswered: %s", exc)


@contextlib.asynccontextmanager
async def _heartbeat(journal: Journal, fp: str, sleep: Sleep) -> AsyncIterator[None]:
    """Touch the reservation of ``fp`` every :data:`HEARTBEAT_S` while the block runs."""

    async def beat() -> None:
        while True:
            await sleep(HEARTBEAT_S)
            try:
                await asyncio.to_thread(journal.touch, fp)
            except Exception as exc:  # a missed beat only makes another run refuse, not pay
                log.warning("could not touch the journal's reservation: %s", exc)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def submit_once(
    client: AimlapiClient,
    journal: Journal,
    fp: str,
    build_request: Callable[[], CreateRequest],
    *,
    force: bool = False,
    retention_s: float,
    clock: Clock = time.time,
    sleep: Sleep = asyncio.sleep,
) -> Submitted:
    """The generation for request ``fp``: an existing one when the journal has it, else new.

    ``build_request`` is called only when a create is really sent (a data URI is built then,
    never stored).
    """
    while True:
        earlier = await earlier_generation(
            journal, fp, force=force, retention_s=retention_s, clock=clock, sleep=sleep
        )
        if earlier is not None:
            log.info("resuming generation %s instead of submitting again", earlier)
            return Submitted(earlier, resumed=True)
        seen = journal.get(fp)
        # Replaced only when the look above allows it (forced, or past retention): an entry
        # that appeared since is another run's reservation, and replacing it paid twice (two
        # machines asking at once, CI). Look again: its answer is waited for, then resumed.
        if seen is not None and not (force or journal.is_stale(seen, retention_s=retention_s)):
            continue
        if journal.reserve(fp, replacing=seen):
            break
        # Another run reserved or replaced it between our look and our claim: look again, as
        # a run that is not forcing (a second forced run must not replace the first's).
        force = False

    sending = Sending()
    try:
        async with _heartbeat(journal, fp, sleep):
            generation = await client.create(build_request(), sending)
    except SubmissionUnknownError:
        _unanswered(journal, fp)  # the reservation stays: the job may exist
        raise
    except ApiError:
        journal.release(fp)  # answered with a refusal or never delivered: nothing to pay for
        raise
    except BaseException:
        # Building the request failed, or the run was interrupted (Ctrl-C, a cancel): the
        # reservation goes only if nothing can have reached the service.
        if not sending.may_have_arrived:
            journal.release(fp)
        else:
            _unanswered(journal, fp)
        raise
    journal.accepted(fp, generation.id)
    log.info("submitted generation %s", generation.id)
    return Submitted(generation.id, resumed=False)
