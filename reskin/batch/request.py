"""What a batch asks for (the ``edit-batch`` flow's one parameter, a form in the UI), one row per
clip of what became of it, and the batch's result.

Like :class:`~reskin.edit.request.EditRequest`, these hold paths, ids and numbers only: Prefect
stores parameters and results and shows them in the UI.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reskin.edit.request import MAX_PROMPT_CHARS, EditRequest
from reskin.errors import InputError
from reskin.media.audio_mode import AudioMode
from reskin.registry.options import OptionValue
from reskin.storage.s3 import S3Prefix

Dispatch = Literal["subflow", "deployment"]

#: ``flow name/deployment name`` of the one-clip deployment (``deployments/definitions.py``).
EDIT_VIDEO_DEPLOYMENT = "edit-video/edit-video"


class BatchRequest(BaseModel):
    """Edit every clip of an inbox folder, or every row of a manifest."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Edit a batch of videos")

    inbox: str | None = Field(
        title="Inbox folder",
        default=None,
        min_length=1,
        max_length=4096,
        description="A folder of videos (.mp4, .mov, .mkv; not its subfolders): a local one, "
        "on the machine that runs the batch, or s3://bucket/folder/. Give this or a manifest, "
        "not both.",
    )
    manifest: str | None = Field(
        title="Manifest file",
        default=None,
        min_length=1,
        max_length=4096,
        description="A local .csv (with a header row) or .jsonl file, one clip a row; columns: "
        "input, prompt, start_s, end_s, audio, output, model, options (only input is "
        "required). Inputs are paths (relative: beside the manifest), URLs or s3:// objects. "
        "Give this or an inbox, not both.",
    )
    prompt: str | None = Field(
        title="Prompt",
        default=None,
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="What the edited videos should look like: every inbox clip, and every "
        "manifest row without a prompt of its own.",
    )
    output_dir: str = Field(
        title="Output folder",
        min_length=1,
        max_length=4096,
        description="A local folder or s3://bucket/folder/. Inbox clips go to <output "
        "folder>/<name>.mp4, relative manifest outputs are read from here, and results.jsonl / "
        "results.csv (what became of each clip) are written here.",
    )
    audio: AudioMode = Field(
        title="Sound",
        default=AudioMode.RESTORE,
        description="restore: the original sound, in sync; model: the service's sound; none. "
        "A manifest's audio column overrides it for its row.",
    )
    model: str | None = Field(
        title="Model",
        default=None,
        max_length=200,
        description=f"{EditRequest.model_fields['model'].description} A manifest's model "
        "column overrides it for its row.",
    )
    options: dict[str, OptionValue] = Field(
        title="Model options",
        default_factory=dict,
        description="The model's own options by name, e.g. seed: 7, for every clip; a manifest "
        "row with an options cell of its own (seed=7;frame_size=960:960, or an object in JSONL) "
        "uses that instead.",
    )
    budget_credits: float | None = Field(
        title="Budget (credits)",
        default=None,
        gt=0,
        description="Send no new clip once the credits of this batch's finished clips, plus an "
        "estimate for the clips in flight, reach this; empty: no budget.",
    )
    max_parallel: int = Field(
        title="Clips at once",
        default=4,
        ge=1,
        le=64,
        description="How many clips of this batch run at the same time.",
    )
    dispatch: Dispatch = Field(
        title="Run each clip as",
        default="subflow",
        description="subflow: a child run in this process; deployment: a run of the "
        "deployment below, taken by whatever serves it or works its pool.",
    )
    deployment: str = Field(
        title="Clip deployment",
        default=EDIT_VIDEO_DEPLOYMENT,
        min_length=3,
        max_length=300,
        description="The one-clip deployment, as 'flow name/deployment name' "
        "(used when each clip runs as a deployment).",
    )
    force: bool = Field(
        title="Force new submissions",
        default=False,
        description="Edit every clip again, even those already done, failed before or whose "
        "answer was lost (pays again).",
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("inbox", "output_dir")
    @classmethod
    def _folder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("s3://"):
            try:
                S3Prefix.parse(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        elif "://" in value:
            raise ValueError("must be a local folder or s3://bucket/folder/")
        return value

    @field_validator("manifest")
    @classmethod
    def _local(cls, value: str | None) -> str | None:
        if value is not None and "://" in value:
            raise ValueError("must be a local file (copy a remote manifest here first)")
        return value

    @field_validator("deployment")
    @classmethod
    def _deployment_name(cls, value: str) -> str:
        flow_name, _, name = value.partition("/")
        if not flow_name.strip() or not name.strip() or "/" in name:
            raise ValueError("must be 'flow name/deployment name', e.g. edit-video/edit-video")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> BatchRequest:
        if (self.inbox is None) == (self.manifest is None):
            raise ValueError("give exactly one of inbox (a folder) or manifest (a file)")
        if self.inbox is not None and self.prompt is None:
            raise ValueError("an inbox batch needs a prompt: its clips carry none of their own")
        return self

    @property
    def source(self) -> str:
        """The inbox or the manifest, as given."""
        return self.inbox if self.inbox is not None else str(self.manifest)


class ClipStatus(StrEnum):
    """What became of one clip of a batch."""

    DONE = "done"
    SKIPPED = "skipped (already done)"
    FAILED = "failed"
    OVER_BUDGET = "over budget"
    #: Not finished yet: only in the results manifest written while the batch runs.
    PENDING = "pending"


class ClipRow(BaseModel):
    """One clip of a batch: what was asked and what became of it."""

    model_config = ConfigDict(frozen=True)

    #: The input's file name (and, for a manifest, its line).
    clip: str
    #: The manifest line the clip came from; None for an inbox clip.
    line: int | None = None
    input: str
    output: str
    status: ClipStatus
    audio: AudioMode
    generation_id: str | None = None
    #: What the clip's generation cost, as the service reported it (also for reused ones).
    credits_used: float | None = None
    #: A new generation was paid for by this batch (not skipped, not resumed).
    paid: bool = False
    #: The result's fidelity scores (0..1, :mod:`reskin.fidelity`); None when not checked.
    motion: float | None = None
    structure: float | None = None
    #: Wall time from sending the clip to its end, waiting for a worker included.
    seconds: float | None = None
    #: The one-line error of a failed clip.
    error: str | None = None
    flow_run_id: str | None = None
    #: What the submission journal keys the request on; None when unknown (a URL input, a
    #: clip that never started, a run journaled on another machine).
    fingerprint: str | None = None
    #: For an ``s3://`` input: the request's fingerprint with the object's ETag and size in
    #: place of its content hash, as planned before sending; the next run skips the clip only
    #: when it is the same (``reskin/batch/reuse.py``). None otherwise.
    request_key: str | None = None


class BatchResult(BaseModel):
    """What a batch did: counts, the credits it spent, and one row per clip."""

    model_config = ConfigDict(frozen=True)

    total: int
    done: int
    skipped: int
    failed: int
    over_budget: int
    #: Credits of the generations this batch paid for (reused ones cost nothing new).
    credits_spent: float
    #: ``<output_dir>/results.jsonl`` (a path or an ``s3://`` URL), or None when the batch had
    #: no clip.
    results_manifest: str | None
    rows: list[ClipRow]

    @classmethod
    def of(cls, rows: list[ClipRow], results_manifest: str | None) -> BatchResult:
        def count(status: ClipStatus) -> int:
            return sum(1 for row in rows if row.status is status)

        return cls(
            total=len(rows),
            done=count(ClipStatus.DONE),
            skipped=count(ClipStatus.SKIPPED),
            failed=count(ClipStatus.FAILED),
            over_budget=count(ClipStatus.OVER_BUDGET),
            credits_spent=sum(row.credits_used or 0.0 for row in rows if row.paid),
            results_manifest=results_manifest,
            rows=rows,
        )
