"""Take a user's local video into a job: a private copy under a name reskin chose, then checks.

The copy lands in the job's own folder as ``source`` and, once probed, is renamed
``input.mp4``, ``input.mov`` or ``input.mkv`` after what the probe found, never after what the
user called it: the user's file name never reaches an ffmpeg argv (a name ending ``.m3u8``
would switch ffmpeg's HLS demuxer on), and a playlist or concat list that names its neighbours
finds none in a folder of its own. Everything runs on the copy, so the user's file can change
or vanish meanwhile without reskin reading half of each.

The copy is refused before its first byte when the job's folder has not the room for it, and a
disk that fills meanwhile ends in the same :class:`~reskin.errors.DiskFullError` naming the folder
(:mod:`reskin.space`), the partial copy removed.

Checks, cheapest first, each refusing with one line that names the user's file and what to do:
a regular file; not empty; at most ``max_bytes``; MP4/MOV/Matroska with a video stream that
decodes (:func:`~reskin.media.probe.probe`, whitelisted demuxers only); and, unless turned off,
the full decode of :func:`~reskin.media.verify.verify`, which catches damage in the middle
(and checks the decoded length against the probe taken here: the file is probed once).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reskin.errors import InputError, ProbeError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.local_file import FIX as _FIX
from reskin.media.local_file import check_local_file, too_large
from reskin.media.probe import Container, MediaInfo, probe, shown_name
from reskin.media.thumbs import ThumbSpec, thumb_size
from reskin.media.verify import verify
from reskin.space import writing

log = logging.getLogger(__name__)

#: The job-local name of the copy before the probe has said what it is.
STAGED_NAME = "source"
EXTENSIONS: dict[Container, str] = {"mp4": ".mp4", "mov": ".mov", "matroska": ".mkv"}

_CHUNK = 1024 * 1024
_DAMAGED_FIX = "copy or export the whole file again and try again"


@dataclass(frozen=True)
class Intake:
    """A user's video, copied into a job and checked."""

    #: The user's file: for messages only, never opened again.
    source: Path
    #: The job-local copy every later step opens.
    path: Path
    info: MediaInfo
    #: SHA-256 of the content, taken while copying (inputs can be hundreds of MB: read once).
    sha256: str
    #: The fidelity check's thumbnails of the input, made by its decode check (if asked).
    thumbs: ThumbSpec | None = None


def make_job_dir(root: Path) -> Path:
    """A new, empty folder of its own under ``root`` (readable by this user only)."""
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="job-", dir=root))


def take_in(
    source: Path,
    job_dir: Path,
    tools: FFmpegTools,
    *,
    max_bytes: int,
    timeout_s: float,
    decode_check: bool = True,
    name: str | None = None,
    thumbs: Path | None = None,
    more: Callable[[MediaInfo], Sequence[str]] | None = None,
) -> Intake:
    """Copy ``source`` into ``job_dir`` and check it; raise :class:`InputError` (a
    :class:`ProbeError` when the content is at fault) with one line on refusal.

    ``job_dir`` should come from :func:`make_job_dir`: it must not hold an earlier copy.
    ``decode_check`` decodes the whole file (about 1 s per 10 s of 1080p) to catch damage in
    the middle; turn it off only when a later step decodes with ``-xerror`` anyway. ``name``
    is what messages call the input (a downloaded file's URL name), by default its file name.
    ``thumbs``: where the decode check also writes the fidelity check's thumbnails of the
    input (:mod:`reskin.media.thumbs`; none without ``decode_check``). ``more``: given the
    input's probe, more outputs for the same decode (the contact sheet's row of the input:
    :class:`reskin.media.preview.SheetRows`); none without ``decode_check``.
    """
    source = Path(source)
    shown = shown_name(name if name is not None else source.name)
    staged = job_dir / STAGED_NAME
    sha256 = _copy(source, staged, shown, max_bytes)
    try:
        info = probe(staged, tools=tools, name=shown, timeout_s=timeout_s)
        final = staged.with_name("input" + EXTENSIONS[info.container])
        _rename_once(staged, final)
        staged = final
        info = dataclasses.replace(info, path=final)
        spec = None
        if decode_check:
            if thumbs is not None:
                spec = ThumbSpec(thumbs, *thumb_size(info.display_width, info.display_height))
            also = () if more is None else more(info)
            info = _decodes(final, info, tools, shown, timeout_s, spec, also)
    except BaseException:
        staged.unlink(missing_ok=True)  # a refused input has no business in the job
        raise
    log.debug("took %s in as %s", shown, final)
    return Intake(source=source, path=final, info=info, sha256=sha256, thumbs=spec)


def _copy(source: Path, target: Path, shown: str, max_bytes: int) -> str:
    """Copy ``source`` to ``target``; the SHA-256 of what was copied."""
    before = check_local_file(source, shown, max_bytes)
    target.parent.mkdir(parents=True, exist_ok=True)
    with writing(target.parent, before.st_size, what=f"the copy of {shown}"):
        return _copy_checked(source, target, shown, max_bytes)


def _copy_checked(source: Path, target: Path, shown: str, max_bytes: int) -> str:
    try:
        # O_NONBLOCK: had the file been swapped for a FIFO since the stat, opening must not hang.
        reader = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the file ({exc.strerror}): check the path") from exc
    with os.fdopen(reader, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise InputError(f"{shown} is not a regular file: give the path of a video file")
        # O_EXCL: a job folder is used once; never write over what another step left there.
        digest = hashlib.sha256()
        writer = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            # Closing flushes the last bytes, so it too can find the disk full.
            with os.fdopen(writer, "wb") as dst:
                copied = _copy_capped(src, dst, shown, max_bytes, digest)
        except (OSError, InputError):
            target.unlink(missing_ok=True)
            raise
    if copied == 0:
        target.unlink(missing_ok=True)
        raise ProbeError(f"{shown} is empty: {_FIX}")
    return digest.hexdigest()


def _copy_capped(
    src: BinaryIO, dst: BinaryIO, shown: str, max_bytes: int, digest: hashlib._Hash
) -> int:
    copied = 0
    while True:
        try:
            chunk = src.read(_CHUNK)
        except OSError as exc:
            raise InputError(f"{shown}: reading it failed ({exc.strerror}): try again") from exc
        if not chunk:
            return copied
        copied += len(chunk)
        if copied > max_bytes:  # it grew since the stat
            raise InputError(too_large(shown, copied, max_bytes))
        digest.update(chunk)
        dst.write(chunk)  # a full disk is ours, not the user's: its OSError goes up (_copy)


def _rename_once(staged: Path, final: Path) -> None:
    # Link, then unlink: a rename would silently replace an earlier input; a link refuses
    # (FileExistsError), and a job folder takes one input.
    os.link(staged, final)
    staged.unlink()


def _decodes(
    path: Path,
    info: MediaInfo,
    tools: FFmpegTools,
    shown: str,
    timeout_s: float,
    thumbs: ThumbSpec | None,
    also: Sequence[str],
) -> MediaInfo:
    try:
        return verify(
            path,
            tools,
            expect_audio=None,
            expected_duration_s=None,
            timeout_s=timeout_s,
            name=shown,
            known=info,
            thumbs=thumbs,
            also=also,
        )
    except VerificationError as exc:
        raise ProbeError(f"{shown} is damaged: it {exc.reason}: {_DAMAGED_FIX}") from exc
