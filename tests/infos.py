"""A probe result made by hand, for tests of pure functions that read one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from reskin.media.probe import MediaInfo

#: A 5 s 1080p 30 fps H.264 clip with AAC stereo: breaks no limit of the model.
LEGAL_1080P = MediaInfo(
    path=Path("/job/input.mp4"),
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    container="mp4",
    size_bytes=6_000_000,
    duration_s=5.0,
    width=1920,
    height=1080,
    rotation=0,
    fps=30.0,
    variable_fps=False,
    video_codec="h264",
    pix_fmt="yuv420p",
    has_audio=True,
    audio_codec="aac",
    audio_channels=2,
)


def media_info(**changes: Any) -> MediaInfo:
    """:data:`LEGAL_1080P` with ``changes``."""
    return dataclasses.replace(LEGAL_1080P, **changes)
