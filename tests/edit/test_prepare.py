"""take_in and plan: the journal decides before anything is conformed, so a refusal costs no
ffmpeg run; a failed take_in leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from reskin.edit.prepare import ToResume, ToSend, conform, plan, take_in
from reskin.edit.request import EditRequest
from reskin.edit.services import Services
from reskin.errors import DiskFullError, GenerationFailedError, InputError, ReskinError
from reskin.media.binaries import FFmpegTools
from reskin.media.conform import Action
from reskin.settings import Settings
from reskin.space import HEADROOM_BYTES
from tests.conftest import MakeClip
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)

pytestmark = pytest.mark.anyio


async def test_a_failed_request_is_refused_before_its_clip_is_conformed(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})
    services = Services(settings, tools=ffmpeg_tools)
    journal = services.journal
    clip = make_clip(duration_s=3.0, width=1280, height=720, fps=30)
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(tmp_path / "o.mp4"))

    first = await take_in(request, services)
    assert isinstance(await plan(request, first, services), ToSend)  # nothing journaled yet
    journal.reserve(first.fingerprint)
    journal.accepted(first.fingerprint, "gen-1")
    again = await take_in(request, services)
    assert again.fingerprint == first.fingerprint
    resumed = await plan(request, again, services)
    assert isinstance(resumed, ToResume)  # a live generation needs no clip
    assert resumed.generation_id == "gen-1"
    journal.failed(first.fingerprint, "generation_failed: boom")

    with pytest.raises(GenerationFailedError, match="`force`"):
        await plan(request, again, services)
    # Only what take_in made is there: plan refused before any conform.
    assert not (again.job_dir / "clip.mp4").exists()

    forced = request.model_copy(update={"force": True})
    assert isinstance(await plan(forced, again, services), ToSend)


async def test_take_in_leaves_no_job_folder_when_it_fails(
    ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})
    services = Services(settings, tools=ffmpeg_tools)
    request = EditRequest(
        input=str(tmp_path / "missing.mp4"), prompt="sepia", output=str(tmp_path / "o.mp4")
    )
    with pytest.raises(ReskinError):
        await take_in(request, services)
    assert list((tmp_path / "work" / "jobs").iterdir()) == []


async def test_a_full_work_folder_is_named_as_set_and_refused_before_paying(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, small_disks: SmallDisks, tmp_path: Path
) -> None:
    clip = make_clip(duration_s=3.0)
    size = clip.stat().st_size
    # Room for the copy of the input (and the journal), not for a conformed clip beside it.
    work = small_disks.mount(tmp_path / "work", size * 3 // 2 + HEADROOM_BYTES + 300_000)
    settings = Settings.model_validate({"work_dir": str(work)})
    services = Services(settings, tools=ffmpeg_tools)
    # A window: the clip is cut, so ffmpeg writes it (whole, it would go as it is, inline).
    request = EditRequest(
        input=str(clip), prompt="sepia film", output=str(tmp_path / "o.mp4"), end_s=2.9
    )

    taken = await take_in(request, services)
    planned = await plan(request, taken, services)
    assert isinstance(planned, ToSend)
    assert planned.conform.action is not Action.PASSTHROUGH  # ffmpeg writes the clip
    with pytest.raises(DiskFullError) as caught:
        await conform(taken, planned, services)

    assert caught.value.folder == work  # as set, not the job's folder
    assert str(caught.value).startswith(f"no space left in {work} for the conformed clip: ")
    assert str(caught.value).endswith("(nothing was paid for yet)")
    assert not (taken.job_dir / "clip.mp4").exists()

    bigger = make_clip(duration_s=8.0)  # more than the disk holds at all
    with pytest.raises(DiskFullError, match=f"no space left in {work} for the copy of the input"):
        await take_in(request.model_copy(update={"input": str(bigger)}), services)
    assert [job.name for job in (work / "jobs").iterdir()] == [taken.job_dir.name]


async def test_a_local_output_that_cannot_be_written_is_refused_before_the_input_is_taken(
    make_clip: MakeClip, ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # The form's path (a run from the Prefect UI): refused at take_in, not at deliver, after
    # the job was paid for.
    settings = Settings.model_validate({"work_dir": str(tmp_path / "work")})
    (tmp_path / "taken").write_text("a file, not a folder")
    output = tmp_path / "taken" / "edited.mp4"
    request = EditRequest(input=str(make_clip(duration_s=3.0)), prompt="sepia", output=str(output))
    with pytest.raises(InputError, match="taken is a file, not a folder") as raised:
        await take_in(request, Services(settings, tools=ffmpeg_tools))
    assert raised.value.said.startswith("`output` ")
    assert not (tmp_path / "work" / "jobs").exists()
