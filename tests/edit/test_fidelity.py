"""The fidelity stage end to end, through the core on the real stand-in with real ffmpeg: a
normal edit passes the default gate with its scores in the result; a result whose motion or
layout the stand-in changed (reversed, another scene, shifted and zoomed) fails in one line with
nothing at the output, and the rerun with the gate at 0 writes the kept result without paying."""

from __future__ import annotations

from pathlib import Path

import pytest

from reskin.edit.pipeline import edit
from reskin.edit.request import EditRequest
from reskin.edit.services import open_services
from reskin.errors import FidelityError
from reskin.settings import Settings, load_settings
from reskin.standin.server import StandIn
from tests.conftest import MakeClip

pytestmark = pytest.mark.anyio


@pytest.fixture
def clip(make_clip: MakeClip) -> Path:
    return make_clip(duration_s=3.0)  # the suite's common clip: made once for many tests


async def test_a_normal_edit_carries_its_scores_and_passes_the_default_gate(
    standin: StandIn, edit_env: Path, clip: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.mp4"
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(output))
    async with open_services(load_settings()) as services:
        result = await edit(request, services)
    assert output.is_file()
    fidelity = result.fidelity
    assert fidelity is not None
    default = Settings(_env_file=None).min_fidelity
    assert fidelity.motion >= default
    assert fidelity.structure >= default
    assert fidelity.samples == 24  # 3 s at 8 a second
    assert fidelity.timing.lag_s == 0
    assert abs(fidelity.timing.duration_difference_s) < 0.05
    assert "fidelity" in result.timings_s


@pytest.mark.parametrize(
    ("fault", "score"),
    [("reversed_result", "motion"), ("other_scene_result", None), ("shifted_result", None)],
)
async def test_a_result_that_lost_the_motion_or_layout_fails_and_the_rerun_at_0_writes_it(
    standin: StandIn, edit_env: Path, clip: Path, tmp_path: Path, fault: str, score: str | None
) -> None:
    output = tmp_path / "out" / "edited.mp4"
    request = EditRequest(input=str(clip), prompt="sepia film", output=str(output))
    standin.set_faults(**{fault: 1})
    async with open_services(load_settings()) as services:
        with pytest.raises(FidelityError) as failed:
            await edit(request, services)
    said = failed.value.said
    assert "\n" not in said
    assert "below the minimum fidelity" in said
    assert "`min_fidelity` 0" in said
    if score is not None:
        assert failed.value.score == score
    assert not output.exists()
    assert not output.parent.exists() or not list(output.parent.iterdir()), "not even a part"
    assert standin.stats().jobs_accepted == 1

    again = request.model_copy(update={"min_fidelity": 0.0})
    async with open_services(load_settings()) as services:
        result = await edit(again, services)
    assert output.is_file()
    assert result.reused_download  # the kept result, not fetched again...
    assert standin.stats().jobs_accepted == 1  # ...nor paid again
    assert result.fidelity is not None
    assert min(result.fidelity.motion, result.fidelity.structure) == pytest.approx(
        failed.value.value
    )
