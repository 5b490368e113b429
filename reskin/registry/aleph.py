"""``runway/gen4_aleph``: Runway Aleph (shared/API.md, its schema).

Aleph edits only the first 5 s of what it gets (Replicate's and Runway's docs), so an input
longer than that is refused before paying rather than silently cut.
"""

from __future__ import annotations

from reskin.registry.options import Option
from reskin.registry.spec import Billing, InputLimits, ModelSpec, Output, ReferenceLimits

ID = "runway/gen4_aleph"
FRAME_SIZES = (
    "1280:720",
    "720:1280",
    "1104:832",
    "832:1104",
    "960:960",
    "1584:672",
    "848:480",
    "640:480",
)

SPEC = ModelSpec(
    id=ID,
    title="Runway Aleph: restyles the first 5 s, at a chosen frame size",
    schema="runway-gen4_aleph.json",
    limits=InputLimits(
        model=ID,
        min_duration_s=1.0,
        max_duration_s=5.05,
        min_side=480,
        max_side=2160,
        max_bytes=16_000_000,  # Replicate's limit
        min_fps=24.0,
        max_fps=60.0,
        containers=("mp4", "mov"),
    ),
    prompt_max=1000,
    references=ReferenceLimits(model=ID, field="references", shape="typed", max_count=1),
    options=(
        Option(
            name="frame_size",
            kind="choice",
            choices=FRAME_SIZES,
            default="1280:720",
            description="width:height of the result",
        ),
        Option(
            name="seed",
            kind="int",
            minimum=0,
            maximum=4294967295,
            description="the same seed and request give similar results; random when unset",
        ),
    ),
    fixed={"duration": 5},
    output=Output(fps=24.0, size="frame_size", sound=False, video_shape="list", max_s=5.0),
    billing=Billing(min_billed_s=5.0, max_billed_s=5.0, usd_per_s=0.15),
    assumed=(
        "shortest input 1 s",
        "input sides 480..2160 px and 24..60 fps",
        "one reference image, with Kling's image limits",
        "price: ~15 Runway credits/s (~$0.15/s), billed as 5 s",
    ),
)
