"""Stage ``stitch`` of a long edit: the edited segments joined in order into one video exactly
as long as the window (:mod:`reskin.media.stitch` does the joining), with the segments' own sound
when asked (``--audio model``: :mod:`reskin.media.sound_join`), kept for reruns.

**Thumbnails for the fidelity check.** Results the stitch can join by stream copy show their own
frames in the stitched video, so each one's share of its thumbnails is made from the result as
soon as it is downloaded, while the other segments are still at the service (:func:`piece_thumbs`),
and :func:`stitch` lays them end to end (:func:`stitched_thumbs`): the fidelity stage then decodes
nothing at the end (for ten minutes of 720p, a decode of about 20 s of CPU). A result that must
be re-encoded to be stitched gives its share from its encoded unit instead (a decode of that
unit only); a cross-fade join leaves it to the fidelity stage, which decodes the stitched video.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reskin.edit import results
from reskin.edit.prepare import Taken, ToSend
from reskin.edit.request import EditRequest
from reskin.edit.results import Fetched, SegmentDone
from reskin.edit.segments import Segment, SegmentPlan
from reskin.edit.services import Services
from reskin.edit.turns import LOCAL_AT_ONCE
from reskin.errors import ReskinError
from reskin.fidelity.report import Span
from reskin.journal import fingerprint
from reskin.media.audio_mode import AudioMode
from reskin.media.conform import Action, ConformPlan
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.media.sound_join import join_sound
from reskin.media.stitch import Piece, Stitched, copyable, stitch_pieces, units
from reskin.media.thumbs import PieceSamples, ThumbSpec, piece_samples, piece_thumbs_command
from reskin.space import PAID_KEPT, writing

log = logging.getLogger(__name__)


def piece_thumb_spec(
    taken: Taken, plan: SegmentPlan, segment: Segment, result: Path
) -> tuple[ThumbSpec, PieceSamples] | None:
    """Where the thumbnails that ``segment``'s ``result`` gives the stitched video are kept
    (beside the result, so a rerun reuses them, and pruned with it), and which of its frames
    they are; None when it gives none that can be made apart (a cross-fade's lead, a rate
    the thumbnails' does not divide, no thumbnails of the source to score against)."""
    source = taken.thumbs
    fps = taken.resolved.spec.output.fps
    if source is None or segment.lead_frames:
        return None
    offset = round((segment.start_s - plan.start_s) * fps)
    frames = round((segment.end_s - plan.start_s) * fps) - offset
    samples = piece_samples(fps, offset, frames)
    if samples is None:
        return None
    name = (
        f"{result.stem}.{samples.first}-{samples.step}-{samples.frames}."
        f"{source.width}x{source.height}.thumbs"
    )
    return ThumbSpec(result.with_name(name), source.width, source.height, source.fps), samples


def piece_thumbs(
    taken: Taken, plan: SegmentPlan, segment: Segment, fetched: Fetched, services: Services
) -> None:
    """Make ``segment``'s share of the stitched video's thumbnails from its own result, when
    the stitch can join that result as it is (:func:`~reskin.media.stitch.copyable`): the
    stitched video then shows its very frames. Best effort: without them, the fidelity stage
    decodes the stitched video."""
    found = piece_thumb_spec(taken, plan, segment, fetched.path)
    if found is None:
        return
    spec, samples = found
    info, fps = fetched.info, taken.resolved.spec.output.fps
    if spec.path.is_file() or not copyable(
        [Piece(fetched.path, samples.frames)], width=info.width, height=info.height, fps=fps
    ):
        return
    staged = spec.path.with_name(spec.path.name + ".part")
    try:
        run(
            piece_thumbs_command(
                services.tools.ffmpeg, fetched.path, dataclasses.replace(spec, path=staged), samples
            ),
            timeout_s=services.settings.ffmpeg_timeout_s,
        )
        if staged.stat().st_size != samples.count * spec.frame_bytes:
            log.debug("%s: not the thumbnails expected; the stitch will be decoded", spec.path)
            return
        staged.replace(spec.path)
    except (ReskinError, OSError) as exc:
        log.debug("no thumbnails of %s apart (%s): the stitch will be decoded", segment, exc)
    finally:
        staged.unlink(missing_ok=True)


def stitched_thumbs(
    taken: Taken,
    plan: SegmentPlan,
    done: Sequence[SegmentDone],
    made: Stitched,
    stitched: Path,
    services: Services,
) -> None:
    """Lay the segments' thumbnails end to end as the stitched video's, where the fidelity
    stage looks for them: a copied result's own (:func:`piece_thumbs`), an encoded one's made
    now from its unit (the stitched video shows that unit's frames); nothing when any cannot
    be had (a cross-fade join, a result's thumbnails missing)."""
    source = taken.thumbs
    # Nothing copied: the fidelity stage's one decode of the whole costs no more.
    if source is None or len(made.units) != len(done) or not any(made.copied):
        return
    wanted: list[tuple[ThumbSpec, PieceSamples, Path | None]] = []
    for item, copied, unit in zip(done, made.copied, made.units, strict=True):
        found = piece_thumb_spec(taken, plan, item.segment, item.fetched.path)
        if found is None or (copied and not found[0].path.is_file()):
            return
        spec, samples = found
        if copied:
            wanted.append((spec, samples, None))
        else:
            wanted.append(
                (dataclasses.replace(spec, path=unit.with_suffix(".thumbs")), samples, unit)
            )
    to_make = [(unit, spec, samples) for spec, samples, unit in wanted if unit is not None]
    with ThreadPoolExecutor(max_workers=LOCAL_AT_ONCE) as pool:
        made_all = all(pool.map(lambda job: _unit_thumbs(*job, services=services), to_make))
    if not made_all:
        return
    parts = [spec.path for spec, _, _ in wanted]
    target = results.result_thumbs(stitched, source.width, source.height).path
    staged = target.with_name(target.name + ".part")
    try:
        with staged.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out)
        staged.replace(target)
    except OSError as exc:
        log.debug("the stitched video's thumbnails were not laid out (%s): it will be decoded", exc)
    finally:
        staged.unlink(missing_ok=True)
    log.debug(
        "stitch: the thumbnails of %d pieces laid end to end (%d from encoded units)",
        len(parts),
        made.copied.count(False),
    )


