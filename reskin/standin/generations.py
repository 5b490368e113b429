"""``POST`` and ``GET /v2/video/generations``: the two documented endpoints, with their faults.

Create checks, in order: auth, the ``out_of_credits``, ``create_429`` and ``create_5xx`` faults
(answered before any acceptance, as a real billing check, rate limiter or gateway would), the
body, then the video (in a worker thread: download, probe, limits). Only then is a job recorded;
``lost_answer`` delays the answer of an already accepted job until the client has given up.
"""

from __future__ import annotations

import asyncio
import json
import time

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reskin.aimlapi.models import CreateRequest
from reskin.registry import MODELS
from reskin.registry.spec import BodyError
from reskin.standin.auth import require_key
from reskin.standin.http_errors import ApiProblem, bad_request
from reskin.standin.jobs import Job, generation_body
from reskin.standin.service import Service

GENERATIONS_PATH = "/v2/video/generations"
#: JSON around a data URI of the largest accepted video.
_BODY_OVERHEAD = 1024 * 1024


def generations_router(service: Service) -> APIRouter:
    router = APIRouter()

    @router.post(GENERATIONS_PATH)
    async def create(request: Request) -> JSONResponse:
        service.counters.bump("create_calls")
        require_key(service, request)
        faults = service.faults
        if faults.current.out_of_credits:
            raise ApiProblem(403, "Insufficient credits: top up the account to continue")
        if faults.take("create_429"):
            raise ApiProblem(
                429,
                "Too many requests: the concurrency limit is reached, try again later",
                headers={"Retry-After": str(faults.current.retry_after_s)},
            )
        if faults.take("create_5xx"):
            status = faults.current.status_5xx
            raise ApiProblem(status, f"Service unavailable (stand-in fault create_5xx, {status})")
        try:
            payload = await _read_json(request, service.config.max_input_bytes)
            body = read_body(payload)
            job = await anyio.to_thread.run_sync(service.accept, body)
        except ApiProblem:
            service.counters.bump("jobs_refused")
            raise
        answer = _answer(request, job)
        if faults.take("lost_answer"):
            await _linger(request, faults.current.lost_answer_delay_s)
        return answer

    @router.get(GENERATIONS_PATH)
    async def fetch(request: Request, generation_id: str | None = None) -> JSONResponse:
        service.counters.bump("fetch_calls")
        require_key(service, request)
        if service.faults.take("fetch_5xx"):
            status = service.faults.current.status_5xx
            raise ApiProblem(status, f"Service unavailable (stand-in fault fetch_5xx, {status})")
        if not generation_id:
            raise ApiProblem(400, "generation_id: is required")
        job = service.jobs.get(generation_id)
        if job is None:
            raise ApiProblem(404, f"Generation {generation_id} not found")
        return _answer(request, job)

    return router


def read_body(payload: object) -> CreateRequest:
    """The body as the named model's own schema reads it (unknown fields, out-of-range
    options, a prompt over that model's limit and strings for booleans are refused)."""
    if not isinstance(payload, dict):
        raise ApiProblem(400, "Request body must be a JSON object")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("model is required", field="model")
    spec = MODELS.get(model)
    if spec is None:
        raise bad_request(f"unknown model {model!r}", field="model")
    try:
        return spec.read_body(payload)
    except BodyError as exc:
        raise bad_request(str(exc), field=exc.field) from exc


def _answer(request: Request, job: Job) -> JSONResponse:
    result_url = f"{request.base_url}results/{job.token}.mp4"
    return JSONResponse(generation_body(job, job.snapshot(time.monotonic()), result_url))


async def _read_json(request: Request, max_video_bytes: int) -> object:
    # Only video_url can make a body big (a data URI: 4 characters per 3 bytes), so a body past
    # this size breaks the video size limit, and is refused as such without being buffered.
    limit = max_video_bytes * 4 // 3 + _BODY_OVERHEAD
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise bad_request(
                f"size over the {max_video_bytes / 1e6:g} MB limit (request body too large)",
                field="video_url",
            )
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiProblem(400, "Request body is not valid JSON") from exc


async def _linger(request: Request, delay_s: float) -> None:
    """Hold the answer back for ``delay_s``, or until the client hangs up."""
    deadline = time.monotonic() + delay_s
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)
