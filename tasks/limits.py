"""Limits that hold across processes: jobs in flight at the service, and the pace of creates.

Why two layers. The client (``reskin/aimlapi``) retries one call and honours its ``Retry-After``,
but it knows only its own calls: forty runs of a batch, spread over processes and machines,
would each hit the account's limits and each wait alone, then come back together. The limits
below live on the Prefect server, so every process that uses the same server (``reskin edit``,
a deployment's worker, the runs of a batch) shares them. The client stays Prefect-free: it takes
a :class:`~reskin.aimlapi.client.Throttle`, and :class:`CreatesThrottle` is the Prefect one.

=============================  ===============================================================
``<prefix>-jobs-in-flight``    a concurrency limit of ``RESKIN_MAX_JOBS_IN_FLIGHT`` slots. A
                               run holds one (:func:`job_slot`) from just before its create to
                               the end of its poll, under a 60 s lease it renews: if the
                               holder dies, the server takes the slot back when the lease runs
                               out (a server restart forgets leases kept in memory, its
                               default: then ``prefect gcl update <name> --active-slots 0``).
``<prefix>-creates``           a rate limit: 1 slot, decaying ``RESKIN_CREATES_PER_MINUTE/60``
                               per second. Each create sent takes it
                               (:meth:`CreatesThrottle.before_create`), so creates are at least
                               60/N s apart across all processes, retries included.
a 429 from the service         :meth:`CreatesThrottle.after_429` puts the rate limit in debt:
                               active slots = limit - 1 + ceil(delay x decay), so nobody gets a
                               turn before the delay has passed (rounded up to the server's
                               whole-slot step), the run that met the 429 included.
=============================  ===============================================================

Both are used with ``strict=True``: Prefect silently skips an unknown limit name otherwise.
:func:`ensure_limits` makes them exist with the configured values once per run: two reads,
plus a create or an update only when one is missing or a setting changed (the last run to
start wins if processes disagree). A limit found missing later (deleted by hand, or a task run
outside ``edit_video``) is made again on the spot, never skipped. An operator may switch a
limit off in the UI to run unthrottled; reskin leaves that switch alone. A setting of 0
(``RESKIN_MAX_JOBS_IN_FLIGHT``, ``RESKIN_CREATES_PER_MINUTE``) switches that limit off for the
run: nothing is made, taken or asked (on a SQLite server each costs a write that can meet a lock,
docs/bench.md). Costs per run: those
two reads, three calls for the job slot (acquire, renew, release; one more renewal per 45 s of
polling) and one call per create sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.concurrency.asyncio import (
    ConcurrencySlotAcquisitionError,
    concurrency,
    rate_limit,
)
from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.settings import get_current_settings

from reskin.errors import ConfigError
from reskin.settings import Settings

#: Seconds a job slot stays taken after its holder stops renewing (the server's minimum).
LEASE_S = 60.0

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
async def job_slot(settings: Settings) -> AsyncIterator[None]:
    """Hold one slot of the jobs-in-flight limit; waits (logging why) while all are taken.

    Holds nothing without a shared server (:func:`shared_server`), or with
    ``RESKIN_MAX_JOBS_IN_FLIGHT=0`` (no limit).
    """
    if not shared_server() or not _wanted(jobs_limit(settings)):
        yield
        return
    name = jobs_limit(settings).name
    holder = _holder()

    def hold(max_retries: int | None) -> AbstractAsyncContextManager[None]:
        return concurrency(
            name,
            occupy=1,
            max_retries=max_retries,
            lease_duration=LEASE_S,
            strict=True,
            holder=holder,
            # A renewal that fails (a blip of the Prefect server) must not kill a paid job's
            # poll: the worst case is that another run starts a job a little early.
            raise_on_lease_renewal_failure=False,
        )

    async with AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(hold(0))
        except ConcurrencySlotAcquisitionError as exc:
            if _locked(exc):
                _logger().info(
                    "waiting for a job slot: all %d are taken (Prefect limit %s); if no job is "
                    "really in flight, free them with `prefect gcl update %s --active-slots 0`",
                    settings.max_jobs_in_flight,
                    name,
                    name,
                )
            elif _missing(exc):
                await ensure_limits(settings)
            else:
                raise _unusable(name, exc) from exc
            try:
                await stack.enter_async_context(hold(None))
            except ConcurrencySlotAcquisitionError as again:
                raise _unusable(name, again) from again
        yield


class CreatesThrottle:
    """The :class:`~reskin.aimlapi.client.Throttle` of the creates rate limit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = creates_limit(settings).name

    async def before_create(self) -> None:
        """Wait for this create's turn, shared by every process on the Prefect server."""
        if not shared_server() or not _wanted(creates_limit(self.settings)):
            return
        try:
            await rate_limit(self.name, occupy=1, strict=True)
        except ConcurrencySlotAcquisitionError as exc:
            if not _missing(exc):
                raise _unusable(self.name, exc) from exc
            await ensure_limits(self.settings)
            try:
                await rate_limit(self.name, occupy=1, strict=True)
            except ConcurrencySlotAcquisitionError as again:
                raise _unusable(self.name, again) from again

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


def _wanted(spec: LimitSpec) -> bool:
    """False for a limit the settings switch off: 0 jobs in flight, or 0 creates a minute."""
    return spec.limit > 0


def _locked(exc: ConcurrencySlotAcquisitionError) -> bool:
    """True when the slots were all taken (423), not when the limit is unusable."""
    cause = exc.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423


def _missing(exc: ConcurrencySlotAcquisitionError) -> bool:
    """True when the limit does not exist (raised by Prefect itself, under ``strict``)."""
    return exc.__cause__ is None


def _unusable(name: str, exc: ConcurrencySlotAcquisitionError) -> ConfigError:
    return ConfigError(
        f"the Prefect limit {name} cannot be used ({exc}); check that PREFECT_API_URL points at "
        "a running Prefect server, and that nobody changed the limit by hand (rerun to reset it)"
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
