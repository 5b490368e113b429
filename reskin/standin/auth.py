"""Bearer-key check of the stand-in's API and control endpoints. The key is never echoed."""

from __future__ import annotations

from fastapi import Request

from reskin.standin.http_errors import ApiProblem
from reskin.standin.service import Service


def require_key(service: Service, request: Request) -> None:
    """Raise a 401 unless the request carries ``Authorization: Bearer <the stand-in's key>``."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if not header:
        raise ApiProblem(401, "Missing API key: send Authorization: Bearer <key>")
    if scheme.lower() != "bearer" or not service.key_matches(presented.strip()):
        raise ApiProblem(401, "Invalid API key")
