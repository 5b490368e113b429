"""The full-decode check: does a file really hold what its header promises?

ffmpeg hides some damage behind exit code 0: a file cut short whose index sits at the start
transcodes "successfully" into a result of half the length (``shared/MEDIA.md``). So a file that
matters is decoded to its end with ``-xerror`` (the first decode error stops ffmpeg with a
failure), then probed again, and its streams and length are compared with what the step that
made it promised. The decode runs with the same input guards as every other ffmpeg command.
A caller that has just probed the file may hand its :class:`MediaInfo` over (``known``): the
probe is skipped, every check still runs against it. The probe is PyAV's, in this process (a few
milliseconds where an ffprobe run costs a process): what is checked here is a file reskin made
or downloaded, not a user's input (:mod:`reskin.media.intake` probes that with the chosen tools).

A file whose picture is a stream copy of a file that was checked this way (the final video:
the service's result, verified at its download, with the sound muxed under it) is checked by
:func:`verify_copy` without decoding that picture again: its packets are read (the probe), its
video compared packet for packet with the checked file's, byte for byte, and only what was
encoded now, its sound, is decoded, in this process.

Run it on what reskin made (conformed clips, results, muxed outputs): a failure raises
:class:`~reskin.errors.VerificationError`. :mod:`reskin.media.intake` runs it on a user's input too
and turns a failure into a :class:`~reskin.errors.ProbeError` for the user.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import av
import av.container
import av.video.stream

from reskin.errors import FFmpegError, ProbeError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS
from reskin.media.probe import OPEN_OPTIONS, MediaInfo, probe, shown_name
from reskin.media.runner import RunResult, run
from reskin.media.thumbs import ThumbSpec, thumbs_output_args

log = logging.getLogger(__name__)

#: How far the decoded length may stray from the stated one. ffmpeg reports the end of the
#: last frame; a container that starts a frame late (a dropped first frame) states one frame more.
DEFAULT_TOLERANCE_S = 0.1

_LOG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
_FIX = "make it again; if it fails again, report it with the debug log"


def decode_check_command(
    exe: Path, path: Path, thumbs: ThumbSpec | None = None, also: Sequence[str] = ()
) -> list[str]:
    """Decode every video and audio stream of ``path`` to nothing, stopping at the first error,
    and print progress (``out_time_us``: how much was decoded) on stdout; with ``thumbs``, the
    same decode also writes the fidelity check's thumbnails (:mod:`reskin.media.thumbs`), so
    they cost a scale of a few frames a second, not a second decode; ``also``: more outputs of
    the same decode, last (the contact sheet's row: :func:`reskin.media.preview.row_output_args`).

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
        *also,
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
    also: Sequence[str] = (),
) -> MediaInfo:
    """Decode ``path`` fully, probe it again (unless ``known``) and check it; return the
    :class:`MediaInfo` it checked.

    ``expect_audio``: True or False to require an audio stream or its absence, None for either.
    ``expected_duration_s``: the length the step promised, within ``tolerance_s``; None to skip.
    The decoded length must match the stated one within ``tolerance_s`` in every case.
    ``known``: the probe of ``path`` the caller already holds (its ``path`` must be ``path``);
    it is checked as a fresh probe would be and returned, and the probe is not run again.
    ``thumbs``: where the same decode writes thumbnails; they appear at ``thumbs.path`` only
    when every check passed (written beside it first, then renamed). ``also``: more outputs of
    the decode (:func:`decode_check_command`), written as they come: worth reading only once
    this returned, and a convenience only (a run that fails with them is made again without
    them before the file is blamed).
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
            also,
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
    also: Sequence[str],
) -> MediaInfo:
    done = _decoded(path, tools, timeout_s, shown, thumbs, also)
    info = known if known is not None else probe_made(path, shown)
    decoded = decoded_seconds(done.stdout_text)
    if decoded is None:
        _fail(path, shown, "decoded to nothing")
    if abs(decoded - info.duration_s) > tolerance_s:
        _fail(path, shown, f"states {info.duration_s:.2f} s but decodes to {decoded:.2f} s")
    _check_promise(info, path, shown, expect_audio, expected_duration_s, tolerance_s)
    log.debug("verified %s: %.2f s decoded in %.2f s", shown, decoded, done.elapsed_s)
    return info


def _decoded(
    path: Path,
    tools: FFmpegTools,
    timeout_s: float,
    shown: str,
    thumbs: ThumbSpec | None,
    also: Sequence[str] = (),
) -> RunResult:
    try:
        return run(decode_check_command(tools.ffmpeg, path, thumbs, also), timeout_s=timeout_s)
    except FFmpegError as exc:
        if exc.returncode is None:
            raise
        if also:
            # The extra outputs are a convenience and the check is the decode: it is made
            # again without them before the file is blamed.
            log.debug("the decode check of %s failed with its extra outputs: again without", shown)
            return _decoded(path, tools, timeout_s, shown, thumbs)
        _fail(path, shown, f"does not decode to its end ({_first_error(exc.stderr_tail)})", exc)


def probe_made(path: Path, name: str | None = None) -> MediaInfo:
    """The probe of a file reskin made or downloaded: PyAV's, in this process; a
    :class:`VerificationError` (one line) when it does not read as a whole video."""
    shown = shown_name(name if name is not None else Path(path).name)
    try:
        return probe(path, name=shown)
    except ProbeError as exc:
        _fail(path, shown, _reason(exc, shown), exc)


def _check_promise(
    info: MediaInfo,
    path: Path,
    shown: str,
    expect_audio: bool | None,
    expected_duration_s: float | None,
    tolerance_s: float,
) -> None:
    if expected_duration_s is not None and abs(info.duration_s - expected_duration_s) > tolerance_s:
        _fail(path, shown, f"lasts {info.duration_s:.2f} s, expected {expected_duration_s:.2f} s")
    if expect_audio is True and not info.has_audio:
        _fail(path, shown, "has no audio stream, expected one")
    if expect_audio is False and info.has_audio:
        _fail(path, shown, "has an audio stream, expected none")


def verify_copy(
    path: Path,
    copied: Path,
    *,
    expect_audio: bool | None,
    expected_duration_s: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    name: str | None = None,
) -> MediaInfo:
    """Check ``path``, whose video is a stream copy, cut to ``expected_duration_s``, of the
    first video stream of ``copied``, a file whose frames a full decode (:func:`verify`) has
    checked: the same promises as :func:`verify`, without decoding that video again.

    - its probe (every packet read: not cut short behind its index, its streams, its length);
    - its video: the same codec, size and setup (extradata) as ``copied``'s, and packet for
      packet the first packets of ``copied``'s video, byte for byte, at the same times; as many
      as ``copied`` shows in ``expected_duration_s`` (within ``tolerance_s``'s frames);
    - its sound, if any, decoded to its end in this process (it may be encoded now), ending
      within ``tolerance_s`` of the stated length.

    Raises :class:`VerificationError` (one line) when a check fails.
    """
    path, copied = Path(path), Path(copied)
    shown = shown_name(name if name is not None else path.name)
    info = probe_made(path, shown)
    _check_promise(info, path, shown, expect_audio, expected_duration_s, tolerance_s)
    frames = _same_video(path, copied, shown, expected_duration_s, tolerance_s)
    sound_s = _decoded_sound(path, shown) if info.has_audio else None
    if sound_s is not None and abs(sound_s - info.duration_s) > tolerance_s:
        _fail(
            path, shown, f"states {info.duration_s:.2f} s but its sound decodes to {sound_s:.2f} s"
        )
    log.debug(
        "verified %s: %d frames as checked before, sound %s",
        shown,
        frames,
        "none" if sound_s is None else f"decoded to {sound_s:.2f} s",
    )
    return info


def _open(path: Path, shown: str) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r", options=dict(OPEN_OPTIONS))
    except av.FFmpegError as exc:
        _fail(path, shown, "cannot be opened again", exc)


def _same_video(path: Path, copied: Path, shown: str, duration_s: float, tolerance_s: float) -> int:
    """The frames of ``path``'s video, when they are the first ones of ``copied``'s."""
    with _open(path, shown) as ours, _open(copied, shown) as theirs:
        try:
            mine, source = ours.streams.video[0], theirs.streams.video[0]
            if _setup(mine) != _setup(source):
                _fail(path, shown, "does not hold the checked video (another codec, size or setup)")
            rate = float(source.average_rate or source.guessed_rate or 0) or 24.0
            half_frame = 0.5 / rate
            originals = _packets(theirs, source)
            count = 0
            for data, at_s in _packets(ours, mine):
                original = next(originals, None)
                if original is None or data != original[0] or abs(at_s - original[1]) > half_frame:
                    _fail(path, shown, f"differs from the checked video at its frame {count + 1}")
                count += 1
            # The frames the cut should keep: those shown before its end (in any decode order).
            kept = count + sum(1 for _, at_s in originals if at_s < duration_s - half_frame)
        except av.FFmpegError as exc:
            _fail(path, shown, "cannot be read to its end", exc)
    if abs(count - kept) > max(1, round(tolerance_s * rate)):
        _fail(path, shown, f"holds {count} frames of the checked video, expected {kept}")
    return count


def _setup(stream: av.video.stream.VideoStream) -> tuple[str, int, int, bytes]:
    context = stream.codec_context
    return context.name, context.width, context.height, bytes(context.extradata or b"")


def _packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[tuple[bytes, float]]:
    """The video packets of ``stream``, in file order: their bytes and their time from the
    stream's first."""
    first: float | None = None
    for packet in container.demux(stream):
        if packet.size == 0 or packet.time_base is None:
            continue
        pts = packet.pts if packet.pts is not None else packet.dts
        at = float(pts * packet.time_base) if pts is not None else 0.0
        first = at if first is None else first
        yield bytes(packet), at - first


def _decoded_sound(path: Path, shown: str) -> float:
    """Where the first audio stream of ``path`` ends, decoded to its end (seconds)."""
    container = _open(path, shown)
    end: float | None = None
    try:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.sample_rate:
                end = frame.time + frame.samples / frame.sample_rate
    except av.FFmpegError as exc:
        _fail(path, shown, f"does not decode to its end (its sound: {exc.strerror or exc})", exc)
    finally:
        container.close()
    if end is None:
        _fail(path, shown, "has a sound that decodes to nothing")
    return end


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
