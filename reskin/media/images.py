"""Reference images for ``image_list``: probe each file, check it against the model's limits,
and build its data URI.

``shared/API.md`` limits reference images to JPG or PNG, the shorter side at least 300 px, an
aspect between 1:2.5 and 2.5:1, at most 10 MB, and at most 4 beside a video. A picture that
breaks one is refused here, before any paid call, with one line naming the file, the value and
the limit (the numbers live in :class:`~reskin.registry.spec.ReferenceLimits`).

The demuxer is chosen from the file's first bytes, not by ffmpeg's probe: the probe ignores
``format_whitelist`` and ranks a ``.jpg`` *name* above JPEG *content*, so a real photo would be
handed to ``image2`` (which expands ``%d`` in a name into other files' names) and then refused
by the whitelist. Sniffing also keeps a GIF, WebP or video renamed ``.png`` away from every
demuxer. The whitelist of :mod:`reskin.media.probe` (file protocol only, and here the
``png_pipe`` and ``jpeg_pipe`` demuxers only) stays as the second guard. The first frame is
decoded to prove the file holds a picture. EXIF rotation is ignored: a quarter turn changes
neither the shorter side nor the aspect.
"""

from __future__ import annotations

import base64
import logging
import mmap
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from reskin.errors import InputError, OutOfLimitsError
from reskin.media.probe import shown_name
from reskin.registry.spec import ImageFormat, ReferenceLimits

log = logging.getLogger(__name__)


#: The one demuxer each accepted format is opened with (the names PyAV reports for such files).
DEMUXERS: dict[ImageFormat, str] = {"png": "png_pipe", "jpeg": "jpeg_pipe"}
OPEN_OPTIONS: dict[str, str] = {
    "protocol_whitelist": "file",
    "format_whitelist": ",".join(DEMUXERS.values()),
}

_MAGIC: dict[bytes, ImageFormat] = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}
#: Every JPEG picture ends with this marker; its coded data cannot hold it (FF is stuffed).
_JPEG_END = b"\xff\xd9"
_MIME: dict[ImageFormat, str] = {"png": "image/png", "jpeg": "image/jpeg"}
_LABEL: dict[ImageFormat, str] = {"png": "PNG", "jpeg": "JPG"}
_FIX = "save it as a JPG or PNG image and try again"
_LIMITS_FIX = "crop, resize or re-save the image to fit and try again"


@dataclass(frozen=True)
class ImageInfo:
    """One reference image: its format as its content says, its size as it decodes."""

    path: Path
    format: ImageFormat
    width: int
    height: int
    size_bytes: int

    @property
    def mime(self) -> str:
        return _MIME[self.format]


def probe_image(path: Path, *, name: str | None = None) -> ImageInfo:
    """Read ``path`` as a JPG or PNG; raise :class:`InputError` (one line: the file, what is
    wrong, what to do) when it is missing, empty, of another format, damaged or cut short.

    ``name`` is what messages call the file (the user's own name when ``path`` is a copy).
    """
    path = Path(path)
    shown = shown_name(name if name is not None else path.name)
    try:
        status = path.stat()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the file ({exc.strerror}): check the path") from exc
    if not stat.S_ISREG(status.st_mode):  # a FIFO would block the read below
        raise InputError(f"{shown} is not a file: give the path of a JPG or PNG image")
    if status.st_size == 0:
        raise InputError(f"{shown} is empty: {_FIX}")
    fmt = _format_of(path, shown)
    size = _decoded_size(path, fmt, shown)
    if size is None:
        raise InputError(f"{shown} is damaged or cut short (it does not decode): {_FIX}")
    if fmt == "jpeg" and not _has_jpeg_end(path):
        # ffmpeg's JPEG decoder fills a cut-off picture with grey and reports nothing.
        raise InputError(f"{shown} is cut short (its JPEG end marker is missing): {_FIX}")
    log.debug("probed image %s: %s %dx%d", shown, fmt, *size)
    return ImageInfo(path, fmt, size[0], size[1], status.st_size)


