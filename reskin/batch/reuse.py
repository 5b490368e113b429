"""Clips already done with the same request are skipped, not sent again.

A clip is skipped ("skipped (already done)") only when all of these hold:

1. the batch is not forced;
2. the earlier results manifest of the output folder has a row for the same output that is
   ``done`` or ``skipped``, with the same fingerprint and the same sound mode (the fingerprint
   leaves the sound out when it does not change what the service is asked, so ``restore`` and
   ``none`` share one generation but not one output file);
3. the output is still there (a file, or an object for an ``s3://`` output: a HEAD);
4. the request is still that one: for a local input, its fingerprint computed now from the
   input's content; for an ``s3://`` input, its :func:`request_key` (the fingerprint's fields
   with the object's ETag and size in place of its content hash, which cannot be told without
   downloading it) is the row's;
5. the submission journal holds the row's fingerprint as downloaded or done.

Anything else is sent to the one-clip flow, which itself resumes or reuses an earlier generation
of the same request instead of paying again (``reskin.submission``): skipping only saves the run
and its work. The fingerprint is :func:`reskin.edit.prepare.request_fingerprint` of the input's
content hash, so for a local input it can be told here without taking the input in (a batch
sends no reference images). A URL input is never skipped (its content is unknown until
downloaded).

For an ``s3://`` input the fingerprint is found, once its run is done, in this machine's journal
under the generation the run reported. The object's version is taken before the clip is sent
(from the inbox's listing, or a HEAD of a manifest's object), so an object replaced during the
run makes the next run's key differ and the clip is sent again (its run then finds the journaled
generation by the content's hash and pays nothing); S3 changes the ETag whenever an object is
written with other bytes, so the same key means the same content.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from reskin.batch.manifest import Clip
from reskin.batch.places import is_s3
from reskin.batch.report import clip_row
from reskin.batch.request import ClipRow, ClipStatus
from reskin.edit.prepare import request_fingerprint
from reskin.edit.request import EditRequest, resolve
from reskin.edit.source import is_remote
from reskin.journal import Journal, Phase, file_sha256
from reskin.settings import Settings
from reskin.storage.s3 import S3Location, StorageOf

log = logging.getLogger(__name__)

_REUSABLE_ROWS = (ClipStatus.DONE, ClipStatus.SKIPPED)
_REUSABLE_PHASES = (Phase.DOWNLOADED, Phase.DONE)


def local_fingerprint(request: EditRequest, settings: Settings) -> str | None:
    """The journal's key for ``request``, as preprocess computes it, when it can be told from
    here: a readable local input and no reference images; else None."""
    if is_remote(request.input) or request.reference_images:
        return None
    try:
        sha = file_sha256(Path(request.input).expanduser())
    except OSError:
        return None
    return request_fingerprint(request, resolve(request, settings.model), settings, sha, ())


def request_key(clip: Clip, settings: Settings) -> str | None:
    """For an ``s3://`` input whose version was taken: the request's fingerprint with the
    object's ETag and size standing in for its content hash; else None."""
    request = clip.request
    if not is_s3(request.input) or clip.input_version is None or request.reference_images:
        return None
    version = f"s3 object {clip.input_version}"
    return request_fingerprint(request, resolve(request, settings.model), settings, version, ())


def fingerprint_of_done(
    request: EditRequest, generation_id: str, settings: Settings, journal: Journal
) -> str | None:
    """The fingerprint of a request that just finished as ``generation_id``, when the journal
    confirms it (the input has not changed since, and the run journaled here); else None. For
    an ``s3://`` input, whose content hash is not known here, it is the journal's own entry for
    that generation."""
    if is_s3(request.input) and not request.reference_images:
        return journal.fingerprint_of(generation_id)
    fp = local_fingerprint(request, settings)
    if fp is None:
        return None
    entry = journal.get(fp)
    if entry is None or entry.generation_id != generation_id:
        return None
    return fp


def output_exists(output: str, storage_of: StorageOf | None) -> bool:
    """The output is there: a file, or an ``s3://`` object (a HEAD in ``storage_of()``)."""
    if not is_s3(output):
        return Path(output).is_file()
    if storage_of is None:
        raise ValueError("an s3:// output is looked for in S3 storage: give storage_of")
    return storage_of().exists(S3Location.parse(output))


def already_done(
    clip: Clip,
    earlier: Mapping[str, ClipRow],
    settings: Settings,
    journal: Journal,
    storage_of: StorageOf | None = None,
) -> ClipRow | None:
    """A "skipped" row when ``clip`` was done before with the same request (rules above);
    ``storage_of`` gives the S3 storage an ``s3://`` output is looked for in."""
    request = clip.request
    before = earlier.get(request.output)
    if (
        request.force
        or before is None
        or before.status not in _REUSABLE_ROWS
        or before.fingerprint is None
        or before.audio is not request.audio
    ):
        return None
    if not output_exists(request.output, storage_of):
        return None
    key = request_key(clip, settings)
    if is_s3(request.input):
        fp: str | None = before.fingerprint
        same = key is not None and key == before.request_key
    else:
        fp = local_fingerprint(request, settings)
        same = fp is not None and fp == before.fingerprint
    if not same or fp is None:
        log.info("%s or its request changed since it was done: it is edited again", clip.label)
        return None
    entry = journal.get(fp)
    if entry is None or entry.phase not in _REUSABLE_PHASES:
        return None
    return clip_row(
        clip,
        ClipStatus.SKIPPED,
        generation_id=entry.generation_id,
        credits_used=entry.credits_used,
        seconds=0.0,
        flow_run_id=before.flow_run_id,
        fingerprint=fp,
        request_key=key,
    )
