"""The request a user fills in (the flow's form): what it refuses and what it derives."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from reskin.edit.request import EditRequest, EditResult, resolve
from reskin.errors import InputError
from reskin.media.audio_mode import AudioMode
from reskin.media.conform_plan import Window

BASE = {"input": "in.mp4", "prompt": "sepia film", "output": "out.mp4"}
KLING, ALEPH, LUMA = "klingai/video-o1-video-to-video-edit", "runway/gen4_aleph", "luma/ray-3.2"


def test_defaults_restore_the_sound_and_edit_the_whole_clip():
    request = EditRequest.model_validate(BASE)
    assert request.audio is AudioMode.RESTORE
    assert request.window is None
    assert request.reference_images == []
    assert not request.force


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"input": "data:video/mp4;base64,AAAA"}, "not inline data"),
        ({"reference_images": ["data:image/png;base64,AAAA"]}, "not inline data"),
        ({"output": "out.mov"}, "must end in .mp4"),
        ({"output": "https://cdn.example/out.mp4"}, "local path or s3://bucket/key.mp4"),
        ({"output": "s3://bucket/"}, "expected s3://bucket/key"),
        ({"output": "s3://bucket/out.mov"}, "must end in .mp4"),
        ({"prompt": "   "}, "must not be blank"),
        ({"prompt": "x" * 5001}, "at most 5000"),
        ({"model": KLING, "prompt": "x" * 2501}, "takes at most 2500"),
        ({"model": ALEPH, "prompt": "x" * 1001}, "takes at most 1000"),
        ({"model": "runway/gen5"}, "unknown model 'runway/gen5': choose one of klingai/"),
        ({"model": ALEPH, "options": {"sed": 7}}, "unknown option 'sed' for runway/gen4_aleph"),
        ({"model": ALEPH, "options": {"seed": -1}}, "option seed of runway/gen4_aleph: -1"),
        ({"model": ALEPH, "reference_images": ["a.png"] * 2}, "takes at most 1 reference"),
        ({"model": LUMA, "reference_images": ["a.png"]}, "takes no reference images"),
        ({"model": LUMA, "audio": "model"}, "luma/ray-3.2 returns no sound"),
        ({"start_s": 5, "end_s": 5}, "end_s must be after start_s"),
        ({"start_s": -1}, "greater than or equal to 0"),
        ({"reference_images": ["a.png"] * 5}, "at most 4"),
        ({"model": KLING, "options": {"provider": "runway"}}, "one of auto, kling, klingai"),
        ({"api_key": "sk-x"}, "Extra inputs are not permitted"),
    ],
)
def test_what_cannot_work_is_refused(change: dict[str, object], complaint: str):
    with pytest.raises(ValidationError, match=complaint):
        EditRequest.model_validate({**BASE, **change})


def test_without_a_model_the_default_models_limits_apply_when_resolved():
    request = EditRequest.model_validate({**BASE, "prompt": "x" * 2501})  # fits Luma or Krea
    with pytest.raises(InputError, match="takes at most 2500: shorten it"):
        resolve(request, KLING)
    assert resolve(request, LUMA).spec.id == LUMA


def test_options_are_typed_from_text_or_json():
    request = EditRequest.model_validate(
        {**BASE, "model": "krea/krea-wan-14b/video-to-video", "options": {"seed": "7"}}
    )
    assert resolve(request, KLING).options == {"seed": 7}
    typed = request.model_copy(
        update={"options": {"strength": "0.5", "enable_prompt_expansion": "no"}}
    )
    assert resolve(typed, KLING).options == {"strength": 0.5, "enable_prompt_expansion": False}


def test_a_window_is_derived_from_start_and_end():
    assert EditRequest.model_validate({**BASE, "start_s": 2}).window == Window(2.0, None)
    assert EditRequest.model_validate({**BASE, "end_s": 4}).window == Window(0.0, 4.0)


def test_names_shown_in_the_ui_are_the_file_names(tmp_path: Path):
    url = EditRequest.model_validate({**BASE, "input": "https://cdn.example/a/b/clip.mp4?sig=1"})
    assert url.shown_input == "clip.mp4"
    local = EditRequest.model_validate({**BASE, "input": "/videos/holiday.mov"})
    assert local.shown_input == "holiday.mov"
    relative = EditRequest.model_validate({**BASE, "output": "sub/out.mp4"})
    assert relative.output_path == tmp_path / "sub" / "out.mp4"  # tests run in tmp_path
    assert relative.output_location is None


def test_an_s3_output_has_a_location_and_no_local_path():
    request = EditRequest.model_validate({**BASE, "output": "s3://media/out/a.mp4"})
    assert request.output_location is not None
    assert (request.output_location.bucket, request.output_location.key) == ("media", "out/a.mp4")
    with pytest.raises(ValueError, match="not a local path"):
        _ = request.output_path


def test_every_field_of_the_form_has_a_title_and_a_description():
    fields = EditRequest.model_json_schema()["properties"]
    assert set(fields) == set(EditRequest.model_fields)
    for name, schema in fields.items():
        assert schema.get("title"), name
        assert schema.get("description"), name


def _result(**changes: object) -> EditResult:
    fields: dict[str, object] = {
        "output": "/out/a | b.mp4",
        "model": "klingai/video-o1-video-to-video-edit",
        "generation_id": "4c0d-1:klingai/video-o1-video-to-video-edit",
        "credits_used": 300.0,
        "resumed": False,
        "reused_download": False,
        "input_duration_s": 3.0,
        "output_duration_s": 3.0,
        "width": 1280,
        "height": 720,
        "has_audio": True,
        "conform": "stream copy",
        "sound": "restore",
        "timings_s": {"take_in": 0.5, "poll": 12.25},
    }
    return EditResult.model_validate(fields | changes)


@pytest.mark.parametrize(
    "result",
    [
        _result(),
        _result(resumed=True, credits_used=None, timings_s={}),
        # A stage named like another column must not take its place.
        _result(timings_s={"output": 1.0, "seconds x": 2.0}),
    ],
)
def test_a_result_survives_its_flat_row(result: EditResult) -> None:
    row = result.as_row()
    assert all(not isinstance(value, dict | list) for value in row.values())
    assert EditResult.from_row(row) == result


def test_a_row_that_is_not_a_result_is_none() -> None:
    row = _result().as_row()
    assert EditResult.from_row({k: v for k, v in row.items() if k != "generation_id"}) is None
    assert EditResult.from_row({"clip": "a.mp4", "status": "done"}) is None
