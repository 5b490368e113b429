"""The first three stages: ``take_in`` (the input and its references into a job folder, the
request identified), ``plan`` (what conforming will do, and whether the journal already holds a
live generation for this request), ``conform`` (the clip the service gets).

The request's fingerprint (what was asked: the source's content hash, the window, the prompt,
the model, the options, the service) is what the submission journal keys on. When the journal
already holds a live generation for it, ``plan`` says so (:class:`ToResume`) and the clip is
neither conformed nor placed; the plan alone tells ``sound`` where the sound comes from.

The work folder filling up ends ``take_in`` or ``conform`` in one line naming it
(:mod:`reskin.space`); ``conform`` refuses before ffmpeg starts when about the source's size is
not free there. Nothing is paid for by then.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reskin.access import Access, check_request
from reskin.edit.preflight import check_output
from reskin.edit.references import Reference, take_references
from reskin.edit.request import EditRequest, Resolved, resolve
from reskin.edit.services import Services
from reskin.edit.source import is_http, is_remote, take_source
from reskin.errors import ReskinError
from reskin.journal import fingerprint
from reskin.media.audio_mode import AudioMode
from reskin.media.conform import Action, ConformPlan, plan_conform_file
from reskin.media.conform import conform as conform_file
from reskin.media.intake import make_job_dir
from reskin.media.preview import DEFAULT_FRAMES, SheetRows, sheet_moments
from reskin.media.probe import MediaInfo
from reskin.media.sound import OriginalSound
from reskin.media.thumbs import ThumbSpec
from reskin.settings import Settings
from reskin.space import NOTHING_PAID, writing
from reskin.storage.upload import goes_inline
from reskin.submission import earlier_generation

log = logging.getLogger(__name__)

#: Job folders older than this are leftovers of runs that died; they are removed.
STALE_JOB_S = 24 * 3600.0


@dataclass(frozen=True)
class Taken:
    """The input as taken in (``take_in``): paths and facts, never bytes."""

    job_dir: Path
    #: The job's copy of the input (the original sound comes from here).
    source: Path
    info: MediaInfo
    references: tuple[Reference, ...]
    #: The request's model and its typed options.
    resolved: Resolved
    #: The journal's key for this request.
    fingerprint: str
    #: The source's content hash (a segment's key is made from it, :mod:`reskin.edit.long`).
    source_sha256: str = ""
    #: A long edit's segments' journal keys, once they are all edited (:mod:`reskin.edit.long`).
    segment_keys: tuple[str, ...] = ()
    #: The input's thumbnails for the fidelity check, made by its decode check.
    thumbs: ThumbSpec | None = None
    #: The contact sheet's row of the input, cut by its decode check at the moments of the
    #: window (a short edit's): the result's is cut by its own (``fetch``).
    sheet: SheetRows | None = None

    @property
    def journal_keys(self) -> tuple[str, ...]:
        """What the journal holds this edit under: its segments' keys, or its own."""
        return self.segment_keys or (self.fingerprint,)


@dataclass(frozen=True)
class ToSend:
    """``plan``: the clip is to be conformed as ``conform`` says and sent."""

    conform: ConformPlan
    #: The input's own URL (https, or ``s3://``) when it goes as it is: the service fetches it.
    source_url: str | None


@dataclass(frozen=True)
class ToResume:
    """``plan``: the journal holds a live generation for this request; nothing is sent."""

    conform: ConformPlan
    generation_id: str


Planned = ToSend | ToResume


@dataclass(frozen=True)
class Clip:
    """``conform``: the clip as the service will get it."""

    path: Path
    #: The input's own URL when the clip is the input unchanged (see :class:`ToSend`).
    source_url: str | None


def original_sound(taken: Taken, planned: Planned) -> OriginalSound:
    """The part of the source the model is sent, as far as its sound is concerned."""
    return OriginalSound.of(taken.source, planned.conform, taken.info)


def request_fingerprint(
    request: EditRequest,
    resolved: Resolved,
    settings: Settings,
    source_sha256: str,
    refs: tuple[Reference, ...],
) -> str:
    # Shaped as before models had options, so a journal written then still matches a
    # request asked the same way now (a changed fingerprint would pay again).
    options = dict(resolved.options)
    identity: dict[str, object] = {
        "v": 1,
        "service": settings.base_url,
        "model": resolved.spec.id,
        "provider": str(options.pop("provider", "auto")),
        "source": source_sha256,
        "window": [request.start_s, request.end_s],
        "prompt": request.prompt,
        "keep_audio": request.audio is AudioMode.MODEL,
        "images": [ref.identity for ref in refs],
    }
    if options:
        identity["options"] = dict(sorted(options.items()))
    return fingerprint(identity)


