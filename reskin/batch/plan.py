"""The plan of a batch, made before any clip is sent: its clips, those already done, and the
length each other one is expected to bill (only when there is a budget)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from reskin.batch.budget import billed_estimate
from reskin.batch.manifest import Clip, load_clips, output_folder
from reskin.batch.report import read_results
from reskin.batch.request import BatchRequest, ClipRow
from reskin.batch.reuse import already_done
from reskin.journal import Journal
from reskin.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """The clips of a batch and what is known before any is sent."""

    output_dir: Path
    clips: tuple[Clip, ...]
    #: Rows of the clips already done with the same request, by clip index.
    skipped: dict[int, ClipRow] = field(default_factory=dict)
    #: Billed seconds each clip to send is expected to cost (only with a budget).
    estimates: dict[int, float | None] = field(default_factory=dict)

    @property
    def to_send(self) -> list[Clip]:
        return [clip for clip in self.clips if clip.index not in self.skipped]


def make_plan(batch: BatchRequest, settings: Settings, journal: Journal) -> Plan:
    """Read and check every clip (:class:`~reskin.batch.manifest.ManifestError` refuses the
    batch), find those already done (:mod:`reskin.batch.reuse`), estimate the others."""
    clips = load_clips(batch)
    output_dir = output_folder(batch)
    earlier = read_results(output_dir)
    skipped: dict[int, ClipRow] = {}
    estimates: dict[int, float | None] = {}
    for clip in clips:
        row = already_done(clip, earlier, settings, journal)
        if row is not None:
            skipped[clip.index] = row
            log.info("%s: already done (generation %s): skipped", clip.label, row.generation_id)
        elif batch.budget_credits is not None:
            model = clip.request.model or settings.model
            estimates[clip.index] = billed_estimate(clip.request, model)
    return Plan(output_dir, tuple(clips), skipped, estimates)
