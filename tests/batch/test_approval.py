"""What a batch asks approval for: each clip to send at what it will bill (a local clip by its
probed length, a window by its length, a URL at one job's most), those already done left out."""

from __future__ import annotations

import shutil
from pathlib import Path

from reskin.batch.approval import batch_estimate
from reskin.batch.plan import make_plan
from reskin.batch.request import BatchRequest
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
