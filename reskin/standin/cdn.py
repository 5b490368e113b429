"""Downloads without a key, like the CDN links of the real service: results and uploaded files.

``GET /results/{token}.mp4`` serves a finished render with its Content-Length, or plays the
``expired_result`` (404) and ``cut_download`` (declares the full length, sends half, hangs up)
faults. ``PUT /files/{name}`` (key required) and ``GET /files/{name}`` are the upload server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from reskin.standin.auth import require_key
from reskin.standin.files import FileStore
from reskin.standin.http_errors import ApiProblem, DeliberateCut
from reskin.standin.service import Service

_NAME_RULE = (
    "name: use letters, digits, '_' and '-' (at most 100) and end in "
    ".mp4, .mov, .jpg, .jpeg or .png"
)


def cdn_router(service: Service) -> APIRouter:
    router = APIRouter()

    @router.get("/results/{token}.mp4")
    async def result(token: str) -> Response:
        service.counters.bump("result_downloads")
        job = service.jobs.by_token(token)
        if job is None or not job.result_ready:
            raise ApiProblem(404, "Result not found")
        if service.faults.take("expired_result"):
            raise ApiProblem(404, "Result not found: the link has expired")
        if service.faults.take("cut_download"):
            size = job.result.stat().st_size
            return StreamingResponse(
                _first_half(job.result, size),
                media_type="video/mp4",
                headers={"Content-Length": str(size)},
            )
        return FileResponse(job.result, media_type="video/mp4")

    @router.put("/files/{name}", status_code=201)
    async def upload(name: str, request: Request) -> JSONResponse:
        require_key(service, request)
        if not FileStore.valid_name(name):
            raise ApiProblem(400, _NAME_RULE)
        store = service.files
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > store.max_bytes:
            raise ApiProblem(413, f"File over the {store.max_bytes / 1e6:g} MB upload limit")
        path = store.new_path()
        try:
            size = await _save(request, path, store.max_bytes)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        store.publish(name, path)
        service.counters.bump("uploads")
        url = f"{request.base_url}files/{name}"
        return JSONResponse({"name": name, "url": url, "size_bytes": size}, status_code=201)

    @router.get("/files/{name}")
    async def download(name: str) -> FileResponse:
        path = service.files.path_of(name) if FileStore.valid_name(name) else None
        if path is None:
            raise ApiProblem(404, f"File {name} not found")
        return FileResponse(path, media_type=FileStore.media_type(name))

    return router


async def _save(request: Request, path: Path, max_bytes: int) -> int:
    size = 0
    async with await anyio.open_file(path, "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise ApiProblem(413, f"File over the {max_bytes / 1e6:g} MB upload limit")
            await out.write(chunk)
    if size == 0:
        raise ApiProblem(400, "The body is empty: send the file's bytes")
    return size


async def _first_half(path: Path, size: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as source:
        yield await source.read(size // 2)
    # Ending the body early makes the server drop the connection mid-response.
    raise DeliberateCut
