"""The full-decode check: does a file really hold what its header promises?

ffmpeg hides some damage behind exit code 0: a file cut short whose index sits at the start
transcodes "successfully" into a result of half the length (``shared/MEDIA.md``). So a file that
matters is decoded to its end with ``-xerror`` (the first decode error stops ffmpeg with a
failure), then probed again, and its streams and length are compared with what the step that
made it promised. The decode runs with the same input guards as every other ffmpeg command.
A caller that has just probed the file may hand its :class:`MediaInfo` over (``known``): the
probe is skipped, every check still runs against it.

Run it on what reskin made (conformed clips, results, muxed outputs): a failure raises
:class:`~reskin.errors.VerificationError`. :mod:`reskin.media.intake` runs it on a user's input too
and turns a failure into a :class:`~reskin.errors.ProbeError` for the user.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import NoReturn

from reskin.errors import FFmpegError, ProbeError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS
from reskin.media.probe import MediaInfo, probe, shown_name
from reskin.media.runner import run
from reskin.media.thumbs import ThumbSpec, thumbs_output_args

log = logging.getLogger(__name__)

#: How far the decoded length may stray from the stated one. ffmpeg reports the end of the
#: last frame; a container that starts a frame late (a dropped first frame) states one frame more.
DEFAULT_TOLERANCE_S = 0.1

_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
_FIX = "make it again; if it fails again, report it with the debug log"


def decode_check_command(exe: Path, path: Path, thumbs: ThumbSpec | None = None) -> list[str]:
    """Decode every video and audio stream of ``path`` to nothing, stopping at the first error,
    and print progress (``out_time_us``: how much was decoded) on stdout; with ``thumbs``, the
    same decode also writes the fidelity check's thumbnails (:mod:`reskin.media.thumbs`), so
    they cost a scale of a few frames a second, not a second decode.

    Only video and audio are mapped: the null muxer has no encoder for subtitles, so ``-map 0``
    fails on a Matroska file that carries them, and data tracks (timecode) decode to nothing.
    """
    guards: list[str] = []
    for option, value in FILE_INPUT_GUARDS.items():
        guards += [f"-{option}", value]
    return [
        str(exe),
        *GLOBAL_ARGS,
        "-xerror",
        *guards,
        "-i",
        str(Path(path).resolve()),
        "-map",
        "0:v",
        "-map",
        "0:a?",
        "-f",
        "null",
        "-progress",
        "pipe:1",
        "-",
        *(thumbs_output_args(thumbs) if thumbs is not None else ()),
    ]


def decoded_seconds(progress: str) -> float | None:
    """The last ``out_time_us`` of ffmpeg's ``-progress`` output, in seconds; None if absent."""
    last: float | None = None
    for line in progress.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            last = int(value) / 1_000_000
    return last


def verify(
    path: Path,
    tools: FFmpegTools,
    *,
    expect_audio: bool | None,
    expected_duration_s: float | None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    timeout_s: float,
    name: str | None = None,
    known: MediaInfo | None = None,
    thumbs: ThumbSpec | None = None,
) -> MediaInfo:
    """Decode ``path`` fully, probe it again (unless ``known``) and check it; return the
    :class:`MediaInfo` it checked.

    ``expect_audio``: True or False to require an audio stream or its absence, None for either.
    ``expected_duration_s``: the length the step promised, within ``tolerance_s``; None to skip.
    The decoded length must match the stated one within ``tolerance_s`` in every case.
    ``known``: the probe of ``path`` the caller already holds (its ``path`` must be ``path``);
    it is checked as a fresh probe would be and returned, and the probe is not run again.
    ``thumbs``: where the same decode writes thumbnails; they appear at ``thumbs.path`` only
    when every check passed (written beside it first, then renamed).
    Raises :class:`VerificationError` (one line) when a check fails, and :class:`FFmpegError`
    when ffmpeg itself could not run or ran out of time.
    """
    path = Path(path)
    shown = shown_name(name if name is not None else path.name)
    if known is not None:
        check_describes(known, path)
    staged = None if thumbs is None else dataclasses.replace(thumbs, path=_part(thumbs.path))
    try:
        info = _checked(
            path,
            tools,
            expect_audio,
            expected_duration_s,
            tolerance_s,
            timeout_s,
            shown,
            known,
            staged,
        )
    except BaseException:
        if staged is not None:
            staged.path.unlink(missing_ok=True)
        raise
    if thumbs is not None and staged is not None:
        staged.path.replace(thumbs.path)
    return info


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _checked(
    path: Path,
    tools: FFmpegTools,
    expect_audio: bool | None,
    expected_duration_s: float | None,
    tolerance_s: float,
    timeout_s: float,
    shown: str,
    known: MediaInfo | None,
    thumbs: ThumbSpec | None,
) -> MediaInfo:
    try:
        done = run(decode_check_command(tools.ffmpeg, path, thumbs), timeout_s=timeout_s)
    except FFmpegError as exc:
        if exc.returncode is None:
            raise
        _fail(path, shown, f"does not decode to its end ({_first_error(exc.stderr_tail)})", exc)
    if known is not None:
        info = known
    else:
        try:
            info = probe(path, tools=tools, name=shown, timeout_s=timeout_s)
        except ProbeError as exc:
            _fail(path, shown, _reason(exc, shown), exc)
    decoded = decoded_seconds(done.stdout_text)
    if decoded is None:
        _fail(path, shown, "decoded to nothing")
    if abs(decoded - info.duration_s) > tolerance_s:
        _fail(path, shown, f"states {info.duration_s:.2f} s but decodes to {decoded:.2f} s")
    if expected_duration_s is not None and abs(info.duration_s - expected_duration_s) > tolerance_s:
        _fail(path, shown, f"lasts {info.duration_s:.2f} s, expected {expected_duration_s:.2f} s")
    if expect_audio is True and not info.has_audio:
        _fail(path, shown, "has no audio stream, expected one")
    if expect_audio is False and info.has_audio:
        _fail(path, shown, "has an audio stream, expected none")
    log.debug("verified %s: %.2f s decoded in %.2f s", shown, decoded, done.elapsed_s)
    return info


def check_describes(info: MediaInfo, path: Path) -> MediaInfo:
    """``info``, when it is the probe of ``path``; a :class:`ValueError` (the caller's mistake,
    not the file's) when it describes another file."""
    if Path(info.path).absolute() != Path(path).absolute():
        raise ValueError(f"the MediaInfo given for {path} describes {info.path}")
    return info


def _fail(path: Path, shown: str, reason: str, cause: Exception | None = None) -> NoReturn:
    error = VerificationError(f"{shown} {reason}: {_FIX}", path=path, reason=reason)
    raise error from cause


def _reason(error: ProbeError, shown: str) -> str:
    # The probe speaks to a user ("<name> is cut short: ...: export it again"): keep the middle.
    text = str(error).removeprefix(shown).lstrip(": ")
    reason, colon, _advice = text.rpartition(": ")
    return reason if colon else text


def _first_error(stderr: str) -> str:
    # The first complaint names the damage; the last lines only say which threads stopped.
    for line in stderr.splitlines():
        text = _LOG_PREFIX.sub("", line).strip()
        if text:
            return text[:200]
    return "no message from ffmpeg"
