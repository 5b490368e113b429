"""The registry: every video-edit model reskin knows, by id, and the default one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from reskin.errors import ConfigError
from reskin.registry import aleph, kling, krea, luma
from reskin.registry.spec import ModelSpec

MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {spec.id: spec for spec in (kling.SPEC, aleph.SPEC, luma.SPEC, krea.SPEC)}
)
#: The model of a request that names none (and of ``RESKIN_MODEL`` left unset).
DEFAULT_MODEL = kling.ID


def spec_for(model: str) -> ModelSpec:
    """The spec of ``model``; one-line :class:`ConfigError` listing the known ids otherwise."""
    try:
        return MODELS[model]
    except KeyError:
        known = ", ".join(MODELS)
        raise ConfigError(f"unknown model {model!r}: choose one of {known}") from None
