"""One frame of a video as a JPEG: the style reference a long edit hands its later segments.

The frame is the first at or after ``at_s`` (decoded from the keyframe before it, so exact),
scaled down to at most :data:`LONG_SIDE` px on its longer side (a reference needs the look, not
the detail, and a data URI of a 1080p JPEG is most of a body's size), quality 3 of 31.
"""

from __future__ import annotations

from pathlib import Path

import ffmpeg

from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS
from reskin.media.runner import run

#: The reference's longer side at most, in pixels.
LONG_SIDE = 1280


def still_command(exe: Path, video: Path, output: Path, *, at_s: float) -> list[str]:
    """The argv writing the frame of ``video`` at ``at_s`` to ``output`` (a ``.jpg``)."""
    if not at_s >= 0:
        raise ValueError(f"a still is taken at 0 s or later, got {at_s!r}")
    source = ffmpeg.input(str(Path(video).resolve()), ss=f"{at_s:.6f}", **FILE_INPUT_GUARDS)
    picture = source["v:0"].filter(
        "scale",
        f"min({LONG_SIDE},iw)",
        f"min({LONG_SIDE},ih)",
        force_original_aspect_ratio="decrease",
        force_divisible_by=2,
    )
    out = ffmpeg.output(
        picture,
        str(Path(output).resolve()),
        f="image2",
        vcodec="mjpeg",
        **{"frames:v": 1, "q:v": 3},
    )
    argv: list[str] = out.compile(cmd=[str(exe), *GLOBAL_ARGS])
    return argv


def grab_still(exe: Path, video: Path, output: Path, *, at_s: float, timeout_s: float) -> Path:
    """Write the frame at ``at_s`` of ``video`` to ``output``; the path."""
    run(still_command(exe, video, output, at_s=at_s), timeout_s=timeout_s)
    return output
