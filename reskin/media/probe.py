"""Probe a local video file with PyAV: what it holds, as a :class:`MediaInfo`.

PyAV is used because the pip-shipped ffmpeg has no ffprobe, and because it answers in a few
milliseconds. The file is opened with the demuxer whitelists of ``shared/MEDIA.md``
(``protocol_whitelist=file``, ``format_whitelist=mov,matroska``, passed as format options), so a
PNG, WAV, text file or HLS playlist renamed ``.mp4`` is refused before any demuxer reads it, and
nothing but the local file is ever opened. Only local paths are accepted: download URLs first.

Rotation is not a stream field in PyAV, so it is read from the display matrix of the first decoded
frame; decoding that frame also proves the video stream can be decoded at all.

Later media work extends this module (conforming clips, finer variable-frame-rate detection,
sound restore): :class:`MediaInfo` is a plain frozen record and :func:`probe` is the one entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.container
import av.video.stream

from reskin.errors import ProbeError

log = logging.getLogger(__name__)

Container = Literal["mp4", "mov", "matroska"]

#: Demuxers a probe (and every ffmpeg input, see commands.py) may use: MP4/MOV and Matroska/WebM.
ALLOWED_FORMATS = "mov,matroska"
OPEN_OPTIONS: dict[str, str] = {"protocol_whitelist": "file", "format_whitelist": ALLOWED_FORMATS}

#: Average and nominal rates further apart than this (relative) suggest a variable frame rate.
VFR_TOLERANCE = 0.02

_FIX = "export it as an MP4 (H.264) video and try again"


@dataclass(frozen=True)
class MediaInfo:
    """What a probe found in one file. Sizes are in pixels as coded; see ``display_*``."""

    path: Path
    format_name: str
    container: Container
    size_bytes: int
    duration_s: float
    width: int
    height: int
    #: Counter-clockwise degrees the player turns the picture: 0, 90, 180 or 270.
    rotation: int
    fps: float
    variable_fps: bool
    video_codec: str
    pix_fmt: str | None
    has_audio: bool
    audio_codec: str | None
    audio_channels: int | None

    @property
    def display_width(self) -> int:
        return self.height if self.rotation in (90, 270) else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation in (90, 270) else self.height


def probe(path: Path) -> MediaInfo:
    """Read ``path``; raise :class:`ProbeError` (one line: what is wrong, what to do) when it is
    missing, empty, not MP4/MOV/Matroska, has no video stream, or its video cannot be decoded."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProbeError(
            f"{path.name}: cannot read the file ({exc.strerror}): check the path"
        ) from exc
    if not path.is_file():
        raise ProbeError(f"{path.name} is not a file: give the path of a video file")
    if size == 0:
        raise ProbeError(f"{path.name} is empty: {_FIX}")
    try:
        container = av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS))
    except av.FFmpegError as exc:
        raise ProbeError(f"{path.name} is not an MP4, MOV or Matroska video: {_FIX}") from exc
    try:
        return _read(path, size, container)
    finally:
        container.close()


def _read(path: Path, size: int, container: av.container.InputContainer) -> MediaInfo:
    if not container.streams.video:
        raise ProbeError(f"{path.name} has no video stream: {_FIX}")
    video = container.streams.video[0]
    rotation = _first_frame_rotation(path, container, video)
    codec = video.codec_context
    audio = container.streams.audio[0] if container.streams.audio else None
    fps = _rate(video.average_rate) or _rate(video.guessed_rate)
    info = MediaInfo(
        path=path,
        format_name=container.format.name,
        container=_container(container),
        size_bytes=size,
        duration_s=_duration(path, container, video),
        width=codec.width,
        height=codec.height,
        rotation=rotation,
        fps=fps,
        variable_fps=_looks_variable(fps, _rate(video.base_rate)),
        video_codec=codec.name,
        pix_fmt=codec.pix_fmt,
        has_audio=audio is not None,
        audio_codec=audio.codec_context.name if audio else None,
        audio_channels=audio.codec_context.layout.nb_channels if audio else None,
    )
    log.debug("probed %s: %s", path.name, info)
    return info


def _first_frame_rotation(
    path: Path, container: av.container.InputContainer, video: av.video.stream.VideoStream
) -> int:
    try:
        frame = next(container.decode(video), None)
    except av.FFmpegError as exc:
        raise ProbeError(f"{path.name}: its video cannot be decoded: {_FIX}") from exc
    if frame is None:
        raise ProbeError(f"{path.name} has no video frames: {_FIX}")
    # The display matrix can state any angle (and -90 for 270); players snap to quarter turns.
    return (round(frame.rotation / 90) * 90) % 360


def _container(container: av.container.InputContainer) -> Container:
    if container.format.name.startswith("matroska"):
        return "matroska"
    # The mov demuxer reads MP4 and QuickTime alike; only the brand tells them apart.
    brand = str(container.metadata.get("major_brand", "")).strip().lower()
    return "mov" if brand == "qt" else "mp4"


def _duration(
    path: Path, container: av.container.InputContainer, video: av.video.stream.VideoStream
) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    raise ProbeError(f"{path.name} does not state its duration: {_FIX}")


def _rate(rate: Fraction | None) -> float:
    return float(rate) if rate else 0.0


def _looks_variable(average: float, nominal: float) -> bool:
    if average <= 0 or nominal <= 0:
        return False
    return abs(average - nominal) / nominal > VFR_TOLERANCE
