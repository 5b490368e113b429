"""The plan of a batch, made before any clip is sent: its clips, those already done, and the
length each other one is expected to bill (only when there is a budget)."""

from __future__ import annotations

import dataclasses
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from reskin.access import Access
from reskin.batch.budget import billed_estimate
from reskin.batch.manifest import Clip, ManifestError, load_clips, output_folder
from reskin.batch.places import Folder, is_s3, object_version, results_folder
from reskin.batch.report import read_results
from reskin.batch.request import BatchRequest, ClipRow
from reskin.batch.reuse import already_done
from reskin.edit.request import resolve
from reskin.errors import InputError, ReskinError
from reskin.journal import Journal
from reskin.settings import Settings
from reskin.storage.s3 import S3Location, S3Prefix, S3Storage, StorageOf

log = logging.getLogger(__name__)

#: HEADs of a manifest's ``s3://`` inputs in flight at once (each is a round trip, no bytes).
HEADS_AT_ONCE = 8


@dataclass(frozen=True)
class Plan:
    """The clips of a batch and what is known before any is sent."""

    #: Where the outputs go: an absolute path or an S3 prefix.
    output_dir: Folder
    #: The local folder that holds the results while the batch runs (``places.py``).
    results_dir: Path
    clips: tuple[Clip, ...]
    #: Rows of the clips already done with the same request, by clip index.
    skipped: dict[int, ClipRow] = field(default_factory=dict)
    #: Billed seconds each clip to send is expected to cost (only with a budget).
    estimates: dict[int, float | None] = field(default_factory=dict)

    @property
    def to_send(self) -> list[Clip]:
        return [clip for clip in self.clips if clip.index not in self.skipped]


def make_plan(
    batch: BatchRequest, settings: Settings, journal: Journal, storage_of: StorageOf | None = None
) -> Plan:
    """Read and check every clip (:class:`~reskin.batch.manifest.ManifestError` refuses the
    batch), find those already done (:mod:`reskin.batch.reuse`), estimate the others.
    ``storage_of`` gives the S3 storage (default: one from ``settings``, made when needed)."""
    storage_of = storage_of or functools.cache(lambda: S3Storage.from_settings(settings))
    output_dir = output_folder(batch)
    if isinstance(output_dir, S3Prefix):
        # Before anything is paid for: every clip, and the results, would fail to land there.
        storage_of().check_bucket(S3Location(output_dir.bucket, output_dir.prefix))
    clips = _with_versions(
        load_clips(batch, storage_of, Access.from_settings(settings)), storage_of
    )
    results_dir = results_folder(output_dir, settings.work_dir)
    earlier = read_results(results_dir)
    skipped: dict[int, ClipRow] = {}
    estimates: dict[int, float | None] = {}
    for clip in clips:
        try:  # the model's own limits and options, for rows that leave the model to settings
            resolve(clip.request, settings.model)
        except ReskinError as exc:
            raise ManifestError(f"{clip.label}: {exc}") from None
        row = already_done(clip, earlier, settings, journal, storage_of)
        if row is not None:
            skipped[clip.index] = row
            log.info("%s: already done (generation %s): skipped", clip.label, row.generation_id)
        elif batch.budget_credits is not None:
            model = clip.request.model or settings.model
            estimates[clip.index] = billed_estimate(clip.request, model)
    return Plan(output_dir, results_dir, tuple(clips), skipped, estimates)


def _with_versions(clips: list[Clip], storage_of: StorageOf) -> list[Clip]:
    """The clips, each ``s3://`` input whose version the listing did not tell HEADed for it
    (the next run compares it: ``reuse.request_key``). A missing object is left unversioned:
    its run says what is wrong; a storage or credential failure refuses the batch now."""
    todo = [clip for clip in clips if is_s3(clip.request.input) and clip.input_version is None]
    if not todo:
        return clips
    storage = storage_of()

    def version(clip: Clip) -> str | None:
        try:
            info = storage.head(S3Location.parse(clip.request.input))
        except InputError as exc:
            log.info("%s: %s", clip.label, exc)
            return None
        return object_version(info.etag, info.size)

    with ThreadPoolExecutor(HEADS_AT_ONCE) as pool:
        versions = dict(zip((clip.index for clip in todo), pool.map(version, todo), strict=True))
    return [
        dataclasses.replace(clip, input_version=versions[clip.index])
        if clip.index in versions
        else clip
        for clip in clips
    ]
