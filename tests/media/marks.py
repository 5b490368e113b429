"""Measuring helpers for the conform and sound tests: packet hashes, sync marks, the stand-in.

A clip made with ``synthetic_clip_command(..., sync_marks=True)`` turns white (the whole picture,
or the :data:`CORNER` box with ``mark="corner"``) and beeps at each whole second;
:func:`flash_onsets` and :func:`beep_onsets` find where each mark starts, in the picture and in
the sound, and :func:`sync_offsets` pairs them, so a test can compare them. A clip made with
``scenes=(...)`` cuts to another scene at each of them (rounded to a frame: :func:`scene_spans`);
:func:`scene_cuts` asks ffmpeg's scene detector where the cuts are.
"""

from __future__ import annotations

import array
import base64
import bisect
import hashlib
import re
import time
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import av
import httpx

from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FilterStep, render_command
from reskin.media.probe import OPEN_OPTIONS, probe
from reskin.media.runner import run
from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn

#: Sound louder than this (of 32767) is a beep; the marks are at half scale.
_LOUD = 2000
#: Two beeps are at least this far apart; anything closer is the same beep.
_QUIET_GAP_S = 0.3

#: A box of the picture in fractions of its width and height: left, top, right, bottom.
Region = tuple[float, float, float, float]
#: Where ``synthetic_clip_command(..., mark="corner")`` draws its mark.
CORNER: Region = (0.0, 0.0, 0.25, 0.25)
#: Frames are measured on a grid this many cells wide and high (the mean of each cell).
_GRID = 64
#: A mark brightens its region by at least this much (of 255) from one frame to the next: a
#: white mark over the darkest scene rises by about 200, over the brightest (mandelbrot's pink)
#: by about 80, and a look (sepia, night) keeps well over half of that.
_RISE = 20.0
#: A mark is over within this long (it lasts 0.1 s); a cut to a brighter scene never is.
_MARK_MAX_S = 0.3
#: A mark is one colour: its cells differ by at most this much (a scene's never are so alike).
_FLAT = 24


def video_packet_hashes(path: Path) -> list[str]:
    """A hash of every video packet, in file order: equal lists mean no re-encode."""
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        stream = container.streams.video[0]
        return [hashlib.sha256(bytes(p)).hexdigest() for p in container.demux(stream) if p.size]


def flash_onsets(path: Path, region: Region | None = None) -> list[float]:
    """Times of the frames where a sync mark starts: where the whole picture (``region`` None)
    or ``region`` (e.g. :data:`CORNER`) turns one colour (:data:`_FLAT`) and brighter than the
    frame before by :data:`_RISE`, stays so, and falls back to about where it was within
    :data:`_MARK_MAX_S`, while the rest of the picture stays as it was.

    No fixed level is assumed, so a re-styled mark (light sepia, a dimmed night) is found as
    well as a white one, and a cut (to a brighter scene) is not taken for a mark: it does not
    fall back, and it changes the rest of the picture too. A mark on the first frame (there is
    no frame before it) counts when it falls back in time. A cut inside a mark hides that mark.
    """
    frames = _levels(path, region)
    onsets: list[float] = []
    for i, frame in enumerate(frames):
        before = frames[i - 1] if i else None
        rise = frame.inside - before.inside if before is not None else _RISE
        if rise < _RISE or frame.spread > _FLAT:
            continue
        # The first frame after the mark: back down by at least half the rise.
        end = next(
            (
                j
                for j in range(i + 1, len(frames))
                if frames[j].at - frame.at <= _MARK_MAX_S
                and frames[j].inside <= frame.inside - rise / 2
            ),
            None,
        )
        if end is None or min(f.inside for f in frames[i:end]) - frames[end].inside < rise / 2:
            continue
        if before is not None and abs(frames[end].inside - before.inside) > rise / 2:
            continue  # not back where it was: a cut, not a mark
        if before is not None and abs(frame.outside - before.outside) > rise / 2:
            continue  # the rest of the picture changed with it: a cut
        onsets.append(frame.at)
    return onsets


