"""Pydantic models of the video-generation bodies in ``shared/API.md``.

Requests are strict (a bad request is refused here, before anything is paid for); answers are
parsed loosely, because the service's error objects do not always follow its own schema.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_PROMPT_CHARS = 2500
# The spec allows 7 reference images, but Kling accepts at most 4 alongside a video (API.md).
MAX_REFERENCE_IMAGES = 4
MAX_ELEMENTS = 4

_VIDEO_DATA_URI = re.compile(r"^data:video/(mp4|quicktime);base64,", re.IGNORECASE)
_IMAGE_DATA_URI = re.compile(r"^data:image/(png|jpeg);base64,", re.IGNORECASE)


def _check_media_url(value: str, *, data_uri: re.Pattern[str], kind: str) -> str:
    if value.startswith(("https://", "http://")):
        return value
    if data_uri.match(value):
        return value
    raise ValueError(f"must be an http(s) URL or a data:{kind};base64 URI")


class Element(BaseModel):
    """A character or object the model should keep."""

    model_config = ConfigDict(extra="forbid")

    frontal_image_url: str
    reference_image_urls: list[str] = Field(min_length=1, max_length=4)


class CreateRequest(BaseModel):
    """Body of ``POST /v2/video/generations``."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    # repr=False: a data URI is megabytes of base64 and has no place in logs or tracebacks.
    video_url: str = Field(repr=False)
    image_list: list[str] | None = Field(
        default=None, min_length=1, max_length=MAX_REFERENCE_IMAGES
    )
    elements: list[Element] | None = Field(default=None, max_length=MAX_ELEMENTS)
    keep_audio: bool = False
    provider: Literal["auto", "kling", "klingai", "fal"] | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("video_url")
    @classmethod
    def _video_url(cls, value: str) -> str:
        return _check_media_url(value, data_uri=_VIDEO_DATA_URI, kind="video/mp4")

    @field_validator("image_list")
    @classmethod
    def _image_urls(cls, value: list[str] | None) -> list[str] | None:
        for url in value or []:
            _check_media_url(url, data_uri=_IMAGE_DATA_URI, kind="image/png")
        return value

    @field_validator("provider", mode="before")
    @classmethod
    def _provider_lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    def body(self) -> dict[str, Any]:
        """The JSON body, without the fields left at their unset defaults."""
        return self.model_dump(exclude_none=True)


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
