"""Every model of the registry, served by its own schema: each renders as that model does (length,
frame rate, size, sound), answers ``video`` in that model's shape, bills by its rule, and refuses
a body that breaks its schema (400 naming the field, no job)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reskin.media.probe import probe
from reskin.registry import aleph, kling, krea, luma, spec_for
from reskin.registry.options import OptionValue
from reskin.standin.server import StandIn

from .wire import GENERATIONS, Api, assert_error_body, data_uri, video_url

#: Nothing listens on the discard port: a create that gets past the body fails on its download.
UNREACHABLE = "http://127.0.0.1:9/never-fetched.mp4"


@dataclass(frozen=True)
class Case:
    """One create through the registry's own body builder, and the result that model gives."""

    model: str
    #: ``make_clip`` parameters of the input (each within the model's limits, small and short).
    clip: dict[str, Any]
    options: dict[str, OptionValue]
    keep_audio: bool
    #: What comes back: seconds, fps, width x height, sound, ``video`` as a list, credits.
    duration_s: float
    fps: float
    size: tuple[int, int]
    sound: bool
    listed: bool
    credits: int
    prompt: str = "make it snowy"


CASES: dict[str, Case] = {
    "kling: same length, 24 fps, the box, sound kept": Case(
        kling.ID,
        {"fps": 30, "audio": True},  # 720x720, 3 s: the clip test_results.py makes too
        {"provider": "kling"},
        keep_audio=True,
        duration_s=3.0,
        fps=24.0,
        size=(720, 720),
        sound=True,
        listed=False,
        credits=300,
    ),
    "aleph: only the first 5 s, at frame_size, silent": Case(
        aleph.ID,
        {"width": 480, "height": 480, "duration_s": 5.04, "audio": True},
        {"frame_size": "640:480", "seed": 7},
        keep_audio=False,
        duration_s=5.0,
        fps=24.0,
        size=(640, 480),
        sound=False,
        listed=True,
        credits=500,
    ),
    "aleph: frame_size defaults to 1280:720, prompt at its 1000 limit": Case(
        aleph.ID,
        {"width": 480, "height": 480, "duration_s": 1.0, "audio": False},
        {},
        keep_audio=False,
        duration_s=1.0,
        fps=24.0,
        size=(1280, 720),
        sound=False,
        listed=True,
        credits=500,  # billed as 5 s whatever the length
        prompt="snow " * 200,
    ),
    "luma: same length, 24 fps, the shape at resolution, silent": Case(
        luma.ID,
        {"width": 480, "height": 360, "duration_s": 2.0, "audio": True},
        {"resolution": "540p"},
        keep_audio=False,
        duration_s=2.0,
        fps=24.0,
        size=(720, 540),
        sound=False,
        listed=False,
        credits=200,
    ),
    "krea: same length, 16 fps, 1280x720, silent": Case(
        krea.ID,
        {"width": 640, "height": 360, "duration_s": 2.0, "audio": True},
        {"strength": 0.3, "seed": 3, "enable_prompt_expansion": False},
        keep_audio=False,
        duration_s=2.0,
        fps=16.0,
        size=(1280, 720),
        sound=False,
        listed=False,
        credits=200,
    ),
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_each_model_renders_and_answers_as_it_does(
    standin: StandIn, api: Api, make_clip: Callable[..., Path], tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    clip = make_clip(**case.clip)
    request = spec_for(case.model).create_request(
        prompt=case.prompt,
        video_url=data_uri(clip),
        options=case.options,
        keep_audio=case.keep_audio,
    )

    created = api.http.post(GENERATIONS, json=request.body())

    assert created.status_code == 200, created.text
    assert created.json()["id"].endswith(f":{case.model}")
    assert created.json()["video"] is None
    body = api.wait(created.json()["id"])
    assert body["status"] == "completed", body
    if case.listed:
        assert isinstance(body["video"], list)
        assert len(body["video"]) == 1
    else:
        assert set(body["video"]) == {"url"}
    assert body["meta"] == {"usage": {"credits_used": case.credits}}
    answer = api.http.get(video_url(body))
    assert answer.status_code == 200
    result = tmp_path / "result.mp4"
    result.write_bytes(answer.content)
    info = probe(result)
    assert (info.video_codec, info.pix_fmt, info.variable_fps) == ("h264", "yuv420p", False)
    assert info.duration_s == pytest.approx(case.duration_s, abs=0.02)
    assert info.fps == pytest.approx(case.fps)
    assert (info.width, info.height) == case.size
    assert info.has_audio is case.sound
    stats = standin.stats()
    # renders_done is not compared: a render of an earlier test on this shared stand-in may
    # finish after its counters were reset; the result probed above is this job's render.
    assert (stats.jobs_accepted, stats.jobs_refused) == (1, 0)


def _body(model: str, **changes: object) -> dict[str, object]:
    """A body ``model`` accepts (as the registry builds it) with ``changes``; a ``None`` drops
    a field."""
    body = spec_for(model).create_request(prompt="snow", video_url=UNREACHABLE).body()
    body.update(changes)
    return {name: value for name, value in body.items() if value is not None}


REFUSALS: dict[str, tuple[str, dict[str, object], str]] = {
    "luma takes no image_list": (luma.ID, {"image_list": ["https://x/a.png"]}, "image_list"),
    "luma takes no keep_audio": (luma.ID, {"keep_audio": True}, "keep_audio"),
    "luma type video would generate": (luma.ID, {"type": "video"}, "type"),
    "luma resolution 4k": (luma.ID, {"resolution": "4k"}, "resolution"),
    "krea boolean as a string": (
        krea.ID,
        {"enable_prompt_expansion": "true"},
        "enable_prompt_expansion",
    ),
    "krea strength 1.5": (krea.ID, {"strength": 1.5}, "strength"),
    "krea strength as a string": (krea.ID, {"strength": "0.5"}, "strength"),
    "krea seed -1": (krea.ID, {"seed": -1}, "seed"),
    "krea takes no frame_size": (krea.ID, {"frame_size": "1280:720"}, "frame_size"),
    "aleph seed -1": (aleph.ID, {"seed": -1}, "seed"),
    "aleph seed over 2**32-1": (aleph.ID, {"seed": 4294967296}, "seed"),
    "aleph frame_size 1:1": (aleph.ID, {"frame_size": "1:1"}, "frame_size"),
    "aleph prompt of 1001": (aleph.ID, {"prompt": "x" * 1001}, "prompt"),
    "aleph takes no keep_audio": (aleph.ID, {"keep_audio": False}, "keep_audio"),
    "aleph references as bare URLs": (aleph.ID, {"references": ["https://x/a.png"]}, "references"),
    "aleph duration 10": (aleph.ID, {"duration": 10}, "duration"),
    "kling takes no strength": (kling.ID, {"strength": 0.5}, "strength"),
    "kling prompt of 2501": (kling.ID, {"prompt": "x" * 2501}, "prompt"),
    "no prompt": (krea.ID, {"prompt": None}, "prompt"),
}


@pytest.mark.parametrize("name", list(REFUSALS), ids=list(REFUSALS))
def test_each_model_refuses_what_its_schema_does_naming_the_field(
    standin: StandIn, api: Api, name: str
) -> None:
    model, changes, field = REFUSALS[name]
    jobs_before = len(standin.service.jobs)

    answer = api.http.post(GENERATIONS, json=_body(model, **changes))

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"].startswith(f"{field}: "), error["message"]
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_refused, stats.jobs_accepted) == (1, 1, 0)
    assert len(standin.service.jobs) == jobs_before


def test_a_refusal_names_the_field_in_the_wild_shape_too(standin: StandIn, api: Api) -> None:
    standin.set_faults(detail_errors=True)

    answer = api.http.post(GENERATIONS, json=_body(krea.ID, enable_prompt_expansion="true"))

    assert answer.status_code == 400
    (item,) = answer.json()["detail"]
    assert item["loc"] == ["body", "enable_prompt_expansion"]


@pytest.mark.parametrize("model", [kling.ID, aleph.ID, luma.ID, krea.ID])
def test_each_models_own_body_gets_past_the_schema_to_the_video(
    standin: StandIn, api: Api, model: str
) -> None:
    # The control of the refusals above: the same bodies unchanged fail only on their video.
    answer = api.http.post(GENERATIONS, json=_body(model))

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"].startswith("video_url: video_url could not be downloaded")
    assert standin.stats().jobs_accepted == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_a_wrong_method_is_405_naming_get_and_post(standin: StandIn, api: Api, method: str) -> None:
    answer = api.http.request(method, GENERATIONS, json=_body(kling.ID))

    assert_error_body(answer, 405, GENERATIONS)
    assert {part.strip() for part in answer.headers["allow"].split(",")} == {"GET", "POST"}
    stats = standin.stats()
    assert (stats.create_calls, stats.fetch_calls, stats.jobs_accepted) == (0, 0, 0)
