"""HTTP clients of the session's stand-in (the ``standin`` fixture lives in tests/conftest.py).

The tests talk to it over real HTTP on loopback with httpx directly (not reskin's client), so
they check the wire format the client will meet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from reskin.standin.service import Service

from .wire import Api, Recorder


@pytest.fixture
def api(standin: StandIn) -> Iterator[Api]:
    headers = {"Authorization": f"Bearer {standin.key}"}
    with httpx.Client(base_url=standin.base_url, headers=headers, timeout=30) as http:
        yield Api(http)


@pytest.fixture
def anonymous(standin: StandIn) -> Iterator[httpx.Client]:
    """A client that sends no key."""
    with httpx.Client(base_url=standin.base_url, timeout=30) as http:
        yield http


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[tuple[Service, Recorder]]:
    """A service that records what it would render, and renders nothing."""
    recorder = Recorder([])
    config = StandInConfig(queued_s=0, generating_s=0, work_dir=tmp_path)
    service = Service(config, renderer=recorder)
    yield service, recorder
    service.close()
