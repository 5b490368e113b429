"""The stages after the poll: ``fetch`` (download the result at once, decode it whole, journal
it) and ``sound`` (the final video: the result with the sound asked for, written whole and
verified, or not at all).

Downloads land in ``<work dir>/results/<fingerprint>.mp4`` and are journaled, so a rerun of the
same request (another output path, another audio mode, a failure after the download) reuses
the file instead of fetching it again; files older than the retention are removed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

from reskin.aimlapi.retry import RetryPolicy
from reskin.download import download
from reskin.edit.prepare import Clip, Planned, Taken, original_sound
from reskin.edit.request import EditRequest
from reskin.edit.segments import Segment
from reskin.edit.services import Services
from reskin.edit.wait import Downloaded, Finished, Ready
from reskin.errors import ReskinError, ResultExpiredError, VerificationError
from reskin.media.audio_mode import AudioMode
from reskin.media.preview import SheetRows, contact_sheet, plan_sheet, sheet_from_rows
from reskin.media.probe import MediaInfo, probe
from reskin.media.sound import TRACK_NAME, finish, plan_mux, prepare_track
from reskin.media.thumbs import ThumbSpec
from reskin.media.verify import probe_made, verify
from reskin.settings import Settings
from reskin.space import (
    NOTHING_PAID,
    PAID_KEPT,
    disk_full_error,
    free_bytes,
    needed_for,
    same_disk,
    writing,
)

#: A result's bytes per second of video, for the space checked before paying: 10 Mbit/s, above
#: what the services return at 1080p; the conformed clip's size when that is larger.
RESULT_BYTES_PER_S = 1_250_000
#: The final video's sound beyond the result's bytes: AAC stereo at 160 kbit/s, with room.
SOUND_BYTES_PER_S = 25_000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """``fetch``: the result on this machine, probed."""

    info: MediaInfo
    #: An earlier run's download, reused (nothing was fetched now).
    reused: bool
    #: Its frames were decoded whole just now (a fresh download's check): the final video,
    #: which copies them, is compared with them rather than decoded again (``sound``).
    decoded: bool = False
    #: Its row of the contact sheet, cut by that decode (:class:`~reskin.edit.prepare.Taken`'s
    #: ``sheet``); None when not cut.
    sheet_row: Path | None = None

    @property
    def path(self) -> Path:
        return self.info.path


@dataclass(frozen=True)
class SegmentDone:
    """One segment edited: its result on this machine and how it was paid."""

    segment: Segment
    #: Its own journal key.
    fingerprint: str
    fetched: Fetched
    generation_id: str
    credits_used: float | None
    resumed: bool


@dataclass(frozen=True)
class Sounded:
    """``sound``: the final video, verified, where this machine writes it (the output itself,
    or a staging copy for an ``s3://`` output)."""

    info: MediaInfo

    @property
    def path(self) -> Path:
        return self.info.path


def staging_path(request: EditRequest, fingerprint: str, settings: Settings) -> Path:
    """Where the verified video is written on this machine: the output itself when local, a
    folder of the request's own in the work folder when the output is in S3."""
    location = request.output_location
    if location is None:
        return request.output_path
    return settings.work_dir / "outputs" / fingerprint[:32] / Path(location.key).name


def results_dir(settings: Settings) -> Path:
    return settings.work_dir / "results"


def output_folder(request: EditRequest, settings: Settings) -> Path:
    """The folder the final video is written in, as a user knows it: the output's own, or the
    work folder for an ``s3://`` output (staged there)."""
    return settings.work_dir if request.output_location is not None else request.output_path.parent


def result_estimate(clip: Clip, planned: Planned) -> int:
    """Bytes the service's result will take, before it exists: the clip's size at least."""
    try:
        clip_bytes = clip.path.stat().st_size
    except OSError:
        clip_bytes = 0
    return max(clip_bytes, round(planned.conform.sent_s * RESULT_BYTES_PER_S))


def ensure_room_to_finish(
    request: EditRequest, clip: Clip, planned: Planned, settings: Settings
) -> None:
    """Refuse before the create is sent (nothing paid) when the work folder cannot take the
    result, or the output's folder the final video, by :func:`result_estimate`; both on one
    disk, it must take the two. Space that cannot be read lets the edit go on."""
    result = result_estimate(clip, planned)
    final = result + round(planned.conform.duration_s * SOUND_BYTES_PER_S)
    work, out = settings.work_dir, output_folder(request, settings)
    needs = [(work, result, "the result"), (out, final, "the final video")]
    if same_disk(work, out):
        needs = [(work, result + final, "the result and the final video")]
    for folder, size, what in needs:
        try:
            free = free_bytes(folder)
        except OSError:
            continue
        if free < needed_for(size):
            raise disk_full_error(folder, needed_for(size), what=what, note=NOTHING_PAID)


async def fetch(taken: Taken, finished: Finished, services: Services) -> Fetched:
    """The result on disk: downloaded now (and decoded whole, then journaled), or the earlier
    download the poll found."""
    match finished:
        case Downloaded(path=path):
            return Fetched(await asyncio.to_thread(probe, path), reused=True)
        case Ready():
            # Thumbnails of the result at the source's, for the fidelity stage, when it will
            # score this result against the source's (not a long video's segments).
            size = None if taken.thumbs is None else (taken.thumbs.width, taken.thumbs.height)
            # And its row of the contact sheet, beside the input's (a short edit's).
            row = None if taken.sheet is None else (taken.sheet, taken.job_dir / RESULT_ROW)
            try:
                info = await fetch_result(
                    finished, taken.fingerprint, services, thumbs=size, sheet=row
                )
            except ResultExpiredError as exc:
                services.journal.failed(taken.fingerprint, str(exc))
                raise
            cut = None if row is None or not row[0].shown_whole(info) else row[1]
            return Fetched(info, reused=False, decoded=True, sheet_row=cut)
        case _:
            assert_never(finished)


async def fetch_result(
    ready: Ready,
    fp: str,
    services: Services,
    *,
    thumbs: tuple[int, int] | None = None,
    sheet: tuple[SheetRows, Path] | None = None,
) -> MediaInfo:
    """Download the result of request ``fp``, decode it whole, and journal it; the verify's
    probe of the download (``.path`` is the file), so nothing probes it again. ``thumbs``: the
    size of the fidelity check's thumbnails the same decode makes (:func:`result_thumbs`);
    ``sheet``: the contact sheet's rows and where the same decode cuts the result's, when the
    result is at least as long as the window (probed before the decode, for that)."""
    settings = services.settings
    folder = results_dir(settings)
    with writing(settings.work_dir, what="the result", note=PAID_KEPT):
        folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, settings.result_retention_h * 3600)
    dest = folder / f"{fp}.mp4"
    # The journal still holds the generation as accepted: the rerun downloads it, unpaid.
    with writing(settings.work_dir, what="the result", note=PAID_KEPT):
        size = await download(
            ready.url,
            dest,
            max_bytes=settings.download_max_bytes,
            timeout_s=settings.download_timeout_s,
            retry=RetryPolicy.from_settings(settings),
        )
    name = "the service's result"
    known: MediaInfo | None = None
    also: list[str] = []
    try:
        if sheet is not None:
            rows, row = sheet
            known = await asyncio.to_thread(probe_made, dest, name)
            if rows.shown_whole(known):
                also = rows.after_args(row)
        info = await asyncio.to_thread(
            verify,
            dest,
            services.tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=settings.ffmpeg_timeout_s,
            name=name,
            known=known,
            thumbs=None if thumbs is None else result_thumbs(dest, *thumbs),
            also=also,
        )
    except VerificationError:
        dest.unlink(missing_ok=True)
        raise
    log.info("downloaded the result: %.1f MB", size / 1e6)
    services.journal.downloaded(fp, dest, ready.credits_used)
    return info