def _unit_thumbs(unit: Path, spec: ThumbSpec, samples: PieceSamples, *, services: Services) -> bool:
    """Make an encoded unit's thumbnails at ``spec``; whether they are all there."""
    try:
        run(
            piece_thumbs_command(services.tools.ffmpeg, unit, spec, samples),
            timeout_s=services.settings.ffmpeg_timeout_s,
        )
        return spec.path.stat().st_size == samples.count * spec.frame_bytes
    except (ReskinError, OSError) as exc:
        log.debug("no thumbnails of %s (%s): the stitch will be decoded", unit.name, exc)
        return False


def pieces(plan: SegmentPlan, done: Sequence[SegmentDone], fps: float) -> list[Piece]:
    """Each result's share of the stitched video, in frames at ``fps`` counted on the window's
    own grid, so the joins add no drift: segment i covers frames round(start x fps) to
    round(end x fps), and its lead (a cross-fade) the frames before that it was sent; and how
    far from that grid its own clock starts (for its sound)."""
    origin = plan.start_s

    def frame(seconds: float) -> int:
        return round((seconds - origin) * fps)

    return [
        Piece(
            path=item.fetched.path,
            frames=frame(item.segment.end_s) - frame(item.segment.sent_start_s),
            overlap=frame(item.segment.start_s) - frame(item.segment.sent_start_s),
            offset_s=(item.segment.sent_start_s - origin) - frame(item.segment.sent_start_s) / fps,
        )
        for item in done
    ]


