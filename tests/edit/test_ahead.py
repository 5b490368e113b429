"""A context manager held in a task of its own (reskin/edit/ahead.py): asked for ahead of its
use, given back in the background, never left held, and an edit's job slot asked for beside
``take_in`` (a real edit on the stand-in, its job slot one of the test's that takes its time)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reskin.edit.ahead import held_ahead
from reskin.edit.pipeline import Direct, edit
from reskin.edit.request import EditRequest
from reskin.edit.services import Services, open_services
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from tests.conftest import MakeClip

pytestmark = pytest.mark.anyio

ASK_S = 0.3


class Slot:
    """A slot whose ask and release take their time, and a diary of when what happened."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.diary: list[str] = []
        self.fail = fail

    @contextlib.asynccontextmanager
    async def take(self) -> AsyncIterator[None]:
        self.diary.append("asked")
        await asyncio.sleep(ASK_S)
        if self.fail is not None:
            raise self.fail
        self.diary.append("held")
        try:
            yield
        finally:
            await asyncio.sleep(ASK_S)
            self.diary.append("given back")


async def test_asked_ahead_the_ask_runs_beside_the_work_before_its_use() -> None:
    slot = Slot()
    async with held_ahead(slot.take(), ahead=True) as held:
        await asyncio.sleep(2 * ASK_S)  # the work before the use: the ask runs meanwhile
        slot.diary.append("work done")
        async with held:
            slot.diary.append("used")
        slot.diary.append("after")  # not kept waiting by the release
    # Held while the work went on; given back while what follows went on.
    assert slot.diary == ["asked", "held", "work done", "used", "after", "given back"]


async def test_not_ahead_it_is_asked_for_at_its_use() -> None:
    slot = Slot()
    async with held_ahead(slot.take(), ahead=False) as held:
        slot.diary.append("work done")
        async with held:
            slot.diary.append("used")
    assert slot.diary == ["work done", "asked", "held", "used", "given back"]


async def test_what_the_ask_raised_is_raised_at_the_use() -> None:
    slot = Slot(fail=LookupError("no such limit"))

    async def use() -> None:
        async with held_ahead(slot.take(), ahead=True) as held:
            await asyncio.sleep(0)
            slot.diary.append("work done")
            async with held:
                slot.diary.append("used")

    with pytest.raises(LookupError, match="no such limit"):
        await use()
    assert slot.diary == ["asked", "work done"]


async def test_given_back_unused_a_waiting_ask_ends_and_nothing_is_held() -> None:
    slot = Slot()
    async with held_ahead(slot.take(), ahead=True) as held:
        await asyncio.sleep(0)
        held.give_back()  # e.g. a long edit: it holds one per segment
    assert slot.diary == ["asked"]


async def test_a_cancel_while_waiting_ends_at_once_and_a_held_slot_is_given_back() -> None:
    waiting = Slot()

    async def wait_for_it() -> None:
        async with held_ahead(waiting.take(), ahead=True) as held, held:
            waiting.diary.append("used")

    task = asyncio.create_task(wait_for_it())
    await asyncio.sleep(ASK_S / 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert waiting.diary == ["asked"]

    holding = Slot()
    used = asyncio.Event()

    async def hold_it() -> None:
        async with held_ahead(holding.take(), ahead=True) as held, held:
            holding.diary.append("used")
            used.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(hold_it())
    await used.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert holding.diary == ["asked", "held", "used", "given back"]  # before the cancel ended


async def test_an_error_of_the_work_wins_and_the_slot_is_still_given_back() -> None:
    slot = Slot()

    async def fail() -> None:
        async with held_ahead(slot.take(), ahead=True) as held, held:
            raise ValueError("the edit failed")

    with pytest.raises(ValueError, match="the edit failed"):
        await fail()
    assert slot.diary == ["asked", "held", "given back"]


LOG = logging.getLogger("reskin.test-ahead")


class SlowSlot(Direct):
    """The core's stages as they are, with a job slot whose ask and release take time (as the
    Prefect server's do: ``tasks/limits.py``), logged beside the stages' lines."""

    @staticmethod
    def job_slot(services: Services) -> contextlib.AbstractAsyncContextManager[object]:
        @contextlib.asynccontextmanager
        async def slot() -> AsyncIterator[None]:
            LOG.info("slot asked")
            await asyncio.sleep(ASK_S)
            LOG.info("slot held")
            try:
                yield
            finally:
                await asyncio.sleep(ASK_S)
                LOG.info("slot given back")

        return slot()


@pytest.mark.parametrize("approval", [False, True], ids=["no-approval", "approval-threshold"])
async def test_an_edit_asks_for_its_job_slot_beside_take_in_unless_it_may_pause_for_approval(
    approval: bool,
    standin: StandIn,
    edit_env: Path,
    make_clip: MakeClip,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if approval:  # a threshold the edit stays under: it is asked, and says yes by itself
        monkeypatch.setenv("RESKIN_APPROVE_ABOVE_CREDITS", "1000000")
        monkeypatch.setenv("RESKIN_CREDITS_PER_SECOND", "1")
    clip = make_clip(duration_s=3.0, width=1280, height=720)
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(tmp_path / "o.mp4"))
    caplog.set_level(logging.INFO, logger="reskin")

    async with open_services(load_settings()) as services:
        result = await edit(request, services, SlowSlot())

    said = [record.getMessage() for record in caplog.records]

    def at(start: str) -> int:
        return next(i for i, line in enumerate(said) if line.startswith(start))

    if approval:  # asked once past the approval (conform): never held while a person is asked
        assert at("conform done") < at("slot asked")
    else:
        assert at("slot asked") < at("take_in done")
        assert at("slot held") < at("submit done")
    assert at("submit done") < at("poll done") < at("slot given back")
    assert result.output == str(tmp_path / "o.mp4")