async def encode_sound_ahead(
    request: EditRequest, taken: Taken, planned: Planned, services: Services
) -> Path | None:
    """The window's original sound encoded into the job folder now, while the service works
    (:func:`~reskin.media.sound.prepare_track`), for :func:`sound` to copy rather than encode
    at the end. None when the edit restores no sound, or when encoding it failed: ``sound``
    then encodes it itself, as without this (and fails there if the source's sound is bad)."""
    if request.audio is not AudioMode.RESTORE:
        return None
    original, timeout_s = original_sound(taken, planned), services.settings.ffmpeg_timeout_s
    try:  # none for a source without sound
        return await asyncio.to_thread(
            prepare_track, original, taken.job_dir, services.tools, timeout_s=timeout_s
        )
    except ReskinError as exc:
        log.warning("sound: not encoded ahead (%s); it is encoded with the result", exc)
        return None


async def sound(
    request: EditRequest, taken: Taken, planned: Planned, fetched: Fetched, services: Services
) -> Sounded:
    """The final video with the sound ``request`` asks for, in sync, cut to the window: written
    whole and verified at its staging path, or not at all. The original sound
    :func:`encode_sound_ahead` left in the job folder is copied, not encoded."""
    settings = services.settings
    # About the result's bytes and the sound's: refused before ffmpeg starts when that cannot
    # fit; the download stays journaled, so the rerun only writes this file.
    final = fetched.info.size_bytes + round(planned.conform.duration_s * SOUND_BYTES_PER_S)
    with writing(output_folder(request, settings), final, what="the final video", note=PAID_KEPT):
        info = await asyncio.to_thread(
            finish,
            fetched.path,
            staging_path(request, taken.fingerprint, settings),
            original_sound(taken, planned),
            services.tools,
            mode=request.audio,
            timeout_s=settings.ffmpeg_timeout_s,
            result_info=fetched.info,
            result_decoded=fetched.decoded,
            track=_track(taken),
        )
    return Sounded(info)


