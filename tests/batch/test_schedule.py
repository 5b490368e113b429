"""Running the clips of a batch: at most ``max_parallel`` at once, a failure stops none, and the
budget rule of ``reskin/batch/budget.py``. The clips run through a plain coroutine that stands
for the flow's dispatch (the scheduler's one parameter), ended by the test through events, so
every decision is seen as it is made; the real dispatch runs in ``tests/flows/test_edit_batch.py``.
"""

from __future__ import annotations

import asyncio

import pytest

from reskin.batch.budget import Budget, billed_estimate
from reskin.batch.manifest import Clip
from reskin.batch.report import clip_row
from reskin.batch.request import ClipRow, ClipStatus
from reskin.batch.schedule import Outcome, run_clips
from reskin.edit.request import EditRequest
from tests.conftest import MakeClip

pytestmark = pytest.mark.anyio


def _clips(count: int, **fields: object) -> list[Clip]:
    return [
        Clip(
            index,
            f"c{index}.mp4",
            None,
            EditRequest.model_validate(
                {"input": f"/in/c{index}.mp4", "prompt": "x", "output": f"/out/c{index}.mp4"}
                | fields
            ),
        )
        for index in range(count)
    ]


class Service:
    """Runs clips when the test says: ``finish(index, credits=...)`` ends clip ``index``."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.running: set[int] = set()
        self.most_at_once = 0
        self._ends: dict[int, asyncio.Future[Outcome]] = {}
        self._changed = asyncio.Event()

    async def run(self, clip: Clip) -> Outcome:
        self.started.append(clip.index)
        self.running.add(clip.index)
        self.most_at_once = max(self.most_at_once, len(self.running))
        end = self._ends[clip.index] = asyncio.get_running_loop().create_future()
        self._changed.set()
        try:
            outcome: Outcome = await end
        finally:
            self.running.discard(clip.index)
        return outcome

    async def started_with(self, *indexes: int) -> None:
        """Wait until exactly ``indexes`` have started (and let the scheduler settle)."""
        while sorted(self.started) != sorted(indexes):
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), timeout=10)
        for _ in range(5):
            await asyncio.sleep(0)

    def finish(
        self, clip: Clip, *, credits: float | None = 300, paid: bool = True, billed: float = 3
    ) -> None:
        row = clip_row(
            clip, ClipStatus.DONE, credits_used=credits, paid=paid, generation_id=f"g{clip.index}"
        )
        self._ends[clip.index].set_result(Outcome(row, billed))

    def fail(self, clip: Clip, error: BaseException) -> None:
        self._ends[clip.index].set_exception(error)


async def _scheduled(
    clips: list[Clip], service: Service, *, max_parallel: int, budget: Budget | None = None
) -> tuple[asyncio.Task[dict[int, ClipRow]], list[tuple[int, ClipStatus]]]:
    seen: list[tuple[int, ClipStatus]] = []
    task = asyncio.create_task(
        run_clips(
            clips,
            service.run,
            max_parallel=max_parallel,
            budget=budget,
            on_row=lambda clip, row: seen.append((clip.index, row.status)),
        )
    )
    return task, seen


async def test_at_most_max_parallel_run_and_a_failure_stops_none() -> None:
    clips = _clips(5)
    service = Service()
    task, seen = await _scheduled(clips, service, max_parallel=2)
    await service.started_with(0, 1)
    service.fail(clips[1], RuntimeError("boom\nsecond line"))
    await service.started_with(0, 1, 2)
    service.finish(clips[0])
    service.finish(clips[2])
    await service.started_with(0, 1, 2, 3, 4)
    service.finish(clips[3])
    service.finish(clips[4])
    rows = await task
    assert service.most_at_once == 2
    assert [rows[i].status for i in range(5)] == [
        ClipStatus.DONE,
        ClipStatus.FAILED,
        ClipStatus.DONE,
        ClipStatus.DONE,
        ClipStatus.DONE,
    ]
    assert rows[1].error == "boom second line"
    assert seen[0] == (1, ClipStatus.FAILED)
    assert sorted(index for index, _ in seen) == [0, 1, 2, 3, 4]


async def test_without_a_budget_every_clip_runs() -> None:
    clips = _clips(3)
    service = Service()
    task, _ = await _scheduled(clips, service, max_parallel=8)
    await service.started_with(0, 1, 2)
    for clip in clips:
        service.finish(clip, credits=10_000)
    assert {row.status for row in (await task).values()} == {ClipStatus.DONE}


async def test_with_a_budget_clips_go_one_at_a_time_until_the_price_is_known() -> None:
    clips = _clips(6)
    service = Service()
    budget = Budget(1000, max_billed_s=10.0, estimates={index: 3.0 for index in range(6)})
    task, _ = await _scheduled(clips, service, max_parallel=3, budget=budget)
    await service.started_with(0)
    # A failure tells no price: still one at a time.
    service.fail(clips[0], RuntimeError("no"))
    await service.started_with(0, 1)
    service.finish(clips[1], credits=300, billed=3)  # 100 credits a second
    # 300 spent: 2 and 3 go (+300 each expected = 900 < 1000), then 4 (1200): no more after it.
    await service.started_with(0, 1, 2, 3, 4)
    assert budget.rate == pytest.approx(100)
    assert budget.committed == pytest.approx(1200)
    # The budget is reached on estimates: nothing more is sent, yet nothing is refused while
    # clips are in flight (their real cost may be lower).
    # Cheaper than expected: the price falls to 50 a second, 300 + 2 x 150 = 600 < 1000.
    service.finish(clips[2], credits=0, billed=3)
    await service.started_with(0, 1, 2, 3, 4, 5)
    service.finish(clips[3], credits=300)
    service.finish(clips[4], credits=300)
    service.finish(clips[5], credits=300)
    rows = await task
    assert [rows[i].status for i in range(6)] == [ClipStatus.FAILED] + [ClipStatus.DONE] * 5
    assert budget.spent == pytest.approx(1200)


async def test_once_spent_reaches_the_budget_the_rest_are_over_budget() -> None:
    clips = _clips(4)
    service = Service()
    budget = Budget(300, max_billed_s=10.0, estimates={})
    task, seen = await _scheduled(clips, service, max_parallel=1, budget=budget)
    await service.started_with(0)
    service.finish(clips[0], credits=300)
    rows = await task
    assert service.started == [0]
    assert [rows[i].status for i in range(4)] == [ClipStatus.DONE] + [ClipStatus.OVER_BUDGET] * 3
    assert seen == [(0, ClipStatus.DONE)] + [(i, ClipStatus.OVER_BUDGET) for i in (1, 2, 3)]
    assert rows[3].output == "/out/c3.mp4"
    assert rows[3].generation_id is None


async def test_reused_generations_cost_nothing_but_tell_the_price() -> None:
    clips = _clips(3)
    service = Service()
    # Unknown lengths count as the most a clip bills: 10 s.
    budget = Budget(2000, max_billed_s=10.0, estimates={0: None, 1: None, 2: None})
    task, _ = await _scheduled(clips, service, max_parallel=2, budget=budget)
    await service.started_with(0)
    service.finish(clips[0], credits=300, billed=3, paid=False)
    await service.started_with(0, 1, 2)  # nothing spent: two 10 s clips at 100/s fit
    assert budget.committed == pytest.approx(2000)
    service.finish(clips[1], credits=300)
    service.finish(clips[2], credits=300)
    await task
    assert budget.spent == pytest.approx(600)


async def test_cancelling_the_batch_cancels_the_clips_in_flight() -> None:
    clips = _clips(2)
    service = Service()
    task, _ = await _scheduled(clips, service, max_parallel=2)
    await service.started_with(0, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert service.running == set()


async def test_the_billed_length_comes_from_the_window_or_the_file(make_clip: MakeClip) -> None:
    model = "klingai/video-o1-video-to-video-edit"
    base = {"prompt": "x", "output": "/out/o.mp4"}

    def estimate(**fields: object) -> float | None:
        return billed_estimate(EditRequest.model_validate(base | fields), model)

    clip = str(make_clip(duration_s=4.0))
    assert estimate(input=clip) == pytest.approx(4.0, abs=0.05)
    assert estimate(input=clip, start_s=0.5) == pytest.approx(3.5, abs=0.05)
    assert estimate(input=clip, start_s=1, end_s=8.5) == pytest.approx(7.5)
    assert estimate(input=clip, end_s=1) == 3.0  # the least a job bills
    assert estimate(input=clip, end_s=60) == 60.0  # a long window: its segments, 6 x 10 s
    assert estimate(input="https://cdn.example/a.mp4") is None
    assert estimate(input="s3://media/in/a.mp4") is None  # not read before it is sent
    assert estimate(input="s3://media/in/a.mp4", start_s=1, end_s=5) == pytest.approx(4.0)
    assert estimate(input="/nowhere/a.mp4") is None
    unknown = EditRequest.model_validate(base | {"input": clip})
    assert billed_estimate(unknown, "other/model") is None
