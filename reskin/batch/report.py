"""The record of a batch: one row per clip, kept as a results manifest beside the outputs and
drawn as a table.

``<output_dir>/results.jsonl`` (one :class:`~reskin.batch.request.ClipRow` a line) and
``results.csv`` (the same columns) are written whole under a temporary name and renamed, so a
reader never sees half of one. They are rewritten while the batch runs (unfinished clips
``pending``), at most every few seconds, so a batch killed half-way still tells the next run
which clips it finished; the next run of the same batch reads them to skip what is done
(:mod:`reskin.batch.reuse`). For an ``s3://`` output folder they are written in a local folder
of the work dir the same way, and uploaded to the output folder when the batch ends
(:mod:`reskin.batch.places`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reskin.batch.manifest import Clip
from reskin.batch.request import ClipRow, ClipStatus
from reskin.errors import ReskinError
from reskin.storage.s3 import S3Prefix, S3Storage

log = logging.getLogger(__name__)

RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"
CSV_COLUMNS = tuple(ClipRow.model_fields)
#: The table artifact's columns, in order.
TABLE_COLUMNS = (
    "clip",
    "status",
    "output",
    "generation id",
    "credits",
    "motion",
    "structure",
    "seconds",
    "error",
)
#: Shortest pause between two rewrites of the results while a batch runs.
SNAPSHOT_EVERY_S = 2.0


def clip_row(clip: Clip, status: ClipStatus, **fields: Any) -> ClipRow:
    """A row for ``clip`` with ``status`` and whatever else is known."""
    request = clip.request
    return ClipRow(
        clip=clip.label,
        line=clip.line,
        input=request.input,
        output=request.output,
        status=status,
        audio=request.audio,
        **fields,
    )


def one_line(message: str) -> str:
    """``message`` as one line (an error from a child run may span several)."""
    return " ".join(message.split()) or "failed without a message"


_ENGINE_PREFIX = "Flow run encountered an exception: "
_NAMED = re.compile(r"^(?P<name>[A-Za-z_][\w.]*): ")


def _reskin_error_names() -> frozenset[str]:
    found: set[str] = set()
    todo: list[type[BaseException]] = [ReskinError]
    while todo:
        kind = todo.pop()
        found.add(kind.__name__)
        todo.extend(kind.__subclasses__())
    return frozenset(found)


def error_of(exc: BaseException) -> str:
    """A failed clip's one-line error: reskin's own message as it is (it says what to do),
    anything else with its type, as a bug report needs it."""
    if isinstance(exc, ReskinError):
        return one_line(str(exc))
    return one_line(f"{type(exc).__name__}: {exc}")


def failure_of(message: str | None, *, ended: str = "Failed") -> str:
    """The one-line error of a failed child run, from its state message: Prefect's
    ``Flow run encountered an exception: InputError: ...`` reads as :func:`error_of` of the
    exception would; an empty message says how the run ended."""
    text = (message or "").removeprefix(_ENGINE_PREFIX)
    named = _NAMED.match(text)
    if named and named["name"].rsplit(".", 1)[-1] in _reskin_error_names():
        text = text[named.end() :]
    return one_line(text) if text.strip() else f"the run ended {ended} without a message"


def not_made_line(detail: str) -> str:
    """The one-line error of a clip whose run the Prefect server would not make."""
    return (
        f"the Prefect server did not make this clip's run ({detail}): nothing was sent for it; "
        "rerun the batch once the server answers"
    )


# --- the results manifest ---------------------------------------------------------------------


def write_results(output_dir: Path, rows: Sequence[ClipRow]) -> Path:
    """Write ``results.jsonl`` and ``results.csv`` in ``output_dir``, each atomically; the
    path of the JSONL one."""
    output_dir.mkdir(parents=True, exist_ok=True)
    jsonl = "".join(row.model_dump_json() + "\n" for row in rows)
    _write_atomic(output_dir / RESULTS_JSONL, jsonl)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow({key: "" if data[key] is None else data[key] for key in CSV_COLUMNS})
    _write_atomic(output_dir / RESULTS_CSV, buffer.getvalue())
    return output_dir / RESULTS_JSONL


def upload_results(results_dir: Path, folder: S3Prefix, storage: S3Storage) -> str:
    """Upload the results :func:`write_results` left in ``results_dir`` to ``folder`` (each
    object is replaced whole, as S3 does), the JSONL last; return its ``s3://`` URL."""
    storage.upload(results_dir / RESULTS_CSV, folder.location(RESULTS_CSV), content_type="text/csv")
    jsonl = folder.location(RESULTS_JSONL)
    storage.upload(results_dir / RESULTS_JSONL, jsonl, content_type="application/x-ndjson")
    return jsonl.url


def read_results(output_dir: Path) -> dict[str, ClipRow]:
    """The rows of an earlier ``results.jsonl`` in ``output_dir``, by output path; lines that
    do not parse are left out (nothing is skipped on their account)."""
    path = output_dir / RESULTS_JSONL
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read the earlier results %s (%s): nothing is skipped", path, exc)
        return {}
    rows: dict[str, ClipRow] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = ClipRow.model_validate_json(line)
        except ValidationError:
            log.warning("%s line %d does not parse: that clip is not skipped", path, number)
            continue
        rows[row.output] = row
    return rows


def _write_atomic(path: Path, text: str) -> None:
    # Made 0666 less the umask, as any file a program makes (mkstemp's 0600 would ignore it).
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


class ResultsWriter:
    """Keeps ``results.jsonl``/``.csv`` up to date while a batch runs: every clip's row, the
    unfinished ones ``pending``; rewritten at most every ``every_s`` seconds, and at the end."""

    def __init__(
        self,
        output_dir: Path,
        clips: Sequence[Clip],
        *,
        every_s: float = SNAPSHOT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.output_dir = output_dir
        self._rows = [clip_row(clip, ClipStatus.PENDING) for clip in clips]
        self._every_s = every_s
        self._clock = clock
        self._last: float | None = None

    @property
    def rows(self) -> list[ClipRow]:
        return list(self._rows)

    def update(self, index: int, row: ClipRow) -> None:
        """Record clip ``index``'s row; rewrite the files if the last rewrite is old enough."""
        self._rows[index] = row
        now = self._clock()
        if self._last is None or now - self._last >= self._every_s:
            self.flush()

    def flush(self) -> Path:
        self._last = self._clock()
        return write_results(self.output_dir, self._rows)


# --- the table --------------------------------------------------------------------------------


def table(rows: Sequence[ClipRow]) -> list[dict[str, str | float | None]]:
    """The rows as the batch's table artifact shows them."""
    return [
        {
            "clip": row.clip,
            "status": row.status.value,
            "output": row.output,
            "generation id": row.generation_id,
            "credits": row.credits_used,
            "motion": row.motion,
            "structure": row.structure,
            "seconds": None if row.seconds is None else round(row.seconds, 1),
            "error": row.error,
        }
        for row in rows
    ]


def counts_line(rows: Sequence[ClipRow]) -> str:
    """``3 clips: 2 done, 1 failed`` (statuses that occur, in a fixed order)."""
    parts = []
    for status in ClipStatus:
        count = sum(1 for row in rows if row.status is status)
        if count:
            parts.append(f"{count} {status.value}")
    noun = "clip" if len(rows) == 1 else "clips"
    return f"{len(rows)} {noun}: {', '.join(parts) or 'nothing to do'}"
