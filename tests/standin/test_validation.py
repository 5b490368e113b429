"""400s of the create call: the body (read by the model's spec) and each Kling limit on the video.

The other models' bodies and results: test_models.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reskin.registry import DEFAULT_MODEL
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn

from .wire import GENERATIONS, Api, assert_error_body, data_uri

# Each clip breaks exactly one limit; everything else is the smallest legal clip (720 px, 3 s,
# 24 fps, MP4). Messages name the limit and the value.
LIMIT_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "duration under 3 s": ({"duration_s": 2.5}, "duration 2.50 s is outside 3..10.05 s"),
    "duration over 10.05 s": ({"duration_s": 10.5}, "duration 10.50 s is outside 3..10.05 s"),
    "width under 720": ({"width": 704}, "width 704 px is outside 720..2160 px"),
    "width over 2160": ({"width": 2176}, "width 2176 px is outside 720..2160 px"),
    "height under 720": ({"height": 704}, "height 704 px is outside 720..2160 px"),
    "height over 2160": ({"height": 2176}, "height 2176 px is outside 720..2160 px"),
    "fps under 24": ({"fps": 20}, "frame rate 20.00 fps is outside 24..60 fps"),
    "fps over 60": ({"fps": 61}, "frame rate 61.00 fps is outside 24..60 fps"),
    "matroska": ({"container": "mkv"}, "container matroska is not accepted (MP4 or MOV only)"),
    # Coded 704x1280, displayed 1280x704: the limit applies to what plays.
    "rotated height": (
        {"width": 704, "height": 1280, "rotation": 90},
        "height 704 px is outside 720..2160 px",
    ),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES), ids=list(LIMIT_CASES))
def test_each_limit_is_refused_by_name_and_value(
    standin: StandIn, api: Api, make_clip: Callable[..., Path], case: str
) -> None:
    clip_options, expected = LIMIT_CASES[case]
    clip = make_clip(audio=False, **clip_options)
    media_type = "video/mp4"

    answer = api.create(data_uri(clip, media_type))

    body = assert_error_body(answer, 400, GENERATIONS)
    assert body["message"] == f"video_url: {expected}"
    assert standin.stats().jobs_accepted == 0
    assert standin.stats().jobs_refused == 1


def test_the_smallest_legal_clip_is_accepted(api: Api, make_clip: Callable[..., Path]) -> None:
    assert api.create(data_uri(make_clip(audio=False))).status_code == 200


def test_a_mov_data_uri_is_accepted(api: Api, make_clip: Callable[..., Path]) -> None:
    clip = make_clip(container="mov", audio=False)

    assert api.create(data_uri(clip, "video/quicktime")).status_code == 200


def _long_list(count: int) -> list[str]:
    return [f"https://example.com/ref{i}.png" for i in range(count)]


BODY_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown model": ({"model": "klingai/some-other-model"}, "model: unknown model"),
    "prompt too long": ({"prompt": "x" * 2501}, "prompt: prompt must be at most 2500 characters"),
    "empty prompt": ({"prompt": ""}, "prompt: prompt should not be empty"),
    "blank prompt": ({"prompt": "   "}, "prompt: prompt should not be empty"),
    "5 reference images": ({"image_list": _long_list(5)}, "image_list: image_list must hold at"),
    "ftp video_url": ({"video_url": "ftp://example.com/a.mp4"}, "video_url: video_url must be"),
    "image_urls, not image_list": (
        {"image_urls": ["https://x/a.png"]},
        "image_urls: property image_urls should not exist",
    ),
    "keep_audio not a bool": ({"keep_audio": "perhaps"}, "keep_audio: keep_audio must be a bool"),
}


@pytest.mark.parametrize("case", list(BODY_CASES), ids=list(BODY_CASES))
def test_bad_bodies_are_400_naming_the_field(
    standin: StandIn, api: Api, make_clip: Callable[..., Path], case: str
) -> None:
    changes, expected = BODY_CASES[case]
    video = changes.pop("video_url", None) or data_uri(make_clip(audio=False))
    body: dict[str, Any] = {"prompt": "snow", **changes}

    answer = api.create(video, **body)

    error = assert_error_body(answer, 400, GENERATIONS)
    assert expected in error["message"]
    assert standin.stats().jobs_accepted == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "snow"}, "model"),
        ({"model": DEFAULT_MODEL, "prompt": "snow"}, "video_url"),
        ({"model": DEFAULT_MODEL, "video_url": "https://x/a.mp4"}, "prompt"),
    ],
)
def test_missing_fields_are_400(api: Api, body: dict[str, str], field: str) -> None:
    answer = api.http.post(GENERATIONS, json=body)

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"] == f"{field}: {field} is required"


def test_detail_errors_switch_gives_the_wild_shape(standin: StandIn, api: Api) -> None:
    standin.set_faults(detail_errors=True)

    answer = api.create("data:video/mp4;base64,AAAA", prompt="x" * 2501)

    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"detail"}
    (item,) = body["detail"]
    assert set(item) == {"loc", "msg", "type", "input"}
    assert item["loc"] == ["body", "prompt"]
    assert item["type"] == "value_error"
    assert item["msg"] == "prompt must be at most 2500 characters"
    assert item["input"] is None  # a long input is not echoed
    assert answer.headers["x-request-id"]


def test_detail_errors_also_covers_the_video_limits(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    standin.set_faults(detail_errors=True)

    answer = api.create(data_uri(make_clip(audio=False, duration_s=2.5)))

    assert answer.status_code == 400
    (item,) = answer.json()["detail"]
    assert item["loc"] == ["body", "video_url"]
    assert "duration 2.50 s" in item["msg"]


@pytest.fixture(scope="module")
def small_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """A stand-in with 100 kB caps on inputs and uploads."""
    config = StandInConfig(
        queued_s=0.1,
        generating_s=0.1,
        render_preset="ultrafast",
        max_input_bytes=100_000,
        max_upload_bytes=100_000,
        work_dir=tmp_path_factory.mktemp("small-standin"),
    )
    with StandIn(config) as standin:
        yield standin


@pytest.fixture
def small_api(small_standin: StandIn) -> Iterator[Api]:
    small_standin.reset()
    headers = {"Authorization": f"Bearer {small_standin.key}"}
    with httpx.Client(base_url=small_standin.base_url, headers=headers, timeout=30) as http:
        yield Api(http)


def test_size_over_the_cap_is_refused_for_a_data_uri(
    small_api: Api, make_clip: Callable[..., Path]
) -> None:
    answer = small_api.create(data_uri(make_clip(audio=False)))

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"].startswith("video_url: size over the 0.1 MB limit")


def test_size_over_the_cap_is_refused_for_a_url(
    small_standin: StandIn, small_api: Api, api: Api, make_clip: Callable[..., Path]
) -> None:
    # The clip lives on the main stand-in's file server; the small one downloads it.
    clip = make_clip(audio=False)
    url = api.http.put("/files/big.mp4", content=clip.read_bytes()).json()["url"]

    answer = small_api.create(url)

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"].startswith("video_url: size over the 0.1 MB limit")
    assert small_standin.stats().jobs_refused == 1


def test_a_data_uri_over_the_cap_is_refused_before_decoding(small_api: Api) -> None:
    # 150 kB of zeros: over the 100 kB cap, though the body is within the transfer allowance.
    answer = small_api.create("data:video/mp4;base64," + "A" * 200_000)

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"] == "video_url: size over the 0.1 MB limit (data URI)"


def test_size_just_under_the_cap_reaches_the_probe(small_api: Api) -> None:
    # 1 kB of zeros: within the size cap, so the refusal comes from the probe.
    answer = small_api.create("data:video/mp4;base64," + "A" * 1368)

    error = assert_error_body(answer, 400, GENERATIONS)
    assert "not an MP4, MOV or Matroska video" in error["message"]


def test_upload_over_the_cap_is_413(small_api: Api) -> None:
    answer = small_api.http.put("/files/big.mp4", content=b"\0" * 100_001)

    assert_error_body(answer, 413, "/files/big.mp4")