async def stitch(
    request: EditRequest,
    taken: Taken,
    plan: SegmentPlan,
    done: Sequence[SegmentDone],
    services: Services,
) -> Fetched:
    """The edited segments joined in order at the model's output rate and the first result's
    size: one video exactly as long as the window (to the frame), without sound, or with the
    segments' own sound joined in sync (``--audio model``).

    Kept beside the downloads under a name made of the segments' keys, so a rerun of the same
    edit (another output, another sound) reuses it instead of encoding it again."""
    settings = services.settings
    fps = taken.resolved.spec.output.fps
    first = done[0].fetched.info
    width = first.display_width - first.display_width % 2
    height = first.display_height - first.display_height % 2
    identity: dict[str, object] = {
        "segments": [item.fingerprint for item in done],
        "size": [width, height],
    }
    with_sound = request.audio is AudioMode.MODEL
    if with_sound:
        identity["sound"] = "model"
    key = fingerprint(identity)
    kept = results.results_dir(settings) / f"stitched-{key[:32]}.mp4"
    if kept.is_file():
        try:
            info = await asyncio.to_thread(probe, kept)
        except ReskinError:
            kept.unlink(missing_ok=True)
        else:
            log.info("stitch: reused the earlier run's %s", kept.name)
            return Fetched(info, reused=True)
    partial = kept.with_name(kept.stem + ".part.mp4")
    picture = kept.with_name(kept.stem + ".picture.mp4") if with_sound else partial
    size = sum(item.fetched.info.size_bytes for item in done)
    joined = pieces(plan, done, fps)
    work = taken.job_dir / "units"
    with writing(settings.work_dir, size, what="the stitched video", note=PAID_KEPT):
        try:
            made = await asyncio.to_thread(
                stitch_pieces,
                joined,
                work,
                picture,
                services.tools,
                width=width,
                height=height,
                fps=fps,
                preset=settings.conform_preset,
                crf=settings.conform_crf,
                timeout_s=settings.ffmpeg_timeout_s,
            )
            info = made.info
            if with_sound:
                sounded = await asyncio.to_thread(
                    join_sound,
                    units(joined),
                    picture,
                    work,
                    partial,
                    services.tools,
                    fps=fps,
                    timeout_s=settings.ffmpeg_timeout_s,
                )
                if sounded is None:  # no result has sound: the picture as it is
                    picture.replace(partial)
                else:
                    info = sounded
            partial.replace(kept)
        finally:
            partial.unlink(missing_ok=True)
            picture.unlink(missing_ok=True)
    # The thumbnails of what the stitched video shows: the copied results' own, the encoded
    # units' made from them now (decoding those units only).
    await asyncio.to_thread(stitched_thumbs, taken, plan, done, made, kept, services)
    info = dataclasses.replace(info, path=kept)
    log.info(
        "stitch: %d segments (%d copied as they are), %.3f s at %g fps%s",
        len(done),
        made.copied.count(True),
        info.duration_s,
        fps,
        ", with their own sound" if info.has_audio else "",
    )
    return Fetched(info, reused=all(item.fetched.reused for item in done))


def spans(plan: SegmentPlan) -> tuple[Span, ...]:
    """Each segment's part of the stitched result, in seconds from its start (for the
    fidelity check's per-segment and per-join scores)."""
    return tuple(
        Span(segment.index, segment.start_s - plan.start_s, segment.end_s - plan.start_s)
        for segment in plan.segments
    )


def whole_window(plan: SegmentPlan, taken: Taken, stitched: Fetched) -> ToSend:
    """The window as one plan, for ``sound`` (the original sound from its start, as long as
    it) and ``deliver``: what a short edit's ``plan`` gives."""
    info = stitched.info
    conform = ConformPlan(
        action=Action.ENCODE,
        reasons=(f"{len(plan.segments)} segments",),
        start_s=plan.start_s,
        duration_s=plan.duration_s,
        read_s=plan.duration_s,
        pad_to_s=None,
        width=info.display_width,
        height=info.display_height,
        fps=info.fps,
        audio="aac" if taken.info.has_audio else "none",
    )
    return ToSend(conform, None)
