"""The fixed table of looks: how the stand-in makes its edit visibly follow the prompt.

The prompt is only ever *searched* for the words below; it never reaches ffmpeg. The first look
of :data:`LOOKS` (in table order) with a word in the prompt wins; with none, :data:`DEFAULT_LOOK`
still changes the picture plainly, so a result can never pass for its input.

The filters are the fast 8-bit ones (``eq``, ``hue``, ``lutyuv``, ``colorchannelmixer``):
``colorbalance`` was three times slower and does nothing to fully saturated test patterns.
``colorchannelmixer`` works on RGB, so a frame is converted there and back, which doubles a
720p render's CPU (1.9 s against 0.9 s for 6 s); sepia, the look most tests ask for, is drawn
in YUV instead.

:func:`drift_filters` is the ``look_drift`` fault: a small change of the look, fixed by the job's
id, added after the look's own filters.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from reskin.media.commands import FilterStep


@dataclass(frozen=True)
class Look:
    """A named colour treatment and the prompt words that pick it."""

    name: str
    words: tuple[str, ...]
    filters: tuple[FilterStep, ...]
    description: str


LOOKS: tuple[Look, ...] = (
    Look(
        "monochrome",
        (
            "black-and-white",
            "black and white",
            "b&w",
            "monochrome",
            "noir",
            "grayscale",
            "greyscale",
        ),
        (("hue", {"s": 0}), ("eq", {"contrast": 1.3})),
        "no colour, contrast up",
    ),
    Look(
        "sepia",
        ("sepia", "vintage", "old photo"),
        # In YUV, not as the classic RGB sepia matrix (colorchannelmixer): a little brighter,
        # and every pixel's colour set to one brown (U 112, V 142). It looks the same and
        # renders in half the CPU: no conversion to RGB and back (docs/standin.md).
        (("eq", {"brightness": 0.06, "contrast": 1.05}), ("lutyuv", {"u": 112, "v": 142})),
        "brown-toned, little colour",
    ),
    Look(
        "neon",
        ("neon", "cyberpunk", "synthwave"),
        (
            ("eq", {"saturation": 2.2, "contrast": 1.3}),
            ("colorchannelmixer", {"rr": 1.0, "rb": 0.35, "gg": 0.75, "bb": 1.0, "br": 0.35}),
        ),
        "saturated, magenta-purple cast",
    ),
    Look(
        "night",
        ("night", "nighttime", "midnight", "moonlight", "moonlit"),
        (
            ("eq", {"brightness": -0.12, "saturation": 0.55, "gamma": 0.75}),
            ("colorchannelmixer", {"rr": 0.55, "gg": 0.7, "bb": 1.0, "br": 0.1, "bg": 0.1}),
        ),
        "dark, desaturated, blue",
    ),
    Look(
        "snow",
        ("snow", "snowy", "winter", "wintry", "blizzard"),
        (
            ("eq", {"brightness": 0.18, "saturation": 0.35, "contrast": 0.8}),
            ("colorchannelmixer", {"rr": 0.92, "gg": 0.96, "bb": 1.0, "br": 0.08, "bg": 0.08}),
        ),
        "bright, washed out, slightly blue",
    ),
    Look(
        "cold",
        ("cold", "icy", "ice", "frozen", "freezing"),
        (
            ("colorchannelmixer", {"rr": 0.7, "gg": 0.95, "bb": 1.0, "bg": 0.2, "br": 0.1}),
            ("eq", {"saturation": 0.9}),
        ),
        "blue-cyan cast",
    ),
    Look(
        "warm",
        ("warm", "sunset", "golden hour", "sunny", "summer"),
        (
            ("colorchannelmixer", {"rr": 1.0, "rg": 0.2, "gg": 0.92, "gr": 0.08, "bb": 0.65}),
            ("eq", {"saturation": 1.15}),
        ),
        "orange-yellow cast",
    ),
)

DEFAULT_LOOK = Look(
    "regrade",
    (),
    (("hue", {"h": 150, "s": 1.3}), ("eq", {"contrast": 1.3})),
    "hues turned by 150 degrees, contrast up: plainly artificial, plainly edited",
)


def _pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])")


_PATTERNS: tuple[tuple[Look, tuple[re.Pattern[str], ...]], ...] = tuple(
    (look, tuple(_pattern(word) for word in look.words)) for look in LOOKS
)


def choose_look(prompt: str) -> Look:
    """The look a prompt asks for: the first in :data:`LOOKS` with a whole word in the prompt."""
    text = " ".join(prompt.lower().split())
    for look, patterns in _PATTERNS:
        if any(pattern.search(text) for pattern in patterns):
            return look
    return DEFAULT_LOOK


#: The most ``look_drift`` changes a look, at strength 1: brightness offset (``eq``, -1..1),
#: saturation factor offset (``eq``, around 1) and hue turn in degrees (``hue``).
DRIFT_BRIGHTNESS = 0.08
DRIFT_SATURATION = 0.3
DRIFT_HUE_DEG = 15.0


def drift_filters(job_id: str, strength: float) -> tuple[FilterStep, ...]:
    """The filters that make job ``job_id``'s look drift by ``strength`` (0..1; 0: none).

    Three numbers in [-1, 1) from a hash of the id scale :data:`DRIFT_BRIGHTNESS`,
    :data:`DRIFT_SATURATION` and :data:`DRIFT_HUE_DEG`: two jobs drift apart, the same job
    drifts the same way every time. Numbers only, rounded so the log line stays readable.
    """
    if strength <= 0:
        return ()
    digest = hashlib.sha256(f"look-drift:{job_id}".encode()).digest()
    bright, sat, hue = (
        int.from_bytes(digest[i : i + 4], "big") / 2**31 - 1 for i in range(0, 12, 4)
    )
    return (
        (
            "eq",
            {
                "brightness": round(bright * DRIFT_BRIGHTNESS * strength, 4),
                "saturation": round(1 + sat * DRIFT_SATURATION * strength, 4),
            },
        ),
        ("hue", {"h": round(hue * DRIFT_HUE_DEG * strength, 2)}),
    )


def describe_filters(steps: tuple[FilterStep, ...]) -> str:
    """``steps`` as ffmpeg would read them, for logs: ``eq=brightness=0.01:saturation=1.1,...``
    (``none`` when empty)."""
    if not steps:
        return "none"
    return ",".join(
        name + "=" + ":".join(f"{key}={value:g}" for key, value in options.items())
        for name, options in steps
    )
