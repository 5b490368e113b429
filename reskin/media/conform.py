"""Conform a clip to what the model takes, re-encoding only when nothing else will do.

The decision is :func:`~reskin.media.conform_plan.plan_conform` (pure, re-exported here);
:func:`read_layout` gathers the facts it needs beyond the probe, and :func:`conform` carries a
plan out: it runs ffmpeg (or hard-links the file), re-probes the output, checks it now conforms
and only then moves it to its destination (:mod:`reskin.media.finalize`). Everything it writes
is H.264 yuv420p in MP4 with ``+faststart`` and no metadata, and the choice is logged at INFO.
"""

from __future__ import annotations

import dataclasses
import logging
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import av

from reskin.errors import ProbeError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import conform_copy_command, conform_encode_command
from reskin.media.conform_plan import (
    DURATION_TOLERANCE_S,
    Action,
    ConformPlan,
    Layout,
    Window,
    conform_fps,
    conform_size,
    plan_conform,
)
from reskin.media.finalize import atomic_output, link_or_copy
from reskin.media.probe import OPEN_OPTIONS, MediaInfo, keyframe_times, probe
from reskin.media.runner import run
from reskin.registry.spec import InputLimits

__all__ = [
    "Action",
    "ConformPlan",
    "ConformResult",
    "Layout",
    "Window",
    "conform",
    "conform_fps",
    "conform_problems",
    "conform_size",
    "fits_datauri",
    "plan_conform",
    "plan_conform_file",
    "read_layout",
]

log = logging.getLogger(__name__)

#: Metadata keys that say nothing about the person or the place (container and stream).
HARMLESS_TAGS = frozenset(
    {"major_brand", "minor_version", "compatible_brands", "encoder", "handler_name", "vendor_id"}
    | {"language", "duration"}
)

_TOP_BOXES_READ = 64
_FIX = "report it with the debug log"


@dataclass(frozen=True)
class ConformResult:
    """A conformed clip: where it is, what it holds, how it was made."""

    path: Path
    plan: ConformPlan
    info: MediaInfo
    elapsed_s: float


def read_layout(path: Path, *, until_s: float) -> Layout:
    """Read what :func:`plan_conform` needs beyond the probe: keyframe times up to ``until_s``,
    where the index sits, the metadata keys and the stream count. Demuxes only; milliseconds."""
    path = Path(path)
    keyframes = keyframe_times(path, until_s)
    try:
        with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
            keys = {key.lower() for key in container.metadata}
            for stream in container.streams:
                keys |= {key.lower() for key in stream.metadata}
            main = 1 + (1 if container.streams.audio else 0)
            extra = len(container.streams) - main
            is_mp4 = container.format.name.startswith("mov")
    except av.FFmpegError as exc:
        raise ProbeError(f"{path.name} cannot be read again: {_FIX}") from exc
    return Layout(
        keyframes_s=tuple(keyframes),
        faststart=is_mp4 and _index_first(path),
        private_tags=tuple(sorted(keys - HARMLESS_TAGS)),
        extra_streams=max(extra, 0),
    )


def plan_conform_file(
    info: MediaInfo, *, window: Window | None = None, limits: InputLimits, inline: bool = False
) -> ConformPlan:
    """:func:`plan_conform` with the layout of ``info.path`` read first."""
    until = (window.start_s if window else 0.0) + 1.0
    return plan_conform(
        info,
        window=window,
        limits=limits,
        layout=read_layout(info.path, until_s=until),
        inline=inline,
    )