async def take_in(request: EditRequest, services: Services) -> Taken:
    """Check what can be checked without the input (the model, the output bucket), then copy
    or download the input and the reference images into a new job folder and identify the
    request. The job folder is removed again if anything fails."""
    settings = services.settings
    # Every place the request names, before any is read (docs/security.md).
    check_request(request, Access.from_settings(settings))
    resolved = resolve(request, settings.model)
    output = request.output_location
    if output is not None:  # before anything is paid for
        await asyncio.to_thread(services.storage.check_bucket, output)
    else:  # a local output's folder takes files: found now, not after the job is paid for
        check_output(request)
    jobs = settings.work_dir / "jobs"
    _prune(jobs)
    with writing(settings.work_dir, what="the job folder"):
        job_dir = make_job_dir(jobs)
    rows: list[SheetRows] = []

    def sheet_row(info: MediaInfo) -> Sequence[str]:
        # Given the input's probe, before its decode check: that decode cuts its row too.
        planned = sheet_rows(request, resolved, info, job_dir)
        rows[:] = [] if planned is None else [planned]
        return () if planned is None else planned.before_args()

    try:
        # A full work folder is named as the user set it (RESKIN_WORK_DIR), not the job's.
        with writing(settings.work_dir, what="the copy of the input"):
            intake = await take_source(
                request.input, job_dir, services.tools, settings, more=sheet_row
            )
            refs = await take_references(
                request.reference_images, job_dir, resolved.spec.references, settings
            )
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    return Taken(
        job_dir=job_dir,
        source=intake.path,
        info=intake.info,
        references=refs,
        resolved=resolved,
        fingerprint=request_fingerprint(request, resolved, settings, intake.sha256, refs),
        source_sha256=intake.sha256,
        thumbs=intake.thumbs,
        sheet=rows[0] if rows else None,
    )


def sheet_rows(
    request: EditRequest, resolved: Resolved, info: MediaInfo, job_dir: Path
) -> SheetRows | None:
    """Where and at which moments the decodes cut the contact sheet's rows: the window
    ``plan`` will find (the same function on the same probe), the result assumed as long as
    it, as it nearly always is (``sound`` checks; :meth:`SheetRows.fits`). None for a window
    the model cannot take in one piece (a long edit: its sheet is drawn from the clips)."""
    try:
        window = plan_conform_file(info, window=request.window, limits=resolved.spec.limits)
    except ReskinError:
        return None
    return SheetRows(
        moments_s=sheet_moments(window.duration_s, DEFAULT_FRAMES),
        before_start_s=window.start_s,
        before=job_dir / SHEET_ROW,
        window_s=window.duration_s,
    )


#: The input's row of the contact sheet, in the job folder.
SHEET_ROW = "before.row.png"


async def plan(request: EditRequest, taken: Taken, services: Services) -> Planned:
    """What conforming will do, and the submit stage's own journal decision taken now: a
    refusal (failed before, answer lost) comes before any ffmpeg run, and a live generation
    needs no clip."""
    settings = services.settings
    source_url = request.input if _reachable(request.input, settings) else None
    conform = await asyncio.to_thread(
        plan_conform_file,
        taken.info,
        window=request.window,
        limits=taken.resolved.spec.limits,
        # A clip read whole from a data URI may keep its index at the end: no copy for that.
        inline=goes_inline(taken.info.size_bytes, source_url, settings),
    )
    earlier = await earlier_generation(
        services.journal,
        taken.fingerprint,
        force=request.force,
        retention_s=settings.result_retention_h * 3600,
    )
    if earlier is not None:
        log.info("this request was submitted before: its generation is reused, not resent")
        return ToResume(conform, earlier)
    return ToSend(conform, source_url if conform.action is Action.PASSTHROUGH else None)


async def conform(taken: Taken, planned: ToSend, services: Services) -> Clip:
    """The clip the service gets, made as ``planned`` says (a hard link when it conforms)."""
    settings = services.settings
    # About the source's size when ffmpeg writes it (a hard link takes no room); nothing paid.
    size = None if planned.conform.action is Action.PASSTHROUGH else taken.info.size_bytes
    with writing(settings.work_dir, size, what="the conformed clip", note=NOTHING_PAID):
        done = await asyncio.to_thread(
            conform_file,
            taken.source,
            taken.job_dir / "clip.mp4",
            planned.conform,
            services.tools,
            timeout_s=settings.ffmpeg_timeout_s,
            preset=settings.conform_preset,
            crf=settings.conform_crf,
            limits=taken.resolved.spec.limits,
        )
    return Clip(done.path, planned.source_url)


def _reachable(location: str, settings: Settings) -> bool:
    """An input the service can be handed as it is: https (http for a local stand-in), or an
    ``s3://`` object, which is presigned rather than copied."""
    if not is_remote(location):
        return False
    if not is_http(location):
        return True
    return location.lower().startswith("https://") or not settings.uses_default_service


def _prune(jobs: Path) -> None:
    if not jobs.is_dir():
        return
    cutoff = time.time() - STALE_JOB_S
    for job in jobs.glob("job-*"):
        try:
            if job.stat().st_mtime < cutoff:
                shutil.rmtree(job, ignore_errors=True)
        except OSError:
            continue
