"""Give the edited video its sound back, and write the final file.

The service returns video only (unless asked to keep the sound), at 24 fps, about as long as
what it was sent. Three modes (:class:`AudioMode`):

- ``restore`` (default): the original sound of the window, taken from the source itself (one
  decode, sample-accurate seek) and muxed under the edited picture, which is copied, not
  re-encoded. Lengths are reconciled by padding the sound with silence or cutting it, and the
  file is cut with ``-t`` to the window's length, so nothing drifts. Only when the model really
  changed the length (more than :data:`STRETCH_THRESHOLD`) is the sound time-stretched.
- ``model``: keep whatever sound the service returned (``keep_audio``), as it is;
- ``none``: no sound.

A source without sound gives a silent result. A clip sent longer than the window (padded or
extended, see :mod:`reskin.media.conform_plan`) is cut back to the window, picture and sound.
Sound written by reskin is AAC stereo 48 kHz: 5.1 is downmixed, Opus re-encoded.

The original sound can be encoded ahead (:func:`prepare_track`), while the service works: the
final mux then copies it with the picture (``track``), the same AAC the mux would have made.

The final file is rendered beside its destination, verified (decodes to its end, the expected
streams, the expected length within 0.1 s: :func:`reskin.media.verify.verify`) and only then
renamed into place (:mod:`reskin.media.finalize`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reskin.media.audio_mode import AudioMode
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import (
    copy_track_command,
    keep_video_command,
    mux_sound_command,
    sound_track_command,
)
from reskin.media.conform_plan import ConformPlan
from reskin.media.finalize import atomic_output
from reskin.media.probe import MediaInfo, probe
from reskin.media.runner import run
from reskin.media.verify import check_describes, verify, verify_copy

log = logging.getLogger(__name__)

#: A result whose length differs from what was sent by more than this share was re-timed by the
#: model: its sound is stretched to match. Below it, the difference is edge frames: pad or cut.
STRETCH_THRESHOLD = 0.02
#: ``atempo`` keeps its quality within this range; beyond it the sound is padded or cut instead.
TEMPO_RANGE = (0.5, 2.0)

SoundFrom = Literal["original", "result", "none"]

#: The window's original sound encoded ahead (:func:`prepare_track`), in the job folder.
TRACK_NAME = "sound.m4a"


@dataclass(frozen=True)
class OriginalSound:
    """The part of the source the model was sent, as far as its sound is concerned."""

    #: The source file (the job's copy of the user's video, not the conformed clip).
    path: Path
    start_s: float
    #: The window's length: what the final video lasts.
    duration_s: float
    #: What the model was sent: longer than ``duration_s`` when the clip was padded or extended.
    sent_s: float
    has_audio: bool

    @classmethod
    def of(cls, source: Path, plan: ConformPlan, info: MediaInfo) -> OriginalSound:
        """The sound of ``source`` (probed as ``info``) under the window ``plan`` conformed."""
        return cls(
            path=Path(source),
            start_s=plan.start_s,
            duration_s=plan.duration_s,
            sent_s=plan.sent_s,
            has_audio=info.has_audio,
        )


@dataclass(frozen=True)
class MuxPlan:
    """How the final file is made from the result."""

    mode: AudioMode
    sound: SoundFrom
    #: The final length, and the ``-t`` of the command.
    duration_s: float
    #: ``atempo`` factor for the original sound (above 1 is faster), when the model re-timed.
    tempo: float | None
    notes: tuple[str, ...]

    @property
    def expect_audio(self) -> bool:
        return self.sound != "none"


def plan_mux(result: MediaInfo, original: OriginalSound, *, mode: AudioMode) -> MuxPlan:
    """Decide the final file's sound and length from the result as probed. Pure."""
    notes: list[str] = []
    ratio = result.duration_s / original.sent_s if original.sent_s > 0 else 1.0
    retimed = abs(ratio - 1) > STRETCH_THRESHOLD
    target = original.duration_s * ratio if retimed else original.duration_s
    duration = min(result.duration_s, target)
    if retimed:
        notes.append(
            f"the service changed the length from {original.sent_s:.2f} s to "
            f"{result.duration_s:.2f} s"
        )
    if original.sent_s > original.duration_s + 1e-6:
        notes.append(f"cut back to the original {original.duration_s:.2f} s")
    elif duration < original.duration_s - 0.1 and not retimed:
        notes.append(f"the result is {original.duration_s - duration:.2f} s short of the window")
    sound: SoundFrom = "none"
    tempo: float | None = None
    if mode is AudioMode.RESTORE:
        if original.has_audio:
            sound = "original"
            tempo = _tempo(ratio, notes) if retimed else None
        else:
            notes.append("the source has no sound: the result stays silent")
    elif mode is AudioMode.MODEL:
        if result.has_audio:
            sound = "result"
        else:
            notes.append("the service returned no sound: the result stays silent")
    return MuxPlan(mode=mode, sound=sound, duration_s=duration, tempo=tempo, notes=tuple(notes))