def _track(taken: Taken) -> Path | None:
    """The sound :func:`encode_sound_ahead` made in the job folder, if it did."""
    track = taken.job_dir / TRACK_NAME
    return track if track.is_file() else None


#: The contact sheet :func:`draw_sheet_ahead` draws in the job folder, for ``deliver`` to place.
EARLY_PREVIEW = "preview.png"
#: The result's row of the contact sheet, cut by its decode check, in the job folder.
RESULT_ROW = "after.row.png"


async def draw_sheet_ahead(
    request: EditRequest, taken: Taken, planned: Planned, fetched: Fetched, services: Services
) -> Path | None:
    """The before/after contact sheet drawn into the job folder (:data:`EARLY_PREVIEW`) while
    ``fidelity`` scores and ``sound`` muxes, from the rows the decode checks cut: ``deliver``
    finds it there (:func:`early_preview`)."""
    return await asyncio.to_thread(early_preview, request, taken, planned, fetched, services)


def early_preview(
    request: EditRequest, taken: Taken, planned: Planned, fetched: Fetched, services: Services
) -> Path | None:
    """The before/after contact sheet of the final video, drawn from the result it copies
    (:func:`~reskin.media.sound.finish` copies the picture, cut to the mux plan's length: the
    same frames at the same times), into the job folder. None when it cannot be drawn here
    (``deliver`` then draws it from the final video, and says why if that fails too)."""
    final_s = plan_mux(fetched.info, original_sound(taken, planned), mode=request.audio).duration_s
    # The final video's length: the moments are spread over what it will show.
    after = dataclasses.replace(fetched.info, duration_s=final_s)
    dest = taken.job_dir / EARLY_PREVIEW
    timeout_s = services.settings.ffmpeg_timeout_s
    try:
        plan = plan_sheet(taken.info, after, before_start_s=planned.conform.start_s)
        if taken.sheet is not None and fetched.sheet_row is not None and taken.sheet.fits(plan):
            # The rows the input's and the result's decodes cut: no video decoded again.
            return sheet_from_rows(
                taken.sheet, fetched.sheet_row, dest, services.tools, plan=plan, timeout_s=timeout_s
            )
        return contact_sheet(
            taken.source,
            fetched.path,
            dest,
            services.tools,
            timeout_s=timeout_s,
            before_start_s=planned.conform.start_s,
            before_info=taken.info,
            after_info=after,
        )
    except (ReskinError, ValueError, OSError) as exc:
        # Best effort, and awaited in the pipeline's finally: nothing of it may hide the
        # edit's own error.
        log.debug("no contact sheet drawn ahead (%s): deliver draws it", exc)
        return None


def result_thumbs(result: Path, width: int, height: int) -> ThumbSpec:
    """Where the thumbnails of a result at ``width`` x ``height`` are kept: beside it, so a
    rerun that reuses the download reuses them, and pruned with it."""
    return ThumbSpec(result.with_name(f"{result.stem}.{width}x{height}.thumbs"), width, height)


def _prune(folder: Path, older_than_s: float) -> None:
    cutoff = time.time() - older_than_s
    # Downloads, their thumbnails, stitched videos and a long edit's kept scene cuts.
    for old in [*folder.glob("*.mp4"), *folder.glob("*.thumbs"), *folder.glob("scenes-*.json")]:
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue
