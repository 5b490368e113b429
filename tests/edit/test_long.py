"""A long edit through the core, with no Prefect: a 60 s clip of five scenes with a mark and a
beep at every whole second, on the real stand-in with real ffmpeg. It comes back 60 s long, in
sync, each segment within the model's limits and inside one scene; a rerun pays nothing; a
failed segment is named and the others are kept; the budget and the longest input refuse
before anything is paid."""

from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path

import pytest

from reskin.edit.dry_run import dry_run
from reskin.edit.pipeline import edit
from reskin.edit.prepare import Taken
from reskin.edit.request import EditRequest, EditResult, Resolved
from reskin.edit.results import Fetched, SegmentDone, results_dir
from reskin.edit.segments import Segment, SegmentPlan
from reskin.edit.services import Services, open_services
from reskin.edit.stitch import piece_thumbs, pieces, stitched_thumbs
from reskin.errors import GenerationFailedError, InputError, OutOfLimitsError
from reskin.media.audio_mode import AudioMode
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import GLOBAL_ARGS
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.media.stitch import stitch_pieces
from reskin.media.thumbs import ThumbSpec, thumbs_command
from reskin.registry import spec_for
from reskin.settings import Settings, load_settings
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.media.marks import audio_seconds, beep_onsets, flash_onsets

pytestmark = pytest.mark.anyio

KLING = "klingai/video-o1-video-to-video-edit"
ALEPH = "runway/gen4_aleph"
#: Cut times not on whole seconds, on keyframes: the clip has one every half second, as a
#: phone's footage has one every second or two, so most segments are cut by stream copy.
SCENES = (11.5, 23.5, 35.5, 47.5)
CORNER = (0.0, 0.0, 0.25, 0.25)