def mux_argv(
    plan: MuxPlan,
    result: Path,
    original: OriginalSound,
    output: Path,
    tools: FFmpegTools,
    track: Path | None = None,
) -> list[str]:
    """The one ffmpeg command that makes the final file for ``plan``: with ``track``, the
    window's sound encoded ahead (:func:`prepare_track`), copied when the plan takes the
    original sound as it is (not stretched, no longer than the window)."""
    if track is not None and copies_track(plan, original, track):  # narrowed for the call
        return copy_track_command(tools.ffmpeg, result, track, output, duration_s=plan.duration_s)
    if plan.sound == "original":
        return mux_sound_command(
            tools.ffmpeg,
            result,
            original.path,
            output,
            sound_start_s=original.start_s,
            sound_duration_s=original.duration_s,
            duration_s=plan.duration_s,
            tempo=plan.tempo,
        )
    return keep_video_command(
        tools.ffmpeg,
        result,
        output,
        duration_s=plan.duration_s,
        keep_audio=plan.sound == "result",
    )


def copies_track(plan: MuxPlan, original: OriginalSound, track: Path | None) -> bool:
    """Whether the final file copies ``track``, the sound :func:`prepare_track` made: when the
    plan takes the window's original sound neither stretched nor past the window's end (where
    the mux pads further than the track)."""
    return (
        track is not None
        and plan.sound == "original"
        and plan.tempo is None
        and plan.duration_s <= original.duration_s + 1e-6
    )


def prepare_track(
    original: OriginalSound, folder: Path, tools: FFmpegTools, *, timeout_s: float
) -> Path | None:
    """Encode the window's original sound into ``folder`` (:data:`TRACK_NAME`, written whole
    or not at all) as :func:`finish` would encode it, for :func:`finish` to copy (``track``):
    made while the service works, it takes the encoding off the end of the edit. None for a
    source without sound."""
    if not original.has_audio:
        return None
    track = Path(folder) / TRACK_NAME
    with atomic_output(track) as partial:
        run(
            sound_track_command(
                tools.ffmpeg,
                original.path,
                partial,
                start_s=original.start_s,
                duration_s=original.duration_s,
            ),
            timeout_s=timeout_s,
        )
    return track


def finish(
    result: Path,
    output: Path,
    original: OriginalSound,
    tools: FFmpegTools,
    *,
    mode: AudioMode = AudioMode.RESTORE,
    timeout_s: float,
    result_info: MediaInfo | None = None,
    result_decoded: bool = False,
    track: Path | None = None,
) -> MediaInfo:
    """Make the final video at ``output`` from the service's ``result`` and the original sound.

    ``output`` is written atomically: it holds the verified file, or (on any failure) what it
    held before. Raises :class:`~reskin.errors.FFmpegError` when ffmpeg fails and
    :class:`~reskin.errors.VerificationError` when the file is not what the plan promised.
    ``result_info`` is the probe of ``result`` when the caller holds one (from the
    :func:`~reskin.media.verify.verify` of the download); without it ``result`` is probed.
    ``result_decoded``: a full decode has just checked ``result``'s frames (the download's
    :func:`~reskin.media.verify.verify`): the picture, copied, is then compared with them
    packet for packet instead of decoded again (:func:`~reskin.media.verify.verify_copy`).
    ``track``: the window's sound as :func:`prepare_track` made it, copied when the plan
    allows (:func:`copies_track`), else left and the sound encoded here.
    """
    result, output = Path(result), Path(output)
    known = probe(result) if result_info is None else check_describes(result_info, result)
    plan = plan_mux(known, original, mode=mode)
    ahead = copies_track(plan, original, track)
    log.info(
        "sound: %s, %s sound, %.2f s%s%s",
        plan.mode.value,
        plan.sound,
        plan.duration_s,
        "".join(f"; {note}" for note in plan.notes),
        " (encoded ahead)" if ahead else "",
    )
    with atomic_output(output) as partial:
        run(mux_argv(plan, result, original, partial, tools, track), timeout_s=timeout_s)
        if result_decoded:  # every mux copies the picture (mux_argv)
            info = verify_copy(
                partial,
                result,
                expect_audio=plan.expect_audio,
                expected_duration_s=plan.duration_s,
                name=output.name,
            )
        else:
            info = verify(
                partial,
                tools,
                expect_audio=plan.expect_audio,
                expected_duration_s=plan.duration_s,
                timeout_s=timeout_s,
                name=output.name,
            )
    return dataclasses.replace(info, path=output)


def _tempo(ratio: float, notes: list[str]) -> float | None:
    tempo = 1 / ratio
    low, high = TEMPO_RANGE
    if not low <= tempo <= high:
        notes.append(f"too far to stretch the sound (x{ratio:.2f}): padded or cut instead")
        return None
    notes.append(f"the sound is stretched x{ratio:.3f} to match")
    return tempo
