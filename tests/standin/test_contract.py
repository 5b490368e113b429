"""The documented shapes of create, fetch and error answers, and the life of a job."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

from reskin.aimlapi.models import Generation, JobState, parse_error_body
from reskin.registry import DEFAULT_MODEL
from reskin.standin.server import StandIn

from .wire import GENERATIONS, Api, assert_error_body, data_uri

GENERATION_KEYS = {"id", "status", "video", "error", "meta"}


def test_create_answers_a_queued_generation(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    answer = api.create(data_uri(make_clip()))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == GENERATION_KEYS
    job_uuid, _, model = body["id"].partition(":")
    assert uuid.UUID(job_uuid)
    assert model == DEFAULT_MODEL
    assert body["status"] == "queued"
    assert (body["video"], body["error"], body["meta"]) == (None, None, None)
    assert Generation.model_validate(body).state is JobState.QUEUED
    assert standin.stats().jobs_accepted == 1


def test_a_job_goes_queued_generating_completed(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    started = time.monotonic()
    generation_id = api.create_from(make_clip())
    seen: list[tuple[str, float]] = []
    while not seen or seen[-1][0] not in ("completed", "error"):
        answer = api.fetch(generation_id)  # httpx URL-encodes the ':' and '/' of the id
        assert answer.status_code == 200
        body = answer.json()
        assert set(body) == GENERATION_KEYS
        assert body["id"] == generation_id
        seen.append((body["status"], time.monotonic() - started))
        assert seen[-1][1] < 30, seen
        time.sleep(0.05)

    order = [status for status, _ in seen]
    assert order[0] == "queued"
    assert "generating" in order
    assert order[-1] == "completed"
    assert order == sorted(order, key=["queued", "generating", "completed"].index)
    assert seen[-1][1] >= 0.2 + 0.5  # queued_s + generating_s of the test stand-in
    assert body["video"]["url"].startswith(f"{standin.base_url}/results/")
    assert body["meta"] == {"usage": {"credits_used": 300}}  # ceil(3 s) * 100
    assert body["error"] is None
    generation = Generation.model_validate(body)
    assert generation.state is JobState.COMPLETED
    assert generation.credits_used == 300
    assert standin.stats().fetch_calls == len(seen)


def test_an_unknown_generation_is_404(api: Api) -> None:
    unknown = f"{uuid.uuid4()}:{DEFAULT_MODEL}"

    body = assert_error_body(api.fetch(unknown), 404, GENERATIONS)

    assert unknown in body["message"]


def test_fetch_without_an_id_is_400(api: Api) -> None:
    body = assert_error_body(api.http.get(GENERATIONS), 400, GENERATIONS)

    assert "generation_id" in body["message"]


def test_an_unknown_endpoint_is_404_with_the_documented_body(api: Api) -> None:
    assert_error_body(api.http.get("/v2/nothing/here"), 404, "/v2/nothing/here")
    assert_error_body(api.http.get("/docs"), 404, "/docs")


def test_error_bodies_carry_a_fresh_request_id_and_a_timestamp(api: Api) -> None:
    first = assert_error_body(api.http.get("/nothing"), 404, "/nothing")
    second = assert_error_body(api.http.get("/nothing"), 404, "/nothing")

    assert first["requestId"] != second["requestId"]
    assert uuid.UUID(first["requestId"])
    stamp = datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    assert stamp.tzinfo is not None
    assert first["timestamp"].endswith("Z")


def test_error_bodies_parse_with_the_clients_parser(api: Api) -> None:
    answer = api.http.get("/nothing")

    parsed = parse_error_body(answer.text)

    assert parsed.status_code == 404
    assert parsed.request_id == answer.headers["x-request-id"]
    assert parsed.path == "/nothing"


def test_a_body_that_is_not_json_is_400(api: Api) -> None:
    answer = api.http.post(
        GENERATIONS, content=b"{not json", headers={"Content-Type": "application/json"}
    )

    body = assert_error_body(answer, 400, GENERATIONS)
    assert "JSON" in body["message"]


def test_the_create_route_refuses_other_methods(api: Api) -> None:
    answer = api.http.delete(GENERATIONS)

    assert_error_body(answer, 405, GENERATIONS)


def test_stand_in_binds_a_real_port_and_frees_it() -> None:
    with StandIn() as first:
        assert first.port > 0
        assert first.base_url == f"http://127.0.0.1:{first.port}"
        answer = httpx.get(
            f"{first.base_url}/_standin/stats", headers={"Authorization": f"Bearer {first.key}"}
        )
        assert answer.status_code == 200
        port = first.port
    with StandIn(port=port) as second:  # the port is free again
        assert second.port == port
        assert second.key != first.key  # each start makes its own key
