"""The one settings class: every knob reskin has, typed, bounded and described.

The service's own variables keep their names (``AIMLAPI_API_KEY``, ``AIMLAPI_BASE_URL``); every
other field reads ``RESKIN_<FIELD>`` from the environment or a ``.env`` file in the working
directory. Tests build ``Settings(_env_file=None, ...)`` so a developer's ``.env`` never leaks in.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from reskin.errors import ConfigError
from reskin.registry import DEFAULT_MODEL, MODELS

DEFAULT_BASE_URL = "https://api.aimlapi.com"
UploadBackend = Literal["auto", "datauri", "s3", "standin-files"]
SegmentJoin = Literal["cut", "crossfade"]
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"]


def _default_work_dir() -> Path:
    return Path.home() / ".cache" / "reskin"


class Settings(BaseSettings):
    """Configuration for the client, the media steps and the pipeline."""

    model_config = SettingsConfigDict(
        env_prefix="RESKIN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
    )

    # --- the service -------------------------------------------------------------------------
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("AIMLAPI_API_KEY", "api_key"),
        description="Bearer key of the AI/ML API. Never logged, never a flow parameter.",
    )
    # Read by the flows on whatever runs them (tasks/secrets.py), never by the core: the core
    # knows nothing of Prefect. The name may be logged; the value is the key's.
    api_key_block: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        validation_alias=AliasChoices("AIMLAPI_API_KEY_BLOCK", "api_key_block"),
        description="Name of a Prefect Secret block holding the key: every run loads the key "
        "from the Prefect server instead of AIMLAPI_API_KEY (which it then ignores).",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        validation_alias=AliasChoices("AIMLAPI_BASE_URL", "base_url"),
        description="Base URL of the AI/ML API (or of a local stand-in).",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        max_length=200,
        description="Model of a request that names none: " + ", ".join(MODELS) + ".",
    )

    # --- HTTP --------------------------------------------------------------------------------
    connect_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to open a connection to the service."
    )
    read_timeout_s: float = Field(
        default=60.0, gt=0, le=600, description="Seconds to wait for each answer from the service."
    )
    write_timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=1800,
        description="Seconds to send a request body (a data URI can be tens of MB).",
    )
    http_max_connections: int = Field(
        default=1000,
        ge=1,
        description="Most connections one API client keeps open to the service, all kept "
        "alive, so the status requests of many jobs in flight never queue in httpx's pool.",
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        le=10,
        description="Retries of one HTTP call on transport errors, 408, 409, 429 and 5xx.",
    )
    retry_base_delay_s: float = Field(
        default=0.5, ge=0, le=60, description="First backoff delay; doubles each retry."
    )
    retry_max_delay_s: float = Field(
        default=30.0, ge=0, le=600, description="Cap on one backoff delay."
    )
    retry_after_max_s: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description="Longest Retry-After the client honours; longer hints fail the call.",
    )

    # --- waiting for a generation ------------------------------------------------------------
    poll_deadline_s: float = Field(
        default=1200.0,
        gt=0,
        le=86400,
        description="Give up waiting for one generation after this many seconds.",
    )
    poll_expected_s: float = Field(
        default=240.0,
        gt=0,
        le=7200,
        description="Starting median length of one job, counted from when it leaves the "
        "queue (the documented one took about 4 min); replaced by what "
        "<work_dir>/durations.sqlite3 learns from earlier jobs (delete it to forget).",
    )
    poll_min_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="Shortest pause between two status requests."
    )
    poll_max_interval_s: float = Field(
        default=30.0, gt=0, le=600, description="Longest pause between two status requests."
    )

    # --- limits shared by every process on one Prefect server (tasks/limits.py) ---------------
    max_jobs_in_flight: int = Field(
        default=4,
        ge=0,
        le=1000,
        description="Most generations at the service at once, counted across every process "
        "that uses the same Prefect server and limits prefix; 0: no limit (no slot is taken).",
    )
    creates_per_minute: float = Field(
        default=10.0,
        ge=0,
        le=600,
        description="Most creates sent per minute across those processes (one every 60/N s); "
        "a 429 pauses them all for its Retry-After; 0: no pacing.",
    )
    limits_prefix: str = Field(
        default="reskin",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,59}$",
        description="Names the two Prefect limits <prefix>-jobs-in-flight and <prefix>-creates; "
        "give each AI/ML API account its own.",
    )

    # --- the fidelity check (reskin/fidelity, docs/fidelity.md) -----------------------------
    min_fidelity: float = Field(
        default=0.65,
        ge=0,
        le=1,
        description="A result whose motion or structure score (0..1) is below this fails the "
        "run and is not written (it stays paid and kept: a rerun with a lower minimum writes "
        "it); 0 only reports the scores. The default is set from docs/fidelity.md's "
        "calibration.",
    )

    # --- long videos (reskin/edit/long.py) --------------------------------------------------
    max_input_s: float = Field(
        default=600.0,
        gt=0,
        le=24 * 3600,
        description="Longest video (or window) edited, in seconds; a longer one is refused "
        "before anything is paid. Longer than the model edits, it is sent as segments.",
    )
    scene_threshold: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="ffmpeg scene score (0..1) above which a frame starts a new scene: "
        "segments of a long video are cut there.",
    )
    segment_join: SegmentJoin = Field(
        default="cut",
        description="How segments that meet inside one shot are joined: cut (hard cut) or "
        "crossfade (each such segment is sent crossfade_s earlier and faded in; costs the "
        "extra seconds).",
    )
    crossfade_s: float = Field(
        default=0.5, gt=0, le=2, description="Length of a cross-fade join, in seconds."
    )
    credits_per_second: float | None = Field(
        default=None,
        gt=0,
        description="Credits the service bills per second, for the estimates of a plan and "
        "the budget (the stand-in bills 100); unset: estimates show billed seconds only.",
    )
    max_credits: float | None = Field(
        default=None,
        gt=0,
        description="Refuse, before anything is paid, an edit whose estimated credits are "
        "over this (needs credits_per_second); unset: no budget.",
    )
    # --- approval before big spends (reskin/edit/approval.py, docs/approval.md) --------------
    approve_above_credits: float | None = Field(
        default=None,
        gt=0,
        description="A run (an edit or a batch) whose estimated credits are over this waits "
        "for approval before its first create: paused in the Prefect UI, asked on a terminal "
        "(needs credits_per_second); unset: never asks.",
    )
    approval_timeout_s: int = Field(
        default=3600,
        ge=1,
        le=7 * 24 * 3600,
        description="Seconds a run waits paused for approval; then it ends unpaid.",
    )
    approval_poll_s: int = Field(
        default=10,
        ge=1,
        le=600,
        description="Seconds between two looks of a paused run at whether it was answered.",
    )

    result_retention_h: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="Hours the service keeps a generation and its result: within them a rerun "
        "of the same request resumes or reuses it instead of paying again.",
    )

    # --- files and media ---------------------------------------------------------------------
    work_dir: Path = Field(
        default_factory=_default_work_dir,
        description="Folder for job folders, downloads and the submission journal.",
    )
    journal_url: SecretStr | None = Field(
        default=None,
        description="Database of the submission journal that several machines share: "
        "postgresql://user:password@host:5432/database (or postgresql+psycopg://); reskin makes "
        "its tables. Unset: <work_dir>/journal.sqlite3, which holds for this machine only. "
        "Never logged; shown with its password masked.",
    )
    download_max_bytes: int = Field(
        default=2 * 1024**3,
        gt=0,
        description="Refuse downloads (inputs and results) larger than this many bytes.",
    )
    download_timeout_s: float = Field(
        default=600.0, gt=0, le=86400, description="Seconds allowed for one whole download."
    )
    ffmpeg_binary: Path | None = Field(
        default=None,
        description="ffmpeg to use; else a system ffmpeg with libx264, else the pip-shipped one.",
    )
    ffmpeg_timeout_s: float = Field(
        default=900.0, gt=0, le=86400, description="Seconds one ffmpeg run may take."
    )
    conform_preset: X264Preset = Field(
        default="veryfast",
        description="x264 preset when a clip must be re-encoded to fit the model.",
    )
    conform_crf: int = Field(
        default=20,
        ge=0,
        le=51,
        description="x264 quality (CRF, lower is better) of a re-encoded clip.",
    )
    upload: UploadBackend = Field(
        default="auto",
        description="How the clip reaches the service: datauri (inline, small clips), s3 (a "
        "presigned URL of an upload to RESKIN_S3_BUCKET), standin-files (the local stand-in's "
        "file server), auto (the input's own URL when it conforms, else datauri within its "
        "budget, else s3 when a bucket is set).",
    )
    # 20 MB of video is about 27 MB of base64 inside one JSON body, read from the file as it is
    # sent (never held in memory whole) within RESKIN_WRITE_TIMEOUT_S; a 10 s 1080p clip
    # re-encoded at CRF 20 usually fits, a camera original at 20 Mbit/s or more does not (it
    # needs storage).
    datauri_max_bytes: int = Field(
        default=20_000_000,
        gt=0,
        le=200_000_000,
        description="Largest conformed clip sent inline as a data URI; larger ones need storage.",
    )

    # --- what a run may touch (reskin/access/, docs/security.md) -----------------------------
    allow_http: bool = Field(
        default=False,
        description="Fetch a user's inputs and reference images over plain http:// too; "
        "else https:// only. The service's own URLs are not concerned.",
    )
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Host names (or addresses) a user's URL may reach whatever they resolve "
        "to, comma-separated (127.0.0.1,media.lan); else only public addresses are reached.",
    )
    allowed_networks: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = Field(
        default=(),
        description="Networks a user's URL may connect to besides public addresses, "
        "comma-separated CIDRs (10.1.0.0/16,fd00::/8).",
    )
    allowed_dirs: Annotated[tuple[Path, ...] | None, NoDecode] = Field(
        default=None,
        description="Folders local inputs may be read from and outputs written to, separated "
        "by ':' (paths resolved, links followed); unset: anywhere this user can (the command "
        "line). make up and make serve set it for their runs.",
    )

    # --- object storage (reskin/storage/s3.py) ------------------------------------------------
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible endpoint (MinIO, R2, ...); none means AWS S3 itself.",
    )
    s3_bucket: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="Bucket that clips are uploaded to for the service to fetch.",
    )
    s3_prefix: str = Field(
        default="reskin/",
        pattern=r"^$|^[^/].{0,199}$",
        description="Key prefix of every object reskin uploads (no leading slash).",
    )
    s3_region: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]{1,40}$",
        description="Region of the bucket; none means boto3's own (AWS_DEFAULT_REGION, the "
        "profile), or us-east-1 with an endpoint URL. AWS buckets outside us-east-1 need it.",
    )
    s3_access_key_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Access key id; none means boto3's standard chain (AWS_* variables, "
        "profile, instance role).",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None,
        description="Secret access key, set together with the id. Never logged.",
    )
    # A presigned URL is handed to the service, which fetches it when the job starts: it must
    # outlive the create and a queue, and should not outlive the job by much.
    s3_presign_expiry_s: int = Field(
        default=900,
        ge=60,
        le=7 * 24 * 3600,
        description="Seconds a presigned GET URL handed to the service stays valid.",
    )
    # The run's artifacts link to an S3 output and show its preview through presigned URLs:
    # whoever can read the artifacts can fetch the video until the link expires.
    s3_link_expiry_s: int = Field(
        default=24 * 3600,
        ge=60,
        le=7 * 24 * 3600,
        description="Seconds the links to an S3 output and its preview in a run's artifacts "
        "stay valid.",
    )
    s3_delete_uploads: bool = Field(
        default=True,
        description="Delete the uploaded clip from the bucket once the job is over.",
    )
    # S3 parts are 5 MiB to 5 GiB, at most 10,000 per object: 16 MiB parts carry up to 156 GiB.
    s3_multipart_chunk_mb: int = Field(
        default=16,
        ge=5,
        le=512,
        description="Part size in MiB of multipart uploads (and the size from which they are "
        "used); a few parts are held in memory at once.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// or http://")
        return value.rstrip("/")

    @field_validator("allowed_hosts", "allowed_networks", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(host.lower().strip("[]").rstrip(".") for host in value)

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _folders(cls, value: object) -> object:
        if isinstance(value, str):
            if "{{" in value:  # prefect.yaml's {{ $RESKIN_ALLOWED_DIRS }}, unset when deployed
                raise ValueError("set it where prefect deploy runs (a template was left)")
            parts = tuple(part for part in value.split(os.pathsep) if part.strip())
            return parts or None
        return value

    @field_validator("allowed_dirs")
    @classmethod
    def _resolved_folders(cls, value: tuple[Path, ...] | None) -> tuple[Path, ...] | None:
        if value is None:
            return None
        return tuple(folder.expanduser().resolve() for folder in value)

    @field_validator("api_key_block", mode="before")
    @classmethod
    def _no_block(cls, value: object) -> object:
        # AIMLAPI_API_KEY_BLOCK= (empty, in the environment or a .env) names no block.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(f"unknown model {value!r}: choose one of {', '.join(MODELS)}")
        return value

    @field_validator("journal_url")
    @classmethod
    def _journal_url(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never quotes the value: it may hold a password.
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with postgresql:// or postgresql+psycopg://")
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// or http://")
        return None if value is None else value.rstrip("/")

    @property
    def uses_default_service(self) -> bool:
        """True when requests go to the real AI/ML API rather than a stand-in."""
        return self.base_url == DEFAULT_BASE_URL


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and ``.env``; a bad value becomes one-line ConfigError.

    The message names the variable and the rule, never the value: it might be the key.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "settings"
            problems.append(f"{_variable(field)}: {error['msg']}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from None


def _variable(field: str) -> str:
    if field in Settings.model_fields:
        alias = Settings.model_fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return f"RESKIN_{field.upper()}"
    return field
