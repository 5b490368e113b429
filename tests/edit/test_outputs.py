"""``deliver`` on a full disk: the edit is whole at its output; a preview that does not fit is
left out with a warning, and nothing partial of it stays (real small disk, real stand-in)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reskin.edit import outputs
from reskin.edit.outputs import Delivered
from reskin.edit.pipeline import Direct, edit
from reskin.edit.prepare import Planned, Taken
from reskin.edit.request import EditRequest
from reskin.edit.results import Sounded
from reskin.edit.services import Services, open_services
from reskin.media.probe import probe
from reskin.settings import load_settings
from reskin.standin.server import StandIn
from tests.conftest import MakeClip
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)

pytestmark = pytest.mark.anyio


class FillsBeforeDeliver(Direct):
    """The core's stages, but ``disk`` fills up once the video is written."""

    def __init__(self, disks: SmallDisks, disk: Path) -> None:
        self.disks, self.disk = disks, disk

    async def deliver(
        self,
        request: EditRequest,
        taken: Taken,
        planned: Planned,
        sounded: Sounded,
        services: Services,
    ) -> Delivered:
        self.disks.fill(self.disk)
        return await outputs.deliver(request, taken, planned, sounded, services)


async def test_a_preview_that_does_not_fit_is_left_out_and_the_edit_is_done(
    standin: StandIn,
    edit_env: Path,
    make_clip: MakeClip,
    small_disks: SmallDisks,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = small_disks.mount(tmp_path / "out", 16_000_000)
    output = out / "edited.mp4"
    request = EditRequest(input=str(make_clip(duration_s=3.0)), prompt="sepia", output=str(output))

    async with open_services(load_settings()) as services:
        with caplog.at_level(logging.WARNING, logger="reskin.edit.outputs"):
            done = await edit(request, services, FillsBeforeDeliver(small_disks, out))

    assert done.output == str(output)
    assert done.preview is None
    assert probe(output).has_audio
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".filler")) == [
        "edited.mp4"  # no preview, and no partial of it
    ]
    assert f"no space left in {out}" in caplog.text
