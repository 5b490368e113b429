"""Measuring helpers for the conform and sound tests: packet hashes, sync marks, the stand-in.

A clip made with ``synthetic_clip_command(..., sync_marks=True)`` turns white and beeps at each
whole second; :func:`flash_onsets` and :func:`beep_onsets` find where each mark starts, in the
picture and in the sound, so a test can compare them.
"""

from __future__ import annotations

import array
import base64
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

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


def video_packet_hashes(path: Path) -> list[str]:
    """A hash of every video packet, in file order: equal lists mean no re-encode."""
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        stream = container.streams.video[0]
        return [hashlib.sha256(bytes(p)).hexdigest() for p in container.demux(stream) if p.size]


def flash_onsets(path: Path) -> list[float]:
    """Times of the frames where the picture turns bright after being dark."""
    levels: list[tuple[float, float]] = []
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        for frame in container.decode(video=0):
            plane = frame.reformat(width=16, height=16, format="gray").planes[0]
            data = bytes(plane)
            values = [data[y * plane.line_size + x] for y in range(16) for x in range(16)]
            levels.append((float(frame.time or 0.0), sum(values) / len(values)))
    middle = (max(v for _, v in levels) + min(v for _, v in levels)) / 2
    onsets: list[float] = []
    bright = False
    for at, level in levels:
        if level > middle and not bright:
            onsets.append(at)
        bright = level > middle
    return onsets


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
