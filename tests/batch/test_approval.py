"""What a batch asks approval for: each clip to send at what it will bill (a local clip by its
probed length, a window by its length, a URL at one job's most), those already done left out,
and those its journal holds as accepted or done (their runs resume them) too."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from reskin.batch.approval import batch_estimate
from reskin.batch.plan import make_plan
from reskin.batch.request import BatchRequest
from reskin.batch.reuse import local_fingerprint
from reskin.journal import Journal
from reskin.registry import spec_for
from reskin.settings import Settings
from tests.conftest import MakeClip


def test_each_clip_to_send_is_counted_at_what_it_will_bill(
    make_clip: MakeClip, tmp_path: Path
) -> None:
    shutil.copyfile(make_clip(), tmp_path / "a.mp4")  # 3 s
    manifest = tmp_path / "clips.csv"
    manifest.write_text(
        "input,prompt,start_s,end_s,output\n"
        "a.mp4,x,,,a.mp4\n"
        "a.mp4,y,0.5,2.5,b.mp4\n"  # 2 s, billed as the model's shortest (3 s)
        "https://example.com/v.mp4,z,,,c.mp4\n",
        encoding="utf-8",
    )
    batch = BatchRequest(manifest=str(manifest), output_dir=str(tmp_path / "out"))
    settings = Settings(_env_file=None, work_dir=tmp_path / "work", credits_per_second=100)
    with Journal(tmp_path / "journal.sqlite3") as journal:
        plan = make_plan(batch, settings, journal)
    estimate = batch_estimate(batch, plan, settings)

    most = spec_for(settings.model).billing.max_billed_s
    assert estimate.title == "batch clips.csv"
    assert [(line.label, line.billed_s, line.known) for line in estimate.lines] == [
        (plan.clips[0].label, 3.0, True),
        (plan.clips[1].label, 3.0, True),
        (plan.clips[2].label, most, False),
    ]
    assert estimate.credits == 100 * (6 + most)
    assert estimate.summary().endswith("1 of unknown length counted at one job's most")


def test_a_clip_the_journal_holds_as_accepted_or_done_is_not_asked_for_again(
    make_clip: MakeClip, tmp_path: Path
) -> None:
    """A batch that crashed with clips at the service (accepted, or downloaded, but no row in
    its results manifest yet): its rerun sends them again, but their runs resume them unpaid."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4"):
        shutil.copyfile(make_clip(), inbox / name)  # 3 s each
    (inbox / "b.mp4").write_bytes((inbox / "b.mp4").read_bytes() + b"\0")  # other content
    (inbox / "c.mp4").write_bytes((inbox / "c.mp4").read_bytes() + b"\0\0")
    (inbox / "d.mp4").write_bytes((inbox / "d.mp4").read_bytes() + b"\0\0\0")
    batch = BatchRequest(inbox=str(inbox), output_dir=str(tmp_path / "out"), prompt="sepia")
    settings = Settings(
        _env_file=None, work_dir=tmp_path / "work", credits_per_second=100, result_retention_h=1
    )
    with Journal(tmp_path / "journal.sqlite3") as journal:
        plan = make_plan(batch, settings, journal)
        keys = {clip.label: local_fingerprint(clip.request, settings) for clip in plan.clips}
        for label, phase in (("a.mp4", "accepted"), ("b.mp4", "failed"), ("c.mp4", "old")):
            fp = keys[label]
            assert fp is not None
            assert journal.reserve(fp)
            journal.accepted(fp, f"gen-{label}")
            if phase == "failed":  # refused unless forced: counted, never said to be free
                journal.failed(fp, "the job ended in error")
        assert len(plan.to_send) == 4  # the plan skips only what its results manifest has
        fresh = batch_estimate(batch, plan, settings, journal)
        # c.mp4's generation is past the retention when the rerun comes: it is paid anew.
        later = Journal(tmp_path / "journal.sqlite3", clock=lambda: time.time() + 7200)
        with later:
            aged = batch_estimate(batch, plan, settings, later)

    assert [line.label for line in fresh.lines] == ["b.mp4", "d.mp4"]
    assert (fresh.credits, fresh.free) == (600, 2)
    assert fresh.summary() == (
        "2 of 4 clips, 6 billed seconds, about 600 credits, 2 already accepted or done by an "
        "earlier run (the journal's), not paid again"
    )
    assert [line.label for line in aged.lines] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    # Without the journal (as before), every clip to send is counted.
    assert batch_estimate(batch, plan, settings).free == 0
