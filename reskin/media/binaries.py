"""Find the ffmpeg reskin runs, with no manual install step.

The order (``shared/MEDIA.md``): the binary named by ``Settings.ffmpeg_binary``; else a system
``ffmpeg`` on PATH that has libx264 and is at least :data:`MINIMUM_VERSION`; else the static
ffmpeg shipped in the ``imageio-ffmpeg`` wheel. PATH is searched here because
``imageio_ffmpeg.get_ffmpeg_exe()`` prefers its own binary. A system ffmpeg that is passed over
says why in one log line (and ``reskin doctor`` repeats it); a named one that is too old or has
no libx264 is a :class:`ConfigError`, since the user asked for it. An ffprobe is reported only
when one sits beside the chosen ffmpeg (the wheel has none); probing falls back to PyAV, see
:mod:`reskin.media.probe`.

The oldest ffmpeg reskin supports is 5.1 (:data:`MINIMUM_VERSION`): every encode sets
``-fps_mode``, which ffmpeg 5.1 introduced (5.0 and older know only ``-vsync``), and 5.1 is what
Debian 12 ships. A version that is not a release number (a git snapshot such as
``N-113000-g...`` or a dated build) cannot be compared: it is used, and doctor says it could not
be checked.
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
#: The oldest ffmpeg release reskin runs: 5.1 added ``-fps_mode``, which every encode uses.
MINIMUM_VERSION: tuple[int, int] = (5, 1)
_CHECK_TIMEOUT_S = 20.0
_VERSION = re.compile(r"^ffmpeg version (\S+)")
# "5.1.9-0+deb12u1", "9.0.2-static", "n6.1.1", "7.1": a release; not "N-113000-g..." (a git
# snapshot) nor "2024-03-11-git-..." (a dated build).
_RELEASE = re.compile(r"^n?(\d{1,2})\.(\d+)(?:\.(\d+))?(?![\d.])")


def parse_version(version: str) -> tuple[int, ...] | None:
    """The release numbers of an ffmpeg version string (``"5.1.9-0+deb12u1"`` -> ``(5, 1, 9)``),
    or None when it names no release (a git snapshot, a dated build, ``"unknown"``)."""
    match = _RELEASE.match(version.strip())
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def meets_minimum(version: str) -> bool | None:
    """Whether ``version`` is at least :data:`MINIMUM_VERSION`; None when it cannot be told."""
    numbers = parse_version(version)
    if numbers is None:
        return None
    return numbers >= MINIMUM_VERSION


def minimum_text() -> str:
    """:data:`MINIMUM_VERSION` as people write it, e.g. ``"5.1"``."""
    return ".".join(str(part) for part in MINIMUM_VERSION)


@dataclass(frozen=True)
class FFmpegTools:
    """The ffmpeg to run, and where it came from."""

    ffmpeg: Path
    ffprobe: Path | None
    source: Source
    version: str
    #: Why a system ffmpeg on PATH was not used (one line), when one was passed over.
    passed_over: str | None = None

    @property
    def meets_minimum(self) -> bool | None:
        """Whether this ffmpeg is :data:`MINIMUM_VERSION` or newer; None when unknown."""
        return meets_minimum(self.version)


@functools.cache
def find_ffmpeg(setting: Path | None = None) -> FFmpegTools:
    """The ffmpeg to use, found once per process (see :func:`discover_ffmpeg`)."""
    return discover_ffmpeg(setting)


def discover_ffmpeg(setting: Path | None = None, *, search_path: str | None = None) -> FFmpegTools:
    """Look for ffmpeg now, without the cache.

    ``search_path`` replaces ``$PATH`` for the system lookup (tests use it).
    Raises :class:`ConfigError` when the named binary (or, failing all else, the bundled one)
    cannot be run, is older than :data:`MINIMUM_VERSION` or lacks libx264.
    """
    if setting is not None:
        tools = _checked(Path(setting).expanduser(), "setting", hint="fix RESKIN_FFMPEG_BINARY")
    else:
        system, passed_over = _system(search_path)
        tools = system or _checked(
            Path(imageio_ffmpeg.get_ffmpeg_exe()),
            "bundled",
            hint=f"set RESKIN_FFMPEG_BINARY to an ffmpeg {minimum_text()}+ built with libx264",
            passed_over=passed_over,
        )
    log.debug(
        "using %s ffmpeg %s at %s (ffprobe: %s)",
        tools.source,
        tools.version,
        tools.ffmpeg,
        tools.ffprobe or "none",
    )
    return tools


def _system(search_path: str | None) -> tuple[FFmpegTools | None, str | None]:
    """The system ffmpeg when it will do; else None and why it was passed over (if found)."""
    found = shutil.which("ffmpeg", path=search_path)
    if found is None:
        return None, None
    try:
        return _checked(Path(found), "system", hint=""), None
    except ConfigError as exc:
        reason = str(exc)
    log.info("passing over the system ffmpeg for the bundled one: %s", reason)
    return None, reason


def _checked(
    exe: Path, source: Source, *, hint: str, passed_over: str | None = None
) -> FFmpegTools:
    try:
        version = run([exe, "-hide_banner", "-version"], timeout_s=_CHECK_TIMEOUT_S).stdout_text
        encoders = run([exe, "-hide_banner", "-encoders"], timeout_s=_CHECK_TIMEOUT_S).stdout_text
    except FFmpegError as exc:
        raise ConfigError(_hinted(f"ffmpeg at {exe} cannot be run ({exc})", hint)) from exc
    found = _version(version)
    if meets_minimum(found) is False:
        raise ConfigError(
            _hinted(
                f"ffmpeg at {exe} is version {found}, older than {minimum_text()}, "
                "the oldest reskin supports",
                hint,
            )
        )
    if not re.search(rf"\s{REQUIRED_ENCODER}\s", encoders):
        raise ConfigError(_hinted(f"ffmpeg at {exe} has no {REQUIRED_ENCODER} encoder", hint))
    return FFmpegTools(
        ffmpeg=exe,
        ffprobe=_ffprobe_beside(exe),
        source=source,
        version=found,
        passed_over=passed_over,
    )


def _hinted(message: str, hint: str) -> str:
    return f"{message}: {hint}" if hint else message


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
