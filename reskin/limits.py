"""What each video model accepts, as data: one :class:`ModelLimits` per model id.

The values come from ``shared/API.md`` (the stricter one where sources disagree). Conforming
(:mod:`reskin.media.conform`) reads them to decide what to change, the stand-in reads them to
decide what to refuse, so both always agree. Boundaries are inclusive.

Only the Kling O1 edit model is registered: ``API.md`` names its siblings on the same endpoint
(``klingai/video-o1-video-to-video-reference``, ``runway/gen4_aleph``, ``luma/ray-3.2``, ...) but
documents none of their input limits. Adding one is one more :class:`ModelLimits` in
:data:`MODEL_LIMITS` once its limits are known; nothing else keys on the model id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from reskin.errors import ConfigError

if TYPE_CHECKING:
    from reskin.media.images import ImageFormat
    from reskin.media.probe import Container, MediaInfo


@dataclass(frozen=True)
class ModelLimits:
    """The inputs one model accepts, and how it bills and answers."""

    model: str
    min_duration_s: float
    max_duration_s: float
    #: Each side of the picture as displayed (a rotated phone clip counts as it plays).
    min_side: int
    max_side: int
    max_bytes: int
    #: The average frame rate of the input.
    min_fps: float
    max_fps: float
    containers: tuple[Container, ...]
    #: A job is billed for its duration clamped into this range.
    min_billed_s: float
    max_billed_s: float
    #: The frame rate results come back at (observed, not documented).
    output_fps: float
    #: Reference images (``image_list``) the model takes beside a video; 0 when it takes none or
    #: its limit is unknown, so a model registered without image limits refuses images.
    max_reference_images: int = 0
    #: Each reference image (checked by :mod:`reskin.media.images`): its shorter side, its
    #: long-to-short ratio, its size in bytes, its format read from its content.
    min_image_side: int = 300
    max_image_aspect: float = 2.5
    max_image_bytes: int = 10_000_000
    image_formats: tuple[ImageFormat, ...] = ("jpeg", "png")

    @property
    def max_aspect(self) -> float:
        """The widest long-to-short ratio a picture can have and still fit both side limits."""
        return self.max_side / self.min_side


KLING_O1_EDIT = ModelLimits(
    model="klingai/video-o1-video-to-video-edit",
    min_duration_s=3.0,
    max_duration_s=10.05,
    min_side=720,
    max_side=2160,
    # 200 MB at Kling; the fal fallback is said to take 100 MB, but conformed clips of at most
    # 10 s are far below either, and the data-URI budget (Settings.datauri_max_bytes) is lower.
    max_bytes=200_000_000,
    min_fps=24.0,
    max_fps=60.0,
    containers=("mp4", "mov"),
    min_billed_s=3.0,
    max_billed_s=10.0,
    output_fps=24.0,
    # The OpenAPI spec says 7 images; Kling's own limit when a video is given is 4.
    max_reference_images=4,
    min_image_side=300,
    max_image_aspect=2.5,
    max_image_bytes=10_000_000,
    image_formats=("jpeg", "png"),
)

MODEL_LIMITS: Mapping[str, ModelLimits] = MappingProxyType({KLING_O1_EDIT.model: KLING_O1_EDIT})


def limits_for(model: str) -> ModelLimits:
    """The limits of ``model``; :class:`ConfigError` when reskin does not know them."""
    try:
        return MODEL_LIMITS[model]
    except KeyError:
        known = ", ".join(sorted(MODEL_LIMITS))
        raise ConfigError(
            f"no input limits are known for model {model!r}: set RESKIN_MODEL to one of {known}"
        ) from None


def violations(info: MediaInfo, limits: ModelLimits) -> list[str]:
    """Every limit ``info`` breaks, each naming the limit and the value; empty when accepted."""
    found: list[str] = []
    if info.container not in limits.containers:
        allowed = " or ".join(name.upper() for name in limits.containers)
        found.append(f"container {info.container} is not accepted ({allowed} only)")
    if info.size_bytes > limits.max_bytes:
        found.append(
            f"size {info.size_bytes / 1e6:.1f} MB is over the {limits.max_bytes / 1e6:g} MB limit"
        )
    if not limits.min_duration_s <= info.duration_s <= limits.max_duration_s:
        found.append(
            f"duration {info.duration_s:.2f} s is outside "
            f"{limits.min_duration_s:g}..{limits.max_duration_s:g} s"
        )
    for side, value in (("width", info.display_width), ("height", info.display_height)):
        if not limits.min_side <= value <= limits.max_side:
            found.append(f"{side} {value} px is outside {limits.min_side}..{limits.max_side} px")
    if not limits.min_fps <= info.fps <= limits.max_fps:
        found.append(
            f"frame rate {info.fps:.2f} fps is outside {limits.min_fps:g}..{limits.max_fps:g} fps"
        )
    return found


def billed_seconds(duration_s: float, limits: ModelLimits = KLING_O1_EDIT) -> float:
    """The seconds a job of ``duration_s`` is billed for."""
    return min(max(duration_s, limits.min_billed_s), limits.max_billed_s)


def credits_used(
    duration_s: float, credits_per_second: int, limits: ModelLimits = KLING_O1_EDIT
) -> int:
    """``ceil(billed seconds) * credits_per_second`` (the stand-in's price model)."""
    return math.ceil(billed_seconds(duration_s, limits) - 1e-9) * credits_per_second
