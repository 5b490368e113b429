"""The one-clip deployment run from the Prefect UI's form, in headless Chromium (issue 5).

On the ``up`` stack (``conftest.py``), a user's way through the UI: Deployments, the
``edit-video`` deployment, Run > Custom run, the request typed into the form Prefect builds from
``EditRequest``'s JSON schema (its own text fields, not the "Use JSON input" editor), Submit.
A worker edits the clip; the run's parameters are what was typed.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, Response, expect

from deployments.definitions import EDIT_VIDEO
from reskin.edit.request import EditRequest
from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.deployments.conftest import Api, UpStack
from tests.ui.browser import save

pytestmark = pytest.mark.slow

#: A prompt no other test of the stack sends: the stack's journal would reuse the job of a
#: request it has seen (same clip, same prompt) instead of submitting one.
PROMPT = "hand-tinted silent film"
#: The flow run takes a few seconds on the stand-in; a loaded 2-core machine is slower.
RUN_TIMEOUT_S = 180.0
#: The states a flow run does not leave.
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
#: Submits of the form: SQLite under two workers' writes answers 503 ("database is locked",
#: PREFECT.md) now and then; the UI then keeps the form and says "Something went wrong", and a
#: user clicks Submit again.
SUBMITS = 3


def form_field(page: Page, title: str) -> Locator:
    """The text input of the form's field titled ``title`` (the schema's ``title``).

    The form's ``<label for=...>`` names no element, so ``get_by_label`` finds nothing: the
    field is the property block whose own header (not a nested one's) carries the title.
    """
    header = page.locator(":scope > .p-label__header .schema-form-property__label")
    block = page.locator(".schema-form-property").filter(has=header.get_by_text(title, exact=True))
    return block.get_by_role("textbox")


def title_of(field: str) -> str:
    """The title the form shows for a field of ``EditRequest``."""
    title = EditRequest.model_fields[field].title
    assert title, f"EditRequest.{field} has no title"
    return title


def is_create(response: Response) -> bool:
    return response.request.method == "POST" and response.url.endswith("/create_flow_run")


def submit(page: Page) -> Response:
    """Click Submit until the server creates the run (at most ``SUBMITS`` times)."""
    for _ in range(SUBMITS):
        with page.expect_response(is_create) as answer:
            page.get_by_role("button", name="Submit", exact=True).click()
        if answer.value.status != 503:
            break
    return answer.value


def wait_finished(api: Api, run_id: str) -> dict[str, Any]:
    """The flow run once it is in a final state (a 503 of the server is asked again)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        try:
            run: dict[str, Any] = api.get(f"/flow_runs/{run_id}")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 503:
                raise
        else:
            if run["state_type"] in FINAL:
                return run
        if time.monotonic() > deadline:
            raise AssertionError(f"flow run {run_id} not finished within {RUN_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def test_the_custom_run_form_of_the_one_clip_deployment_edits_the_clip_on_a_worker(
    up: UpStack,
    standin: StandIn,
    make_clip: MakeClip,
    up_page: Page,
    screenshot_dirs: list[Path],
    short_tmp: Path,
):
    clip = short_tmp / "harbour.mp4"
    shutil.copyfile(make_clip(duration_s=3.0), clip)
    typed = {
        "input": str(clip),
        "prompt": PROMPT,
        "output": str(short_tmp / "out" / "harbour-tinted.mp4"),
    }
    deployment = up.api.deployment(EDIT_VIDEO)

    # The UI reads where its API is from the server it is loaded from.
    ui_settings = httpx.get(f"{up.ui_url}/ui-settings", timeout=30).json()
    assert ui_settings["api_url"] == up.api.api_url, (
        f"the UI of up's server talks to {ui_settings['api_url']}, not to {up.api.api_url}: "
        "deployments/up.py must start `prefect server start` with "
        "PREFECT_UI_API_URL=<its own API URL>"
    )

    # Deployments > edit-video > Run > Custom run (the flow's link has the same name).
    page = up_page
    page.goto(f"{up.ui_url}/deployments")
    page.get_by_role("link", name="edit-video", exact=True).and_(
        page.locator('[href^="/deployments/deployment/"]')
    ).click()
    expect(page).to_have_url(re.compile(f"/deployments/deployment/{deployment['id']}"))
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Custom run").click()
    expect(page).to_have_url(re.compile(f"/deployments/deployment/{deployment['id']}/run"))

    # The request's fields, typed in the form's own inputs (found by EditRequest's titles).
    fields = {name: form_field(page, title_of(name)) for name in typed}
    for name, field in fields.items():
        field.fill(typed[name])
    for name, field in fields.items():
        expect(field).to_have_value(typed[name])
    fields["output"].blur()  # no focus ring in the screenshot
    save(page, "deployment-run-form.png", screenshot_dirs)

    created = submit(page)
    assert created.status == 201, f"create_flow_run answered {created.status}: {created.text()}"
    run_id = created.json()["id"]
    expect(page.get_by_text(f"{created.json()['name']} scheduled").first).to_be_visible()

    run = wait_finished(up.api, run_id)
    assert run["state_type"] == "COMPLETED", run["state"]
    assert run["deployment_id"] == deployment["id"]
    assert up.api.worker_of(run_id) in up.workers
    # What was typed, and the schema's defaults for the rest (the form sends those too).
    sent = run["parameters"]["request"]
    assert {name: sent[name] for name in typed} == typed
    assert EditRequest.model_validate(sent) == EditRequest.model_validate(typed)
    info = probe(Path(typed["output"]))
    assert abs(info.duration_s - 3.0) < 0.1
    assert info.has_audio
    assert standin.stats().jobs_accepted == 1