class _Level(NamedTuple):
    """One frame, measured: its time, the mean brightness inside the region and outside it
    (0 without a region), and how far apart the region's cells are (max minus min)."""

    at: float
    inside: float
    outside: float
    spread: int


def _levels(path: Path, region: Region | None) -> list[_Level]:
    """Each frame of ``path`` measured (:class:`_Level`) on a :data:`_GRID` grid; the cells on
    the region's edge, which a scaled picture blurs, count for neither side."""
    left, top, right, bottom = _cells(region)
    levels: list[_Level] = []
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        for frame in container.decode(video=0):
            small = frame.reformat(width=_GRID, height=_GRID, format="gray", interpolation="AREA")
            plane = small.planes[0]
            data = bytes(plane)
            rows = [data[y * plane.line_size : y * plane.line_size + _GRID] for y in range(_GRID)]
            at = float(frame.time or 0.0)
            if region is None:
                levels.append(_Level(at, sum(map(sum, rows)) / _GRID**2, 0.0, _spread(rows)))
                continue
            core = [row[left + 1 : right - 1] for row in rows[top + 1 : bottom - 1]]
            edge = [row[max(left - 1, 0) : right + 1] for row in rows[max(top - 1, 0) : bottom + 1]]
            rest = sum(map(sum, rows)) - sum(map(sum, edge))
            rest_cells = max(_GRID**2 - sum(map(len, edge)), 1)
            inside = sum(map(sum, core)) / sum(map(len, core))
            levels.append(_Level(at, inside, rest / rest_cells, _spread(core)))
    return levels


def _spread(rows: Sequence[bytes]) -> int:
    return max(map(max, rows)) - min(map(min, rows))


def _cells(region: Region | None) -> tuple[int, int, int, int]:
    """``region`` in grid cells (the whole grid for None); each way at least 3 cells, so one
    is left when the edges are taken off."""
    left, top, right, bottom = (round(edge * _GRID) for edge in region or (0, 0, 1, 1))
    if not (0 <= left < right - 2 <= _GRID - 2 and 0 <= top < bottom - 2 <= _GRID - 2):
        raise ValueError(f"a region needs at least 3 of {_GRID} cells each way: {region!r}")
    return left, top, right, bottom


def beep_onsets(path: Path) -> list[float]:
    """Times of the first loud sample of each beep, to the sample."""
    onsets: list[float] = []
    last_loud = -1.0
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        for frame in container.decode(audio=0):
            for chunk in resampler.resample(frame):
                base = float(chunk.time or 0.0)
                samples = array.array("h", bytes(chunk.planes[0]))[: chunk.samples]
                for index, value in enumerate(samples):
                    if abs(value) > _LOUD:
                        at = base + index / 48000
                        if at - last_loud > _QUIET_GAP_S:
                            onsets.append(at)
                        last_loud = at
    return onsets


class Mark(NamedTuple):
    """One sync mark as a file shows it: the beep's onset and the nearest flash's onset."""

    beep_s: float
    flash_s: float

    @property
    def offset_s(self) -> float:
        """How late the sound is (negative: early), seconds."""
        return self.beep_s - self.flash_s


def sync_offsets(path: Path, region: Region | None = None) -> list[Mark]:
    """Every beep of ``path`` with the flash onset nearest it (:func:`flash_onsets` in
    ``region``), in order; ``[m.offset_s for m in ...]`` is how far the sound is off at each
    mark. No flash at all is an assertion error."""
    flashes = flash_onsets(path, region)
    assert flashes, f"no flash found in {path.name}"
    marks: list[Mark] = []
    for beep in beep_onsets(path):
        at = bisect.bisect_left(flashes, beep)
        nearest = min(flashes[max(at - 1, 0) : at + 1], key=lambda flash: abs(flash - beep))
        marks.append(Mark(beep, nearest))
    return marks


