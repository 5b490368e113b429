"""A full disk around the result, on real small disks (``tests/disk.py``): the space checked
before the create is sent (:func:`ensure_room_to_finish`: refused while nothing is paid), and an
output folder that fills while the job runs (the whole edit with no Prefect, against the
stand-in: the download stays journaled and the rerun uses it). The command line on full disks
is ``tests/test_disk_full.py``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reskin.aimlapi.polling import OnUpdate, PollSchedule
from reskin.edit import wait
from reskin.edit.pipeline import Direct, edit
from reskin.edit.prepare import Clip, Taken, ToSend
from reskin.edit.request import EditRequest
from reskin.edit.results import (
    RESULT_BYTES_PER_S,
    ensure_room_to_finish,
    output_folder,
    result_estimate,
)
from reskin.edit.services import Services, open_services
from reskin.edit.wait import Finished
from reskin.errors import DiskFullError
from reskin.journal import Phase
from reskin.media.conform_plan import Action, ConformPlan
from reskin.media.preview import contact_sheet
from reskin.media.probe import probe
from reskin.settings import Settings, load_settings
from reskin.space import PAID_KEPT
from reskin.standin.server import StandIn
from reskin.submission import Submitted
from tests.conftest import MakeClip
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)

MB = 1_000_000


def planned(seconds: float = 3.0) -> ToSend:
    plan = ConformPlan(
        action=Action.PASSTHROUGH,
        reasons=(),
        start_s=0.0,
        duration_s=seconds,
        read_s=seconds,
        pad_to_s=None,
        width=720,
        height=720,
        fps=24.0,
        audio="copy",
    )
    return ToSend(plan, None)


def clip_of(tmp_path: Path, size: int) -> Clip:
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(size))
    return Clip(path, None)


def request_to(output: Path) -> EditRequest:
    return EditRequest(input="in.mp4", prompt="sepia film", output=str(output))


def test_the_result_is_estimated_from_its_length_or_the_clip_if_larger(tmp_path: Path) -> None:
    assert result_estimate(clip_of(tmp_path, 1000), planned(3.0)) == 3 * RESULT_BYTES_PER_S
    assert result_estimate(clip_of(tmp_path, 9 * MB), planned(3.0)) == 9 * MB


def test_an_s3_output_is_staged_in_the_work_folder(tmp_path: Path) -> None:
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})
    request = EditRequest(input="in.mp4", prompt="sepia", output="s3://bucket/out.mp4")
    assert output_folder(request, settings) == tmp_path / "work"


def test_an_output_folder_too_small_is_refused_before_paying(
    small_disks: SmallDisks, tmp_path: Path
) -> None:
    out = small_disks.mount(tmp_path / "out", 2 * MB)
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})

    with pytest.raises(DiskFullError) as caught:
        ensure_room_to_finish(
            request_to(out / "edited.mp4"), clip_of(tmp_path, 1000), planned(), settings
        )

    assert caught.value.folder == out
    assert str(caught.value) == (
        f"no space left in {out} for the final video: free at least 5 MB there and rerun "
        "the same command (nothing was paid for yet)"
    )


def test_room_enough_lets_the_edit_go_on(small_disks: SmallDisks, tmp_path: Path) -> None:
    out = small_disks.mount(tmp_path / "out", 8 * MB)
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})

    ensure_room_to_finish(
        request_to(out / "later" / "edited.mp4"), clip_of(tmp_path, 1000), planned(), settings
    )


def test_on_one_disk_the_result_and_the_final_video_must_fit_together(
    small_disks: SmallDisks, tmp_path: Path
) -> None:
    disk = small_disks.mount(tmp_path / "disk", 8 * MB)  # room for either, not for both
    settings = Settings.model_validate({"work_dir": str(disk / "work")})

    with pytest.raises(DiskFullError) as caught:
        ensure_room_to_finish(
            request_to(disk / "out" / "edited.mp4"), clip_of(tmp_path, 1000), planned(), settings
        )

    assert caught.value.folder == disk / "work"
    assert "for the result and the final video: free at least 9 MB there" in str(caught.value)


class FillsWhileTheJobRuns(Direct):
    """The core's stages, but ``disk`` fills up (another program's files) once the job is
    accepted: right before the poll."""

    def __init__(self, disks: SmallDisks, disk: Path) -> None:
        self.disks, self.disk = disks, disk

    async def poll(
        self,
        taken: Taken,
        submitted: Submitted,
        services: Services,
        *,
        on_update: OnUpdate | None = None,
        schedule: PollSchedule | None = None,
    ) -> Finished:
        self.disks.fill(self.disk)
        return await wait.poll(taken, submitted, services, on_update=on_update, schedule=schedule)


@pytest.mark.anyio
async def test_an_output_folder_that_fills_while_the_job_runs_keeps_the_download_for_the_rerun(
    standin: StandIn,
    edit_env: Path,
    make_clip: MakeClip,
    small_disks: SmallDisks,
    tmp_path: Path,
) -> None:
    out = small_disks.mount(tmp_path / "out", 16 * MB)
    output = out / "edited.mp4"
    request = request_to(output).model_copy(update={"input": str(make_clip(duration_s=3.0))})

    async with open_services(load_settings()) as services:
        with pytest.raises(DiskFullError) as caught:
            await edit(request, services, FillsWhileTheJobRuns(small_disks, out))
        assert caught.value.folder == out
        assert str(caught.value).startswith(f"no space left in {out} for the final video: ")
        assert str(caught.value).endswith(PAID_KEPT)
        # Refused before ffmpeg wrote a byte: nothing but the filler is there.
        assert [p.name for p in out.iterdir() if not p.name.startswith(".filler")] == []
        job = max(standin.service.jobs.all(), key=lambda job: job.accepted_at)
        fp = services.journal.fingerprint_of(job.id)
        assert fp is not None
        entry = services.journal.get(fp)
        assert entry is not None
        assert entry.phase is Phase.DOWNLOADED

        small_disks.free_up()
        done = await edit(request, services)

    assert (done.resumed, done.reused_download) == (True, True)
    assert probe(output).has_audio
    stats = standin.stats()
    assert (stats.create_calls, stats.result_downloads) == (1, 1)


@pytest.mark.anyio
async def test_a_short_edit_decodes_each_video_once_and_checks_the_final_one_by_its_packets(
    standin: StandIn,
    edit_env: Path,
    make_clip: MakeClip,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The input and the result are decoded whole once each (their checks, which also make the
    fidelity thumbnails and the contact sheet's rows); the final video, a stream copy of the
    result under the restored sound, is compared with the result instead of decoded again;
    the sheet is the one the clips themselves give, pixel for pixel."""
    clip = make_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    request = request_to(output).model_copy(update={"input": str(clip)})

    async with open_services(load_settings()) as services:
        with caplog.at_level(logging.DEBUG, logger="reskin.media.runner"):
            done = await edit(request, services)
        tools = services.tools

    runs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("running ")]
    decodes = [line for line in runs if " -xerror " in line]
    # The input's check and the result's, each cutting its row of the sheet; no third.
    assert [Path(line.rsplit(" ", 1)[-1]).name for line in decodes] == [
        "before.row.png",
        "after.row.png",
    ]
    sheets = [line for line in runs if line.endswith(".preview.part.png")]
    assert len(sheets) == 1
    assert "before.row.png" in sheets[0]  # drawn from the rows: no video decoded for it
    assert "after.row.png" in sheets[0]
    assert all(str(clip) not in line for line in runs)  # only the job's copy is read
    assert probe(output).has_audio
    assert done.output_duration_s == pytest.approx(3.0, abs=0.1)
    assert done.preview is not None
    assert same_bytes(
        Path(done.preview),
        contact_sheet(clip, output, tmp_path / "from-clips.png", tools, timeout_s=60),
    )


def same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()
