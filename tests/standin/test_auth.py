"""Bearer auth: which endpoints need the key, and what a refusal looks like."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn

from .wire import GENERATIONS, assert_error_body, data_uri


def _create_body(clip: Path) -> dict[str, str]:
    return {"model": DEFAULT_MODEL, "prompt": "snow", "video_url": data_uri(clip)}


def test_create_without_a_key_is_401_and_makes_no_job(
    standin: StandIn, anonymous: httpx.Client, make_clip: Callable[..., Path]
) -> None:
    answer = anonymous.post(GENERATIONS, json=_create_body(make_clip()))

    body = assert_error_body(answer, 401, GENERATIONS)
    assert "Missing API key" in body["message"]
    assert standin.stats().jobs_accepted == 0
    assert standin.stats().create_calls == 1


@pytest.mark.parametrize(
    "header", ["Bearer not-the-key-123", "Basic {key}", "Bearer", "{key}", "Bearer {key}x"]
)
def test_a_wrong_key_is_401_and_never_echoed(
    standin: StandIn, anonymous: httpx.Client, make_clip: Callable[..., Path], header: str
) -> None:
    presented = header.format(key=standin.key)

    answer = anonymous.post(
        GENERATIONS, json=_create_body(make_clip()), headers={"Authorization": presented}
    )

    body = assert_error_body(answer, 401, GENERATIONS)
    assert body["message"] == "Invalid API key"
    assert standin.key not in answer.text
    assert "not-the-key" not in answer.text
    assert standin.stats().jobs_accepted == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", GENERATIONS + "?generation_id=x"),
        ("GET", "/_standin/faults"),
        ("POST", "/_standin/faults"),
        ("GET", "/_standin/stats"),
        ("POST", "/_standin/reset"),
        ("POST", "/_standin/forget"),
        ("PUT", "/files/clip.mp4"),
    ],
)
def test_api_control_and_upload_need_the_key(
    anonymous: httpx.Client, method: str, path: str
) -> None:
    answer = anonymous.request(method, path, content=b"{}")

    assert_error_body(answer, 401, path.split("?")[0])


def test_the_right_key_is_accepted(standin: StandIn, anonymous: httpx.Client) -> None:
    answer = anonymous.get("/_standin/stats", headers={"Authorization": f"bearer {standin.key}"})

    assert answer.status_code == 200


def test_results_and_files_need_no_key(standin: StandIn, anonymous: httpx.Client) -> None:
    # Unknown names, but the answer is 404, not 401: like a CDN link, no key is asked.
    assert_error_body(anonymous.get("/results/nothing.mp4"), 404, "/results/nothing.mp4")
    assert_error_body(anonymous.get("/files/nothing.mp4"), 404, "/files/nothing.mp4")
