"""Limits that hold across processes: jobs in flight at the service, and the pace of creates.

Why two layers. The client (``reskin/aimlapi``) retries one call and honours its ``Retry-After``,
but it knows only its own calls: forty runs of a batch, spread over processes and machines,
would each hit the account's limits and each wait alone, then come back together. The limits
below live on the Prefect server, so every process that uses the same server (``reskin edit``,
a deployment's worker, the runs of a batch) shares them. The client stays Prefect-free: it takes
a :class:`~reskin.aimlapi.client.Throttle`, and :class:`CreatesThrottle` is the Prefect one.

=============================  ===============================================================
``<prefix>-jobs-in-flight``    a concurrency limit of ``RESKIN_MAX_JOBS_IN_FLIGHT`` slots. A
                               run holds one (:func:`job_slot`) for its create and its poll
                               (asked for beside ``take_in``, given back beside ``fetch``:
                               reskin/edit/ahead.py), under a 60 s lease it renews every 10 s:
                               if the holder dies, the server takes the slot back when the
                               lease runs out. A server restart forgets leases (kept in
                               memory by default) but not the slots they held: the holder
                               finds its lease unknown at its next renewal or at its release,
                               gives that orphaned slot back and holds a fresh lease, so the
                               limit is back to 0 when the runs end (:class:`_JobSlot`).
``<prefix>-creates``           a rate limit: 1 slot, decaying ``RESKIN_CREATES_PER_MINUTE/60``
                               per second. Each create sent takes it
                               (:meth:`CreatesThrottle.before_create`), so creates are at least
                               60/N s apart across all processes, retries included.
a 429 from the service         :meth:`CreatesThrottle.after_429` puts the rate limit in debt:
                               active slots = limit - 1 + ceil(delay x decay), so nobody gets a
                               turn before the delay has passed (rounded up to the server's
                               whole-slot step), the run that met the 429 included.
=============================  ===============================================================

Neither is ever skipped: Prefect's own ``concurrency()`` skips an unknown limit name silently
unless ``strict=True``; here a name the server does not know (it grants nothing) is made on the
spot. :func:`ensure_limits` makes them exist with the configured values once per run: two
reads, plus a create or an update only when one is missing or a setting changed (the last run
to start wins if processes disagree). A limit found missing later (deleted by hand, or a task
run outside ``edit_video``) is made again on the spot. An operator may switch a limit off in the
UI to run unthrottled; reskin leaves that switch alone. A setting of 0
(``RESKIN_MAX_JOBS_IN_FLIGHT``, ``RESKIN_CREATES_PER_MINUTE``) switches that limit off for the
run: nothing is made, taken or asked (on a SQLite server each costs a write that can meet a lock,
docs/bench.md). Costs per run: those two reads, three calls for the job slot (acquire, a renewal
that checks the lease, release; one more renewal per 10 s of holding) and one call per create
sent.

Both are taken with the Prefect client's own calls (``increment_concurrency_slots[_with_lease]``,
``renew_concurrency_lease``, ``release_concurrency_slots[_with_lease]``), waiting in the caller's
task. Prefect's ``concurrency()`` and ``rate_limit()`` wait in a service on Prefect's loop
thread instead, which a cancel does not reach: after Ctrl-C that service went on asking for the
slot, and the process waited for it at exit (for good when the slot was an orphan of a server
restart). Here a cancel (Ctrl-C, a cancelled flow run) ends a wait at once, and what the run
holds is given back within :data:`CANCEL_GRACE_S`. One thing of Prefect's is left out: the
``prefect.concurrency-limit.*`` events its helpers emit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import anyio
import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse
from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.settings import get_current_settings

from reskin.errors import ConfigError
from reskin.settings import Settings

#: Seconds a job slot stays taken after its holder stops renewing (the server's minimum).
LEASE_S = 60.0
#: Seconds between two renewals of a job slot's lease. Well under :data:`LEASE_S`, so that a
#: lease forgotten by a restarting server is found out while it cannot have run out yet (the
#: Prefect client retries a request through an outage of about 30 s).
RENEW_EVERY_S = 10.0
#: Seconds of :data:`LEASE_S` not trusted when telling a forgotten lease from one run out.
_MARGIN_S = 5.0
#: Seconds a cancelled holder is given to give back what it holds (the lease runs out anyway).
CANCEL_GRACE_S = 2.0
#: Seconds a holder at its end is given to give its slot back (riding out a server restart).
RELEASE_S = 30.0
#: Seconds at most between two asks for a slot or a turn while the limit is full.
MAX_WAIT_S = 30.0
#: Seconds a wait for a slot or a turn rides out a busy or unreachable Prefect server (timeouts,
#: 5xx) before the run fails. Nothing is paid yet, so asking again is safe; a SQLite server
#: under load held a write lock past the client's 60 s timeout (CI), failing a clip for nothing.
SERVER_PATIENCE_S = 180.0

#: Pauses before asking again for a slot or a turn the server answered 503 (then the server's
#: patience takes over). A SQLite server answers 503 when the write meets another's lock (its
#: own services write right after a task run ends): gone in a few milliseconds (an ask takes
#: about 10 ms), where Prefect's client would wait 2 s (docs/bench.md, the command line). The
#: 503 is a rolled-back transaction, nothing granted: asking again is what Prefect's client
#: does too, only later. The first pauses are short: a 503 met the job slot's ask in nearly
#: every run, and a first pause of 50 ms cost the ask 70 to 100 ms.
BUSY_PAUSES_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8)

Change = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class LimitSpec:
    """A global concurrency limit as the settings want it."""

    name: str
    limit: int
    slot_decay_per_second: float


def jobs_limit(settings: Settings) -> LimitSpec:
    return LimitSpec(f"{settings.limits_prefix}-jobs-in-flight", settings.max_jobs_in_flight, 0.0)


def creates_limit(settings: Settings) -> LimitSpec:
    """One slot decaying N/60 a second; no slot at all (switched off) for 0 creates a minute."""
    slots = 1 if settings.creates_per_minute > 0 else 0
    return LimitSpec(f"{settings.limits_prefix}-creates", slots, settings.creates_per_minute / 60.0)


def shared_server() -> bool:
    """Whether runs report to a Prefect server that other processes share (``PREFECT_API_URL``).

    Without one, Prefect's embedded server lives and dies with this process: nothing is shared,
    and a slot held by a process that is killed would stay taken for good (leases are kept in
    the dead server's memory), stalling every later run. The limits apply only with a server.
    """
    return get_current_settings().api.url is not None


async def ensure_limits(settings: Settings) -> dict[str, Change]:
    """Make both limits exist on the Prefect server with the configured values.

    Returns what was done to each, by name; nothing without a shared server.
    """
    if not shared_server():
        return {}
    specs = tuple(spec for spec in (jobs_limit(settings), creates_limit(settings)) if _wanted(spec))
    if not specs:
        return {}
    async with get_client() as client:
        changes = await asyncio.gather(*(_ensure(client, spec) for spec in specs))
    for spec, change in zip(specs, changes, strict=True):
        if change != "unchanged":
            _logger().info(
                "%s the Prefect limit %s: %d slot(s), decay %.4g/s",
                change,
                spec.name,
                spec.limit,
                spec.slot_decay_per_second,
            )
    return {spec.name: change for spec, change in zip(specs, changes, strict=True)}


async def _ensure(client: PrefectClient, spec: LimitSpec) -> Change:
    try:
        current = await client.read_global_concurrency_limit_by_name(spec.name)
    except ObjectNotFound:
        try:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(
                    name=spec.name,
                    limit=spec.limit,
                    slot_decay_per_second=spec.slot_decay_per_second,
                )
            )
        except ObjectAlreadyExists:  # another process made it in between
            current = await client.read_global_concurrency_limit_by_name(spec.name)
        else:
            return "created"
    same_decay = math.isclose(
        current.slot_decay_per_second, spec.slot_decay_per_second, rel_tol=1e-9, abs_tol=1e-12
    )
    if current.limit == spec.limit and same_decay:
        return "unchanged"
    await client.update_global_concurrency_limit(
        spec.name,
        GlobalConcurrencyLimitUpdate(
            limit=spec.limit, slot_decay_per_second=spec.slot_decay_per_second
        ),
    )
    return "updated"


@asynccontextmanager
async def job_slot(
    settings: Settings, *, renew_every_s: float = RENEW_EVERY_S
) -> AsyncIterator[None]:
    """Hold one slot of the jobs-in-flight limit; waits (logging why) while all are taken.

    Holds nothing without a shared server (:func:`shared_server`), or with
    ``RESKIN_MAX_JOBS_IN_FLIGHT=0`` (no limit). A cancel ends the wait at once; the slot is
    given back however the block ends, within :data:`CANCEL_GRACE_S` when it is cancelled.
    The lease is renewed every ``renew_every_s`` (well under :data:`LEASE_S`).
    """
    if not shared_server() or not _wanted(jobs_limit(settings)):
        yield
        return
    async with get_client() as client:
        slot = _JobSlot(client, settings, renew_every_s)
        await slot.take()
        ending = asyncio.Event()
        keeper = asyncio.create_task(slot.keep(ending), name=f"renew {slot.name}")
        ended_by: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            ended_by = exc
            raise
        finally:
            cancelled = isinstance(ended_by, (asyncio.CancelledError, KeyboardInterrupt))
            # Shielded: a flow run cancelled through an anyio scope cancels every await in it.
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(CANCEL_GRACE_S if cancelled else RELEASE_S):
                    # At a normal end, a renewal under way finishes first: cut off, a fresh
                    # lease it was being granted could land unknown to this run and keep the
                    # slot taken until it ran out (seen after a server restart, in CI).
                    if cancelled:
                        keeper.cancel()
                    else:
                        ending.set()
                    await asyncio.wait({keeper})
                    await slot.give_back()
            keeper.cancel()  # out of time while it was still renewing
            if slot.lease is not None:
                _logger().warning(
                    "could not give the job slot back to the Prefect server in time; it "
                    "takes it back when the lease runs out (in %.0f s at most)",
                    LEASE_S,
                )
            if slot.orphaned:
                _logger().warning(
                    "could not give back the job slot whose lease the Prefect server forgot: "
                    "if no job is in flight, free it with `prefect gcl update %s "
                    "--active-slots 0`",
                    slot.name,
                )


class _JobSlot:
    """One slot of the jobs-in-flight limit under a lease, kept honest across server restarts.

    The slot is counted in the limit's ``active_slots`` (in the database); the lease that says
    who holds it lives in the server's lease storage (in memory by default). A restart keeps
    the first and forgets the second: renewing then answers 410, and releasing with the lease
    silently does nothing, so the slot would stay taken for good. Hence:

    - every renewal (:meth:`keep`, and :meth:`give_back` before it releases) tells a lease the
      server *forgot* from one it *took back* when it expired (its repossessor decrements the
      slot then): the server cannot have let it expire while less than the lease's duration
      (minus :data:`_MARGIN_S`) has passed since a renewal was sent that it accepted;
    - a forgotten lease's slot is ours and counted still: it is given back without a lease
      (``/decrement``, one slot), and a fresh lease is asked for at once, so the run is
      counted again and a dead holder's slot still comes back when the lease runs out. A slot
      taken back by the server is not given back again (that would free another run's slot),
      nor is a decrement a cancel cut off midway (it may have been done); one the server
      refused is tried again at the next renewal and at the end.
    - if the fresh lease finds the limit full (another run took the slot in between), this run
      goes on without one and asks again at each renewal: a paid job's poll never stops for it.

    Left open: a release with the lease that reaches a server restarted since the check just
    before it does nothing (a window of one call), and a lease the server forgot while this
    run could not reach it for longer than the lease cannot be told from one it took back, so
    its slot is left (logged, with the command that frees it).
    """

    def __init__(
        self,
        client: PrefectClient,
        settings: Settings,
        renew_every_s: float = RENEW_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.settings = settings
        self.renew_every_s = renew_every_s
        self.clock = clock
        self.sleep = sleep
        self.name = jobs_limit(settings).name
        self.holder = _holder()
        #: The lease the server knows this slot by; None while the run holds no slot.
        self.lease: UUID | None = None
        #: When the last call the server answered with the lease alive was sent (monotonic).
        self.confirmed_at = 0.0
        self.taken_at: float | None = None
        #: Whether a slot whose lease the server forgot is still to be given back.
        self.orphaned = False

    async def take(self) -> None:
        """Wait for a slot; a missing limit is made once (:func:`ensure_limits`)."""
        told = ensured = False
        patience = _Patience(self.name, self.clock, self.sleep)
        while True:
            try:
                wait_s = await self._ask()
            except _MissingLimit:
                if ensured:
                    raise _unusable(self.name, "it does not exist, even once made") from None
                await ensure_limits(self.settings)
                ensured = True
                continue
            except httpx.HTTPError as exc:
                await patience.ride_out(exc)
                continue
            if wait_s is None:
                return
            if not told:
                _logger().info(
                    "waiting for a job slot: all %d are taken (Prefect limit %s)",
                    self.settings.max_jobs_in_flight,
                    self.name,
                )
                told = True
            await self.sleep(wait_s)

    async def keep(self, ending: asyncio.Event) -> None:
        """Renew the lease every ``renew_every_s``, mending it when the server lost it, until
        ``ending`` is set (a renewal under way is finished first)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ending.wait(), self.renew_every_s)
            if ending.is_set():
                return
            try:
                await self._mend()
            except Exception as exc:  # a blip of the server must not stop a paid job's poll
                _logger().warning(
                    "could not renew the job slot (Prefect limit %s): %s; trying again in %.0f s",
                    self.name,
                    exc,
                    self.renew_every_s,
                )

    async def give_back(self) -> None:
        """Release the slot: with its lease, or without one when the server forgot the lease."""
        try:
            lease = self.lease
            if lease is not None:
                state = await self._renew(lease)
                if state == "held":
                    await self.client.release_concurrency_slots_with_lease(lease)
                    self.lease = None
                elif state == "forgotten":
                    _logger().warning(_FORGOTTEN + ": giving the slot it held back", self.name)
                    await self._forget()
                else:
                    _logger().warning(_TAKEN_BACK, self.name)
                    self.lease = None
            await self._settle_orphan()
        except httpx.HTTPError as exc:
            _logger().warning("could not give the job slot back (%s): %s", self.name, exc)

    async def _mend(self) -> None:
        await self._settle_orphan()
        if self.lease is not None:
            state = await self._renew(self.lease)
            if state == "held":
                return
            if state == "forgotten":
                _logger().warning(
                    _FORGOTTEN + ": giving the slot it held back, asking for a fresh one",
                    self.name,
                )
                await self._forget()
            else:
                _logger().warning(_TAKEN_BACK + "; asking for a fresh one", self.name)
                self.lease = None
        if await self._ask() is not None:
            _logger().warning(
                "no job slot free for a fresh lease: the job goes on, asking again in %.0f s "
                "(Prefect limit %s)",
                self.renew_every_s,
                self.name,
            )

    async def _ask(self) -> float | None:
        """Ask once for a slot under a fresh lease: None when granted, else seconds to wait."""
        sent = self.clock()
        try:
            response = await _granted_or_given_back(
                self.client,
                _past_busy(
                    self.client,
                    lambda: self.client.increment_concurrency_slots_with_lease(
                        names=[self.name],
                        slots=1,
                        mode="concurrency",
                        lease_duration=LEASE_S,
                        holder=self.holder,
                    ),
                    self.sleep,
                ),
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 423:
                raise
            return _retry_after(exc.response)
        granted = ConcurrencyLimitWithLeaseResponse.model_validate(response.json())
        if not granted.limits:  # an unknown name: the server leased nothing, hand it back
            with contextlib.suppress(httpx.HTTPError):
                await self.client.release_concurrency_slots_with_lease(granted.lease_id)
            raise _MissingLimit(f"no Prefect limit {self.name}")
        self.lease, self.confirmed_at = granted.lease_id, sent
        if self.taken_at is None:
            self.taken_at = sent
        return None

    async def _renew(self, lease: UUID) -> Literal["held", "forgotten", "taken back"]:
        sent = self.clock()
        try:
            await self.client.renew_concurrency_lease(lease, LEASE_S)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in (404, 410):  # 410: "lease not found"
                raise
            if self.clock() < self.confirmed_at + LEASE_S - _MARGIN_S:
                return "forgotten"
            return "taken back"
        self.confirmed_at = sent
        return "held"

    async def _forget(self) -> None:
        """The server forgot the lease: its slot, ours and counted still, goes back without it."""
        self.lease, self.orphaned = None, True
        await self._settle_orphan()

    async def _settle_orphan(self) -> None:
        """Give back the slot of a forgotten lease (``/decrement``, one slot), if one is owed."""
        if not self.orphaned:
            return
        self.orphaned = False  # before the call: a decrement cut off midway is never sent twice
        held_s = max(self.clock() - (self.taken_at or 0.0), 0.001)
        try:
            await self.client.release_concurrency_slots(
                names=[self.name], slots=1, occupancy_seconds=held_s
            )
        except httpx.HTTPError:
            self.orphaned = True  # refused or unreachable: again at the next renewal, the end
            raise


_FORGOTTEN = "the Prefect server forgot this run's job slot lease (restarted?; Prefect limit %s)"
_TAKEN_BACK = (
    "the Prefect server took this run's job slot back, its lease having run out unrenewed "
    "(Prefect limit %s)"
)


class _MissingLimit(Exception):
    """The server has no limit of that name (it leases nothing for it)."""


class _Busy(Exception):
    """A 503 to an ask for a slot or a turn, seen before Prefect's client sleeps 2 s on it (it
    does so even with its retries off) and asks again."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} from {response.request.url.path}")
        self.response = response


#: Whether the request under way is an ask of :func:`_past_busy` (in its own context).
_ASKING: contextvars.ContextVar[bool] = contextvars.ContextVar("reskin_asking", default=False)


async def _busy_at_once(response: httpx.Response) -> None:
    """An httpx response hook: a 503 to one of :func:`_past_busy`'s asks ends the request."""
    if response.status_code == 503 and _ASKING.get():
        raise _Busy(response)


async def _past_busy(
    client: PrefectClient,
    ask: Callable[[], Coroutine[Any, Any, httpx.Response]],
    sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
) -> httpx.Response:
    """``ask()``'s response, asked again after :data:`BUSY_PAUSES_S` (with jitter) while the
    server answers 503; the last 503 raises as an ``HTTPStatusError`` for the caller's
    :class:`_Patience`, and any other answer or failure is Prefect's client's as ever."""
    # Prefect's client has no public way to its httpx client's hooks.
    hooks = client._client.event_hooks["response"]
    if _busy_at_once not in hooks:
        hooks.append(_busy_at_once)
    for pause_s in (*BUSY_PAUSES_S, None):
        asking = _ASKING.set(True)
        try:
            return await ask()
        except _Busy as busy:
            if pause_s is None:
                raise httpx.HTTPStatusError(
                    str(busy), request=busy.response.request, response=busy.response
                ) from busy
        finally:
            _ASKING.reset(asking)
        _logger().debug("the Prefect server is busy (503): asking again in %.2f s", pause_s)
        await sleep(pause_s * (0.5 + random.random()))  # noqa: S311 (jitter, not a secret)
    raise AssertionError("unreachable: the last pause is None")


async def _granted_or_given_back(
    client: PrefectClient, request: Coroutine[Any, Any, httpx.Response]
) -> httpx.Response:
    """``request``'s response (an increment with a lease); if the caller is cancelled while
    it is under way, what it was granted is given back before the cancel goes on."""
    sent = asyncio.ensure_future(request)
    try:
        return await asyncio.shield(sent)
    except asyncio.CancelledError:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_GRACE_S):
            await asyncio.wait({sent})
            lease = _lease_of(sent)
            if lease is not None:
                with contextlib.suppress(httpx.HTTPError):
                    await client.release_concurrency_slots_with_lease(lease)
        sent.cancel()
        raise


def _lease_of(sent: asyncio.Future[httpx.Response]) -> UUID | None:
    """The lease a finished increment was granted, if any."""
    if not sent.done() or sent.cancelled() or sent.exception() is not None:
        return None
    granted = ConcurrencyLimitWithLeaseResponse.model_validate(sent.result().json())
    return granted.lease_id if granted.limits else None


def _retry_after(response: httpx.Response) -> float:
    """The server's ``Retry-After`` for a 423, at most :data:`MAX_WAIT_S`."""
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), MAX_WAIT_S)
    except (KeyError, ValueError):
        return 1.0


