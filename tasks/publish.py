"""Stage 6, publish: the run's summary, its result as a one-row table and a link to the output,
as Prefect artifacts.

The table is for programs: a batch reads it back (``tasks/batch.py``) to learn what a clip's run
did wherever it ran, since the flow keeps no result of its own. Artifacts hold names, ids,
numbers and paths; never a data URI, a key or the result's CDN link (it is a bearer link while
it lives).
"""

from __future__ import annotations

import re

from prefect import task
from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from reskin.edit.request import EditRequest, EditResult

#: Key of every edit's result table: the UI's artifacts page lists them as one history.
RESULT_KEY = "reskin-edit-result"


def _cell(text: str) -> str:
    """``text`` kept inside one table cell: line breaks (any of the three markdown knows) become
    spaces and pipes are escaped, also inside code spans, where GFM splits on them too."""
    return re.sub(r"\r\n?|\n", " ", text).replace("|", "\\|")


def summary_markdown(request: EditRequest, result: EditResult) -> str:
    """The run's summary as a markdown table."""
    credits = "not reported" if result.credits_used is None else f"{result.credits_used:g}"
    generation = result.generation_id + (" (resumed, not paid again)" if result.resumed else "")
    rows = [
        ("input", f"`{request.input}`"),
        ("prompt", request.prompt),
        ("output", f"`{result.output}`"),
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
    rows += [(f"{stage} time", f"{seconds:.2f} s") for stage, seconds in result.timings_s.items()]
    table = "\n".join(f"| {name} | {_cell(value)} |" for name, value in rows)
    return f"# reskin edit\n\n| | |\n|---|---|\n{table}\n"


@task(name="publish", task_run_name="publish {result.output}", cache_policy=NO_CACHE)
async def publish(request: EditRequest, result: EditResult) -> None:
    await acreate_markdown_artifact(
        summary_markdown(request, result), description="What this edit did and what it cost."
    )
    await acreate_table_artifact(
        [result.as_row()], key=RESULT_KEY, description="The edit's result, one field a column."
    )
    await acreate_link_artifact(
        f"file://{result.output}", link_text=result.output, description="The edited video."
    )
