"""The run's summary (``summary_markdown``, pure): one table row per fact, whatever the user's
text holds, and nothing that does not belong in an artifact."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from reskin.edit.request import EditRequest, EditResult, SegmentResult
from reskin.fidelity.report import Fidelity, SeamFidelity, SegmentFidelity, Timing
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import GLOBAL_ARGS
from reskin.media.runner import run
from tasks.publish import PREVIEW_INLINE_MAX_BYTES, preview_picture, summary_markdown

GENERATION = "0d6f4c1e-8a7b-4c1f-9f55-2f0d7c1a9b3e:klingai/video-o1-video-to-video-edit"


def _request(**changes: object) -> EditRequest:
    fields: dict[str, object] = {
        "input": "/videos/walk.mp4",
        "prompt": "sepia film",
        "output": "/videos/walk-sepia.mp4",
    }
    return EditRequest.model_validate({**fields, **changes})


def _result(**changes: object) -> EditResult:
    fields: dict[str, object] = {
        "output": "/videos/walk-sepia.mp4",
        "model": "klingai/video-o1-video-to-video-edit",
        "generation_id": GENERATION,
        "credits_used": 300.0,
        "resumed": False,
        "reused_download": False,
        "input_duration_s": 3.0,
        "output_duration_s": 3.0,
        "width": 1280,
        "height": 720,
        "has_audio": True,
        "conform": "passthrough (already conforms)",
        "sound": "restore",
        "timings_s": {"take_in": 0.31, "poll": 61.5},
    }
    return EditResult.model_validate({**fields, **changes})


def _rows(markdown: str) -> dict[str, list[str]]:
    """The table's rows as GFM reads them: cells split on pipes not escaped."""
    lines = re.split(r"\r\n|\r|\n", markdown)
    assert lines[0] == "# reskin edit"
    table = [line for line in lines if line.startswith("|")]
    assert table[:2] == ["| | |", "|---|---|"]
    rows: dict[str, list[str]] = {}
    for line in table[2:]:
        cells = re.split(r"(?<!\\)\|", line)
        assert len(cells) == 4, f"not a two-cell row: {line!r}"
        assert cells[0] == ""
        assert cells[3] == ""
        rows.setdefault(cells[1].strip(), []).append(cells[2].strip())
    return rows


def test_the_summary_holds_what_was_asked_made_and_paid() -> None:
    rows = _rows(summary_markdown(_request(), _result()))
    assert rows["input"] == ["`/videos/walk.mp4`"]
    assert rows["prompt"] == ["sepia film"]
    assert rows["generation"] == [f"`{GENERATION}`"]
    assert rows["credits used"] == ["300"]
    assert rows["input length"] == ["3.00 s"]
    assert rows["output"] == ["`/videos/walk-sepia.mp4`"]
    assert rows["result"] == ["1280x720, 3.00 s, with sound (restore)"]
    assert rows["conform"] == ["passthrough (already conforms)"]
    assert rows["take_in time"] == ["0.31 s"]
    assert rows["poll time"] == ["61.50 s"]


def test_a_resumed_generation_says_it_was_not_paid_again() -> None:
    rows = _rows(summary_markdown(_request(), _result(resumed=True)))
    assert rows["generation"] == [f"`{GENERATION} (resumed, not paid again)`"]


@pytest.mark.parametrize(("credits", "shown"), [(None, "not reported"), (412.5, "412.5")])
def test_credits_are_shown_as_reported(credits: float | None, shown: str) -> None:
    rows = _rows(summary_markdown(_request(), _result(credits_used=credits)))
    assert rows["credits used"] == [shown]


def test_a_silent_result_says_so() -> None:
    rows = _rows(summary_markdown(_request(audio="none"), _result(has_audio=False, sound="none")))
    assert rows["result"] == ["1280x720, 3.00 s, silent"]


@pytest.mark.parametrize(
    "prompt",
    ["a | b", "line one\nline two", "windows\r\nline", "old mac\rline", "tab\there"],
    ids=["pipe", "newline", "crlf", "cr", "tab"],
)
def test_any_prompt_stays_in_its_one_cell(prompt: str) -> None:
    rows = _rows(summary_markdown(_request(prompt=prompt), _result()))
    (shown,) = rows["prompt"]
    assert shown.replace("\\|", "|").split() == prompt.split()