def scene_spans(
    scenes: Sequence[float], *, duration_s: float, fps: float
) -> list[tuple[float, float]]:
    """The start and end of each scene of ``synthetic_clip_command(..., scenes=scenes)``: each
    cut rounded to the nearest frame at ``fps``, as the clip has it."""
    cuts = [round(cut * fps) / fps for cut in scenes]
    bounds = [0.0, *cuts, duration_s]
    return list(pairwise(bounds))


def scene_of(at_s: float, spans: Sequence[tuple[float, float]]) -> int:
    """The index of the scene of ``spans`` (:func:`scene_spans`) that shows at ``at_s``."""
    for index, (_, end) in enumerate(spans):
        if at_s < end:
            return index
    return len(spans) - 1


_PTS_TIME = re.compile(r"pts_time:\s*([0-9.]+)")


def scene_cuts(ffmpeg: Path, path: Path, *, threshold: float = 0.3) -> list[float]:
    """Where ffmpeg's scene detector finds a cut in ``path``: the times of the frames whose
    scene score (``select='gt(scene,T)'``) is over ``threshold``."""
    if not 0 < threshold < 1:  # NaN too
        raise ValueError(f"a scene threshold is between 0 and 1, got {threshold!r}")
    graph = f"select='gt(scene,{threshold:g})',metadata=print:file=-"
    argv = [
        str(ffmpeg), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
        "-i", str(path.resolve()), "-map", "0:v:0", "-vf", graph, "-f", "null", "-",
    ]  # fmt: skip
    printed = run(argv, timeout_s=300).stdout_text
    return [float(found) for found in _PTS_TIME.findall(printed)]


def audio_seconds(path: Path) -> float:
    """How long the first audio stream lasts, by its decoded samples."""
    total = 0
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in container.decode(stream):
            total += frame.samples
    return total / rate


def render_result(
    tools: FFmpegTools,
    conformed: Path,
    output: Path,
    *,
    extra: Sequence[FilterStep] = (),
    keep_audio: bool = False,
) -> Path:
    """What the service would return for ``conformed``: 24 fps H.264, no sound unless asked,
    with the ``extra`` filters (a trim, a pad) after a plain look."""
    info = probe(conformed)
    argv = render_command(
        tools.ffmpeg,
        conformed,
        output,
        filters=[("hue", {"s": 0}), *extra],
        width=info.display_width,
        height=info.display_height,
        fps=24,
        keep_audio=keep_audio,
        preset="ultrafast",
    )
    run(argv, timeout_s=120)
    return output


_GENERATIONS = "/v2/video/generations"


def create_at_standin(standin: StandIn, clip: Path, **fields: object) -> httpx.Response:
    """POST ``clip`` as a data URI to the stand-in's create endpoint; its answer."""
    with _client(standin) as http:
        return http.post(_GENERATIONS, json=_body(clip, fields))


def edit_at_standin(standin: StandIn, clip: Path, result: Path, **fields: object) -> Path:
    """Send ``clip`` to the stand-in, wait for the edit and download it to ``result``."""
    with _client(standin) as http:
        created = http.post(_GENERATIONS, json=_body(clip, fields))
        assert created.status_code == 200, created.text
        generation_id = created.json()["id"]
        deadline = time.monotonic() + 60
        while True:
            body = http.get(_GENERATIONS, params={"generation_id": generation_id}).json()
            if body["status"] in ("completed", "error") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert body["status"] == "completed", body
        answer = http.get(body["video"]["url"])
        assert answer.status_code == 200
    result.write_bytes(answer.content)
    return result


def _client(standin: StandIn) -> httpx.Client:
    headers = {"Authorization": f"Bearer {standin.key}"}
    return httpx.Client(base_url=standin.base_url, headers=headers, timeout=60)


def _body(clip: Path, fields: dict[str, object]) -> dict[str, object]:
    uri = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode("ascii")
    return {"model": DEFAULT_MODEL, "prompt": "make it snowy", "video_url": uri, **fields}
