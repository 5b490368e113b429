"""The batch's form, and the clips of an inbox or a manifest: what is read, and what refuses the
whole batch (one line naming the file and the line) before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reskin.batch.manifest import MAX_CLIPS, Clip, ManifestError, load_clips
from reskin.batch.request import BatchRequest
from reskin.media.audio_mode import AudioMode
from tests.flows.checks import assert_one_line

ALEPH, KREA = "runway/gen4_aleph", "krea/krea-wan-14b/video-to-video"


def _batch(tmp_path: Path, **fields: Any) -> BatchRequest:
    return BatchRequest.model_validate({"output_dir": str(tmp_path / "out"), **fields})


def _manifest(tmp_path: Path, name: str, text: str, **fields: Any) -> list[Clip]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_clips(_batch(tmp_path, manifest=str(path), **fields))


def _refused(tmp_path: Path, name: str, text: str, *hints: str, prompt: str | None = "x") -> None:
    with pytest.raises(ManifestError) as caught:
        _manifest(tmp_path, name, text, prompt=prompt)
    assert_one_line(caught.value, *hints)


# --- the form ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({}, "exactly one of inbox"),
        ({"inbox": "in", "manifest": "m.csv", "prompt": "x"}, "exactly one of inbox"),
        ({"inbox": "in"}, "an inbox batch needs a prompt"),
        ({"inbox": "ftp://host/in", "prompt": "x"}, "must be a local folder or s3://bucket/"),
        ({"inbox": "s3://Bucket/in/", "prompt": "x"}, "not a bucket name"),
        ({"inbox": "s3://bucket//in/", "prompt": "x"}, "starts with '/'"),
        ({"manifest": "m.csv", "output_dir": "s3://b/out/"}, "not a bucket name"),
        ({"manifest": "s3://bucket/m.csv"}, "must be a local file"),
        ({"manifest": "m.csv", "prompt": "  "}, "must not be blank"),
        ({"manifest": "m.csv", "max_parallel": 0}, "greater than or equal to 1"),
        ({"manifest": "m.csv", "budget_credits": 0}, "greater than 0"),
        ({"manifest": "m.csv", "deployment": "edit-video"}, "'flow name/deployment name'"),
        ({"manifest": "m.csv", "dispatch": "thread"}, "'subflow' or 'deployment'"),
        ({"manifest": "m.csv", "api_key": "sk-x"}, "Extra inputs are not permitted"),
    ],
)
def test_the_form_refuses_what_cannot_work_in_one_line(
    tmp_path: Path, fields: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _batch(tmp_path, **fields)
    (error,) = caught.value.errors()
    assert complaint in error["msg"]
    assert "\n" not in error["msg"]


def test_every_field_of_the_form_has_a_title_and_a_description() -> None:
    schema = BatchRequest.model_json_schema()
    for name, field in schema["properties"].items():
        assert field.get("title"), name
        assert field.get("description"), name
    assert set(schema["required"]) == {"output_dir"}


# --- an inbox ---------------------------------------------------------------------------------


def test_an_inbox_gives_its_videos_by_name_each_to_its_own_output(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("b.MOV", "a.mp4", "c.mkv", "notes.txt", ".hidden.mp4", "results.jsonl"):
        (inbox / name).write_bytes(b"x")
    (inbox / "folder.mp4").mkdir()
    (inbox / "sub").mkdir()
    (inbox / "sub" / "deeper.mp4").write_bytes(b"x")
    clips = load_clips(_batch(tmp_path, inbox=str(inbox), prompt="sepia", audio="none"))
    assert [clip.label for clip in clips] == ["a.mp4", "b.MOV", "c.mkv"]
    assert [clip.index for clip in clips] == [0, 1, 2]
    out = tmp_path / "out"
    assert [clip.request.output for clip in clips] == [str(out / f"{s}.mp4") for s in "abc"]
    assert [clip.request.input for clip in clips] == [
        str(inbox / n) for n in ("a.mp4", "b.MOV", "c.mkv")
    ]
    assert {clip.request.prompt for clip in clips} == {"sepia"}
    assert {clip.request.audio for clip in clips} == {AudioMode.NONE}
    assert all(clip.line is None for clip in clips)


def test_an_empty_inbox_is_nothing_to_do(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    assert load_clips(_batch(tmp_path, inbox=str(tmp_path / "inbox"), prompt="x")) == []


@pytest.mark.parametrize(
    ("names", "output", "hints"),
    [
        (["a.mp4", "a.mov"], "out", ("a.mov and a.mp4 would both write a.mp4",)),
        (["a.mp4"], "inbox", ("the output folder is the inbox", "give another output folder")),
        (None, "out", ("is not a folder", "check the path")),
    ],
)
def test_an_inbox_that_cannot_work_is_refused(
    tmp_path: Path, names: list[str] | None, output: str, hints: tuple[str, ...]
) -> None:
    inbox = tmp_path / "inbox"
    if names is not None:
        inbox.mkdir()
        for name in names:
            (inbox / name).write_bytes(b"x")
    batch = BatchRequest(inbox=str(inbox), prompt="x", output_dir=str(tmp_path / output))
    with pytest.raises(ManifestError) as caught:
        load_clips(batch)
    assert_one_line(caught.value, *hints)


# --- a manifest -------------------------------------------------------------------------------


def test_a_csv_manifest_gives_one_clip_a_row(tmp_path: Path) -> None:
    clips = _manifest(
        tmp_path,
        "batch.csv",
        "\ufeffoutput, input ,prompt,start_s,end_s,audio\n"  # a spreadsheet's BOM, blanks
        'x/one.mp4,clips/a.mp4,"sepia, grainy",1.5,4,model\n'
        "\n"
        ",,,,,\n"  # a row of empty cells, as spreadsheets leave them
        f",{tmp_path / 'b.mov'},,,,\n"
        ",https://cdn.example/v/c.mp4?sig=1,,,,\n",
        prompt="watercolour",
    )
    one, two, three = (clip.request for clip in clips)
    assert [clip.label for clip in clips] == [
        "a.mp4 (line 2)",
        "b.mov (line 5)",
        "c.mp4 (line 6)",
    ]
    assert [clip.line for clip in clips] == [2, 5, 6]
    assert one.input == str(tmp_path / "clips" / "a.mp4")  # beside the manifest
    assert one.output == str(tmp_path / "out" / "x" / "one.mp4")  # in the output folder
    assert (one.prompt, one.start_s, one.end_s, one.audio) == ("sepia, grainy", 1.5, 4.0, "model")
    assert (two.prompt, two.audio, two.window) == ("watercolour", AudioMode.RESTORE, None)
    assert two.output == str(tmp_path / "out" / "b.mp4")
    assert three.input == "https://cdn.example/v/c.mp4?sig=1"
    assert three.output == str(tmp_path / "out" / "c.mp4")


def test_a_jsonl_manifest_gives_one_clip_an_object(tmp_path: Path) -> None:
    clips = _manifest(
        tmp_path,
        "batch.jsonl",
        '{"input": "a.mp4", "prompt": "sepia", "end_s": 3.5, "output": "/abs/a.mp4"}\n'
        "\n"
        '{"input": "b.mp4", "start_s": "2", "audio": null}\n',
        prompt="default",
        force=True,
    )
    first, second = (clip.request for clip in clips)
    assert [clip.line for clip in clips] == [1, 3]
    assert (first.prompt, first.end_s, first.output) == ("sepia", 3.5, "/abs/a.mp4")
    assert (second.prompt, second.start_s, second.audio) == ("default", 2.0, AudioMode.RESTORE)
    assert first.force
    assert second.force


def test_a_row_forces_itself_and_a_forced_batch_forces_every_row(tmp_path: Path) -> None:
    # A rerun pays again only for the rows it is told to force (issue "never pay twice").
    text = "input,force\na.mp4,true\nb.mp4,\nc.mp4,false\nd.mp4,1\n"
    rows = _manifest(tmp_path, "b.csv", text, prompt="x")
    assert [clip.request.force for clip in rows] == [True, False, False, True]
    jsonl = '{"input": "a.mp4", "force": true}\n{"input": "b.mp4"}\n'
    assert [c.request.force for c in _manifest(tmp_path, "b.jsonl", jsonl, prompt="x")] == [
        True,
        False,
    ]
    forced = _manifest(tmp_path, "c.csv", text, prompt="x", force=True)
    assert all(clip.request.force for clip in forced)
    _refused(tmp_path, "d.csv", "input,force\na.mp4,maybe\n", "d.csv line 2", "force")


@pytest.mark.parametrize(
    ("name", "text", "hints"),
    [
        ("b.csv", "input,promt\na.mp4,x\n", ("b.csv line 1", "unknown header 'promt'", "known:")),
        ("b.csv", "prompt\nx\n", ("b.csv line 1", "no input column")),
        ("b.csv", "input,input\na.mp4,b.mp4\n", ("b.csv line 1", "'input' appears twice")),
        ("b.csv", "input\na.mp4\n\nb.mp4,extra\n", ("b.csv line 4", "2 cells but 1 columns")),
        ("b.csv", "input,start_s\na.mp4,1\nb.mp4,soon\n", ("b.csv line 3", "start_s", "number")),
        ("b.csv", "input,start_s,end_s\na.mp4,3,2\n", ("line 2", "end_s must be after start_s")),
        ("b.csv", "input,output\na.mp4,a.mov\n", ("b.csv line 2", "output", "must end in .mp4")),
        ("b.csv", "input,audio\na.mp4,loud\n", ("line 2", "audio", "'restore', 'model' or")),
        ("b.csv", "input,prompt\n,x\n", ("b.csv line 2", "input: give the video")),
        ("b.csv", "input\n", ("b.csv has no rows",)),
        ("b.csv", "", ("b.csv is empty",)),
        ("b.jsonl", '{"input": "a.mp4"}\n{"input": "b.mp4", "look": 1}\n', ("line 2", "'look'")),
        ("b.jsonl", '{"input": "a.mp4"}\n{"input": "b.mp4",\n', ("b.jsonl line 2", "not JSON")),
        ("b.jsonl", '["a.mp4"]\n', ("b.jsonl line 1", "not a JSON object")),
        ("b.jsonl", '{"input": "a.mp4", "prompt": 7}\n', ("line 1", "prompt", "string")),
        ("b.txt", "input\na.mp4\n", ("give a .csv file", ".jsonl")),
        ("b.csv", "input,model\na.mp4,runway/gen5\n", ("line 2", "unknown model 'runway/gen5'")),
        (
            "b.csv",
            f"input,model,options\na.mp4,{ALEPH},sed=7\n",
            ("line 2", "unknown option 'sed'"),
        ),
        ("b.csv", f"input,model,options\na.mp4,{ALEPH},seed\n", ("line 2", "not NAME=VALUE")),
        (
            "b.jsonl",
            f'{{"input": "a.mp4", "model": "{ALEPH}", "options": {{"frame_size": "1:1"}}}}\n',
            ("line 1", "option frame_size of runway/gen4_aleph", "one of 1280:720"),
        ),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_file_and_the_line(
    tmp_path: Path, name: str, text: str, hints: tuple[str, ...]
) -> None:
    _refused(tmp_path, name, text, *hints)


def test_rows_take_the_batch_s_model_and_options_unless_they_have_their_own(
    tmp_path: Path,
) -> None:
    clips = _manifest(
        tmp_path,
        "batch.csv",
        f"input,model,options\na.mp4,,\nb.mp4,{KREA},strength=0.4;enable_prompt_expansion=no\n",
        prompt="x",
        model=ALEPH,
        options={"seed": 7},
    )
    first, second = (clip.request for clip in clips)
    assert (first.model, first.options) == (ALEPH, {"seed": 7})
    assert second.model == KREA
    assert second.options == {"strength": "0.4", "enable_prompt_expansion": "no"}


def test_a_row_without_a_prompt_needs_the_batch_s(tmp_path: Path) -> None:
    text = "input,prompt\na.mp4,sepia\nb.mp4,\n"
    _refused(tmp_path, "b.csv", text, "b.csv line 3", "prompt: give one", prompt=None)
    assert [clip.request.prompt for clip in _manifest(tmp_path, "c.csv", text, prompt="y")] == [
        "sepia",
        "y",
    ]


def test_two_rows_writing_one_output_or_over_an_input_are_refused(tmp_path: Path) -> None:
    _refused(
        tmp_path,
        "b.csv",
        "input,output\na.mp4,same.mp4\nb.mp4,same.mp4\n",
        "a.mp4 (line 2) and b.mp4 (line 3) would both write same.mp4",
    )
    _refused(
        tmp_path,
        "c.csv",
        f"input,output\n{tmp_path / 'v.mp4'},{tmp_path / 'w.mp4'}\n{tmp_path / 'w.mp4'},\n",
        "would write over an input",
    )


def test_a_missing_or_unreadable_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_clips(_batch(tmp_path, manifest=str(tmp_path / "none.csv")))
    assert_one_line(caught.value, "does not exist", "check the path")
    (tmp_path / "latin.csv").write_bytes("input\ncaf\xe9.mp4\n".encode("latin-1"))
    with pytest.raises(ManifestError) as caught:
        load_clips(_batch(tmp_path, manifest=str(tmp_path / "latin.csv")))
    assert_one_line(caught.value, "not UTF-8", "save it as UTF-8")


def test_a_manifest_over_the_clip_cap_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"c{index}.mp4\n" for index in range(MAX_CLIPS + 1))
    _refused(tmp_path, "big.csv", "input\n" + rows, f"over {MAX_CLIPS} clips", "split")


# --- an s3:// output folder ---------------------------------------------------------------------


def test_an_s3_output_folder_takes_relative_outputs_and_whole_ones_stay_as_they_are(
    tmp_path: Path,
) -> None:
    rows = (
        "input,output\n"
        "clips/a.mp4,\n"  # <stem>.mp4 in the folder
        "clips/b.mp4,sub/b-sepia.mp4\n"  # a key below the folder
        "s3://media/in/c.mov,./c.mp4\n"
        "clips/d.mp4,s3://other/elsewhere/d.mp4\n"  # a whole s3:// URL
        f"clips/e.mp4,{tmp_path / 'local' / 'e.mp4'}\n"  # an absolute local path
    )
    clips = _manifest(tmp_path, "b.csv", rows, prompt="x", output_dir="s3://media/out")
    assert [clip.request.output for clip in clips] == [
        "s3://media/out/a.mp4",
        "s3://media/out/sub/b-sepia.mp4",
        "s3://media/out/c.mp4",
        "s3://other/elsewhere/d.mp4",
        str(tmp_path / "local" / "e.mp4"),
    ]
    assert clips[2].request.input == "s3://media/in/c.mov"
    # A local output folder keeps a whole s3:// URL as it is too.
    (local,) = _manifest(tmp_path, "c.csv", "input,output\na.mp4,s3://media/x.mp4\n", prompt="x")
    assert local.request.output == "s3://media/x.mp4"


@pytest.mark.parametrize(
    ("output", "hints"),
    [
        ("../up.mp4", ("line 2", "output: '..' cannot climb out of an s3:// output folder")),
        ("a.mov", ("line 2", "output: must end in .mp4")),
        ("s3://Media/a.mp4", ("line 2", "not a bucket name")),
    ],
)
def test_an_output_that_cannot_be_in_an_s3_folder_is_refused(
    tmp_path: Path, output: str, hints: tuple[str, ...]
) -> None:
    with pytest.raises(ManifestError) as caught:
        _manifest(tmp_path, "b.csv", f"input,output\na.mp4,{output}\n", prompt="x",
                  output_dir="s3://media/out/")  # fmt: skip
    assert_one_line(caught.value, *hints)
