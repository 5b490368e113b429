"""Local files (reskin/access/paths.py): with RESKIN_ALLOWED_DIRS set, inputs are read and outputs
written only inside its folders, paths resolved (links followed, '..' folded) before the check;
unset, the command line stays unrestricted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reskin.access import Access, check_location, check_path, check_request
from reskin.edit.references import take_references
from reskin.edit.request import EditRequest
from reskin.edit.source import take_source
from reskin.errors import AccessError, ConfigError
from reskin.media.binaries import FFmpegTools
from reskin.registry import spec_for
from reskin.settings import Settings, load_settings
from tests.flows.checks import assert_one_line

pytestmark = pytest.mark.anyio


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    (folder / "in").mkdir(parents=True)
    (folder / "in" / "clip.mp4").write_bytes(b"not read")
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "private" / "secret.mp4"
    secret.parent.mkdir()
    secret.write_bytes(b"must not be read")
    return secret


def _access(*folders: Path) -> Access:
    return Access(dirs=tuple(folder.resolve() for folder in folders))


def test_a_path_inside_is_allowed_and_given_resolved(allowed: Path) -> None:
    inside = allowed / "in" / ".." / "in" / "clip.mp4"
    assert check_path(inside, _access(allowed), what="input") == allowed / "in" / "clip.mp4"
    new = allowed / "out" / "new.mp4"  # an output that does not exist yet
    assert check_path(new, _access(allowed), what="output", write=True) == new


def test_a_dotdot_path_out_of_the_folders_is_refused(allowed: Path, outside: Path) -> None:
    climbing = allowed / "in" / ".." / ".." / "private" / "secret.mp4"
    with pytest.raises(AccessError) as caught:
        check_path(climbing, _access(allowed), what="input")
    assert_one_line(
        caught.value,
        f"input {climbing} (it leads to {outside})",
        f"outside the folders runs may use ({allowed})",
        "so it is not read",
        "add its folder to RESKIN_ALLOWED_DIRS",
    )


def test_a_symlink_out_of_the_folders_is_refused(allowed: Path, outside: Path) -> None:
    link = allowed / "in" / "innocent.mp4"
    link.symlink_to(outside)
    with pytest.raises(AccessError) as caught:
        check_path(link, _access(allowed), what="input")
    assert_one_line(caught.value, f"(it leads to {outside})", "RESKIN_ALLOWED_DIRS")
    # A linked folder is followed the same way.
    (allowed / "elsewhere").symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(AccessError):
        check_path(allowed / "elsewhere" / "secret.mp4", _access(allowed), what="input")


def test_an_output_outside_is_refused_as_written(allowed: Path, tmp_path: Path) -> None:
    with pytest.raises(AccessError) as caught:
        check_location(str(tmp_path / "x.mp4"), _access(allowed), what="output", write=True)
    assert_one_line(caught.value, "output", "so it is not written", "RESKIN_ALLOWED_DIRS")
    with pytest.raises(AccessError, match="an output is a local path or an s3://"):
        check_location("https://cdn.example/x.mp4", Access(), what="output", write=True)
    check_location("s3://bucket/out/x.mp4", _access(allowed), what="output", write=True)


def test_unset_the_command_line_is_unrestricted(outside: Path) -> None:
    assert check_path(outside, Access(), what="input") == outside
    assert check_path("/etc/passwd", Access(), what="input") == Path("/etc/passwd")


def test_every_place_of_a_request_is_checked(allowed: Path, outside: Path) -> None:
    def request(**fields: object) -> EditRequest:
        base: dict[str, object] = {
            "input": str(allowed / "in" / "clip.mp4"),
            "prompt": "sepia",
            "output": str(allowed / "out.mp4"),
        }
        return EditRequest.model_validate({**base, **fields})

    access = _access(allowed)
    check_request(request(), access)
    cases: list[tuple[dict[str, object], str]] = [
        ({"input": str(outside)}, "input "),
        ({"output": str(outside.with_name("out.mp4"))}, "output "),
        ({"reference_images": [str(outside)]}, "reference image 1 "),
        ({"reference_images": ["https://10.0.0.1/look.png"]}, "reference image 1 https://"),
    ]
    for fields, named in cases:
        with pytest.raises(AccessError) as caught:
            check_request(request(**fields), access)
        assert str(caught.value).startswith(named)


async def test_take_source_refuses_a_link_out_before_copying(
    allowed: Path, outside: Path, tmp_path: Path, ffmpeg_tools: FFmpegTools
) -> None:
    link = allowed / "in" / "link.mp4"
    link.symlink_to(outside)
    job = tmp_path / "job"
    job.mkdir()
    settings = Settings.model_validate(
        {"work_dir": str(tmp_path / "work"), "allowed_dirs": [str(allowed)]}
    )
    with pytest.raises(AccessError) as caught:
        await take_source(str(link), job, ffmpeg_tools, settings)
    assert_one_line(caught.value, "input", "RESKIN_ALLOWED_DIRS")
    assert sorted(job.iterdir()) == []


async def test_reference_images_are_all_checked_before_any_is_read(
    allowed: Path, outside: Path, tmp_path: Path
) -> None:
    inside = allowed / "in" / "look.png"
    inside.write_bytes(b"not read either")
    job = tmp_path / "job"
    job.mkdir()
    settings = Settings.model_validate(
        {"work_dir": str(tmp_path / "work"), "allowed_dirs": [str(allowed)]}
    )
    limits = spec_for("klingai/video-o1-video-to-video-edit").references
    with pytest.raises(AccessError) as caught:
        await take_references([str(inside), str(outside)], job, limits, settings)
    assert_one_line(caught.value, "reference image 2", "RESKIN_ALLOWED_DIRS")
    assert sorted(job.iterdir()) == []


def test_the_setting_reads_folders_and_refuses_a_template_left_by_prefect_deploy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RESKIN_ALLOWED_DIRS", f"{tmp_path}/a{os.pathsep}{tmp_path}/b/../c")
    monkeypatch.setenv("RESKIN_ALLOWED_HOSTS", "127.0.0.1, [::1], Media.LAN.")
    monkeypatch.setenv("RESKIN_ALLOWED_NETWORKS", "10.1.0.0/16,fd00::/8")
    settings = load_settings(_env_file=None)
    assert settings.allowed_dirs == (tmp_path / "a", tmp_path / "c")
    assert settings.allowed_hosts == ("127.0.0.1", "::1", "media.lan")
    assert [str(network) for network in settings.allowed_networks] == ["10.1.0.0/16", "fd00::/8"]
    assert settings.allow_http is False
    monkeypatch.setenv("RESKIN_ALLOWED_DIRS", "{{ $RESKIN_ALLOWED_DIRS }}")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert_one_line(caught.value, "RESKIN_ALLOWED_DIRS", "where prefect deploy runs")
    monkeypatch.setenv("RESKIN_ALLOWED_DIRS", "")
    assert load_settings(_env_file=None).allowed_dirs is None
