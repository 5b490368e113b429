"""``luma/ray-3.2`` with ``type: video_edit`` (shared/API.md, its schema).

The schema's other fields (``aspect_ratio``, ``duration``, ``loop``, ``hdr``, ``exr_export``,
``image_url``, ``last_image_url``) are for generating and extending, not for editing: reskin
does not send them. Without ``type: video_edit`` a body with a ``video_url`` would generate.
"""

from __future__ import annotations

from reskin.registry.options import Option
from reskin.registry.spec import Billing, InputLimits, ModelSpec, Output

ID = "luma/ray-3.2"
RESOLUTIONS = ("360p", "540p", "720p", "1080p")

SPEC = ModelSpec(
    id=ID,
    title="Luma Ray 3.2 edit: restyles up to 10 s at a chosen resolution",
    schema="luma-ray-3.2.json",
    limits=InputLimits(
        model=ID,
        min_duration_s=1.0,
        max_duration_s=10.05,
        min_side=360,
        max_side=2160,
        max_bytes=100_000_000,  # Luma's docs
        min_fps=24.0,
        max_fps=60.0,
        containers=("mp4", "mov"),
    ),
    prompt_max=5000,
    references=None,
    options=(
        Option(
            name="resolution",
            kind="choice",
            choices=RESOLUTIONS,
            default="720p",
            description="the result's shorter side",
        ),
    ),
    fixed={"type": "video_edit"},
    output=Output(fps=24.0, size="resolution", sound=False, video_shape="object", max_s=10.05),
    # $0.0158 per megapixel of output (Luma): 720p at 24 fps is 22.1 MP a second.
    billing=Billing(min_billed_s=1.0, max_billed_s=10.0, usd_per_s=0.35),
    assumed=(
        "prompt at most 5000 characters",
        "shortest input 1 s, sides 360..2160 px, 24..60 fps",
        "result keeps the source's shape at the resolution's shorter side",
    ),
)