def _status(exc: httpx.HTTPStatusError) -> str:
    """``422: <detail>``, the one line a status error is shown as."""
    try:
        body = exc.response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"{exc.response.status_code}: {detail or exc.response.reason_phrase}"


class CreatesThrottle:
    """The :class:`~reskin.aimlapi.client.Throttle` of the creates rate limit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = creates_limit(settings).name

    async def before_create(self) -> None:
        """Wait for this create's turn, shared by every process on the Prefect server."""
        if not shared_server() or not _wanted(creates_limit(self.settings)):
            return
        ensured = False
        patience = _Patience(self.name)
        async with get_client() as client:
            while True:
                try:
                    response = await _past_busy(
                        client,
                        lambda: client.increment_concurrency_slots(
                            names=[self.name], slots=1, mode="rate_limit"
                        ),
                    )
                except httpx.HTTPStatusError as exc:
                    if exc.response.status_code != 423:
                        await patience.ride_out(exc)
                        continue
                    await asyncio.sleep(_retry_after(exc.response))
                    continue
                except httpx.HTTPError as exc:
                    await patience.ride_out(exc)
                    continue
                if response.json():  # the limits it took a turn of
                    return
                if ensured:
                    raise _unusable(self.name, "it does not exist, even once made")
                await ensure_limits(self.settings)
                ensured = True

    async def after_429(self, delay_s: float) -> None:
        """Give nobody a turn for ``delay_s``: the rate limit goes into debt.

        Best effort: if the Prefect server cannot be told, this run still waits its own delay.
        """
        if not shared_server() or not _wanted(creates_limit(self.settings)):
            return
        try:
            async with get_client() as client:
                current = await client.read_global_concurrency_limit_by_name(self.name)
                steps = math.ceil(delay_s * current.slot_decay_per_second)
                debt = current.limit - 1 + steps
                if steps > 0 and debt > current.active_slots:
                    await client.update_global_concurrency_limit(
                        self.name, GlobalConcurrencyLimitUpdate(active_slots=debt)
                    )
                    _logger().info(
                        "the service asked to wait %.1f s: no create from any run until then "
                        "(Prefect limit %s)",
                        delay_s,
                        self.name,
                    )
        except (httpx.HTTPError, ObjectNotFound) as exc:
            _logger().warning("could not pause the other runs' creates: %s", exc)


