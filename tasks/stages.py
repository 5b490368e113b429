"""The edit's stages as Prefect tasks, for :func:`reskin.edit.pipeline.edit` to run in order.

Each attribute is the task of the same name (one module per stage in ``tasks/``), and the job
slot is the jobs-in-flight limit shared on the Prefect server (``tasks/limits.py``), so the
order of an edit lives in the core alone and the flow runs exactly what a direct call runs.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from reskin.edit.services import Services
from reskin.edit.stages import Stages
from tasks.conform import conform
from tasks.deliver import deliver
from tasks.fetch import fetch
from tasks.fidelity import fidelity
from tasks.limits import job_slot
from tasks.place import place
from tasks.plan import plan
from tasks.poll import poll
from tasks.sound import sound
from tasks.split import split
from tasks.stitch import stitch
from tasks.submit import submit
from tasks.take_in import take_in

#: The stages each segment of a long edit runs, named after the segment in the UI.
_PER_SEGMENT = ("plan", "conform", "place", "submit", "poll", "fetch")


class _Tasks:
    take_in = staticmethod(take_in)
    split = staticmethod(split)
    stitch = staticmethod(stitch)
    plan = staticmethod(plan)
    conform = staticmethod(conform)
    place = staticmethod(place)
    submit = staticmethod(submit)
    poll = staticmethod(poll)
    fetch = staticmethod(fetch)
    fidelity = staticmethod(fidelity)
    sound = staticmethod(sound)
    deliver = staticmethod(deliver)

    @staticmethod
    def job_slot(services: Services) -> AbstractAsyncContextManager[object]:
        return job_slot(services.settings)

    def segment(self, name: str) -> Stages:
        return _SegmentTasks(name)


class _SegmentTasks(_Tasks):
    """The same tasks, each run named ``<stage> <segment>`` (``submit segment 3 of 6 (...)``)."""

    def __init__(self, name: str) -> None:
        for stage in _PER_SEGMENT:
            named: Any = getattr(_Tasks, stage).with_options(task_run_name=f"{stage} {name}")
            setattr(self, stage, named)


TASKS: Stages = _Tasks()
