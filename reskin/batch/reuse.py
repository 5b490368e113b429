"""Clips already done with the same request are skipped, not sent again.

A clip is skipped ("skipped (already done)") only when all of these hold:

1. the batch is not forced;
2. the earlier results manifest in the output folder has a row for the same output that is
   ``done`` or ``skipped``, with the same fingerprint and the same sound mode (the fingerprint
   leaves the sound out when it does not change what the service is asked, so ``restore`` and
   ``none`` share one generation but not one output file);
3. the output file is still there;
4. the request's fingerprint, computed now from the input's content, is that one;
5. the submission journal holds that fingerprint as downloaded or done.

Anything else is sent to the one-clip flow, which itself resumes or reuses an earlier generation
of the same request instead of paying again (``reskin.submission``): skipping only saves the run
and its work. The fingerprint is :func:`reskin.edit.prepare.request_fingerprint` of the input's
content hash, so it can be told here without taking the input in: for a local input and no
reference images (a batch sends none). A URL input is never skipped (its content is unknown
until downloaded).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from reskin.batch.manifest import Clip
from reskin.batch.report import clip_row
from reskin.batch.request import ClipRow, ClipStatus
from reskin.edit.prepare import request_fingerprint
from reskin.edit.request import EditRequest
from reskin.edit.source import is_remote
from reskin.journal import Journal, Phase, file_sha256
from reskin.settings import Settings

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
    return request_fingerprint(request, settings, sha, ())


def fingerprint_of_done(
    request: EditRequest, generation_id: str, settings: Settings, journal: Journal
) -> str | None:
    """The fingerprint of a request that just finished as ``generation_id``, when the journal
    confirms it (the input has not changed since, and the run journaled here); else None."""
    fp = local_fingerprint(request, settings)
    if fp is None:
        return None
    entry = journal.get(fp)
    if entry is None or entry.generation_id != generation_id:
        return None
    return fp


def already_done(
    clip: Clip, earlier: Mapping[str, ClipRow], settings: Settings, journal: Journal
) -> ClipRow | None:
    """A "skipped" row when ``clip`` was done before with the same request (rules above)."""
    request = clip.request
    before = earlier.get(request.output)
    if (
        request.force
        or before is None
        or before.status not in _REUSABLE_ROWS
        or before.fingerprint is None
        or before.audio is not request.audio
        or not Path(request.output).is_file()
    ):
        return None
    fp = local_fingerprint(request, settings)
    if fp != before.fingerprint:
        log.info("%s changed since it was done: it is edited again", clip.label)
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
    )
