"""The stand-in's FastAPI application: routers and error handlers over one :class:`Service`.

========================================  =====  ============================================
endpoint                                  key    what
========================================  =====  ============================================
``POST /v2/video/generations``            yes    create a generation (``generations.py``)
``GET /v2/video/generations``             yes    fetch it: ``?generation_id=<id>``
``GET /results/{token}.mp4``              no     a finished result (``cdn.py``)
``PUT /files/{name}``                     yes    upload a file to serve by URL
``GET /files/{name}``                     no     an uploaded file
``GET|POST /_standin/faults``             yes    read or change faults (``control.py``)
``GET /_standin/stats``                   yes    counters
``POST /_standin/reset``                  yes    faults off, counters zero
========================================  =====  ============================================
"""

from __future__ import annotations

from fastapi import FastAPI

from reskin.standin.cdn import cdn_router
from reskin.standin.control import control_router
from reskin.standin.generations import generations_router
from reskin.standin.http_errors import install_handlers
from reskin.standin.service import Service


def build_app(service: Service) -> FastAPI:
    """The ASGI app serving ``service``."""
    # No /docs or /openapi.json: the real service has none, and unknown paths must answer 404.
    app = FastAPI(title="reskin stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    install_handlers(app, detail_errors=lambda: service.faults.current.detail_errors)
    app.include_router(generations_router(service))
    app.include_router(cdn_router(service))
    app.include_router(control_router(service))
    return app