class _Patience:
    """Asking again after a busy or unreachable server, for :data:`SERVER_PATIENCE_S` at most.

    Only what the server may answer differently later is ridden out (a timeout, a refused
    connection, a 5xx); a 4xx, or the patience spent, ends the wait with :func:`_unusable`.
    """

    def __init__(
        self,
        name: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
        patience_s: float = SERVER_PATIENCE_S,
    ) -> None:
        self.name, self.clock, self.sleep = name, clock, sleep
        self.until = clock() + patience_s
        self.pause_s = 1.0

    async def ride_out(self, exc: httpx.HTTPError) -> None:
        """Sleep before the next ask, or raise the one-line error when it is no use."""
        if isinstance(exc, httpx.HTTPStatusError):
            reason = _status(exc)
            transient = exc.response.status_code >= 500
        else:
            reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
            transient = isinstance(exc, httpx.TransportError)
        if not transient or self.clock() + self.pause_s > self.until:
            raise _unusable(self.name, reason) from exc
        _logger().warning(
            "the Prefect server did not answer for the limit %s (%s); asking again in %.0f s",
            self.name,
            reason,
            self.pause_s,
        )
        await self.sleep(self.pause_s)
        self.pause_s = min(self.pause_s * 2, MAX_WAIT_S)


def _wanted(spec: LimitSpec) -> bool:
    """False for a limit the settings switch off: 0 jobs in flight, or 0 creates a minute."""
    return spec.limit > 0


def _unusable(name: str, reason: str) -> ConfigError:
    return ConfigError(
        f"the Prefect limit {name} cannot be used ({reason}); check that PREFECT_API_URL points "
        "at a running Prefect server, and that nobody changed the limit by hand (rerun to reset "
        "it)"
    )


def _holder() -> ConcurrencyLeaseHolder | None:
    """The flow run holding a slot, shown with the limit in the UI."""
    run_id = flow_run.get_id()
    return ConcurrencyLeaseHolder(type="flow_run", id=UUID(run_id)) if run_id else None


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger (its lines show in the UI), else this module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)
