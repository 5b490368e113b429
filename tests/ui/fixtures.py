"""Browser fixtures shared by the tests that drive the Prefect UI: one headless Chromium per
module, pages of their own, and where screenshots go.

A conftest that needs them imports them (``from tests.ui.fixtures import browser``): pytest
registers a fixture wherever its function is a name of a conftest, and ``pytest_plugins`` is
only allowed at the root. ``tests/ui/conftest.py`` and ``tests/deployments/conftest.py`` do.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.ui.browser import CHROMIUM_ARGS, VIEWPORT, find_chromium, guard

#: Set (``make screenshots`` does) to also write the screenshots there, e.g. ``docs/images``;
#: without it they go only to the test's temporary folder, so a test run leaves the tree as
#: it was.
SCREENSHOT_DIR = "SCREENSHOT_DIR"

#: How long one wait for the UI may take: it renders in a second or two, but a loaded 2-core
#: machine running the rest of the suite can be far slower.
UI_TIMEOUT_MS = 60_000
expect.set_options(timeout=UI_TIMEOUT_MS)  # Playwright's own default for assertions is 5 s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the tests of one module (Playwright's sync API keeps
    an event loop of its own, so it is not kept across the session's async tests)."""
    try:
        chromium = find_chromium()
    except FileNotFoundError as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:
        pytest.fail(missing, pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def fresh_page(browser: Browser) -> Iterator[Page]:
    """A page of its own (fresh cookies and storage), kept on loopback by :func:`guard`. The
    UI asks the server it is loaded from where its API is (``/ui-settings``)."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme="dark", locale="en-US")
    context.set_default_timeout(UI_TIMEOUT_MS)
    guard(context)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def screenshot_dirs(request: pytest.FixtureRequest, tmp_path: Path) -> list[Path]:
    """Where this test's screenshots go: its own folder, and ``$SCREENSHOT_DIR`` (relative to
    the project's root: every test runs in a working directory of its own) when set."""
    folders = [tmp_path / "screenshots"]
    chosen = os.environ.get(SCREENSHOT_DIR)
    if chosen:
        folders.append(request.config.rootpath / chosen)
    return folders


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder of the test's own with a short path (``/tmp/reskin-ui-XXXX``): run names,
    artifacts, forms and the graph show the paths of inputs and outputs, and the screenshots
    read better without pytest's long ones."""
    with tempfile.TemporaryDirectory(prefix="reskin-ui-") as folder:
        yield Path(folder)
