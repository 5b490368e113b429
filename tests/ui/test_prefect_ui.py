"""The Prefect UI, seen in a real browser (headless Chromium, ``tests/ui/browser.py``).

Runs on the session's Prefect server, opened at the address ``reskin demo`` prints:

- a run of ``reskin edit`` shows its name, its state, its stages and its artifacts, and its
  summary artifact renders as a table;
- a batch of two clips (the ``edit-batch`` flow, each clip a subflow) shows both clip runs
  under it and its table artifact, and a clip run reached from it has its stages and artifacts.

Screenshots go to the test's folder, and to ``docs/images`` with ``make screenshots``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from reskin.batch.request import BatchRequest
from reskin.edit.pipeline import STAGES as PIPELINE_STAGES
from tests.conftest import MakeClip, RunReskin
from tests.prefect_server import PrefectServer
from tests.ui.browser import save

pytestmark = pytest.mark.slow

#: Every task run of an edit: the pipeline's stages, then publish.
STAGES = (*PIPELINE_STAGES, "publish")
PROMPT = "turn the scene into a snowy winter night"
RUN_BATCH = Path(__file__).with_name("run_batch.py")


def tab(page: Page, name: str) -> Locator:
    """One of the run page's tabs (Logs, Task Runs, Subflow Runs, Artifacts, ...)."""
    return page.locator("li.p-tab", has_text=name)


def expect_run_heading(page: Page, name: str, *facts: str) -> None:
    """The run page's heading names the run ``name`` (its last crumb) and shows ``facts``."""
    heading = page.locator("header.page-heading-flow-run")
    expect(heading.locator(".p-bread-crumbs__crumb").last).to_have_text(name)
    for fact in facts:
        expect(heading).to_contain_text(fact)


def artifact_card(page: Page, description: str) -> Locator:
    """The card of the artifact whose description is ``description`` (a link to its page)."""
    return page.locator('a[href^="/artifacts/artifact/"]', has_text=description)


def edit(run_reskin: RunReskin, clip: Path, output: Path) -> dict[str, Any]:
    done = run_reskin("edit", str(clip), "--prompt", PROMPT, "--output", str(output), "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_clip_run_shows_its_stages_and_artifacts(
    run_reskin: RunReskin,
    make_clip: MakeClip,
    prefect_server: PrefectServer,
    ui_page: Page,
    ui_base: str,
    screenshot_dirs: list[Path],
    short_tmp: Path,
):
    # A name no other run on the session's server has, to find this run by.
    clip = short_tmp / f"harbour-{uuid.uuid4().hex[:6]}.mp4"
    shutil.copyfile(make_clip(duration_s=3.0), clip)
    result = edit(run_reskin, clip, short_tmp / "out" / "winter.mp4")
    (run,) = prefect_server.flow_runs_named(clip.name)
    page = ui_page

    # The address reskin prints for a run; the header names the run and its final state.
    page.goto(f"{ui_base}/runs/flow-run/{run['id']}")
    expect_run_heading(page, run["name"], "Completed", f"{len(STAGES)} Task runs")

    # Each stage is a task run of its own, listed under its stage word.
    tab(page, "Task Runs").click()
    for stage in STAGES:
        expect(page.get_by_role("link", name=stage).first).to_be_visible()

    # The artifacts: the summary, the link to the output and the poll's progress.
    tab(page, "Artifacts").click()
    summary = artifact_card(page, "What this edit did and what it cost.")
    expect(summary).to_be_visible()
    expect(artifact_card(page, "The edited video.")).to_be_visible()
    expect(artifact_card(page, result["generation_id"][:8])).to_be_visible()
    page.wait_for_load_state("networkidle")
    save(page, "prefect-clip-run.png", screenshot_dirs)

    # The summary renders as a table with what this edit did.
    summary.click()
    expect(page.get_by_role("heading", name="reskin edit")).to_be_visible()
    table = page.locator("table")
    expect(table).to_contain_text(result["generation_id"])
    expect(table).to_contain_text(PROMPT)
    expect(table).to_contain_text("credits used")
    # The before/after contact sheet of this local output shows inline (a data URI), decoded.
    sheet = page.get_by_alt_text("input (top) and result (bottom)")
    expect(sheet).to_be_visible()
    assert sheet.evaluate("picture => picture.complete && picture.naturalWidth") > 0
    page.wait_for_load_state("networkidle")
    save(page, "prefect-clip-summary.png", screenshot_dirs)


