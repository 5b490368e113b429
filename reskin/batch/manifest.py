"""The clips of a batch: the videos of an inbox folder (local, or an ``s3://`` prefix), or the
rows of a CSV or JSONL manifest.

Everything is read and checked before any clip is sent, so a bad row refuses the whole batch
with one line naming the file and the line, and nothing is paid for a half-read manifest.

==========  ===================================================================================
column      meaning (only ``input`` is required)
==========  ===================================================================================
input       a local path (relative: beside the manifest), an http(s):// URL or s3://bucket/key
prompt      the clip's prompt; empty: the batch's prompt
start_s     edit from this second of the input
end_s       edit up to this second
audio       restore, model or none; empty: the batch's
output      the .mp4 to write (relative: in the output folder, local or s3://; an absolute path
            or an s3:// URL as it is); empty: ``<output>/<stem>.mp4``
model       the model id; empty: the batch's (else ``RESKIN_MODEL``)
options     the model's options: ``seed=7;frame_size=960:960`` in a CSV cell, an object in
            JSONL; empty: the batch's
force       true: edit this clip again even if done, failed or its answer was lost (pays
            again); empty or false: the batch's ``force``
==========  ===================================================================================

A CSV has a header row naming its columns (any order, any subset with ``input``); a JSONL file
has one JSON object per line, blank lines ignored. Any other column is refused (a typo such as
``promt`` would otherwise silently edit with the default prompt). Two clips writing one output,
or an output over an input, are refused too.

What a batch may touch follows :mod:`reskin.access` (docs/security.md), checked for the whole
batch before anything is read from a clip or paid: a local inbox, manifest and output folder
must lie in ``RESKIN_ALLOWED_DIRS`` when it is set (before they are read), and so must every
row's (or inbox video's) input, resolved, and output; a URL row must be https (or http with
``RESKIN_ALLOW_HTTP``) to a host whose addresses are public or allowed, looked up now.

An inbox is read by the same rules wherever it is: the videos (by suffix, any case) directly in
it, not in its sub-folders, hidden names (``.x.mp4``) left out, by name, at most
:data:`MAX_CLIPS`. For an ``s3://`` prefix, "directly in it" means keys with no further '/'
after the prefix; the listing is paginated and stops once over the cap.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from reskin.access import (
    Access,
    Lookup,
    check_location,
    check_path,
    check_request,
    check_url_resolved,
)
from reskin.batch.places import (
    Folder,
    folder_of,
    named_in,
    object_version,
    place_in,
)
from reskin.batch.request import BatchRequest
from reskin.edit.request import EditRequest
from reskin.edit.source import is_remote
from reskin.errors import AccessError, InputError
from reskin.media.probe import shown_name
from reskin.registry.options import parse_pairs
from reskin.storage.s3 import S3Prefix, S3Storage, StorageOf

COLUMNS = ("input", "prompt", "start_s", "end_s", "audio", "output", "model", "options", "force")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
#: More clips than this in one batch are refused: every row is a parameter and a result row
#: Prefect stores, and a table the UI draws.
MAX_CLIPS = 10_000


class ManifestError(InputError):
    """The inbox or the manifest cannot be used; nothing was sent."""


@dataclass(frozen=True)
class Clip:
    """One clip of a batch: the edit to make, and where it came from."""

    #: Its place in the batch (0-based), which is also its row in the results.
    index: int
    #: What tables call it: the input's file name, and its manifest line.
    label: str
    #: The manifest line it came from; None for an inbox clip.
    line: int | None
    request: EditRequest
    #: For an ``s3://`` input: its ETag and size before anything was sent
    #: (:func:`~reskin.batch.places.object_version`), None while unknown.
    input_version: str | None = None


def load_clips(
    batch: BatchRequest,
    storage_of: StorageOf | None = None,
    access: Access | None = None,
    lookup: Lookup | None = None,
) -> list[Clip]:
    """The clips of ``batch``, checked whole; :class:`ManifestError` (one line) when any is bad,
    an :class:`~reskin.errors.AccessError` when a place is one ``access`` (default: the default
    settings') refuses. ``storage_of`` gives the S3 storage an ``s3://`` inbox is listed with;
    ``lookup`` resolves the host names of URL rows (default: the system's resolver)."""
    access = access or Access()
    output_dir = output_folder(batch)
    _check_folders(batch, access)
    if batch.inbox is not None:
        inbox = folder_of(batch.inbox)
        if isinstance(inbox, S3Prefix):
            if storage_of is None:
                raise ValueError("an s3:// inbox is listed with S3 storage: give storage_of")
            clips = scan_s3_inbox(inbox, output_dir, batch, storage_of())
        else:
            clips = scan_inbox(inbox, output_dir, batch)
    else:
        clips = read_manifest(Path(str(batch.manifest)), output_dir, batch)
    _check_outputs(clips, batch)
    check_clips(clips, access, lookup)
    return clips


def _check_folders(batch: BatchRequest, access: Access) -> None:
    """The batch's own places, before any is read."""
    if batch.inbox is not None:
        check_location(batch.inbox, access, what="inbox")
    if batch.manifest is not None:
        check_path(str(batch.manifest), access, what="manifest")
    check_location(batch.output_dir, access, what="output folder", write=True)


def check_clips(clips: list[Clip], access: Access, lookup: Lookup | None = None) -> None:
    """Every place each clip names (:func:`reskin.access.check_request`), and the addresses of
    its URLs' hosts (each host looked up once); the refusal names the clip."""
    looked: set[str] = set()
    for clip in clips:
        try:
            check_request(clip.request, access)
            for what, url in _urls(clip):
                host = url.split("://", 1)[-1].split("/", 1)[0].lower()
                if host not in looked:
                    check_url_resolved(url, access, what=what, lookup=lookup)
                    looked.add(host)
        except AccessError as exc:
            exc.within(clip.label)
            raise


def _urls(clip: Clip) -> Iterator[tuple[str, str]]:
    places = [("input", clip.request.input)]
    places += [
        (f"reference image {n}", url) for n, url in enumerate(clip.request.reference_images, 1)
    ]
    for what, place in places:
        if place.lower().startswith(("https://", "http://")):
            yield what, place


def output_folder(batch: BatchRequest) -> Folder:
    """The batch's output folder: an absolute path or an S3 prefix."""
    return folder_of(batch.output_dir)


def _is_video(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_SUFFIXES and not name.startswith(".")


def _inbox_clip(
    index: int, name: str, source: str, output_dir: Folder, batch: BatchRequest, inbox: Folder
) -> Clip:
    fields = {"input": source, "output": named_in(output_dir, f"{Path(name).stem}.mp4")}
    request = _edit_request(fields, batch, where=f"inbox {inbox}: {shown_name(name)}")
    return Clip(index, shown_name(name), None, request)


def scan_s3_inbox(
    folder: S3Prefix,
    output_dir: Folder,
    batch: BatchRequest,
    storage: S3Storage,
    *,
    max_clips: int = MAX_CLIPS,
    page_size: int = 1000,
) -> list[Clip]:
    """One clip per video object directly in ``folder`` (:func:`scan_inbox`'s rules), by name,
    each with the version the listing tells; the listing goes ``page_size`` keys a request and
    stops once over ``max_clips`` videos."""
    if folder == output_dir:
        raise ManifestError(
            f"the output folder is the inbox {folder}: outputs would be taken for new clips; "
            "give another output folder"
        )
    videos = []
    for listed in storage.list_folder(folder, page_size=page_size):
        name = listed.key[len(folder.prefix) :]
        if _is_video(name):
            videos.append((name, listed))
            if len(videos) > max_clips:
                raise ManifestError(
                    f"inbox {folder} holds over {max_clips} videos, too many for one batch: "
                    "split it into several folders"
                )
    videos.sort(key=lambda item: item[0])
    clips = []
    for index, (name, listed) in enumerate(videos):
        clip = _inbox_clip(index, name, folder.url + name, output_dir, batch, folder)
        clips.append(
            dataclasses.replace(clip, input_version=object_version(listed.etag, listed.size))
        )
    return clips


def scan_inbox(folder: Path, output_dir: Folder, batch: BatchRequest) -> list[Clip]:
    """One clip per video file directly in ``folder`` (hidden files ignored), by name."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise ManifestError(f"inbox {folder} is not a folder: check the path")
    if folder.resolve() == output_dir:
        raise ManifestError(
            f"the output folder is the inbox {folder}: outputs would be taken for new clips; "
            "give another output folder"
        )
    videos = sorted(
        path
        for path in folder.iterdir()
        # is_file follows links: a link to a video is a video, a folder named x.mp4 is not.
        if _is_video(path.name) and path.is_file()
    )
    if len(videos) > MAX_CLIPS:
        raise ManifestError(
            f"inbox {folder} holds {len(videos)} videos, over {MAX_CLIPS} in one batch: "
            "split it into several folders"
        )
    return [
        _inbox_clip(index, path.name, str(path.resolve()), output_dir, batch, folder)
        for index, path in enumerate(videos)
    ]


def read_manifest(path: Path, output_dir: Folder, batch: BatchRequest) -> list[Clip]:
    """One clip per row of the CSV or JSONL file at ``path``."""
    path = path.expanduser()
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ManifestError(
            f"manifest {path.name}: give a .csv file (with a header row) or a .jsonl file"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a spreadsheet's byte-order mark
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist: check the path") from None
    except UnicodeDecodeError:
        raise ManifestError(f"manifest {path.name} is not UTF-8 text: save it as UTF-8") from None
    except OSError as exc:
        raise ManifestError(f"manifest {path}: cannot read it ({exc.strerror})") from exc
    rows = _csv_rows(text, path.name) if suffix == ".csv" else _jsonl_rows(text, path.name)
    base = path.resolve().parent
    clips: list[Clip] = []
    for line, row in rows:
        where = f"manifest {path.name} line {line}"
        if len(clips) == MAX_CLIPS:
            raise ManifestError(f"{where}: over {MAX_CLIPS} clips in one batch: split the file")
        fields = _resolved(row, base, output_dir, where)
        request = _edit_request(fields, batch, where=where)
        label = f"{shown_name(request.shown_input)} (line {line})"
        clips.append(Clip(len(clips), label, line, request))
    if not clips:
        raise ManifestError(f"manifest {path.name} has no rows: add one clip a line")
    return clips


def _csv_rows(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        raise ManifestError(
            f"manifest {name} is empty: give a header row and one row a clip"
        ) from None
    except csv.Error as exc:
        raise ManifestError(f"manifest {name} line 1: not CSV ({exc})") from exc
    columns = [cell.strip() for cell in header]
    _check_columns(columns, f"manifest {name} line 1", "header")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ManifestError(f"manifest {name} line {reader.line_num}: not CSV ({exc})") from exc
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a row of empty cells a spreadsheet left
        if len(cells) > len(columns):
            raise ManifestError(
                f"manifest {name} line {reader.line_num}: {len(cells)} cells but "
                f"{len(columns)} columns in the header: quote cells that hold commas"
            )
        row = {column: cell for column, cell in zip(columns, cells, strict=False)}
        yield reader.line_num, row


def _jsonl_rows(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"manifest {name} line {line}"
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{where}: not JSON ({exc.msg}): one object a line") from None
        if not isinstance(row, dict):
            raise ManifestError(f"{where}: not a JSON object: one object a line")
        _check_columns(list(row), where, "key")
        yield line, row


def _check_columns(columns: list[str], where: str, what: str) -> None:
    unknown = [column for column in columns if column not in COLUMNS]
    if unknown:
        raise ManifestError(
            f"{where}: unknown {what} {shown_name(unknown[0])!r} (known: {', '.join(COLUMNS)})"
        )
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise ManifestError(f"{where}: {what} {repeated[0]!r} appears twice: keep one")
    if what == "header" and "input" not in columns:
        raise ManifestError(f"{where}: no input column: every row needs the video to edit")


def _resolved(row: Mapping[str, Any], base: Path, output_dir: Folder, where: str) -> dict[str, Any]:
    """The row's fields, empty ones dropped, paths made absolute."""
    fields: dict[str, Any] = {}
    for key, value in row.items():
        # Cells lose the blanks around them, except a prompt, which is the user's text.
        cleaned = value.strip() if isinstance(value, str) and key != "prompt" else value
        if cleaned is not None and cleaned != "":
            fields[key] = cleaned
    source = fields.get("input")
    if not isinstance(source, str) or not source:
        raise ManifestError(f"{where}: input: give the video to edit (a path or a URL)")
    # A URL of another scheme (file://) stays one, for the access check to refuse by name.
    if not is_remote(source) and len(urlsplit(source).scheme) <= 1:
        fields["input"] = str((base / Path(source).expanduser()).resolve())
    output = fields.get("output")
    if not isinstance(output, str):
        stem = Path(source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]).stem or "clip"
        fields["output"] = named_in(output_dir, f"{stem}.mp4")
        return fields
    try:
        fields["output"] = place_in(output_dir, output)
    except ValueError as exc:
        raise ManifestError(f"{where}: output: {exc}") from None
    return fields


def _edit_request(fields: dict[str, Any], batch: BatchRequest, *, where: str) -> EditRequest:
    defaults = {"audio": batch.audio, "model": batch.model, "options": batch.options}
    values = {**defaults, **fields}
    if batch.force:  # a forced batch forces every row; else a row may force itself
        values["force"] = True
    if isinstance(values["options"], str):  # a CSV cell
        try:
            values["options"] = parse_pairs(values["options"].split(";"))
        except InputError as exc:
            raise ManifestError(f"{where}: options: {exc}") from None
    if "prompt" not in values:
        if batch.prompt is None:
            raise ManifestError(f"{where}: prompt: give one, or a prompt for the whole batch")
        values["prompt"] = batch.prompt
    try:
        return EditRequest.model_validate(values)
    except ValidationError as exc:
        raise ManifestError(f"{where}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    field = ".".join(str(part) for part in error["loc"])
    text = f"{field}: {message}" if field else message
    return " ".join(text.split())


def _check_outputs(clips: list[Clip], batch: BatchRequest) -> None:
    inputs = {clip.request.input for clip in clips}
    seen: dict[str, Clip] = {}
    source = "inbox" if batch.inbox is not None else "manifest"
    for clip in clips:
        output = clip.request.output
        if output in inputs:
            raise ManifestError(
                f"{source}: {clip.label} would write over an input ({output}): give another output"
            )
        if output in seen:
            raise ManifestError(
                f"{source}: {seen[output].label} and {clip.label} would both write "
                f"{Path(output).name}: give each clip its own output"
            )
        seen[output] = clip
