"""Where a batch reads its inbox and writes its outputs: a local folder or an S3 prefix.

=====================  ===================================  =====================================
folder given           a clip ``x.mov`` goes to             results.jsonl / .csv are kept in
=====================  ===================================  =====================================
``~/out``              ``/home/me/out/x.mp4``               ``~/out`` (rewritten while it runs)
``s3://media/out/``    ``s3://media/out/x.mp4``             ``RESKIN_WORK_DIR/batches/<hash>/``
                                                            while it runs, uploaded to
                                                            ``s3://media/out/`` when it ends
=====================  ===================================  =====================================

For an ``s3://`` output folder the results stay on this machine while the batch runs (they are
rewritten every few seconds) and are uploaded once it ends. The
next run of the batch reads them back from that local copy, not from S3: a clip is only skipped
when this machine's journal confirms it (``reskin/batch/reuse.py``), and the journal lives in the
same work folder, so the local copy is there whenever a skip is possible, and it is also the
freshest one (a batch killed half-way never reached its upload).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from reskin.storage.s3 import S3Prefix

#: A batch's folder: a local one (absolute) or an S3 prefix.
Folder = Path | S3Prefix


def is_s3(location: str) -> bool:
    """An ``s3://`` location (as :class:`~reskin.edit.request.EditRequest` reads one)."""
    return location.startswith("s3://")


def folder_of(text: str) -> Folder:
    """A form's folder: an ``s3://bucket/folder/`` prefix, or a local path made absolute; a bad
    ``s3://`` URL is a one-line InputError."""
    if is_s3(text):
        return S3Prefix.parse(text)
    return Path(text).expanduser().resolve()


def named_in(folder: Folder, name: str) -> str:
    """The file ``name`` (no folders) in ``folder``."""
    return str(folder / name) if isinstance(folder, Path) else folder.url + name


def place_in(folder: Folder, written: str) -> str:
    """An output as a user wrote it, inside ``folder`` unless it is whole already (an
    ``s3://`` URL, or an absolute local path); ValueError when it would climb out of an S3
    folder (``..``), which an S3 key cannot express."""
    if is_s3(written):
        return written
    path = Path(written).expanduser()
    if isinstance(folder, Path):
        return str((folder / path).resolve())
    if path.is_absolute():
        return str(path.resolve())
    if ".." in written.split("/"):
        raise ValueError(
            "'..' cannot climb out of an s3:// output folder: give a key inside it, or a whole "
            "s3://bucket/key.mp4"
        )
    return folder.url + written.removeprefix("./")


def results_folder(folder: Folder, work_dir: Path) -> Path:
    """The local folder that holds a batch's results while it runs (the table above)."""
    if isinstance(folder, Path):
        return folder
    digest = hashlib.sha256(folder.url.encode()).hexdigest()[:24]
    return work_dir / "batches" / digest


def object_version(etag: str, size: int) -> str:
    """What tells one content of an S3 object from another without reading it: its ETag (which
    S3 changes whenever the object is written with other bytes) and its size."""
    return f"{etag.strip(chr(34))}/{size}"
