"""``klingai/video-o1-video-to-video-edit``: Kling O1 edit (shared/API.md, its schema)."""

from __future__ import annotations

from reskin.registry.options import Option
from reskin.registry.spec import Billing, InputLimits, ModelSpec, Output, ReferenceLimits

ID = "klingai/video-o1-video-to-video-edit"

SPEC = ModelSpec(
    id=ID,
    title="Kling O1 edit: restyles 3-10 s, keeps length, can keep the sound",
    schema="klingai-video-o1-video-to-video-edit.json",
    limits=InputLimits(
        model=ID,
        min_duration_s=3.0,
        max_duration_s=10.05,
        min_side=720,
        max_side=2160,
        # 200 MB at Kling; the fal fallback is said to take 100 MB, but conformed clips of at
        # most 10 s are far below either, and the data-URI budget is lower still.
        max_bytes=200_000_000,
        min_fps=24.0,
        max_fps=60.0,
        containers=("mp4", "mov"),
    ),
    prompt_max=2500,
    # The schema says 7 images; Kling's own limit when a video is given is 4.
    references=ReferenceLimits(model=ID, field="image_list", shape="urls", max_count=4),
    options=(
        Option(
            name="provider",
            kind="choice",
            choices=("auto", "kling", "klingai", "fal"),
            case_insensitive=True,
            default="auto",
            description="routing: auto (Kling, then the fal mirror), kling, fal",
        ),
    ),
    output=Output(fps=24.0, size="service", sound=True, video_shape="object", max_s=10.05),
    billing=Billing(min_billed_s=3.0, max_billed_s=10.0, usd_per_s=0.17),
    keep_audio_field="keep_audio",
    assumed=("price: fal's ~$0.17/s (the service publishes none)",),
)
