"""What a user asks for (the flow's parameter form) and what an edit reports back.

Both are plain Pydantic models: Prefect renders :class:`EditRequest` as the form of the
``edit_video`` deployment, and ``reskin edit --json`` prints :class:`EditResult`. Neither may
hold video bytes, a data URI or a key: Prefect stores parameters and shows them in the UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reskin.errors import InputError
from reskin.fidelity.report import Fidelity
from reskin.media.audio_mode import AudioMode
from reskin.media.conform_plan import Window
from reskin.registry import DEFAULT_MODEL, MODELS, ModelSpec, spec_for
from reskin.registry.options import OptionValue
from reskin.storage.s3 import S3Location

#: The longest prompt and the most reference images any model takes; each model's own limits
#: are checked by :func:`resolve` once the model is known.
MAX_PROMPT_CHARS = max(spec.prompt_max for spec in MODELS.values())
MAX_REFERENCE_IMAGES = max(
    spec.references.max_count for spec in MODELS.values() if spec.references is not None
)
#: A cell of :meth:`EditResult.as_row`.
Cell = str | float | bool | None
#: Prefix of the row's columns that hold :attr:`EditResult.timings_s`.
_TIME = "seconds "
#: The columns of a result's row that hold its fidelity (the whole's scores).
FIDELITY_MOTION = "fidelity motion"
FIDELITY_STRUCTURE = "fidelity structure"


class EditRequest(BaseModel):
    """Re-style one video from a text prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Edit one video")

    input: str = Field(
        title="Input video",
        min_length=1,
        max_length=4096,
        description="The video: a local path (on the machine that runs the flow), "
        "an https:// URL or s3://bucket/key.",
    )
    prompt: str = Field(
        title="Prompt",
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="What the edited video should look like.",
    )
    output: str = Field(
        title="Output file",
        min_length=1,
        max_length=4096,
        description="Where the edited .mp4 goes: a local path on the machine that runs the "
        "flow, or s3://bucket/key.mp4 (written once the result is verified).",
    )
    start_s: float | None = Field(
        title="Start (s)",
        default=None,
        ge=0,
        description="Edit from this second of the input (default: its start).",
    )
    end_s: float | None = Field(
        title="End (s)",
        default=None,
        gt=0,
        description="Edit up to this second of the input (default: its end).",
    )
    audio: AudioMode = Field(
        title="Sound",
        default=AudioMode.RESTORE,
        description="restore: the original sound, in sync; model: the service's sound; none.",
    )
    model: str | None = Field(
        title="Model",
        default=None,
        max_length=200,
        description=f"Model id, one of {', '.join(MODELS)}; empty: RESKIN_MODEL "
        f"({DEFAULT_MODEL} unless set).",
    )
    options: dict[str, OptionValue] = Field(
        title="Model options",
        default_factory=dict,
        description="The model's own options by name, e.g. seed: 7 or frame_size: 960:960 "
        "(see the models table in the README); empty: the service's defaults.",
    )
    reference_images: list[str] = Field(
        title="Reference images",
        default_factory=list,
        max_length=MAX_REFERENCE_IMAGES,
        description="Reference images for models that take them (Kling: up to 4, Aleph: 1): "
        "local JPG/PNG paths, https:// URLs or s3:// objects.",
    )
    one_look: bool = Field(
        title="One look for long videos",
        default=True,
        description="A video longer than the model edits goes as segments: edit the first one "
        "first and give every other one a frame of its result as a reference image, so all "
        "keep one look (models that take references; about one job's time longer). Off: all "
        "segments at once (faster, the look may drift).",
    )
    min_fidelity: float | None = Field(
        title="Minimum fidelity",
        default=None,
        ge=0,
        le=1,
        description="Fail the run, writing nothing, when the result keeps the source's motion "
        "or layout less than this (0..1; 0 turns the check into a report only). The paid "
        "result is kept, so a rerun with a lower minimum writes it without paying again. "
        "Empty: RESKIN_MIN_FIDELITY.",
    )
    force: bool = Field(
        title="Force a new submission",
        default=False,
        description="Submit again even if this request failed before or its answer was lost "
        "(pays for a new job).",
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("input", "output", "reference_images")
    @classmethod
    def _no_inline_data(cls, value: str | list[str]) -> str | list[str]:
        # Bytes in a parameter would be stored in Prefect's database and shown in the UI.
        for item in [value] if isinstance(value, str) else value:
            if item.lstrip().lower().startswith("data:"):
                raise ValueError("give a path or a URL, not inline data")
        return value

    @field_validator("output")
    @classmethod
    def _mp4_output(cls, value: str) -> str:
        if value.startswith("s3://"):
            try:
                S3Location.parse(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        elif "://" in value:
            raise ValueError("must be a local path or s3://bucket/key.mp4")
        if Path(value).suffix.lower() != ".mp4":
            raise ValueError("must end in .mp4 (reskin writes H.264 MP4)")
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str | None) -> str | None:
        if value is not None and value not in MODELS:
            raise ValueError(f"unknown model {value!r}: choose one of {', '.join(MODELS)}")
        return value

    @model_validator(mode="after")
    def _window_order(self) -> EditRequest:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError("end_s must be after start_s")
        return self

    @model_validator(mode="after")
    def _fits_its_model(self) -> EditRequest:
        # With the model named, its own limits and options are checked with the rest of the
        # form; without, resolve() checks them against RESKIN_MODEL's.
        if self.model is not None:
            try:
                resolve(self, self.model)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return self

    @property
    def window(self) -> Window | None:
        if self.start_s is None and self.end_s is None:
            return None
        return Window(start_s=self.start_s or 0.0, end_s=self.end_s)

    @property
    def output_location(self) -> S3Location | None:
        """Where in S3 the output goes; None for a local output."""
        return S3Location.parse(self.output) if self.output.startswith("s3://") else None

    @property
    def output_path(self) -> Path:
        """A local output as an absolute path, on the machine that runs the flow (an S3 output
        is first written to the work folder: see ``reskin/edit/outputs.py``)."""
        if self.output_location is not None:
            raise ValueError(f"{self.output} is not a local path")
        return Path(self.output).expanduser().resolve()

    @property
    def shown_input(self) -> str:
        """The input as a run name shows it: the file's name, not its folders or query."""
        tail = self.input.split("?", 1)[0].rstrip("/")
        return tail.rsplit("/", 1)[-1] or self.input


#: The form's name of each field, for error messages shown in the UI (``ReskinError.worded``).
FORM_FIELDS = {
    name: f'"{field.title}"' for name, field in EditRequest.model_fields.items() if field.title
}


@dataclass(frozen=True)
class Resolved:
    """A request's model and its options, typed and checked against that model."""

    spec: ModelSpec
    options: dict[str, OptionValue]


def resolve(request: EditRequest, default_model: str) -> Resolved:
    """The model ``request`` runs on (its own, else ``default_model``: RESKIN_MODEL) and its
    options, after the checks that depend on the model: the prompt's length, the reference
    images' count, the sound asked for, each option's name and value. One-line
    :class:`InputError` (or :class:`~reskin.errors.ConfigError` for an unknown model)."""
    spec = spec_for(request.model or default_model)
    spec.check_prompt(request.prompt)
    spec.check_references(len(request.reference_images))
    spec.check_sound(wants_model_sound=request.audio is AudioMode.MODEL)
    return Resolved(spec, spec.read_options(request.options))


class SegmentResult(BaseModel):
    """One segment of a long edit: its window and its job."""

    model_config = ConfigDict(frozen=True)

    index: int
    start_s: float
    end_s: float
    generation_id: str
    credits_used: float | None
    resumed: bool
    reused_download: bool


class EditResult(BaseModel):
    """What one edit produced; ``reskin edit --json`` prints it."""

    model_config = ConfigDict(frozen=True)

    #: A local path or an ``s3://`` URL.
    output: str
    #: The model that made it.
    model: str
    generation_id: str
    credits_used: float | None
    #: The generation was an earlier run's (no new job was paid for).
    resumed: bool
    #: The result file was an earlier run's download (nothing was fetched again).
    reused_download: bool
    input_duration_s: float
    output_duration_s: float
    width: int
    height: int
    has_audio: bool
    conform: str
    sound: str
    timings_s: dict[str, float]
    #: The before/after contact sheet beside the output (a path or an ``s3://`` URL), if drawn.
    preview: str | None = None
    #: A long video's segments, in order (empty for a video edited in one job).
    segments: tuple[SegmentResult, ...] = ()
    #: How well the result kept the source's motion and layout (:mod:`reskin.fidelity`).
    fidelity: Fidelity | None = None

    def as_row(self) -> dict[str, Cell]:
        """One flat row (a column per field, one per stage time): a table artifact's row, from
        which :meth:`from_row` gives the result back."""
        row: dict[str, Cell] = self.model_dump(
            mode="json", exclude={"timings_s", "segments", "fidelity"}
        )
        if self.fidelity is not None:
            # The two scores for a reader of the table; the whole, as JSON, for from_row.
            row.update(
                {
                    FIDELITY_MOTION: self.fidelity.motion,
                    FIDELITY_STRUCTURE: self.fidelity.structure,
                    "fidelity": self.fidelity.model_dump_json(),
                }
            )
        row.update({_TIME + stage: seconds for stage, seconds in self.timings_s.items()})
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> EditResult | None:
        """The result :meth:`as_row` made ``row`` of; None when ``row`` is not one."""
        timings = {k.removeprefix(_TIME): v for k, v in row.items() if k.startswith(_TIME)}
        fields = {k: v for k, v in row.items() if not k.startswith(_TIME)}
        try:
            if isinstance(fields.get("fidelity"), str):
                fields["fidelity"] = Fidelity.model_validate_json(str(fields["fidelity"]))
            return cls.model_validate({**fields, "timings_s": timings})
        except ValidationError:
            return None
