"""The service's renders: at acceptance by default, or ``render_lead_s`` before the job's
generating time ends (benchmarks: a service's compute costs its client's machine nothing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reskin.aimlapi.models import CreateRequest
from reskin.registry import DEFAULT_MODEL
from reskin.standin.config import StandInConfig
from reskin.standin.render import RenderTask
from reskin.standin.service import Service

from .wire import data_uri


@dataclass
class Clocked:
    """A renderer that renders nothing and notes when it was called."""

    started: list[float] = field(default_factory=list)

    def __call__(self, task: RenderTask) -> None:
        self.started.append(time.monotonic())


def _request(make_clip: Callable[..., Path]) -> CreateRequest:
    clip = make_clip(audio=False)
    return CreateRequest(model=DEFAULT_MODEL, prompt="sepia", video_url=data_uri(clip))


def test_a_render_starts_its_lead_before_the_generating_time_ends(
    make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    renderer = Clocked()
    config = StandInConfig(queued_s=0.2, generating_s=1.0, render_lead_s=0.5, work_dir=tmp_path)
    service = Service(config, renderer=renderer)
    try:
        job = service.accept(_request(make_clip))
        assert job.render is not None
        assert not job.render.done()  # not yet handed to the pool
        job.render.result(timeout=10)
        waited = renderer.started[0] - job.accepted_at
        assert 0.7 - 0.05 <= waited < 0.7 + 1.0  # queued 0.2 + generating 1.0 - lead 0.5
        assert service.counters.snapshot().renders_done == 1
    finally:
        service.close()


def test_without_a_lead_the_render_starts_at_acceptance(
    make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    renderer = Clocked()
    config = StandInConfig(queued_s=0.2, generating_s=1.0, work_dir=tmp_path)
    service = Service(config, renderer=renderer)
    try:
        job = service.accept(_request(make_clip))
        assert job.render is not None
        job.render.result(timeout=10)
        assert renderer.started[0] - job.accepted_at < 0.5
    finally:
        service.close()


def test_closing_drops_a_render_not_yet_started(
    make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    renderer = Clocked()
    config = StandInConfig(queued_s=0, generating_s=30.0, render_lead_s=1.0, work_dir=tmp_path)
    service = Service(config, renderer=renderer)
    job = service.accept(_request(make_clip))
    service.close()
    assert job.render is not None
    time.sleep(0.1)
    assert job.render.cancelled()
    assert renderer.started == []
