"""Pydantic models of the video-generation bodies in ``shared/API.md``.

Requests are strict (a bad request is refused here, before anything is paid for); answers are
parsed loosely, because the service's error objects do not always follow its own schema.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, ValidationError, field_validator

from reskin.storage.datauri import DataUri


class CreateRequest(BaseModel):
    """Body of ``POST /v2/video/generations``: the three fields every video-edit model takes,
    and the model's own ones (built and checked by its spec in :mod:`reskin.registry`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    # A URL, or the clip itself as a data URI read from its file only while the body is sent
    # (reskin.aimlapi.body); a data URI given as text is the service's view (the stand-in).
    # repr=False: a data URI is megabytes of base64 and has no place in logs or tracebacks.
    video_url: str | InstanceOf[DataUri] = Field(repr=False)
    fields: dict[str, Any] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body (a :class:`DataUri` in it is encoded as it is sent)."""
        return {
            "model": self.model,
            "prompt": self.prompt,
            "video_url": self.video_url,
            **self.fields,
        }


class JobState(StrEnum):
    """The closed set of states reskin acts on."""

    QUEUED = "queued"
    GENERATING = "generating"
    COMPLETED = "completed"
    ERROR = "error"
    # A word the documented model does not use ("waiting", "active" on sibling models, or a new
    # one). It is treated as still running, and the poll deadline still ends it.
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.ERROR)


def parse_state(word: str) -> JobState:
    """Map a status word of the service onto :class:`JobState`."""
    try:
        state = JobState(word.strip().lower())
    except ValueError:
        return JobState.UNKNOWN
    return JobState.UNKNOWN if state is JobState.UNKNOWN else state


class VideoRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str | None = None


def _video_loosely(value: object) -> object:
    """``video`` as models answer it: ``{"url"}``, a list of URLs (Aleph) or a list of
    ``{"url"}``; the first URL found, as ``{"url"}`` (None when there is none)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item:
                return {"url": item}
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                return item
        return None
    if isinstance(value, str):
        return {"url": value} if value else None
    return value


class JobError(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = ""
    message: str = ""


class Usage(BaseModel):
    model_config = ConfigDict(extra="allow")

    credits_used: float | None = None


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")

    usage: Usage | None = None


class Generation(BaseModel):
    """Answer of both the create and the fetch endpoint."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    status: str
    video: VideoRef | None = None
    error: JobError | None = None
    meta: Meta | None = None

    @field_validator("video", mode="before")
    @classmethod
    def _loose_video(cls, value: object) -> object:
        return _video_loosely(value)

    @field_validator("error", mode="before")
    @classmethod
    def _loose_error(cls, value: object) -> object:
        # Seen in the wild: a bare string instead of {"name", "message"}.
        if isinstance(value, str):
            return {"name": "error", "message": value}
        return value

    @property
    def state(self) -> JobState:
        return parse_state(self.status)

    @property
    def video_url(self) -> str | None:
        return self.video.url if self.video and self.video.url else None

    @property
    def credits_used(self) -> float | None:
        return self.meta.usage.credits_used if self.meta and self.meta.usage else None


class ErrorBody(BaseModel):
    """An HTTP error body, parsed loosely; ``raw`` keeps the text as it came."""

    message: str
    request_id: str | None = None
    path: str | None = None
    status_code: int | None = None
    raw: str = ""


def parse_error_body(text: str) -> ErrorBody:
    """Read the documented ``{message, path, requestId, statusCode, timestamp}`` body, or the
    ``{"detail": [...]}`` validation shape, or anything else, without ever failing."""
    raw = text[:4000]
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ErrorBody(message=" ".join(raw.split())[:300] or "(empty body)", raw=raw)
    if not isinstance(data, dict):
        return ErrorBody(message=str(data)[:300], raw=raw)
    message = _message_of(data)
    request_id = data.get("requestId") or data.get("request_id")
    status_code = data.get("statusCode")
    path = data.get("path")
    return ErrorBody(
        message=message,
        request_id=str(request_id) if request_id else None,
        path=str(path) if path else None,
        status_code=status_code if isinstance(status_code, int) else None,
        raw=raw,
    )


def _message_of(data: dict[str, Any]) -> str:
    message = data.get("message")
    if isinstance(message, list):  # NestJS-style validation: a list of strings
        return "; ".join(str(m) for m in message)
    if isinstance(message, str) and message:
        return message
    detail = data.get("detail")
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            else:
                parts.append(str(item))
        return "; ".join(parts) or "validation error"
    if isinstance(detail, str) and detail:
        return detail
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("name") or error)
    if isinstance(error, str) and error:
        return error
    return json.dumps(data)[:300]


def parse_generation(text: str) -> Generation:
    """Parse a create or fetch answer; raises ``ValueError`` with a short reason."""
    try:
        return Generation.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValueError(f"{where}: {first['msg']}") from None
