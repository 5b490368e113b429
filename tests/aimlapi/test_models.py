from __future__ import annotations

import json

import pytest

from reskin.aimlapi.models import (
    CreateRequest,
    JobState,
    parse_error_body,
    parse_generation,
    parse_state,
)
from reskin.registry import spec_for
from reskin.registry.spec import BodyError

MODEL = "klingai/video-o1-video-to-video-edit"
KLING = spec_for(MODEL)


def request(**overrides: object) -> CreateRequest:
    """A create body for Kling as the service reads it (the stand-in's check)."""
    fields: dict[str, object] = {
        "model": MODEL,
        "prompt": "make it snow",
        "video_url": "https://example.test/clip.mp4",
    }
    fields.update(overrides)
    return KLING.read_body(fields)


def test_body_leaves_out_unset_fields_and_uses_image_list():
    body = KLING.create_request(
        prompt="make it snow",
        video_url="https://example.test/clip.mp4",
        references=["https://example.test/a.png"],
        keep_audio=True,
    ).body()
    assert body == {
        "model": MODEL,
        "prompt": "make it snow",
        "video_url": "https://example.test/clip.mp4",
        "image_list": ["https://example.test/a.png"],
        "keep_audio": True,
    }
    assert "image_urls" not in body


@pytest.mark.parametrize(
    "overrides",
    [
        {"prompt": ""},
        {"prompt": "   "},
        {"prompt": "x" * 2501},
        {"video_url": "file:///etc/passwd"},
        {"video_url": "data:text/plain;base64,aGk="},
        {"image_list": []},
        {"image_list": [f"https://example.test/{i}.png" for i in range(5)]},
        {"image_list": ["ftp://example.test/a.png"]},
        {"provider": "replicate"},
        {"keep_audio": "true"},
        {"elements": [{"frontal_image_url": "https://x.test/f.png", "reference_image_urls": []}]},
        {"unexpected": 1},
    ],
)
def test_invalid_requests_are_refused(overrides):
    with pytest.raises(BodyError):
        request(**overrides)


def test_prompt_of_2500_chars_and_data_uri_are_accepted():
    assert len(request(prompt="y" * 2500).prompt) == 2500
    assert request(video_url="data:video/mp4;base64,AAAA").video_url == "data:video/mp4;base64,AAAA"


def test_provider_is_case_insensitive():
    assert request(provider="KLING").fields["provider"] == "kling"
    assert KLING.read_options({"provider": "FAL"}) == {"provider": "fal"}


def test_repr_hides_the_video_payload():
    payload = "data:video/mp4;base64," + "QUJD" * 1000
    assert "QUJD" not in repr(request(video_url=payload))


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("queued", JobState.QUEUED),
        ("generating", JobState.GENERATING),
        ("COMPLETED", JobState.COMPLETED),
        ("error", JobState.ERROR),
        ("waiting", JobState.UNKNOWN),
        ("active", JobState.UNKNOWN),
        ("unknown", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
    ],
)
def test_states_form_a_closed_set(word, state):
    assert parse_state(word) is state


def test_only_completed_and_error_are_terminal():
    assert {s for s in JobState if s.terminal} == {JobState.COMPLETED, JobState.ERROR}


def test_generation_parses_the_documented_shape():
    gen = parse_generation(
        json.dumps(
            {
                "id": f"abc:{MODEL}",
                "status": "completed",
                "video": {"url": "https://cdn.test/v.mp4"},
                "error": None,
                "meta": {"usage": {"credits_used": 120}},
            }
        )
    )
    assert gen.state is JobState.COMPLETED
    assert gen.video_url == "https://cdn.test/v.mp4"
    assert gen.credits_used == 120


def test_generation_tolerates_nulls_extras_and_a_string_error():
    gen = parse_generation('{"id": "x", "status": "error", "error": "boom", "new_field": 1}')
    assert gen.error is not None
    assert gen.error.message == "boom"
    assert gen.video_url is None
    assert gen.credits_used is None


@pytest.mark.parametrize("text", ["not json", '{"status": "queued"}', "[]", '{"id": ""}'])
def test_generation_without_id_or_status_is_rejected(text):
    with pytest.raises(ValueError, match=r"\S"):
        parse_generation(text)


def test_error_body_documented_shape():
    body = parse_error_body(
        json.dumps(
            {
                "message": "Insufficient credits",
                "path": "/v2/video/generations",
                "requestId": "req-1",
                "statusCode": 403,
                "timestamp": "2026-11-23T00:00:00Z",
            }
        )
    )
    assert (body.message, body.request_id, body.status_code) == (
        "Insufficient credits",
        "req-1",
        403,
    )
    assert body.path == "/v2/video/generations"


def test_error_body_detail_list_shape():
    body = parse_error_body(
        '{"detail": [{"loc": ["body", "prompt"], "msg": "too long", "type": "x", "input": "y"}]}'
    )
    assert body.message == "prompt: too long"
    assert body.request_id is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        ("", "(empty body)"),
        ('{"message": ["a", "b"]}', "a; b"),
        ('{"detail": "Not authenticated"}', "Not authenticated"),
        ('{"error": {"name": "x", "message": "y"}}', "y"),
    ],
)
def test_error_body_never_fails_and_keeps_raw(text, expected):
    body = parse_error_body(text)
    assert body.message == expected
    assert body.raw == text
