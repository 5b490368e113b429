"""Helpers to speak the stand-in's wire format in tests: create, poll, download, check errors."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reskin.registry import DEFAULT_MODEL
from reskin.standin.render import RenderTask

GENERATIONS = "/v2/video/generations"
TERMINAL = ("completed", "error")


def data_uri(path: Path, media_type: str = "video/mp4") -> str:
    return f"data:{media_type};base64," + base64.b64encode(path.read_bytes()).decode()


@dataclass
class Api:
    """A thin httpx wrapper that speaks the documented endpoints."""

    http: httpx.Client

    def create(
        self, video_url: str, prompt: str = "make it snowy", **fields: Any
    ) -> httpx.Response:
        body = {"model": DEFAULT_MODEL, "prompt": prompt, "video_url": video_url, **fields}
        return self.http.post(GENERATIONS, json=body)

    def create_from(self, clip: Path, prompt: str = "make it snowy", **fields: Any) -> str:
        """Create from a local clip (as a data URI); the generation id."""
        answer = self.create(data_uri(clip), prompt, **fields)
        assert answer.status_code == 200, answer.text
        generation_id: str = answer.json()["id"]
        return generation_id

    def fetch(self, generation_id: str) -> httpx.Response:
        return self.http.get(GENERATIONS, params={"generation_id": generation_id})

    def wait(self, generation_id: str, timeout_s: float = 60) -> dict[str, Any]:
        """Poll until a terminal status; the last answer."""
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self.fetch(generation_id)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            if body["status"] in TERMINAL or time.monotonic() > deadline:
                return body
            time.sleep(0.1)

    def result(self, generation_id: str, folder: Path) -> Path:
        """Wait for a completed generation and download its video."""
        body = self.wait(generation_id)
        assert body["status"] == "completed", body
        answer = self.http.get(video_url(body))
        assert answer.status_code == 200
        path = folder / f"{generation_id.split(':')[0]}.mp4"
        path.write_bytes(answer.content)
        return path


def video_url(body: dict[str, Any]) -> str:
    """The result URL of a completed answer, in either shape a model answers: ``{"url": ...}``
    or a list of one URL (Aleph)."""
    video = body["video"]
    url = video[0] if isinstance(video, list) else video["url"]
    assert isinstance(url, str), body
    return url


def assert_error_body(answer: httpx.Response, status: int, path: str) -> dict[str, Any]:
    """The documented error body, with its request id also in ``x-request-id``."""
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"message", "path", "requestId", "statusCode", "timestamp"}
    assert body["statusCode"] == status
    assert body["path"].split("?")[0] == path
    assert isinstance(body["message"], str)
    assert body["message"]
    assert answer.headers["x-request-id"] == body["requestId"]
    return body


@dataclass
class Recorder:
    """A renderer that renders nothing and records its tasks (the ``recording`` fixture's)."""

    tasks: list[RenderTask]

    def __call__(self, task: RenderTask) -> None:
        self.tasks.append(task)
