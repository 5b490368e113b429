"""Bring a request's ``video_url`` onto local disk, as the real service downloads it.

A ``data:video/mp4;base64,`` (or quicktime) URI is decoded; an http(s) URL is streamed with httpx.
Either way the bytes land in a server-made file name inside the job's own folder, and no more than
``max_bytes`` are accepted, so ffmpeg only ever opens a local file the stand-in named.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from pathlib import Path

import httpx

_DATA_URI = re.compile(r"^data:video/(mp4|quicktime);base64,", re.IGNORECASE)
_CHUNK = 1024 * 1024
_MAX_REDIRECTS = 3


class InputRefused(Exception):
    """The video cannot be brought in; the message says why, in one line."""


def bring_in(url: str, folder: Path, *, max_bytes: int, timeout_s: float) -> Path:
    """Save the video at ``url`` as ``folder/input.mp4`` (or ``.mov``) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    match = _DATA_URI.match(url)
    if match:
        suffix = ".mov" if match.group(1).lower() == "quicktime" else ".mp4"
        return _from_data_uri(url[match.end() :], folder / f"input{suffix}", max_bytes)
    if url.startswith(("https://", "http://")):
        return _download(url, folder / "input.mp4", max_bytes, timeout_s)
    raise InputRefused("video_url must be an http(s) URL or a data:video/mp4;base64 URI")


def _from_data_uri(payload: str, target: Path, max_bytes: int) -> Path:
    # Base64 carries 3 bytes in 4 characters: refuse before decoding a huge payload.
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise InputRefused(f"size over the {max_bytes / 1e6:g} MB limit (data URI)")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputRefused("the data URI is not valid base64") from exc
    if not data:
        raise InputRefused("the data URI holds no bytes")
    if len(data) > max_bytes:
        raise InputRefused(f"size over the {max_bytes / 1e6:g} MB limit (data URI)")
    target.write_bytes(data)
    return target


def _download(url: str, target: Path, max_bytes: int, timeout_s: float) -> Path:
    deadline = time.monotonic() + timeout_s
    received = 0
    try:
        with (
            httpx.Client(
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=True,
                max_redirects=_MAX_REDIRECTS,
            ) as client,
            client.stream("GET", url) as answer,
        ):
            if answer.status_code != 200:
                raise InputRefused(f"downloading video_url answered HTTP {answer.status_code}")
            declared = answer.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise InputRefused(f"size over the {max_bytes / 1e6:g} MB limit (Content-Length)")
            with target.open("wb") as out:
                for chunk in answer.iter_bytes(_CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise InputRefused(f"size over the {max_bytes / 1e6:g} MB limit")
                    if time.monotonic() > deadline:
                        raise InputRefused(f"downloading video_url took over {timeout_s:g} s")
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise InputRefused(f"video_url could not be downloaded ({type(exc).__name__})") from exc
    if received == 0:
        raise InputRefused("video_url answered an empty body")
    return target