def run_batch(cli_env: dict[str, str], batch: BatchRequest, cwd: Path) -> dict[str, Any]:
    """The ``edit-batch`` flow in a process of its own against the session's server."""
    env = {
        **cli_env,
        # Prefect limits of the test's own, loose enough not to space the creates out.
        "RESKIN_CREATES_PER_MINUTE": "600",
        "RESKIN_LIMITS_PREFIX": f"ui-{uuid.uuid4().hex[:12]}",
    }
    done = subprocess.run(
        [sys.executable, str(RUN_BATCH), batch.model_dump_json()],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_a_batch_run_shows_its_clip_runs_and_table(
    cli_env: dict[str, str],
    make_clip: MakeClip,
    prefect_server: PrefectServer,
    ui_page: Page,
    ui_base: str,
    screenshot_dirs: list[Path],
    short_tmp: Path,
):
    inbox = short_tmp / "inbox"
    inbox.mkdir()
    shutil.copyfile(make_clip(duration_s=3.0), inbox / "harbour.mp4")
    shutil.copyfile(make_clip(duration_s=3.0, width=1280, height=720, fps=30), inbox / "street.mp4")
    batch = BatchRequest(
        inbox=str(inbox), output_dir=str(short_tmp / "out"), prompt=PROMPT, max_parallel=2
    )
    done = run_batch(cli_env, batch, short_tmp)
    rows = done["result"]["rows"]
    assert [(row["clip"], row["status"]) for row in rows] == [
        ("harbour.mp4", "done"),
        ("street.mp4", "done"),
    ]
    children = prefect_server.filter(
        "flow_runs", {"flow_runs": {"parent_flow_run_id": {"any_": [done["flow_run_id"]]}}}
    )
    assert sorted(child["id"] for child in children) == sorted(row["flow_run_id"] for row in rows)
    names = {child["id"]: child["name"] for child in children}
    page = ui_page

    # The batch's page: its name, its state, and each clip as a run of its own under it.
    page.goto(f"{ui_base}/runs/flow-run/{done['flow_run_id']}")
    expect_run_heading(page, "batch inbox", "Completed", "2 Task runs")
    tab(page, "Subflow Runs").click()
    for name in names.values():
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    page.wait_for_load_state("networkidle")
    save(page, "prefect-batch-run.png", screenshot_dirs)

    # Its table artifact: one row per clip, with what became of it. (No screenshot: the
    # table is wider than a page, its ids and paths scroll out of view.)
    tab(page, "Artifacts").click()
    artifact_card(page, "2 clips: 2 done").click()
    table = page.locator("table")
    for row in rows:
        expect(table).to_contain_text(row["clip"])
        expect(table).to_contain_text(row["output"])
        expect(table).to_contain_text(row["generation_id"])

    # A clip's run, reached from the batch, has its stages and its artifacts.
    page.go_back()
    tab(page, "Subflow Runs").click()
    first = rows[0]
    page.get_by_role("link", name=names[first["flow_run_id"]], exact=True).click()
    expect_run_heading(page, names[first["flow_run_id"]], "Completed", f"{len(STAGES)} Task runs")
    tab(page, "Artifacts").click()
    expect(artifact_card(page, "What this edit did and what it cost.")).to_be_visible()
    expect(artifact_card(page, "The edited video.")).to_be_visible()
    expect(artifact_card(page, first["generation_id"][:8])).to_be_visible()