@pytest.fixture(autouse=True)
def fast_encodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments cut between keyframes and the stitch are encoded at x264's fastest: the suite
    measures timing and sync, not picture quality."""
    monkeypatch.setenv("RESKIN_CONFORM_PRESET", "ultrafast")


@pytest.fixture
def twelve(make_clip: MakeClip) -> Path:
    """12 s of two scenes at 480p: four segments on Aleph (the cheap long video of the suite;
    the flow and crash tests share it)."""
    return make_clip(duration_s=12.0, width=854, height=480, fps=25, scenes=(5.43,))


@pytest.fixture
def sixty(make_clip: MakeClip) -> Path:
    return make_clip(
        duration_s=60.0,
        width=1280,
        height=720,
        fps=30,
        sync_marks=True,
        scenes=SCENES,
        mark="corner",
        keyint=15,
    )


def assert_in_sync(path: Path, duration_s: float, fps: float) -> None:
    """Marks and beeps at every whole second, each pair within a frame: at the start, the
    middle and the end."""
    flashes = flash_onsets(path, region=CORNER)
    beeps = beep_onsets(path)
    whole = math.ceil(duration_s - 1e-9)  # a mark at 0, 1, ... before the end
    assert len(beeps) == whole
    assert len(flashes) == whole
    for second in (0, whole // 2, whole - 1):
        assert flashes[second] == pytest.approx(second, abs=1 / fps)
        assert beeps[second] == pytest.approx(second, abs=1 / fps)
        assert abs(flashes[second] - beeps[second]) <= 1 / fps


def assert_each_in_one_scene(result: EditResult, cuts: tuple[float, ...], fps: float) -> None:
    frame = 1 / fps
    for segment in result.segments:
        inside = [c for c in cuts if segment.start_s + frame < c < segment.end_s - frame]
        assert inside == [], f"segment {segment.index} spans a scene cut"


def cut_frames(fps: float) -> tuple[float, ...]:
    return tuple(round(cut * fps) / fps for cut in SCENES)


async def test_a_60_s_clip_of_five_scenes_becomes_one_60_s_edit_in_sync(
    standin: StandIn, edit_env: Path, sixty: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.mp4"
    request = EditRequest(input=str(sixty), prompt="sepia film", output=str(output))
    spec = spec_for(KLING)
    async with open_services(load_settings()) as services:
        result = await edit(request, services)

        info = probe(output)
        assert info.duration_s == pytest.approx(60.0, abs=1 / 24)
        assert result.output_duration_s == pytest.approx(60.0, abs=1 / 24)
        assert info.has_audio
        assert_in_sync(output, 60.0, 24.0)
        # Every job within the model's limits (the stand-in refuses others), one per segment.
        jobs = sorted(
            (job for job in standin.service.jobs.all() if job.id.endswith(KLING)),
            key=lambda job: job.accepted_at,
        )[-len(result.segments) :]
        assert len(jobs) == len(result.segments) == standin.stats().jobs_accepted
        for job in jobs:
            assert spec.limits.min_duration_s <= job.duration_s <= 10.0 + 1 / 30
        assert_each_in_one_scene(result, cut_frames(30), 30)
        # The segments tile the 60 s and every scene cut is a boundary.
        bounds = [s.start_s for s in result.segments] + [result.segments[-1].end_s]
        assert bounds[0] == 0.0
        assert bounds[-1] == pytest.approx(60.0)
        for cut in cut_frames(30):
            assert min(abs(b - cut) for b in bounds) <= 1 / 30
        # One look: the first went alone, every other one carried a frame of its result.
        assert jobs[0].references == 0
        assert all(job.references == 1 for job in jobs[1:])
        assert result.credits_used == sum(s.credits_used or 0 for s in result.segments)
        assert not result.resumed
        # The fidelity of the whole, of each segment, and of each join.
        fidelity = result.fidelity
        assert fidelity is not None
        assert [s.index for s in fidelity.segments] == [s.index for s in result.segments]
        assert len(fidelity.seams) == len(result.segments) - 1
        gate = services.settings.min_fidelity
        assert min(min(s.motion, s.structure) for s in fidelity.segments) >= gate
        assert min(seam.score for seam in fidelity.seams) > 0.5  # one look: no jump
        # The stand-in's results are exact, so the stitch joined them by copy and the stitched
        # video's thumbnails are theirs laid end to end: nothing was decoded for them at the end.
        kept = results_dir(services.settings)
        assert len(list(kept.glob("*.?-3-*.256x144.thumbs"))) == len(result.segments)
        assert len(list(kept.glob("stitched-*.256x144.thumbs"))) == 1
    # A rerun after success pays nothing: the failed-segment test below (cheaper, at 480p).


async def test_aleph_segments_are_at_most_5_s_and_the_edit_keeps_its_timing(
    standin: StandIn, edit_env: Path, make_clip: MakeClip, tmp_path: Path
) -> None:
    clip = make_clip(
        duration_s=10.5,
        width=1280,
        height=720,
        fps=24,
        sync_marks=True,
        scenes=(4.5,),
        mark="corner",
        keyint=12,
    )
    output = tmp_path / "aleph.mp4"
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(output), model=ALEPH)
    earlier = {job.id for job in standin.service.jobs.all()}  # other tests' on this stand-in
    async with open_services(load_settings()) as services:
        result = await edit(request, services)
    assert len(result.segments) == 1 + 2  # 4.5 s -> 1 part, 6 s -> 2 parts
    jobs = [job for job in standin.service.jobs.all() if job.id not in earlier]
    assert len(jobs) == standin.stats().jobs_accepted == 3
    for job in jobs:
        assert 1.0 <= job.duration_s <= 5.0 + 1 / 24
    assert all(s.end_s - s.start_s <= 5.0 + 1e-6 for s in result.segments)
    assert_each_in_one_scene(result, (4.5,), 24)
    assert probe(output).duration_s == pytest.approx(10.5, abs=1 / 24)
    assert_in_sync(output, 10.5, 24.0)


async def test_with_audio_model_the_segments_own_sound_is_joined_in_sync(
    standin: StandIn,
    edit_env: Path,
    make_clip: MakeClip,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 14 s at 720x720 (Kling's smallest), a scene cut at 3.5 s: 3.5 s, then 10.5 s in two
    # parts, the second sent 0.5 s early and cross-faded in. The stitch copies the first result
    # (a hard cut follows it), encodes the other two to its parameters; the sound of each
    # result, kept by the service, is joined under the picture in one AAC stream.
    monkeypatch.setenv("RESKIN_SEGMENT_JOIN", "crossfade")
    clip = make_clip(
        duration_s=14.0,
        width=720,
        height=720,
        fps=30,
        sync_marks=True,
        scenes=(3.5,),
        mark="corner",
        keyint=15,
    )
    output = tmp_path / "model-sound.mp4"
    request = EditRequest(
        input=str(clip),
        prompt="sepia film",
        output=str(output),
        model=KLING,
        audio=AudioMode.MODEL,
        one_look=False,
    )
    earlier = {job.id for job in standin.service.jobs.all()}
    caplog.set_level(logging.INFO, logger="reskin.edit")
    async with open_services(load_settings()) as services:
        result = await edit(request, services)
        kept = sorted(results_dir(services.settings).glob("stitched-*.mp4"))
    assert "stitch: 3 segments (1 copied as they are)" in caplog.text
    jobs = [job for job in standin.service.jobs.all() if job.id not in earlier]
    assert len(jobs) == len(result.segments) == 3
    assert all(job.keep_audio for job in jobs)  # each segment asked for its sound back
    assert [s.start_s for s in result.segments][1] == pytest.approx(3.5)
    info = probe(output)
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 2)
    assert info.duration_s == pytest.approx(14.0, abs=1 / 24)
    assert audio_seconds(output) == pytest.approx(14.0, abs=1 / 24)
    assert result.sound == "model"
    assert_in_sync(output, 14.0, 24.0)
    # The stitched video kept for a rerun carries the joined sound; a restore edit of the same
    # clip would stitch a silent one of its own (other segments' keys).
    assert len(kept) == 1
    assert probe(kept[0]).has_audio


async def test_a_failed_segment_is_named_the_others_kept_and_a_rerun_after_success_is_free(
    standin: StandIn, edit_env: Path, twelve: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.mp4"
    request = EditRequest(
        input=str(twelve), prompt="sepia film", output=str(output), model=ALEPH, one_look=False
    )
    standin.set_faults(job_error=1)  # the first job accepted ends in error
    async with open_services(load_settings()) as services:
        with pytest.raises(GenerationFailedError, match=r"^segment \d of 4 \(") as failed:
            await edit(request, services)
        assert "\n" not in str(failed.value)
        assert not output.exists()
        paid = standin.stats().jobs_accepted
        assert paid == 4
        # A rerun refuses the failed segment, naming `force`, and pays nothing.
        with pytest.raises(GenerationFailedError, match="force"):
            await edit(request, services)
        assert standin.stats().jobs_accepted == paid
        # `force` pays again for the failed segment only; the three others are resumed.
        done = await edit(request.model_copy(update={"force": True}), services)
        assert standin.stats().jobs_accepted == paid + 1
        assert sum(not s.resumed for s in done.segments) == 1
        assert probe(output).duration_s == pytest.approx(12.0, abs=1 / 24)
        # A rerun after success pays nothing, and reuses every download and the stitch.
        again = await edit(request, services)
    assert again.resumed
    assert again.reused_download
    assert standin.stats().jobs_accepted == paid + 1
    assert [s.generation_id for s in again.segments] == [s.generation_id for s in done.segments]


async def test_the_plan_is_shown_with_nothing_sent_and_limits_refuse_before_paying(
    standin: StandIn,
    edit_env: Path,
    twelve: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = EditRequest(
        input=str(twelve), prompt="sepia film", output=str(tmp_path / "o.mp4"), model=ALEPH
    )
    monkeypatch.setenv("RESKIN_CREDITS_PER_SECOND", "100")
    async with open_services(load_settings()) as services:
        plan = await dry_run(request, services)
    assert standin.stats().create_calls == 0
    assert [s.starts_at for s in plan.segments] == [
        "start",
        "even split",
        "scene cut",
        "even split",
    ]
    assert plan.billed_s == 4 * 5  # Aleph bills 5 s a job
    assert plan.credits == plan.billed_s * 100
    assert plan.refused is None
    assert plan.one_look

    # The segments' own sound (Kling's) is planned like any long edit, nothing sent.
    kling = request.model_copy(update={"audio": AudioMode.MODEL, "model": KLING})
    async with open_services(load_settings()) as services:
        sounded = await dry_run(kling, services)
    assert sounded.refused is None
    assert len(sounded.segments) == 2
    assert standin.stats().create_calls == 0

    monkeypatch.setenv("RESKIN_MAX_CREDITS", str(plan.billed_s * 100 - 1))
    async with open_services(load_settings()) as services:
        with pytest.raises(InputError, match="over the budget of"):
            await edit(request, services)
        over = await dry_run(request, services)
    assert over.refused is not None
    assert "RESKIN_MAX_CREDITS" in over.refused
    monkeypatch.delenv("RESKIN_MAX_CREDITS")
    monkeypatch.setenv("RESKIN_MAX_INPUT_S", "11.5")
    async with open_services(load_settings()) as services:
        with pytest.raises(OutOfLimitsError, match="RESKIN_MAX_INPUT_S"):
            await edit(request, services)
    assert standin.stats().create_calls == 0
    assert not (tmp_path / "o.mp4").exists()


def test_the_stitched_thumbnails_are_the_copied_results_own_and_the_encoded_units(
    ffmpeg_tools: FFmpegTools, tmp_path: Path
) -> None:
    # Three results of a moving picture at 24 fps, the middle one at another size and rate (a
    # service's odd answer): the first and last are copied, the middle is encoded; their
    # thumbnails, laid end to end, are those of a decode of the stitched video, byte for byte.
    services = Services(Settings(_env_file=None, work_dir=tmp_path / "work"), tools=ffmpeg_tools)
    made = []
    for index, (size, rate, frames) in enumerate(
        (("320x240", 24, 25), ("160x120", 30, 30), ("320x240", 24, 20))
    ):
        path = tmp_path / f"result-{index}.mp4"
        run([str(ffmpeg_tools.ffmpeg), *GLOBAL_ARGS, "-f", "lavfi", "-i",
             f"testsrc2=size={size}:rate={rate}", "-frames:v", str(frames), "-c:v", "libx264",
             "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], timeout_s=60)  # fmt: skip
        made.append(path)
    bounds = [0, 25, 49, 69]  # frames of the window at 24 fps: 25, 24, 20
    segments = tuple(
        Segment(index + 1, a, b, 24.0, "start" if a == 0 else "scene cut", index + 1, 3)
        for index, (a, b) in enumerate(itertools.pairwise(bounds))
    )
    plan = SegmentPlan(KLING, 24.0, segments, (), (), None)
    job = tmp_path / "job"
    job.mkdir()
    taken = Taken(
        job_dir=job,
        source=made[0],
        info=probe(made[0]),
        references=(),
        resolved=Resolved(spec_for(KLING), {}),
        fingerprint="f" * 64,
        thumbs=ThumbSpec(tmp_path / "source.thumbs", 64, 48),
    )
    done = []
    for segment, path in zip(segments, made, strict=True):
        fetched = Fetched(probe(path), reused=False)
        piece_thumbs(taken, plan, segment, fetched, services)
        done.append(SegmentDone(segment, f"{segment.index}" * 64, fetched, "g", None, False))
    whole = tmp_path / "work" / "results" / "stitched.mp4"
    whole.parent.mkdir(parents=True)
    joined = stitch_pieces(pieces(plan, done, 24.0), job / "units", whole, ffmpeg_tools,
                           width=320, height=240, fps=24.0, preset="ultrafast", crf=23,
                           timeout_s=60)  # fmt: skip
    assert joined.copied == (True, False, True)

    stitched_thumbs(taken, plan, done, joined, whole, services)

    laid = results_dir(services.settings) / "stitched.64x48.thumbs"
    decoded = ThumbSpec(tmp_path / "decoded.thumbs", 64, 48)
    run(thumbs_command(ffmpeg_tools.ffmpeg, whole, decoded), timeout_s=60)
    assert laid.read_bytes() == decoded.path.read_bytes()
    assert len(laid.read_bytes()) == len(range(1, 69, 3)) * 64 * 48
