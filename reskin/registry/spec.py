"""What a video-edit model is to reskin: one :class:`ModelSpec`, data plus the little behaviour
that differs between models (how its create body is built and read).

Everything that conforms, submits, checks a body (the stand-in), estimates credits or restores
sound asks the spec of the model at hand; no function elsewhere defaults to one model. The
values come from ``shared/API.md`` and the published schemas in ``shared/models/``; what no
first-party source gives is listed in :attr:`ModelSpec.assumed` (and options carry their own
``assumed`` flag), and the docs' models table shows both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from reskin.aimlapi.models import CreateRequest
from reskin.errors import InputError
from reskin.registry.options import Option, OptionValue, read_options
from reskin.storage.datauri import DataUri

if TYPE_CHECKING:  # annotations only: the command line's request imports the registry
    from reskin.media.probe import Container, MediaInfo

ImageFormat = Literal["jpeg", "png"]
#: How a completed answer carries the result: ``{"url": ...}`` or a list of URLs (Aleph).
VideoShape = Literal["object", "list"]
#: How the result's picture size is chosen: by the service, by the ``frame_size`` option
#: (``"W:H"``), by the ``resolution`` option (``"720p"``: the shorter side), or fixed.
SizeRule = Literal["service", "frame_size", "resolution", "fixed"]
#: How reference images go into the body: a list of URLs (Kling's ``image_list``) or a list of
#: ``{"type": "image", "url": ...}`` (Aleph's ``references``).
ReferenceShape = Literal["urls", "typed"]

_VIDEO_DATA_URI = re.compile(r"^data:video/(mp4|quicktime);base64,", re.IGNORECASE)
_IMAGE_DATA_URI = re.compile(r"^data:image/(png|jpeg);base64,", re.IGNORECASE)
_FRAME_SIZE = re.compile(r"([1-9][0-9]{0,4}):([1-9][0-9]{0,4})")
_RESOLUTION = re.compile(r"([1-9][0-9]{0,4})p")


@dataclass(frozen=True)
class InputLimits:
    """The video a model accepts. Boundaries are inclusive."""

    #: The model's id, for messages.
    model: str
    min_duration_s: float
    max_duration_s: float
    #: Each side of the picture as displayed (a rotated phone clip counts as it plays).
    min_side: int
    max_side: int
    max_bytes: int
    #: The average frame rate of the input.
    min_fps: float
    max_fps: float
    containers: tuple[Container, ...]

    @property
    def max_aspect(self) -> float:
        """The widest long-to-short ratio a picture can have and still fit both side limits."""
        return self.max_side / self.min_side

    def violations(self, info: MediaInfo) -> list[str]:
        """Every limit ``info`` breaks, each naming the limit and the value; empty when
        accepted."""
        found: list[str] = []
        if info.container not in self.containers:
            allowed = " or ".join(name.upper() for name in self.containers)
            found.append(f"container {info.container} is not accepted ({allowed} only)")
        if info.size_bytes > self.max_bytes:
            found.append(
                f"size {info.size_bytes / 1e6:.1f} MB is over the {self.max_bytes / 1e6:g} MB limit"
            )
        if not self.min_duration_s <= info.duration_s <= self.max_duration_s:
            found.append(
                f"duration {info.duration_s:.2f} s is outside "
                f"{self.min_duration_s:g}..{self.max_duration_s:g} s"
            )
        for side, value in (("width", info.display_width), ("height", info.display_height)):
            if not self.min_side <= value <= self.max_side:
                found.append(f"{side} {value} px is outside {self.min_side}..{self.max_side} px")
        if not self.min_fps <= info.fps <= self.max_fps:
            found.append(
                f"frame rate {info.fps:.2f} fps is outside {self.min_fps:g}..{self.max_fps:g} fps"
            )
        return found


@dataclass(frozen=True)
class ReferenceLimits:
    """The reference images a model takes beside its video, and the body field they go in."""

    model: str
    field: str
    shape: ReferenceShape
    max_count: int
    #: Each image: its shorter side, its long-to-short ratio, its size, its format by content.
    min_side: int = 300
    max_aspect: float = 2.5
    max_bytes: int = 10_000_000
    formats: tuple[ImageFormat, ...] = ("jpeg", "png")


@dataclass(frozen=True)
class Output:
    """What a completed job gives back."""

    fps: float
    size: SizeRule
    #: The result can carry sound (only when asked, through ``keep_audio``).
    sound: bool
    video_shape: VideoShape
    #: The most seconds of the input the model edits; the result is no longer.
    max_s: float
    #: The size of a ``fixed`` rule.
    fixed_size: tuple[int, int] | None = None

    def size_for(
        self, options: Mapping[str, object], width: int, height: int, box: tuple[int, int]
    ) -> tuple[int, int]:
        """The result's picture size, width x height, for an input displayed ``width`` x
        ``height``, by the :attr:`size` rule:

        - ``service``: the input fitted into ``box`` (long side, short side: the size the
          service picks is not documented, so whoever asks chooses the box), turned like the
          input, keeping its shape, never upscaled;
        - ``frame_size``: the option's ``"W:H"``;
        - ``resolution``: the option's shorter side (``"720p"``), the input's shape kept, the
          longer side rounded to an even number;
        - ``fixed``: :attr:`fixed_size`, whatever the input's shape.

        ``options`` holds the option the rule reads, as the body gives it or else its default
        (:meth:`ModelSpec.option`). Raises ``ValueError`` when it is missing or malformed.
        """
        if width <= 0 or height <= 0:
            raise ValueError(f"the input size must be positive, got {width}x{height}")
        if self.size == "service":
            from reskin.media.commands import fit_size  # ffmpeg-python: not for the client

            long_side, short_side = box
            return fit_size(width, height, long_side=long_side, short_side=short_side)
        if self.size == "fixed":
            if self.fixed_size is None:
                raise ValueError("a fixed size rule needs fixed_size")
            return _even_size(*self.fixed_size)
        if self.size == "frame_size":
            match = _FRAME_SIZE.fullmatch(str(options.get("frame_size")))
            if match is None:
                raise ValueError(f"frame_size must be W:H, got {options.get('frame_size')!r}")
            return _even_size(int(match[1]), int(match[2]))
        match = _RESOLUTION.fullmatch(str(options.get("resolution")))
        if match is None:
            raise ValueError(f"resolution must be like 720p, got {options.get('resolution')!r}")
        short = int(match[1])
        if width >= height:
            return _even_size(_round_even(short * width / height), short)
        return _even_size(short, _round_even(short * height / width))


@dataclass(frozen=True)
class Billing:
    """How a job is billed, for estimates; the service reports what a job really used, in its
    credits, whose price in money it does not publish."""

    #: A job is billed for its duration clamped into this range.
    min_billed_s: float
    max_billed_s: float
    #: US dollars per billed second at the prices shared/API.md quotes (a peer's, or the
    #: provider's own); None when none is published.
    usd_per_s: float | None

    def billed_seconds(self, duration_s: float) -> float:
        return min(max(duration_s, self.min_billed_s), self.max_billed_s)

    def billed_whole_seconds(self, duration_s: float) -> int:
        """Billed seconds, each started second counted whole."""
        return math.ceil(self.billed_seconds(duration_s) - 1e-9)

    def usd(self, duration_s: float) -> float | None:
        """The estimated price of a job on ``duration_s`` of input; None when unknown."""
        if self.usd_per_s is None:
            return None
        return self.billed_seconds(duration_s) * self.usd_per_s


@dataclass(frozen=True)
class ModelSpec:
    """One video-edit model of the service."""

    id: str
    #: One line for tables and ``--help``.
    title: str
    limits: InputLimits
    prompt_max: int
    references: ReferenceLimits | None
    options: tuple[Option, ...]
    output: Output
    billing: Billing
    #: The published schema in ``shared/models/`` this spec follows.
    schema: str
    #: Fields every body carries whatever the user asks (Luma's ``type: video_edit``).
    fixed: Mapping[str, OptionValue] = field(default_factory=dict)
    #: The body field that asks for the result to keep the source's sound, if the model has one.
    keep_audio_field: str | None = None
    #: Facts of this spec that no first-party source gives (shared/API.md says "assumed").
    assumed: tuple[str, ...] = ()

    # --- what a user asks -----------------------------------------------------------------

    def read_options(self, options: Mapping[str, object]) -> dict[str, OptionValue]:
        """The user's options typed and checked; one-line :class:`InputError` otherwise."""
        return read_options(options, self.options, model=self.id)

    def check_prompt(self, prompt: str) -> None:
        if len(prompt) > self.prompt_max:
            raise InputError(
                f"the prompt has {len(prompt)} characters and {self.id} takes at most "
                f"{self.prompt_max}: shorten it"
            )

    def check_references(self, count: int) -> None:
        most = 0 if self.references is None else self.references.max_count
        if count > most:
            takes = "no reference images" if most == 0 else f"at most {most} reference images"
            raise InputError(f"{count} reference images given, but {self.id} takes {takes}")

    def check_sound(self, *, wants_model_sound: bool) -> None:
        if wants_model_sound and self.keep_audio_field is None:
            raise InputError(
                f"{self.id} returns no sound: choose `audio` restore (the original) or none"
            )

    def option(self, options: Mapping[str, OptionValue], name: str) -> OptionValue | None:
        """The value of option ``name``: the user's, else the service's default."""
        if name in options:
            return options[name]
        for known in self.options:
            if known.name == name:
                return known.default
        return None

    # --- the create body ------------------------------------------------------------------

    def create_request(
        self,
        *,
        prompt: str,
        video_url: str | DataUri,
        references: Sequence[str] = (),
        options: Mapping[str, OptionValue] | None = None,
        keep_audio: bool = False,
    ) -> CreateRequest:
        """The create request for this model: its own fields only (the service refuses unknown
        ones), options already typed by :meth:`read_options`."""
        self.check_prompt(prompt)
        self.check_references(len(references))
        self.check_sound(wants_model_sound=keep_audio)
        fields: dict[str, object] = dict(self.read_options(options or {}))
        fields.update(self.fixed)
        if references and self.references is not None:
            fields[self.references.field] = self._references_body(references)
        if keep_audio and self.keep_audio_field is not None:
            fields[self.keep_audio_field] = True
        return CreateRequest(model=self.id, prompt=prompt, video_url=video_url, fields=fields)

    def _references_body(self, urls: Sequence[str]) -> list[object]:
        assert self.references is not None  # noqa: S101 (callers check)
        if self.references.shape == "typed":
            return [{"type": "image", "url": url} for url in urls]
        return list(urls)

    def read_body(self, payload: Mapping[str, object]) -> CreateRequest:
        """A create body as the service reads it for this model: strict types (a boolean given
        as ``"true"`` is refused), this model's fields only, its bounds. Raises
        :class:`BodyError` naming the field (the stand-in answers it as a 400)."""
        known = {"model", "prompt", "video_url", *self.fixed}
        known.update(option.name for option in self.options)
        if self.references is not None:
            known.add(self.references.field)
        if self.keep_audio_field is not None:
            known.add(self.keep_audio_field)
        for name in payload:
            if name not in known:
                raise BodyError(name, f"property {name} should not exist for {self.id}")
        prompt = _text(payload, "prompt")
        if not prompt.strip():
            raise BodyError("prompt", "prompt should not be empty")
        if len(prompt) > self.prompt_max:
            raise BodyError("prompt", f"prompt must be at most {self.prompt_max} characters")
        video_url = _text(payload, "video_url")
        if not (video_url.startswith(("https://", "http://")) or _VIDEO_DATA_URI.match(video_url)):
            raise BodyError("video_url", "video_url must be an http(s) URL or a video data URI")
        fields: dict[str, object] = {}
        for name, value in self.fixed.items():
            if name in payload and payload[name] != value:
                raise BodyError(name, f"{name} must be {value!r} for a video edit")
            fields[name] = value
        for option in self.options:
            if option.name in payload:
                fields[option.name] = _strict(option, payload[option.name], self.id)
        if self.keep_audio_field is not None and self.keep_audio_field in payload:
            keep = payload[self.keep_audio_field]
            if not isinstance(keep, bool):
                raise BodyError(self.keep_audio_field, f"{self.keep_audio_field} must be a boolean")
            fields[self.keep_audio_field] = keep
        if self.references is not None and self.references.field in payload:
            fields[self.references.field] = self._read_references(payload[self.references.field])
        return CreateRequest(model=self.id, prompt=prompt, video_url=video_url, fields=fields)

    def _read_references(self, value: object) -> list[object]:
        assert self.references is not None  # noqa: S101 (callers check)
        name = self.references.field
        if not isinstance(value, list) or not value:
            raise BodyError(name, f"{name} must be a non-empty array")
        if len(value) > self.references.max_count:
            raise BodyError(name, f"{name} must hold at most {self.references.max_count} items")
        for item in value:
            url = item
            if self.references.shape == "typed":
                if not isinstance(item, dict) or set(item) != {"type", "url"}:
                    raise BodyError(name, f"each of {name} must be {{type: image, url}}")
                if item["type"] != "image":
                    raise BodyError(name, f"{name}.type must be image")
                url = item["url"]
            if not isinstance(url, str) or not (
                url.startswith(("https://", "http://")) or _IMAGE_DATA_URI.match(url)
            ):
                raise BodyError(name, f"each of {name} must be an image URL or data URI")
        return list(value)


def _round_even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _even_size(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"a result size must be positive and even, got {width}x{height}")
    return width, height


class BodyError(ValueError):
    """A create body this model refuses; ``field`` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(payload: Mapping[str, object], name: str) -> str:
    value = payload.get(name)
    if value is None:
        raise BodyError(name, f"{name} is required")
    if not isinstance(value, str):
        raise BodyError(name, f"{name} must be a string")
    return value


def _strict(option: Option, value: object, model: str) -> OptionValue:
    """``value`` as JSON typed it: the service does not read ``"7"`` as 7 or ``"true"`` as
    true, so neither does this."""
    typed_right = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "choice": isinstance(value, str),
    }[option.kind]
    if not typed_right:
        raise BodyError(option.name, f"{option.name} must be {option.accepts}")
    try:
        return option.read(value, model=model)
    except InputError:
        raise BodyError(option.name, f"{option.name} must be {option.accepts}") from None
