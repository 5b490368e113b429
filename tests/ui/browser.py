"""Headless Chromium for the UI tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

Playwright never downloads a browser here: it launches the system's Chromium through
``executable_path`` (``.ci/run`` installs it with apt-get). A machine without it fails the UI
tests with one line saying how to get it, rather than skipping them in silence.

Every page of a test goes through :func:`guard`, which keeps the browser on loopback (an
outside request is aborted, never sent) and makes the Prefect UI talk to the API of the
server under test (below).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Route, ViewportSize

#: Where Debian's ``chromium`` package puts the browser; ``CHROMIUM=/path`` picks another.
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")

#: As the machine notes prescribe for a closed network: without the background-networking
#: flags Chromium's own connections are refused in bulk. Playwright adds ``--headless``,
#: ``--no-sandbox`` (we run as root) and a fresh profile of its own.
CHROMIUM_ARGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: The desktop size of the screenshots: the run page's header, graph, tabs and a row of
#: artifact cards fit in it.
VIEWPORT: ViewportSize = {"width": 1280, "height": 1000}

_LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def find_chromium() -> Path:
    """The Chromium to drive: ``$CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium`` on
    the PATH; raise with what to do when there is none."""
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        if Path(wanted).is_file():
            return Path(wanted)
        raise FileNotFoundError(f"CHROMIUM={wanted} is not a file: point it at a Chromium binary")
    if DEFAULT_CHROMIUM.is_file():
        return DEFAULT_CHROMIUM
    found = shutil.which("chromium")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "no Chromium for the UI tests: install it with `apt-get install chromium` (as .ci/run "
        "does), set CHROMIUM=/path/to/chromium, or leave them out with `--ignore=tests/ui`"
    )


def guard(context: BrowserContext) -> None:
    """Route every request of ``context``: anything off loopback is aborted (the UI would
    otherwise reach for fonts and telemetry on a closed network).

    The server under test is started with ``PREFECT_UI_API_URL``, so the UI finds its API on
    the test's port by itself.
    """

    def route(route: Route) -> None:
        if urlsplit(route.request.url).hostname not in _LOOPBACK:
            route.abort()
            return
        route.continue_()

    context.route("**/*", route)


def save(page: Page, name: str, folders: list[Path]) -> list[Path]:
    """Screenshot the viewport of ``page`` as ``name`` into each of ``folders``."""
    shot = page.screenshot(type="png", animations="disabled", caret="hide")
    paths = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(shot)
        paths.append(path)
    return paths