def conform(
    source: Path,
    dest: Path,
    plan: ConformPlan,
    tools: FFmpegTools,
    *,
    timeout_s: float,
    preset: str = "veryfast",
    crf: int = 20,
    limits: InputLimits,
) -> ConformResult:
    """Carry ``plan`` out on ``source``, check the output conforms, and move it to ``dest``.

    ``dest`` never holds a partial file: on any failure it is left as it was. Raises
    :class:`~reskin.errors.FFmpegError` when ffmpeg fails and
    :class:`~reskin.errors.VerificationError` when the output does not conform after all.
    """
    source, dest = Path(source), Path(dest)
    log.info("conform: %s", plan.describe())
    started = time.monotonic()
    with atomic_output(dest) as partial:
        if plan.action is Action.PASSTHROUGH:
            link_or_copy(source, partial)
        else:
            run(_command(source, partial, plan, tools, preset=preset, crf=crf), timeout_s=timeout_s)
        info = probe(partial, name=dest.name)
        problems = conform_problems(info, plan, limits)
        if problems:
            reason = "; ".join(problems)
            raise VerificationError(
                f"the conformed clip {dest.name} does not conform: {reason}: {_FIX}",
                path=dest,
                reason=reason,
            )
    elapsed = time.monotonic() - started
    log.info(
        "conform: %s done in %.2f s: %dx%d, %s fps, %.2f s, %.1f MB",
        plan.action.value,
        elapsed,
        info.display_width,
        info.display_height,
        f"{info.fps:g}",
        info.duration_s,
        info.size_bytes / 1e6,
    )
    return ConformResult(
        path=dest, plan=plan, info=dataclasses.replace(info, path=dest), elapsed_s=elapsed
    )


def conform_problems(info: MediaInfo, plan: ConformPlan, limits: InputLimits) -> list[str]:
    """Why a conformed clip (as probed) is not what ``plan`` promised; empty when it is."""
    problems = limits.violations(info)
    if info.container != "mp4":
        problems.append(f"container {info.container}, not MP4")
    if (info.video_codec, info.pix_fmt) != ("h264", "yuv420p"):
        problems.append(f"video {info.video_codec} {info.pix_fmt}, not H.264 yuv420p")
    if (info.display_width, info.display_height) != (plan.width, plan.height) or info.rotation:
        problems.append(
            f"picture {info.width}x{info.height} turned {info.rotation}°, "
            f"not {plan.width}x{plan.height} upright"
        )
    if info.variable_fps or abs(info.fps - plan.fps) > plan.fps * 0.01:
        problems.append(f"frame rate {info.fps:.3f} fps, not {plan.fps:g} constant")
    if abs(info.duration_s - plan.sent_s) > DURATION_TOLERANCE_S:
        problems.append(f"lasts {info.duration_s:.2f} s, not {plan.sent_s:.2f} s")
    if info.has_audio != (plan.audio != "none"):
        problems.append("has sound" if info.has_audio else "lost its sound")
    elif info.has_audio and (info.audio_codec != "aac" or (info.audio_channels or 0) > 2):
        problems.append(f"sound {info.audio_codec} {info.audio_channels} ch, not AAC stereo")
    return problems


def fits_datauri(info: MediaInfo, *, max_bytes: int) -> bool:
    """Whether a conformed clip may go inline as a data URI (``Settings.datauri_max_bytes``,
    raw bytes before base64); a larger one must be uploaded to storage and sent as a URL."""
    return info.size_bytes <= max_bytes


def _index_first(path: Path) -> bool:
    """Whether the MP4's ``moov`` box (its index) comes before ``mdat`` (its data)."""
    with path.open("rb") as file:
        offset = 0
        for _ in range(_TOP_BOXES_READ):
            file.seek(offset)
            head = file.read(8)
            if len(head) < 8:
                return False
            size, kind = struct.unpack(">I4s", head)
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:  # a 64-bit size follows the type
                wide = file.read(8)
                if len(wide) < 8:
                    return False
                size = struct.unpack(">Q", wide)[0]
            if size < 8:  # 0 means "to the end of the file": no index after it
                return False
            offset += size
    return False


def _command(
    source: Path, output: Path, plan: ConformPlan, tools: FFmpegTools, *, preset: str, crf: int
) -> list[str]:
    if plan.action is Action.COPY:
        return conform_copy_command(
            tools.ffmpeg,
            source,
            output,
            start_s=plan.start_s,
            duration_s=plan.read_s,
            audio=plan.audio,
        )
    return conform_encode_command(
        tools.ffmpeg,
        source,
        output,
        start_s=plan.start_s,
        duration_s=plan.read_s,
        width=plan.width,
        height=plan.height,
        fps=plan.fps,
        pad_to_s=plan.pad_to_s,
        audio=plan.audio != "none",
        preset=preset,
        crf=crf,
    )
