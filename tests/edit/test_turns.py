"""The gate of a long edit's local work: a few at once, the lowest rank first, nothing lost to
a cancelled waiter."""

from __future__ import annotations

import asyncio

import pytest

from reskin.edit.turns import Rank, Turns

pytestmark = pytest.mark.anyio


async def settle() -> None:
    """Let every task that can run, run (no clock involved)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def hold(gate: Turns, release: asyncio.Event, entered: list[str] | None = None) -> None:
    """Take the gate's place first and keep it until ``release``."""
    async with gate.turn((0,)):
        if entered is not None:
            entered.append("holder")
        await release.wait()


async def one(gate: Turns, entered: list[str], name: str, rank: Rank) -> None:
    """Wait for a turn at ``rank``; say so in ``entered`` once in."""
    async with gate.turn(rank):
        entered.append(name)


async def test_when_a_place_frees_the_lowest_rank_waiting_enters_not_the_first_come() -> None:
    gate = Turns(1)
    entered: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(hold(gate, release, entered))
    await settle()
    waiters = [
        asyncio.create_task(one(gate, entered, name, rank))
        for name, rank in [
            ("encode", (2, -6.0, 2)),
            ("copy b", (1, 0.0, 5)),
            ("copy a", (1, 0.0, 3)),
        ]
    ]
    await settle()
    assert entered == ["holder"]
    assert gate.waiting == 3
    release.set()
    await asyncio.gather(holder, *waiters)
    assert entered == ["holder", "copy a", "copy b", "encode"]
    assert gate.waiting == 0


async def test_equal_ranks_go_first_come_and_never_more_than_size_at_once() -> None:
    gate = Turns(2)
    inside = 0
    most = 0
    order: list[int] = []

    async def one(index: int) -> None:
        nonlocal inside, most
        async with gate.turn((1,)):
            inside += 1
            most = max(most, inside)
            order.append(index)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(one(index) for index in range(7)))
    assert most == 2
    assert order == list(range(7))


async def test_a_cancelled_waiter_gives_up_its_turn_and_the_place_goes_on() -> None:
    gate = Turns(1)
    release = asyncio.Event()
    entered: list[str] = []
    holder = asyncio.create_task(hold(gate, release))
    await settle()
    cancelled = asyncio.create_task(one(gate, entered, "cancelled", (0,)))
    later = asyncio.create_task(one(gate, entered, "later", (5,)))
    await settle()
    cancelled.cancel()
    await settle()
    assert gate.waiting == 1
    release.set()
    await asyncio.gather(holder, later)
    assert cancelled.cancelled()
    assert entered == ["later"]
    async with asyncio.timeout(1):  # the place came back
        async with gate.turn((0,)):
            assert gate.waiting == 0


async def test_a_waiter_cancelled_as_it_was_handed_the_place_passes_it_on() -> None:
    gate = Turns(1)
    entered: list[str] = []
    async with gate.turn((0,)):
        first = asyncio.create_task(one(gate, entered, "first", (0,)))
        second = asyncio.create_task(one(gate, entered, "second", (1,)))
        await settle()
    # Leaving handed the place to `first` (no await since): cancelled before it could run.
    first.cancel()
    async with asyncio.timeout(1):  # a place lost with `first` would leave `second` waiting
        await asyncio.gather(first, second, return_exceptions=True)
    assert first.cancelled()
    assert entered == ["second"]
    async with asyncio.timeout(1):  # the place came back after `second`
        async with gate.turn((0,)):
            assert gate.waiting == 0


def test_a_gate_lets_at_least_one_through() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Turns(0)
