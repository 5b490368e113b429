"""What x264 wrote into a stream, read back: its H.264 parameters, and the options that make
another encode write byte-identical ones.

One MP4 track has one set of H.264 parameters (SPS and PPS), so the stitch may join an encoded
unit to copied results only when its parameters are theirs (:mod:`reskin.media.stitch`). x264
writes its options into the first frame of every stream it makes (an SEI, ``x264 - core ...
- options: ...``); the ones that decide the headers, given again with psy off, repeat them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from reskin.media.probe import OPEN_OPTIONS


def parameters(path: Path) -> bytes | None:
    """The first video stream's H.264 parameters (the MP4's ``avcC``); None when unreadable."""
    try:
        with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
            return bytes(box.streams.video[0].codec_context.extradata or b"")
    except (av.FFmpegError, IndexError):
        return None


#: x264's options (as its SEI names them) that decide the SPS and PPS it writes, beyond the
#: size, rate and colour: the same values, and psy off (x264 moves the chroma QP offset it
#: writes by its psy options: the SEI has the moved value), give byte-identical ones.
HEADER_OPTIONS = (
    "cabac",
    "ref",
    "8x8dct",
    "chroma_qp_offset",
    "constrained_intra",
    "interlaced",
    "bluray_compat",
    "bframes",
    "b_pyramid",
    "weightb",
    "weightp",
    "keyint",
    "vbv_maxrate",
    "vbv_bufsize",
    "nal_hrd",
)
#: The rate control's word in the SEI and the option that sets the initial QP of the PPS.
_RATE_OPTION = {"crf": "crf", "cqp": "qp", "abr": "bitrate", "cbr": "bitrate", "2pass": "bitrate"}
_SEI = re.compile(rb"x264 - core \d+[^\x00]*? - options: ([ -~]+)")
_VALUE = re.compile(r"-?[0-9A-Za-z.]+")


@dataclass(frozen=True)
class Matching:
    """How to encode so that the result's H.264 parameters are a given x264 stream's."""

    #: ``-x264-params``: the header-deciding options (:data:`HEADER_OPTIONS`), psy off.
    x264_params: str
    #: The colour description of its VUI, as ffmpeg numbers it (2: unspecified; range 0).
    colour: Mapping[str, int]
    #: Its pixel aspect ratio (0: not written).
    sar: int

    def output_options(self) -> dict[str, Any]:
        return {"x264-params": self.x264_params, **self.colour}


def matching_options(path: Path) -> Matching | None:
    """How to encode a unit whose H.264 parameters are those of ``path``, an x264 stream:
    read from the options x264 writes into its first frame (the SEI ``x264 - core ...``);
    None when it has none, or uses what cannot be repeated (a custom quantiser matrix)."""
    try:
        with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as box:
            stream = box.streams.video[0]
            context = stream.codec_context
            colour = {
                "color_primaries": int(context.color_primaries),
                "color_trc": int(context.color_trc),
                "colorspace": int(context.colorspace),
                "color_range": int(context.color_range),
            }
            ratio = stream.sample_aspect_ratio
            first = next((bytes(p) for p in box.demux(stream) if p.size), b"")
    except (av.FFmpegError, IndexError):
        return None
    found = _SEI.search(first)
    if found is None or ratio not in (None, 0, 1):
        return None
    options = dict(
        item.split("=", 1) for item in found.group(1).decode("ascii").split() if "=" in item
    )
    rate_option = _RATE_OPTION.get(options.get("rc", ""))
    if options.get("cqm", "0") != "0" or rate_option not in options:
        return None
    wanted = {name: options[name] for name in HEADER_OPTIONS if name in options}
    wanted[rate_option] = options[rate_option]
    if not all(_VALUE.fullmatch(value) for value in wanted.values()):
        return None
    params = ":".join(f"{name}={value}" for name, value in wanted.items())
    return Matching(f"{params}:psy=0", colour, 1 if ratio else 0)
