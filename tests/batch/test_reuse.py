"""Which clips a batch skips as already done: the fingerprint is the one take_in journals
(checked against the real ``prepare``), and each of the five conditions of
``reskin/batch/reuse.py`` is needed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from reskin.batch.manifest import Clip
from reskin.batch.report import clip_row
from reskin.batch.request import ClipRow, ClipStatus
from reskin.batch.reuse import already_done, fingerprint_of_done, local_fingerprint
from reskin.edit.prepare import take_in
from reskin.edit.request import EditRequest
from reskin.edit.services import Services, journal_of
from reskin.journal import Journal
from reskin.media.binaries import FFmpegTools
from reskin.settings import Settings
from tests.conftest import MakeClip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, work_dir=tmp_path / "work")


@pytest.fixture
def source(make_clip: MakeClip, tmp_path: Path) -> Path:
    path = tmp_path / "in" / "a.mp4"
    path.parent.mkdir()
    shutil.copyfile(make_clip(), path)
    return path


def _request(source: Path, tmp_path: Path, **changes: Any) -> EditRequest:
    fields = {"input": str(source), "prompt": "sepia", "output": str(tmp_path / "out" / "a.mp4")}
    return EditRequest.model_validate(fields | changes)


@pytest.mark.anyio
async def test_the_fingerprint_is_the_one_preprocess_journals(
    settings: Settings, source: Path, tmp_path: Path, ffmpeg_tools: FFmpegTools
) -> None:
    request = _request(source, tmp_path, start_s=0.5)
    prepared = await take_in(request, Services(settings, tools=ffmpeg_tools))
    shutil.rmtree(prepared.job_dir)
    assert local_fingerprint(request, settings) == prepared.fingerprint
    # What the service is asked changes it; where the output goes does not.
    later = _request(source, tmp_path, start_s=1)
    assert local_fingerprint(later, settings) != prepared.fingerprint
    moved = _request(source, tmp_path, start_s=0.5, output=str(tmp_path / "elsewhere.mp4"))
    assert local_fingerprint(moved, settings) == prepared.fingerprint
    # Unknown without taking the input in: a URL, reference images, a missing file.
    for change in ({"input": "https://x/a.mp4"}, {"reference_images": ["r.png"]}):
        assert local_fingerprint(_request(source, tmp_path, **change), settings) is None
    assert local_fingerprint(_request(tmp_path / "none.mp4", tmp_path), settings) is None


def _done_before(
    request: EditRequest, settings: Settings, journal: Journal, *, phase: str = "done"
) -> tuple[Clip, dict[str, ClipRow]]:
    """A clip finished by an earlier batch: journaled, output written, results recorded."""
    fp = local_fingerprint(request, settings)
    assert fp is not None
    journal.reserve(fp)
    journal.accepted(fp, "gen-1")
    if phase in ("downloaded", "done"):
        journal.downloaded(fp, Path("/work/results/x.mp4"), 300.0)
    if phase == "done":
        journal.done(fp)
    if phase == "failed":
        journal.failed(fp, "boom")
    request.output_path.parent.mkdir(parents=True, exist_ok=True)
    request.output_path.write_bytes(b"video")
    clip = Clip(0, "a.mp4", None, request)
    row = clip_row(clip, ClipStatus.DONE, generation_id="gen-1", credits_used=300.0, paid=True,
                   fingerprint=fp, flow_run_id="run-1")  # fmt: skip
    return clip, {request.output: row}


def test_a_clip_done_before_is_skipped_with_what_it_cost(
    settings: Settings, source: Path, tmp_path: Path
) -> None:
    journal = journal_of(settings)
    request = _request(source, tmp_path)
    clip, earlier = _done_before(request, settings, journal)
    row = already_done(clip, earlier, settings, journal)
    assert row is not None
    assert row.status is ClipStatus.SKIPPED
    assert (row.generation_id, row.credits_used, row.paid) == ("gen-1", 300.0, False)
    assert row.fingerprint == earlier[request.output].fingerprint
    assert row.flow_run_id == "run-1"
    # A skipped row counts as done for the run after.
    assert already_done(clip, {request.output: row}, settings, journal) is not None
    # Downloaded (the run died while finishing the output) is as good as done.
    other = _request(source, tmp_path, prompt="ink", output=str(tmp_path / "out" / "b.mp4"))
    clip, earlier = _done_before(other, settings, journal, phase="downloaded")
    assert already_done(clip, earlier, settings, journal) is not None
    fp = earlier[other.output].fingerprint
    assert fingerprint_of_done(other, "gen-1", settings, journal) == fp
    assert fingerprint_of_done(other, "gen-2", settings, journal) is None


@pytest.mark.parametrize(
    "change",
    ["forced", "no earlier row", "earlier failed", "other sound", "output gone", "input changed",
     "journal failed", "journal accepted only", "journal forgotten"],
)  # fmt: skip
def test_each_condition_is_needed(
    settings: Settings, source: Path, tmp_path: Path, change: str
) -> None:
    journal = journal_of(settings)
    request = _request(source, tmp_path)
    phase = {"journal failed": "failed", "journal accepted only": "accepted"}.get(change, "done")
    clip, earlier = _done_before(request, settings, journal, phase=phase)
    before = earlier[request.output]
    if change == "forced":
        clip = Clip(0, "a.mp4", None, request.model_copy(update={"force": True}))
    elif change == "no earlier row":
        earlier = {}
    elif change == "earlier failed":
        earlier = {request.output: before.model_copy(update={"status": ClipStatus.FAILED})}
    elif change == "other sound":
        clip = Clip(0, "a.mp4", None, _request(source, tmp_path, audio="none"))
    elif change == "output gone":
        request.output_path.unlink()
    elif change == "input changed":
        with source.open("ab") as handle:
            handle.write(b"\0")
    elif change == "journal forgotten":
        journal = Journal(tmp_path / "other.sqlite3")
    assert already_done(clip, earlier, settings, journal) is None
