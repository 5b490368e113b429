"""The models tables of ``docs/models.md``, made from the registry so they cannot go stale.

``python -m tools.models_table`` prints them; ``tests/tools/test_models_table.py`` fails when the
page no longer holds what this prints.
"""

from __future__ import annotations

from collections.abc import Callable

from reskin.registry import DEFAULT_MODEL, MODELS, ModelSpec
from reskin.registry.options import Option

BEGIN = "<!-- models table: made by python -m tools.models_table -->"
END = "<!-- end of the models table -->"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _output(spec: ModelSpec) -> str:
    out = spec.output
    size = {
        "service": "size the service picks",
        "frame_size": "at `frame_size`",
        "resolution": "at `resolution` (its shorter side)",
        "fixed": f"{out.fixed_size[0]}x{out.fixed_size[1]}" if out.fixed_size else "fixed",
    }[out.size]
    sound = "sound only with `--audio model`" if out.sound else "no sound"
    shape = "a list of URLs" if out.video_shape == "list" else "`{url}`"
    return f"{out.fps:g} fps, {size}, {sound}; `video` is {shape}"


def _option(option: Option) -> str:
    default = "" if option.default is None else f", default `{option.default}`".lower()
    assumed = " (bounds assumed)" if option.assumed else ""
    return f"`{option.name}`: {option.accepts}{default}{assumed}"


def _references(spec: ModelSpec) -> str:
    refs = spec.references
    if refs is None:
        return "none"
    return (
        f"up to {refs.max_count} as `{refs.field}`; each JPG/PNG, shorter side >= {refs.min_side}"
        f" px, aspect <= {refs.max_aspect:g}:1, <= {refs.max_bytes / 1e6:g} MB"
    )


def _limits(spec: ModelSpec) -> str:
    lim = spec.limits
    return (
        f"{lim.min_duration_s:g}..{lim.max_duration_s:g} s, sides {lim.min_side}..{lim.max_side}"
        f" px, {lim.min_fps:g}..{lim.max_fps:g} fps, <= {lim.max_bytes / 1e6:g} MB, "
        + "/".join(c.upper() for c in lim.containers)
    )


def table() -> str:
    rows = [
        "| | " + " | ".join(f"`{model}`" for model in MODELS) + " |",
        "|---|" + "---|" * len(MODELS),
    ]
    facts: dict[str, Callable[[ModelSpec], str]] = {
        "what it does": lambda s: s.title + (" (the default)" if s.id == DEFAULT_MODEL else ""),
        "input it takes": _limits,
        "prompt": lambda s: f"1..{s.prompt_max} characters",
        "reference images": _references,
        "options (`--option NAME=VALUE`)": lambda s: (
            "<br>".join(_option(o) for o in s.options) or "none"
        ),
        "always sent": lambda s: ", ".join(f"`{k}: {v}`" for k, v in s.fixed.items()) or "-",
        "result": _output,
        "billed": lambda s: (
            f"{_seconds(s.billing.min_billed_s)}..{_seconds(s.billing.max_billed_s)}; "
            + (
                f"about ${s.billing.usd_per_s:g}/s"
                if s.billing.usd_per_s is not None
                else "price not published"
            )
        ),
        "assumed (no first-party source)": lambda s: "<br>".join(s.assumed) or "-",
        "schema": lambda s: f"`shared/models/{s.schema}`",
    }
    for name, fact in facts.items():
        rows.append(f"| {name} | " + " | ".join(fact(spec) for spec in MODELS.values()) + " |")
    return "\n".join([BEGIN, "", *rows, "", END])


if __name__ == "__main__":
    print(table())
