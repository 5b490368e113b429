"""Fixtures of the UI tests: one headless Chromium per module, a fresh page per test aimed at
the session's Prefect server, and where screenshots go (``tests/ui/fixtures.py``, shared with
``tests/deployments``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.prefect_server import PrefectServer
from tests.ui.fixtures import browser as browser
from tests.ui.fixtures import fresh_page
from tests.ui.fixtures import screenshot_dirs as screenshot_dirs
from tests.ui.fixtures import short_tmp as short_tmp


@pytest.fixture
def ui_page(browser: Browser, prefect_server: PrefectServer) -> Iterator[Page]:
    """A page of its own (fresh cookies and storage) whose UI talks to the session's server
    (``start_prefect_server`` sets its ``PREFECT_UI_API_URL``)."""
    with fresh_page(browser) as page:
        yield page


@pytest.fixture
def ui_base(prefect_server: PrefectServer) -> str:
    """The address of the server's UI (its API lives under ``/api``)."""
    return f"http://{prefect_server.host}:{prefect_server.port}"