def image_violations(info: ImageInfo, limits: ReferenceLimits) -> list[str]:
    """Every image limit ``info`` breaks, each naming the value and the limit; empty when fine."""
    found: list[str] = []
    if info.format not in limits.formats:
        allowed = " or ".join(_LABEL[fmt] for fmt in limits.formats)
        found.append(f"format {_LABEL[info.format]} is not accepted ({allowed} only)")
    if info.size_bytes > limits.max_bytes:
        found.append(
            f"size {_amount(info.size_bytes)} is over the {_amount(limits.max_bytes)} limit"
        )
    short, long = sorted((info.width, info.height))
    if short < limits.min_side:
        found.append(f"shorter side {short} px is under the {limits.min_side} px minimum")
    # Compared as a product so that exactly 2.5:1 (750x300) is not lost to rounding.
    if long > limits.max_aspect * short:
        most = f"{limits.max_aspect:g}"
        found.append(
            f"aspect {info.width}x{info.height} ({long / short:.2f}:1) is outside "
            f"1:{most}..{most}:1"
        )
    return found


def check_reference_images(
    paths: Sequence[Path], limits: ReferenceLimits, *, names: Sequence[str] | None = None
) -> list[ImageInfo]:
    """Probe and check every reference image, in order, before anything is paid for.

    ``names`` (one per path) is what messages call each file, when the paths are copies.
    Raises :class:`OutOfLimitsError` for too many images or for the first image that breaks a
    limit (all of its broken limits in one line), :class:`InputError` for an unreadable file.
    """
    most = limits.max_count
    if len(paths) > most:
        raise OutOfLimitsError(
            f"{len(paths)} reference images given, but {limits.model} takes at most {most} "
            f"with a video: leave out {len(paths) - most} of them"
        )
    shown = [Path(path).name for path in paths] if names is None else list(names)
    infos: list[ImageInfo] = []
    for path, name in zip(paths, shown, strict=True):
        info = probe_image(path, name=name)
        if broken := image_violations(info, limits):
            raise OutOfLimitsError(f"{shown_name(name)}: {'; '.join(broken)}: {_LIMITS_FIX}")
        infos.append(info)
    return infos


def image_data_uri(info: ImageInfo) -> str:
    """``data:image/...;base64,...`` of a probed image, for ``image_list``. Never log or store
    it: it is megabytes of text.

    :func:`reskin.storage.datauri.data_uri` takes its type from a video suffix; an image's type
    comes from its content, so the encoding is done here. A file that changed since its probe
    is refused: what was checked is what is sent.
    """
    raw = info.path.read_bytes()
    if len(raw) != info.size_bytes:
        shown = shown_name(info.path.name)
        raise InputError(f"{shown} changed after it was checked: check and send it again")
    return f"data:{info.mime};base64," + base64.b64encode(raw).decode("ascii")


def _format_of(path: Path, shown: str) -> ImageFormat:
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the file ({exc.strerror}): check the path") from exc
    for magic, fmt in _MAGIC.items():
        if head.startswith(magic):
            return fmt
    raise InputError(f"{shown} is not a JPG or PNG image: {_FIX}")


def _decoded_size(path: Path, fmt: ImageFormat, shown: str) -> tuple[int, int] | None:
    """Width and height of the first decoded frame; None when no sound frame comes out."""
    try:
        with av.open(
            str(path), mode="r", format=DEMUXERS[fmt], container_options=dict(OPEN_OPTIONS)
        ) as container:
            if not container.streams.video:
                return None
            frame = next(container.decode(container.streams.video[0]), None)
    except av.FFmpegError:
        log.debug("%s does not decode", shown, exc_info=True)
        return None
    if frame is None or frame.is_corrupt or min(frame.width, frame.height) <= 0:
        return None
    return frame.width, frame.height


def _has_jpeg_end(path: Path) -> bool:
    """Whether the end marker occurs anywhere after the start (mapped, not read into memory).
    A file cut after an embedded EXIF thumbnail still passes; no whole JPEG is refused."""
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(_JPEG_END, 2) >= 0


def _amount(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.1f} MB" if size_bytes >= 100_000 else f"{size_bytes / 1e3:.1f} kB"
