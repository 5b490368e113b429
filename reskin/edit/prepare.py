"""Preprocess: take the input in, plan its conform, identify the request, conform if it is sent.

The request's fingerprint (what was asked: the source's content hash, the window, the prompt,
the model, the options, the service) is what the submission journal keys on. When the journal
already holds a live generation for it, the clip will not be sent again, so the conform itself
is skipped (the plan alone tells postprocess where the sound comes from).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from reskin.edit.references import Reference, take_references
from reskin.edit.request import EditRequest, Resolved, resolve
from reskin.edit.source import is_http, is_remote, take_source
from reskin.journal import Journal, fingerprint
from reskin.media.binaries import FFmpegTools
from reskin.media.conform import Action, ConformPlan, ConformResult, conform, plan_conform_file
from reskin.media.intake import make_job_dir
from reskin.media.probe import MediaInfo
from reskin.media.sound import AudioMode
from reskin.registry.options import OptionValue
from reskin.registry.spec import InputLimits, ModelSpec
from reskin.settings import Settings
from reskin.storage.s3 import S3Storage
from reskin.submission import earlier_generation

log = logging.getLogger(__name__)

#: Job folders older than this are leftovers of runs that died; they are removed.
STALE_JOB_S = 24 * 3600.0


@dataclass(frozen=True)
class Prepared:
    """Everything later stages need about the input; paths only, no bytes."""

    job_dir: Path
    #: The job's copy of the input (the original sound comes from here).
    source: Path
    source_info: MediaInfo
    plan: ConformPlan
    fingerprint: str
    spec: ModelSpec
    #: The request's model options, typed.
    options: dict[str, OptionValue]
    #: The conformed clip, or None when an earlier generation for this request is resumed.
    clip: Path | None
    #: The input's own https URL when the clip is sent as it is: the service fetches it there.
    source_url: str | None
    references: tuple[Reference, ...]
    #: The journal already holds a live generation for this request.
    resumable: bool


def journal_of(settings: Settings) -> Journal:
    return Journal(settings.work_dir / "journal.sqlite3")


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


async def prepare(
    request: EditRequest, settings: Settings, tools: FFmpegTools, journal: Journal
) -> Prepared:
    """Take the input in, check and identify it, and conform it unless the request resumes."""
    resolved = resolve(request, settings.model)
    limits = resolved.spec.limits
    output = request.output_location
    if output is not None:  # before anything is paid for
        await asyncio.to_thread(S3Storage.from_settings(settings).check_bucket, output)
    jobs = settings.work_dir / "jobs"
    _prune(jobs)
    job_dir = make_job_dir(jobs)
    try:
        intake = await take_source(request.input, job_dir, tools, settings)
        refs = await take_references(
            request.reference_images, job_dir, resolved.spec.references, settings
        )
        plan = await asyncio.to_thread(
            plan_conform_file, intake.info, window=request.window, limits=limits
        )
        fp = request_fingerprint(request, resolved, settings, intake.sha256, refs)
        # The submit stage's own decision, taken now: a refusal (failed before, answer lost)
        # comes before any conform, and a live generation needs no clip.
        resumable = (
            earlier_generation(
                journal,
                fp,
                force=request.force,
                retention_s=settings.result_retention_h * 3600,
            )
            is not None
        )
        clip: Path | None = None
        if resumable:
            log.info("this request was submitted before: its generation is reused, not resent")
        else:
            clip = (
                await asyncio.to_thread(
                    _conform, intake.path, job_dir, plan, tools, settings, limits
                )
            ).path
        source_url = (
            request.input
            if plan.action is Action.PASSTHROUGH and _reachable(request.input, settings)
            else None
        )
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    return Prepared(
        job_dir=job_dir,
        source=intake.path,
        source_info=intake.info,
        plan=plan,
        fingerprint=fp,
        spec=resolved.spec,
        options=resolved.options,
        clip=clip,
        source_url=source_url,
        references=refs,
        resumable=resumable,
    )


def _conform(
    source: Path,
    job_dir: Path,
    plan: ConformPlan,
    tools: FFmpegTools,
    settings: Settings,
    limits: InputLimits,
) -> ConformResult:
    return conform(
        source,
        job_dir / "clip.mp4",
        plan,
        tools,
        timeout_s=settings.ffmpeg_timeout_s,
        preset=settings.conform_preset,
        crf=settings.conform_crf,
        limits=limits,
    )


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
