"""The preflight: each mistake it can find alone is refused in one line naming the request's
field, before anything is copied, fetched or sent; a good request passes with its facts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reskin.edit.preflight import LocalInput, RemoteInput, check_output, preflight
from reskin.edit.request import FORM_FIELDS, EditRequest
from reskin.errors import AccessError, InputError, OutOfLimitsError, ProbeError, ReskinError
from reskin.settings import Settings
from tests.conftest import MakeClip
from tests.disk import SmallDisks, small_disks_fixture  # noqa: F401 (registers the fixture)

KREA = "krea/krea-wan-14b/video-to-video"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({"work_dir": str(tmp_path / "work")})


@pytest.fixture
def clip(make_clip: MakeClip) -> Path:
    return make_clip(duration_s=3.0)


def request(input: str | Path, output: str | Path, **fields: object) -> EditRequest:
    return EditRequest.model_validate(
        {"input": str(input), "prompt": "sepia film", "output": str(output), **fields}
    )


def refusal(
    kind: type[ReskinError], request: EditRequest, settings: Settings
) -> pytest.ExceptionInfo[ReskinError]:
    with pytest.raises(kind) as raised:
        preflight(request, settings)
    assert "\n" not in str(raised.value)
    return raised


def test_a_good_local_request_passes_with_its_probe_and_writes_nothing(
    clip: Path, settings: Settings, tmp_path: Path
) -> None:
    cleared = preflight(request(clip, tmp_path / "new" / "out.mp4", model=KREA), settings)
    assert isinstance(cleared.input, LocalInput)
    assert cleared.input.info.duration_s == pytest.approx(3.0, abs=0.05)
    assert cleared.resolved.spec.id == KREA
    assert not settings.work_dir.exists()  # no job folder, no journal
    assert not (tmp_path / "new").exists()  # the output's folder is made by the run


@pytest.mark.parametrize(
    "location",
    ["https://media.example/in.mp4?sig=1", "s3://media/in.mp4"],
)
def test_a_remote_input_is_checked_for_its_form_only(
    location: str, settings: Settings, tmp_path: Path
) -> None:
    # media.example does not resolve, the bucket is nowhere: a fetch would fail.
    cleared = preflight(request(location, tmp_path / "out.mp4", end_s=60), settings)
    assert cleared.input == RemoteInput(location)


def test_what_the_access_settings_forbid_is_refused_before_it_is_read(
    clip: Path, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    fenced = Settings.model_validate({"work_dir": str(tmp_path), "allowed_dirs": [str(allowed)]})
    raised = refusal(AccessError, request(clip, allowed / "o.mp4"), fenced)
    assert "RESKIN_ALLOWED_DIRS" in str(raised.value)
    loopback = request("http://127.0.0.1:9/in.mp4", tmp_path / "o.mp4")
    raised = refusal(AccessError, loopback, Settings.model_validate({"work_dir": str(tmp_path)}))
    assert "RESKIN_ALLOW_HTTP" in str(raised.value)


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("ftp://media.example/in.mp4", "ftp:// is not fetched"),
        ("https:///in.mp4", "names no host"),
        ("s3://b/in.mp4", "is not a bucket name"),
    ],
)
def test_a_remote_input_of_the_wrong_form_is_refused(
    location: str, says: str, settings: Settings, tmp_path: Path
) -> None:
    raised = refusal(InputError, request(location, tmp_path / "out.mp4"), settings)
    assert says in str(raised.value)


def test_a_missing_input_says_so(settings: Settings, tmp_path: Path) -> None:
    raised = refusal(InputError, request(tmp_path / "gone.mp4", tmp_path / "o.mp4"), settings)
    assert str(raised.value) == (
        "gone.mp4: cannot read the file (No such file or directory): check the path"
    )


def test_a_text_file_named_mp4_is_not_a_video(settings: Settings, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n")
    raised = refusal(ProbeError, request(text, tmp_path / "o.mp4"), settings)
    assert "notes.mp4 is not an MP4, MOV or Matroska video" in str(raised.value)


def test_an_empty_file_is_refused(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    raised = refusal(ProbeError, request(empty, tmp_path / "o.mp4"), settings)
    assert "empty.mp4 is empty" in str(raised.value)


def test_a_fifo_is_refused_without_being_opened(settings: Settings, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)  # opening it to read would block until a writer came
    raised = refusal(InputError, request(fifo, tmp_path / "o.mp4"), settings)
    assert "pipe.mp4 is not a regular file" in str(raised.value)


def test_an_input_over_the_size_cap_is_refused(clip: Path, tmp_path: Path) -> None:
    small = Settings.model_validate({"work_dir": str(tmp_path), "download_max_bytes": 1000})
    raised = refusal(InputError, request(clip, tmp_path / "o.mp4"), small)
    assert "over the 0.001 MB limit: trim or compress it" in str(raised.value)


@pytest.mark.parametrize(
    ("window", "says", "field"),
    [
        (
            {"start_s": 3.0},
            "`start_s` 3.00 s is at or after the end of the video (3.00 s)",
            "Start",
        ),
        ({"start_s": 1.0, "end_s": 5.0}, "`end_s` 5.00 s is after the end of the video", "End"),
    ],
)
def test_a_window_outside_the_clip_is_refused_in_the_forms_words_too(
    clip: Path,
    settings: Settings,
    tmp_path: Path,
    window: dict[str, float],
    says: str,
    field: str,
) -> None:
    raised = refusal(OutOfLimitsError, request(clip, tmp_path / "o.mp4", **window), settings)
    assert says in raised.value.said
    assert f'"{field} (s)"' in raised.value.worded(FORM_FIELDS)  # the UI names its fields


def test_an_end_a_little_past_the_clip_means_its_end(
    clip: Path, settings: Settings, tmp_path: Path
) -> None:
    preflight(request(clip, tmp_path / "o.mp4", start_s=1.0, end_s=3.05), settings)


def test_an_option_the_default_model_does_not_take_is_refused(clip: Path, tmp_path: Path) -> None:
    luma = Settings.model_validate({"work_dir": str(tmp_path), "model": "luma/ray-3.2"})
    raised = refusal(InputError, request(clip, tmp_path / "o.mp4", options={"seed": 7}), luma)
    assert "unknown option 'seed' for luma/ray-3.2" in str(raised.value)


def test_the_model_is_checked_before_the_input_is_read(settings: Settings, tmp_path: Path) -> None:
    # The input does not exist: the cheaper check answers first.
    luma = Settings.model_validate({"work_dir": str(tmp_path), "model": "luma/ray-3.2"})
    gone = request(tmp_path / "gone.mp4", tmp_path / "o.mp4", audio="model")
    raised = refusal(InputError, gone, luma)
    assert "returns no sound" in str(raised.value)


def test_an_output_that_is_a_folder_is_refused(clip: Path, settings: Settings, tmp_path: Path):
    folder = tmp_path / "out.mp4"
    folder.mkdir()
    raised = refusal(InputError, request(clip, folder), settings)
    assert raised.value.said.startswith("`output` ")
    assert "is a folder" in str(raised.value)


def test_an_output_under_a_file_is_refused(clip: Path, settings: Settings, tmp_path: Path):
    (tmp_path / "taken").write_text("a file, not a folder")
    raised = refusal(InputError, request(clip, tmp_path / "taken" / "sub" / "o.mp4"), settings)
    assert "taken is a file, not a folder" in str(raised.value)


def test_an_output_in_a_folder_without_write_permission_is_refused(
    tmp_path: Path, small_disks: SmallDisks
) -> None:
    locked = tmp_path / "locked"
    if os.geteuid() == 0:  # root writes in any folder, but not on a read-only mount
        small_disks.mount(locked, 1024 * 1024)
        small_disks.read_only(locked)
    else:
        locked.mkdir(mode=0o500)
    with pytest.raises(InputError, match="is not writable by this user"):
        check_output(request("in.mp4", locked / "o.mp4"))


def test_an_s3_output_is_left_to_the_run(clip: Path, settings: Settings) -> None:
    cleared = preflight(request(clip, "s3://media/out/edited.mp4"), settings)
    assert isinstance(cleared.input, LocalInput)
