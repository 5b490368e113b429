"""Error messages name the request's fields once, and each audience reads them in its words."""

from __future__ import annotations

from reskin.cli.edit import FLAGS
from reskin.edit.request import FORM_FIELDS
from reskin.errors import GenerationFailedError, InputError


def test_a_field_is_worded_as_a_flag_or_as_the_form_names_it() -> None:
    error = InputError("choose `start_s` and `end_s` at most 5 s apart, or rerun with `force`")
    assert (
        error.worded(FLAGS) == "choose --start and --end at most 5 s apart, or rerun with --force"
    )
    assert error.worded(FORM_FIELDS) == (
        'choose "Start (s)" and "End (s)" at most 5 s apart, or rerun with "Force a new submission"'
    )
    assert error.worded({}) == "choose start_s and end_s at most 5 s apart, or rerun with force"


def test_wording_in_place_keeps_the_type_the_fields_and_what_the_core_said() -> None:
    error = GenerationFailedError(
        "failed: rerun with `force`", generation_id="g", name="n", detail="d"
    )
    error.word_for(FORM_FIELDS)
    assert str(error) == 'failed: rerun with "Force a new submission"'
    assert error.generation_id == "g"
    assert error.said == "failed: rerun with `force`"
    assert error.worded(FLAGS) == "failed: rerun with --force"  # the CLI, after the flow
