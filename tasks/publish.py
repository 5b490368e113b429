"""The flow's last task, publish: the run's summary, its result as a one-row table and a link
to the output, as Prefect artifacts.

The table is for programs: a batch reads it back (``tasks/batch.py``) to learn what a clip's run
did wherever it ran, since the flow keeps no result of its own. Artifacts hold names, ids,
numbers and paths; never a data URI of a video, a key or the result's CDN link (it is a bearer
link while it lives). The one bearer link they may hold is the user's own: a presigned link to
an S3 output and its preview, valid ``RESKIN_S3_LINK_EXPIRY_S``.

The summary shows the before/after contact sheet: an S3 output's through its presigned link, a
local output's inline, as a ``data:image/png`` URI of the sheet's bytes (a browser will not
open a ``file://`` link from the UI's page, and the Prefect UI renders data URIs in markdown,
``tests/ui``). The sheet is a small 256-colour PNG (27 KB for the suite's 720p test pattern,
more for real footage); one larger than :data:`PREVIEW_INLINE_MAX_BYTES` is left out, its path
still in the table.
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from reskin.edit.outputs import Delivered, artifact_links
from reskin.edit.request import EditRequest, EditResult
from reskin.edit.services import Services
from reskin.fidelity.report import Fidelity, SegmentFidelity

#: Key of every edit's result table: the UI's artifacts page lists them as one history.
RESULT_KEY = "reskin-edit-result"
#: Largest contact sheet shown inline (as a data URI, a third larger) in a local output's summary.
PREVIEW_INLINE_MAX_BYTES = 512_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PICTURE_SCHEMES = ("https://", "http://", "data:image/png;base64,")


def _cell(text: str) -> str:
    """``text`` kept inside one table cell: line breaks (any of the three markdown knows) become
    spaces and pipes are escaped, also inside code spans, where GFM splits on them too."""
    return re.sub(r"\r\n?|\n", " ", text).replace("|", "\\|")


def summary_markdown(
    request: EditRequest, result: EditResult, preview_link: str | None = None
) -> str:
    """The run's summary as a markdown table, and the before/after preview as a picture when
    it has a link a browser can open (an S3 output's, presigned; a local one's data URI:
    :func:`preview_picture`)."""
    credits = "not reported" if result.credits_used is None else f"{result.credits_used:g}"
    generation = result.generation_id + (" (resumed, not paid again)" if result.resumed else "")
    if result.segments:
        paid = sum(not segment.resumed for segment in result.segments)
        generation = f"{len(result.segments)} segments ({paid} paid now): see the table below"
    rows = [
        ("input", f"`{request.input}`"),
        ("prompt", request.prompt),
        ("output", f"`{result.output}`"),
        ("model", f"`{result.model}`"),
        ("generation", f"`{generation}`"),
        ("credits used", credits),
        ("input length", f"{result.input_duration_s:.2f} s"),
        (
            "result",
            f"{result.width}x{result.height}, {result.output_duration_s:.2f} s, "
            f"{'with sound (' + result.sound + ')' if result.has_audio else 'silent'}",
        ),
        ("conform", result.conform),
    ]
    if result.fidelity is not None:
        rows += _fidelity_rows(result.fidelity)
    if result.preview is not None:
        rows.append(("preview", f"`{result.preview}`"))
    rows += [(f"{stage} time", f"{seconds:.2f} s") for stage, seconds in result.timings_s.items()]
    table = "\n".join(f"| {name} | {_cell(value)} |" for name, value in rows)
    picture = ""
    if preview_link is not None and preview_link.startswith(_PICTURE_SCHEMES):
        picture = f"\n![input (top) and result (bottom)](<{preview_link}>)\n"
    return (
        f"# reskin edit\n\n| | |\n|---|---|\n{table}\n{picture}{_segments(result)}{_seams(result)}"
    )


def _fidelity_rows(fidelity: Fidelity) -> list[tuple[str, str]]:
    """The scores, and along the video as strips (lowest block: 0), where a dip shows."""
    lag = fidelity.timing.lag_s
    return [
        ("fidelity: motion", f"{fidelity.motion:.2f} `{fidelity.motion_strip}`"),
        ("fidelity: structure", f"{fidelity.structure:.2f} `{fidelity.structure_strip}`"),
        (
            "fidelity: timing",
            f"{fidelity.timing.duration_difference_s:+.3f} s long, picture "
            + (f"{abs(lag):.3f} s {'late' if lag > 0 else 'early'}" if lag else "on time"),
        ),
    ]


def _segments(result: EditResult) -> str:
    """A long edit's segments, one row each: window, generation, credits, paid or resumed,
    and the segment's fidelity."""
    if not result.segments:
        return ""
    scores = {} if result.fidelity is None else {s.index: s for s in result.fidelity.segments}
    rows = [
        f"| {s.index} | {s.start_s:.3f} | {s.end_s:.3f} | `{s.generation_id}` | "
        f"{'not reported' if s.credits_used is None else f'{s.credits_used:g}'} | "
        f"{'resumed' if s.resumed else 'paid now'} | {_pair(scores.get(s.index))} |"
        for s in result.segments
    ]
    head = (
        "| segment | start s | end s | generation | credits | | motion, structure |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    return "\n## Segments\n\n" + head + "\n".join(rows) + "\n"


def _pair(scores: SegmentFidelity | None) -> str:
    return "" if scores is None else f"{scores.motion:.2f}, {scores.structure:.2f}"


def _seams(result: EditResult) -> str:
    """A long edit's joins, one row each, with their score (1: no more visible than the
    shot's own motion)."""
    if result.fidelity is None or not result.fidelity.seams:
        return ""
    rows = [
        f"| after segment {seam.after} | {seam.at_s:.3f} | {seam.score:.2f} |"
        for seam in result.fidelity.seams
    ]
    return "\n## Seams\n\n| join | at s | score |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def preview_picture(
    preview: str | None, link: str | None, *, max_bytes: int = PREVIEW_INLINE_MAX_BYTES
) -> str | None:
    """What the summary's picture shows: ``link`` when a browser can open it (an S3 preview's,
    presigned), else a local ``preview``'s PNG as a data URI when it is at most ``max_bytes``;
    None when neither (the edit is done: a missing picture only logs a line)."""
    if link is not None and link.startswith(("https://", "http://")):
        return link
    if preview is None or preview.startswith("s3://"):
        return None
    try:
        with Path(preview).open("rb") as sheet:
            data = sheet.read(max_bytes + 1)
    except OSError as exc:
        _logger().warning("the summary shows no preview: cannot read %s (%s)", preview, exc)
        return None
    if len(data) > max_bytes or not data.startswith(_PNG_SIGNATURE):
        _logger().info(
            "the summary shows no preview: %s is not a PNG of at most %d bytes", preview, max_bytes
        )
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@task(name="publish", task_run_name="publish {result.output}", cache_policy=NO_CACHE)
async def publish(request: EditRequest, result: EditResult, services: Services) -> None:
    settings = services.settings
    video_link, preview_link = artifact_links(Delivered(result.output, result.preview), settings)
    picture = preview_picture(result.preview, preview_link)
    await acreate_markdown_artifact(
        summary_markdown(request, result, picture),
        description="What this edit did and what it cost.",
    )
    await acreate_table_artifact(
        [result.as_row()], key=RESULT_KEY, description="The edit's result, one field a column."
    )
    expiry = ""
    if video_link.startswith(("https://", "http://")):
        expiry = f" (a presigned link, valid {settings.s3_link_expiry_s / 3600:g} h)"
    await acreate_link_artifact(
        video_link, link_text=result.output, description="The edited video" + expiry + "."
    )


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger (its lines show in the UI), else this module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)
