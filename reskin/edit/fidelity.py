"""Stage ``fidelity``: the result measured against its source window, and the gate.

Runs after ``fetch`` (or, for a long video, after ``stitch``) and before ``sound`` writes
anything at the output: a result under the minimum (``min_fidelity``) fails the run in one
line and nothing is written, while the paid result stays journaled as downloaded, so a rerun
with a lower minimum writes it without paying again.

The thumbnails of the source came with the input's decode check (``take_in``), those of a
fresh download with its decode check (``fetch``), those of a long video stitched by stream copy
from its segments' results (:func:`reskin.edit.stitch.piece_thumbs`); a result no check decoded
(a reused download, a long video whose segments were re-encoded to be stitched) is decoded for
them here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from reskin.edit.prepare import Planned, Taken
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched, result_thumbs
from reskin.edit.services import Services
from reskin.fidelity.report import Fidelity, Span, gate, report
from reskin.fidelity.scores import measure
from reskin.media.runner import run
from reskin.media.thumbs import ThumbSpec, iter_thumbs, thumb_size, thumbs_command

log = logging.getLogger(__name__)


async def fidelity(
    request: EditRequest,
    taken: Taken,
    planned: Planned,
    fetched: Fetched,
    services: Services,
    spans: Sequence[Span] = (),
) -> Fidelity:
    """The fidelity of ``fetched`` against the source window ``planned`` edits (per segment
    for the ``spans`` of a long video); raises :class:`~reskin.errors.FidelityError` below the
    minimum (the request's, else ``RESKIN_MIN_FIDELITY``)."""
    scored = await asyncio.to_thread(_score, taken, planned, fetched, services, spans)
    log.info(
        "fidelity: motion %.2f, structure %.2f, lag %+.3f s over %d samples%s",
        scored.motion,
        scored.structure,
        scored.timing.lag_s,
        scored.samples,
        "".join(f"; seam after {seam.after}: {seam.score:.2f}" for seam in scored.seams),
    )
    minimum = (
        request.min_fidelity if request.min_fidelity is not None else services.settings.min_fidelity
    )
    gate(scored, minimum)
    return scored


def _score(
    taken: Taken, planned: Planned, fetched: Fetched, services: Services, spans: Sequence[Span]
) -> Fidelity:
    source_spec = _source_thumbs(taken, services)
    result_spec = _thumbs_of(
        fetched.path,
        result_thumbs(fetched.path, source_spec.width, source_spec.height),
        services,
    )
    conform = planned.conform
    first = round(conform.start_s * source_spec.fps)
    wanted = round(conform.duration_s * source_spec.fps)
    return report(
        measure(
            iter_thumbs(source_spec, first, wanted),
            iter_thumbs(result_spec, 0, wanted),
        ),
        fps=source_spec.fps,
        window_s=conform.duration_s,
        result_s=fetched.info.duration_s,
        spans=spans,
    )


def _source_thumbs(taken: Taken, services: Services) -> ThumbSpec:
    if taken.thumbs is not None and taken.thumbs.path.is_file():
        return taken.thumbs
    size = thumb_size(taken.info.display_width, taken.info.display_height)
    return _thumbs_of(taken.source, ThumbSpec(taken.job_dir / "source.thumbs", *size), services)


def _thumbs_of(video: Path, spec: ThumbSpec, services: Services) -> ThumbSpec:
    """``spec`` with its thumbnails of ``video``: made now by a decode if not there yet."""
    if not spec.path.is_file():
        staged = spec.path.with_name(spec.path.name + ".part")
        run(
            thumbs_command(
                services.tools.ffmpeg, video, ThumbSpec(staged, spec.width, spec.height, spec.fps)
            ),
            timeout_s=services.settings.ffmpeg_timeout_s,
        )
        staged.replace(spec.path)
    return spec
