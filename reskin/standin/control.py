"""The stand-in's own control endpoints (key required), for tests and demos.

- ``GET /_standin/faults``: the live faults.
- ``POST /_standin/faults``: change some, e.g. ``{"create_429": 2, "retry_after_s": 1}``.
- ``GET /_standin/stats``: the counters.
- ``POST /_standin/reset``: every fault off, counters to zero (jobs and files stay).
- ``GET /_standin/jobs``: every job's ``accepted_at`` and earliest ``completes_at``, on the
  machine's monotonic clock (``time.monotonic`` in any process): benchmarks measure how late
  a client saw each job completed.
- ``POST /_standin/forget``: drop every job, as a restart or a purge of the real service does
  (fetches and result links of earlier jobs then answer 404).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from reskin.standin.auth import require_key
from reskin.standin.http_errors import ApiProblem
from reskin.standin.service import Service

CONTROL_PREFIX = "/_standin"


def control_router(service: Service) -> APIRouter:
    router = APIRouter(prefix=CONTROL_PREFIX)

    @router.get("/faults")
    async def faults(request: Request) -> dict[str, Any]:
        require_key(service, request)
        return service.faults.current.model_dump()

    @router.post("/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        require_key(service, request)
        try:
            changes = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiProblem(400, "Request body is not valid JSON") from exc
        if not isinstance(changes, dict):
            raise ApiProblem(400, "Send a JSON object of faults to change")
        try:
            return service.faults.update(changes).model_dump()
        except ValidationError as exc:
            parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            raise ApiProblem(400, "; ".join(parts)) from exc

    @router.get("/stats")
    async def stats(request: Request) -> dict[str, int]:
        require_key(service, request)
        return service.counters.snapshot().as_dict()

    @router.get("/jobs")
    async def jobs(request: Request) -> dict[str, dict[str, float]]:
        require_key(service, request)
        return {
            job.id: {"accepted_at": job.accepted_at, "completes_at": job.completes_at}
            for job in service.jobs.all()
        }

    @router.post("/forget")
    async def forget(request: Request) -> dict[str, int]:
        require_key(service, request)
        return {"forgotten": service.jobs.forget()}

    @router.post("/reset")
    async def reset(request: Request) -> dict[str, Any]:
        require_key(service, request)
        service.reset()
        return {
            "faults": service.faults.current.model_dump(),
            "stats": service.counters.snapshot().as_dict(),
        }

    return router
