"""``reskin edit`` with each model of the registry, as a user runs it (a real process, the real
stand-in, a real Prefect server): an edited MP4 as long as the input, with its original sound,
one paid job each; what cannot work for the model refused in one line, nothing paid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reskin.media.probe import probe
from reskin.registry import spec_for
from reskin.standin.server import StandIn
from tests.cli.test_edit import assert_nothing_written, assert_one_error_line, edit_args
from tests.conftest import InputClip, RunReskin

pytestmark = pytest.mark.slow

ALEPH, LUMA, KREA = "runway/gen4_aleph", "luma/ray-3.2", "krea/krea-wan-14b/video-to-video"


@pytest.mark.parametrize(
    ("model", "seconds", "options", "size"),
    [
        (ALEPH, 5.0, ["--option", "frame_size=960:960", "--option", "seed=7"], (960, 960)),
        (LUMA, 6.0, ["--option", "resolution=540p"], (960, 540)),
        (KREA, 6.0, ["--option", "strength=0.6"], (1280, 720)),
    ],
)
def test_each_model_edits_a_clip_with_one_paid_job(
    run_reskin: RunReskin,
    input_clip: InputClip,
    standin: StandIn,
    tmp_path: Path,
    model: str,
    seconds: float,
    options: list[str],
    size: tuple[int, int],
) -> None:
    clip = input_clip(duration_s=seconds, width=1280, height=720, fps=30)
    output = tmp_path / "out" / "edited.mp4"
    before = standin.stats().jobs_accepted
    done = run_reskin(*edit_args(clip, output, "--model", model, *options, "--json"), timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == model
    assert not result["resumed"]
    assert standin.stats().jobs_accepted == before + 1
    info = probe(output)
    assert info.duration_s == pytest.approx(seconds, abs=0.1)
    assert info.has_audio  # the original sound, restored
    assert (info.width, info.height) == size
    assert info.fps == spec_for(model).output.fps


def test_a_clip_longer_than_reskin_edits_is_refused_before_paying(
    run_reskin: RunReskin, input_clip: InputClip, standin: StandIn, tmp_path: Path
) -> None:
    # Longer than the model edits is a long video, sent as segments (tests/edit/test_long.py);
    # longer than RESKIN_MAX_INPUT_S is refused.
    clip = input_clip(duration_s=8.0, width=1280, height=720, fps=30)
    output = tmp_path / "out" / "edited.mp4"
    before = standin.stats()
    done = run_reskin(*edit_args(clip, output, "--model", ALEPH), env={"RESKIN_MAX_INPUT_S": "6"})
    line = assert_one_error_line(done)
    assert "the part to edit lasts 8.0 s, longer than the 6.0 s reskin edits" in line
    assert "RESKIN_MAX_INPUT_S" in line
    assert "--start and --end" in line
    after = standin.stats()
    assert after.create_calls == before.create_calls
    assert_nothing_written(output)


@pytest.mark.parametrize(
    ("extra", "hint"),
    [
        (["--model", "runway/gen5"], "unknown model 'runway/gen5': choose one of klingai/"),
        (["--model", ALEPH, "--option", "sed=7"], "unknown option 'sed' for runway/gen4_aleph"),
        (["--model", KREA, "--option", "strength=1.5"], "give a number from 0 to 1"),
        (["--option", "seed=7"], "unknown option 'seed' for klingai/video-o1-video-to-video-edit"),
    ],
)
def test_a_bad_model_or_option_is_one_line_and_nothing_is_sent(
    run_reskin: RunReskin,
    input_clip: InputClip,
    standin: StandIn,
    tmp_path: Path,
    extra: list[str],
    hint: str,
) -> None:
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    before = standin.stats()
    done = run_reskin(*edit_args(clip, output, *extra))
    line = assert_one_error_line(done)
    assert hint in line
    assert done.stderr.count("\n") == 1  # refused before Prefect started: the line alone
    assert standin.stats().create_calls == before.create_calls
    assert_nothing_written(output)