def test_paths_with_pipes_stay_in_their_cells() -> None:
    request = _request(input="/v/a|b.mp4", output="/v/c|d.mp4")
    rows = _rows(summary_markdown(request, _result(output="/v/c|d.mp4")))
    assert rows["input"] == ["`/v/a\\|b.mp4`"]
    assert rows["output"][0] == "`/v/c\\|d.mp4`"


def test_no_stage_time_no_time_row() -> None:
    rows = _rows(summary_markdown(_request(), _result(timings_s={})))
    assert not [name for name in rows if name.endswith(" time")]


def test_the_fidelity_has_its_rows_and_a_long_video_its_segments_and_seams() -> None:
    fidelity = Fidelity(
        motion=0.91,
        structure=0.87,
        timing=Timing(duration_difference_s=0.0, lag_s=0.125),
        samples=160,
        motion_strip="█▇▁█",
        structure_strip="████",
        segments=(
            SegmentFidelity(index=1, start_s=0.0, end_s=10.0, motion=0.95, structure=0.9),
            SegmentFidelity(index=2, start_s=10.0, end_s=20.0, motion=0.12, structure=0.8),
        ),
        seams=(SeamFidelity(after=1, at_s=10.0, score=0.42),),
    )
    segments = [
        SegmentResult(
            index=index,
            start_s=start,
            end_s=start + 10,
            generation_id=f"g{index}",
            credits_used=1000.0,
            resumed=False,
            reused_download=False,
        )
        for index, start in ((1, 0.0), (2, 10.0))
    ]
    markdown = summary_markdown(_request(), _result(fidelity=fidelity, segments=segments))
    head, _, tail = markdown.partition("\n## Segments")
    rows = _rows(head)
    assert rows["fidelity: motion"] == ["0.91 `█▇▁█`"]
    assert rows["fidelity: structure"] == ["0.87 `████`"]
    assert rows["fidelity: timing"] == ["+0.000 s long, picture 0.125 s late"]
    assert "| 2 | 10.000 | 20.000 | `g2` | 1000 | paid now | 0.12, 0.80 |" in tail
    assert "| after segment 1 | 10.000 | 0.42 |" in tail


# --- the before/after contact sheet in the summary -----------------------------------------

PICTURE = "![input (top) and result (bottom)]"


@pytest.fixture
def sheet(ffmpeg_tools: FFmpegTools, tmp_path: Path) -> Path:
    """A small real PNG where a local output's preview sits."""
    path = tmp_path / "walk-sepia.preview.png"
    argv: list[str | Path] = [
        ffmpeg_tools.ffmpeg,
        *GLOBAL_ARGS,
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=64x36",
    ]
    run([*argv, "-frames:v", "1", path], timeout_s=60)
    return path


def test_a_local_outputs_preview_is_shown_inline_as_a_data_uri(sheet: Path) -> None:
    # artifact_links gives a local preview a file:// link, which the UI's page cannot open.
    picture = preview_picture(str(sheet), f"file://{sheet}")
    assert picture is not None
    assert picture.startswith("data:image/png;base64,")
    assert base64.b64decode(picture.split(",", 1)[1]) == sheet.read_bytes()

    markdown = summary_markdown(_request(), _result(preview=str(sheet)), picture)
    assert f"{PICTURE}(<{picture}>)" in markdown
    assert _rows(markdown)["preview"] == [f"`{sheet}`"]  # and its path, as before


def test_an_s3_outputs_preview_keeps_its_presigned_link(sheet: Path) -> None:
    link = "https://bucket.example/walk-sepia.preview.png?X-Amz-Signature=abc"
    assert preview_picture("s3://bucket/walk-sepia.preview.png", link) == link
    assert preview_picture("s3://bucket/walk-sepia.preview.png", None) is None
    markdown = summary_markdown(_request(), _result(), link)
    assert f"{PICTURE}(<{link}>)" in markdown


def test_no_picture_for_a_sheet_too_big_missing_or_not_a_png(sheet: Path, tmp_path: Path) -> None:
    size = sheet.stat().st_size
    assert size < PREVIEW_INLINE_MAX_BYTES
    assert preview_picture(str(sheet), None, max_bytes=size) is not None
    assert preview_picture(str(sheet), None, max_bytes=size - 1) is None
    assert preview_picture(str(tmp_path / "gone.png"), None) is None
    text = tmp_path / "not.preview.png"
    text.write_bytes(b"<svg onload=alert(1)>")
    assert preview_picture(str(text), None) is None
    assert preview_picture(None, None) is None
    assert PICTURE not in summary_markdown(_request(), _result(), None)
