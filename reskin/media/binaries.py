"""Find the ffmpeg reskin runs, with no manual install step.

The order (``shared/MEDIA.md``): the binary named by ``Settings.ffmpeg_binary``; else a system
``ffmpeg`` on PATH that has libx264; else the static ffmpeg shipped in the ``imageio-ffmpeg``
wheel. PATH is searched here because ``imageio_ffmpeg.get_ffmpeg_exe()`` prefers its own binary.
An ffprobe is reported only when one sits beside the chosen ffmpeg (the wheel has none); probing
falls back to PyAV, see :mod:`reskin.media.probe`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import imageio_ffmpeg

from reskin.errors import ConfigError, FFmpegError
from reskin.media.runner import run

log = logging.getLogger(__name__)

Source = Literal["setting", "system", "bundled"]

#: Every encode reskin makes is H.264; an ffmpeg without it is no use to us.
REQUIRED_ENCODER = "libx264"
_CHECK_TIMEOUT_S = 20.0
_VERSION = re.compile(r"^ffmpeg version (\S+)")


@dataclass(frozen=True)
class FFmpegTools:
    """The ffmpeg to run, and where it came from."""

    ffmpeg: Path
    ffprobe: Path | None
    source: Source
    version: str


@functools.cache
def find_ffmpeg(setting: Path | None = None) -> FFmpegTools:
    """The ffmpeg to use, found once per process (see :func:`discover_ffmpeg`)."""
    return discover_ffmpeg(setting)


def discover_ffmpeg(setting: Path | None = None, *, search_path: str | None = None) -> FFmpegTools:
    """Look for ffmpeg now, without the cache.

    ``search_path`` replaces ``$PATH`` for the system lookup (tests use it).
    Raises :class:`ConfigError` when the named binary (or, failing all else, the bundled one)
    cannot be run or lacks libx264.
    """
    if setting is not None:
        tools = _checked(Path(setting).expanduser(), "setting", hint="fix RESKIN_FFMPEG_BINARY")
    else:
        tools = _system(search_path) or _checked(
            Path(imageio_ffmpeg.get_ffmpeg_exe()),
            "bundled",
            hint="set RESKIN_FFMPEG_BINARY to an ffmpeg built with libx264",
        )
    log.debug(
        "using %s ffmpeg %s at %s (ffprobe: %s)",
        tools.source,
        tools.version,
        tools.ffmpeg,
        tools.ffprobe or "none",
    )
    return tools


def _system(search_path: str | None) -> FFmpegTools | None:
    found = shutil.which("ffmpeg", path=search_path)
    if found is None:
        return None
    try:
        return _checked(Path(found), "system", hint="")
    except ConfigError as exc:
        log.debug("not using the system ffmpeg: %s", exc)
        return None


def _checked(exe: Path, source: Source, *, hint: str) -> FFmpegTools:
    try:
        version = run([exe, "-hide_banner", "-version"], timeout_s=_CHECK_TIMEOUT_S).stdout_text
        encoders = run([exe, "-hide_banner", "-encoders"], timeout_s=_CHECK_TIMEOUT_S).stdout_text
    except FFmpegError as exc:
        raise ConfigError(f"ffmpeg at {exe} cannot be run ({exc}): {hint}") from exc
    if not re.search(rf"\s{REQUIRED_ENCODER}\s", encoders):
        raise ConfigError(f"ffmpeg at {exe} has no {REQUIRED_ENCODER} encoder: {hint}")
    return FFmpegTools(
        ffmpeg=exe, ffprobe=_ffprobe_beside(exe), source=source, version=_version(version)
    )


def _version(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    match = _VERSION.match(first)
    return match.group(1) if match else "unknown"


def _ffprobe_beside(ffmpeg: Path) -> Path | None:
    name = "ffprobe.exe" if ffmpeg.suffix.lower() == ".exe" else "ffprobe"
    candidate = ffmpeg.with_name(name)
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None
