"""``krea/krea-wan-14b/video-to-video``: Krea's Wan 14B (shared/API.md, its schema)."""

from __future__ import annotations

from reskin.registry.options import Option
from reskin.registry.spec import Billing, InputLimits, ModelSpec, Output

ID = "krea/krea-wan-14b/video-to-video"

SPEC = ModelSpec(
    id=ID,
    title="Krea Wan 14B: restyles up to 10 s with a strength, 16 fps result",
    schema="krea-wan-14b-video-to-video.json",
    limits=InputLimits(
        model=ID,
        min_duration_s=1.0,
        max_duration_s=10.05,
        min_side=360,
        max_side=2160,
        max_bytes=100_000_000,
        min_fps=16.0,
        max_fps=60.0,
        containers=("mp4", "mov"),
    ),
    prompt_max=5000,
    references=None,
    options=(
        Option(
            name="strength",
            kind="float",
            minimum=0.0,
            maximum=1.0,
            default=0.85,
            description="0 keeps the source, 1 remakes it",
        ),
        Option(
            name="seed",
            kind="int",
            minimum=0,
            maximum=4294967295,
            assumed=True,
            description="the same seed and request give similar results; random when unset",
        ),
        Option(
            name="enable_prompt_expansion",
            kind="bool",
            default=True,
            description="let the service expand the prompt",
        ),
    ),
    output=Output(
        fps=16.0,
        size="fixed",
        fixed_size=(1280, 720),
        sound=False,
        video_shape="object",
        max_s=10.05,
    ),
    billing=Billing(min_billed_s=1.0, max_billed_s=10.0, usd_per_s=None),
    assumed=(
        "prompt at most 5000 characters",
        "input at most 10 s and 100 MB, shortest 1 s, sides 360..2160 px, 16..60 fps",
        "seed bounds 0..4294967295",
        "result 1280x720 whatever the source's shape",
        "price: not published",
    ),
)
