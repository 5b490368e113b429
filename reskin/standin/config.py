"""Configuration of the stand-in: the fake service's own knobs, not reskin's ``Settings``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from reskin.standin.faults import Faults

Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"]


def new_key() -> SecretStr:
    """A fresh key for a stand-in started without one."""
    return SecretStr("standin-" + secrets.token_urlsafe(18))


class StandInConfig(BaseModel):
    """How the stand-in behaves. Defaults follow ``shared/API.md`` except for the times.

    It serves every model of :data:`reskin.registry.MODELS`, each as its spec says; nothing
    here is about one model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: SecretStr = Field(default_factory=new_key, description="Bearer key clients must send.")
    queued_s: float = Field(default=2.0, ge=0, le=3600, description="Seconds a job is queued.")
    generating_s: float = Field(
        default=8.0, ge=0, le=3600, description="Least seconds a job is generating."
    )
    generating_spread_s: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="Extra generating seconds, spread over jobs by id (load.spread_fraction).",
    )
    load_mode: bool = Field(
        default=False,
        description="Benchmarks: creates skip the input and the render; jobs serve one "
        "result prepared at start (load.py).",
    )
    work_dir: Path | None = Field(
        default=None, description="Folder for uploads and jobs; a temporary one when unset."
    )
    max_input_bytes: int = Field(
        default=200_000_000, gt=0, description="Largest input video (Kling: 200 MB)."
    )
    download_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds allowed to download video_url."
    )
    max_upload_bytes: int = Field(
        default=500_000_000, gt=0, description="Largest file PUT to /files."
    )
    render_workers: int = Field(default=2, ge=1, le=64, description="Renders run at once.")
    render_timeout_s: float = Field(
        default=300.0, gt=0, le=86400, description="Seconds one render may take."
    )
    render_preset: Preset = Field(default="veryfast", description="x264 preset of renders.")
    render_lead_s: float | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="Benchmarks: start each render this many seconds before its job's "
        "generating time ends, not at acceptance (a service's compute costs its client's "
        "machine nothing; on one machine, renders at acceptance compete with the client's own "
        "work). Unset: at acceptance.",
    )
    output_long_side: int = Field(
        default=1280,
        ge=16,
        le=4096,
        multiple_of=2,
        description="Longer side of the output box, for models whose service picks the size "
        "(Output.size 'service': Kling).",
    )
    output_short_side: int = Field(
        default=720,
        ge=16,
        le=4096,
        multiple_of=2,
        description="Shorter side of the output box (idem).",
    )
    credits_per_second: int = Field(
        default=100, ge=0, description="Credits per started billed second."
    )
    ffmpeg_binary: Path | None = Field(
        default=None, description="ffmpeg to render with; found as reskin does when unset."
    )
    faults: Faults = Field(default_factory=Faults, description="Faults active at start.")
