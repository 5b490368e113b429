"""Reference images in the edit core: a local image is copied into the job, checked and sent
inline; too many are refused before anything is read or copied."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import anyio
import pytest

from reskin.edit.references import take_references
from reskin.errors import InputError
from reskin.media.binaries import FFmpegTools
from reskin.media.runner import run
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.registry.spec import ReferenceLimits
from reskin.settings import Settings


def _reference_limits() -> ReferenceLimits:
    limits = spec_for(DEFAULT_MODEL).references
    assert limits is not None
    return limits


IMAGES = _reference_limits()

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def png(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("references") / "look.png"
    argv = [str(ffmpeg_tools.ffmpeg), "-hide_banner", "-loglevel", "error", "-f", "lavfi"]
    argv += ["-i", "testsrc=size=640x360", "-frames:v", "1", "-update", "1", str(path)]
    run(argv, timeout_s=60)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, work_dir=tmp_path / "work")


async def test_a_local_image_is_copied_checked_and_sent_inline(
    png: Path, tmp_path: Path, settings: Settings
) -> None:
    job = tmp_path / "job"
    job.mkdir()
    (ref,) = await take_references([str(png)], job, IMAGES, settings)
    assert ref.url is None
    assert ref.path.parent == job / "references"
    data = await anyio.Path(png).read_bytes()
    assert await anyio.Path(ref.path).read_bytes() == data
    assert ref.identity == hashlib.sha256(data).hexdigest()
    assert (ref.info.width, ref.info.height) == (640, 360)
    encoded = base64.b64encode(data).decode()
    assert ref.image_url() == f"data:image/png;base64,{encoded}"


async def test_five_images_are_refused_before_any_is_copied(
    png: Path, tmp_path: Path, settings: Settings
) -> None:
    job = tmp_path / "job"
    job.mkdir()
    with pytest.raises(InputError) as caught:
        await take_references([str(png)] * 5, job, IMAGES, settings)
    message = str(caught.value)
    assert "\n" not in message
    assert "5 reference images given" in message
    assert "at most 4" in message
    assert "drop some" in message
    assert sorted(job.iterdir()) == []


async def test_a_missing_image_is_named_by_its_file(tmp_path: Path, settings: Settings) -> None:
    job = tmp_path / "job"
    job.mkdir()
    with pytest.raises(InputError, match=r"reference image gone\.png: cannot read it"):
        await take_references([str(tmp_path / "gone.png")], job, IMAGES, settings)
