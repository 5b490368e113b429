"""Every create body the registry builds, for each model and each of its options, is valid
against that model's published schema (``tests/registry/schemas/``, copies of
``shared/models/``) and carries only fields the schema names (the service refuses others).
The stand-in reads each body back exactly as it was built."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reskin.registry import MODELS, ModelSpec
from reskin.registry.options import Option, OptionValue

SCHEMAS = Path(__file__).parent / "schemas"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "models"
VIDEO = "data:video/mp4;base64,AAAA"
IMAGE = "https://images.example/look.png"


def schema_of(spec: ModelSpec, folder: Path = SCHEMAS) -> dict[str, Any]:
    document = json.loads((folder / spec.schema).read_text(encoding="utf-8"))
    post = document["paths"]["/v2/video/generations"]["post"]
    body: dict[str, Any] = post["requestBody"]["content"]["application/json"]["schema"]
    return body


def values_of(option: Option) -> list[OptionValue]:
    """Every value worth sending: each choice, each bound, the default."""
    if option.kind == "bool":
        return [True, False]
    if option.kind == "choice":
        return list(option.choices)
    found: list[OptionValue] = [v for v in (option.minimum, option.maximum) if v is not None]
    if option.default is not None:
        found.append(option.default)
    return [int(v) if option.kind == "int" else float(v) for v in found] or [1]


def bodies(spec: ModelSpec) -> list[dict[str, Any]]:
    """Bodies with no option, each option at each of its values, all options at once, and with
    the most references and the model's sound where the model takes them."""
    option_sets: list[dict[str, OptionValue]] = [{}]
    for option in spec.options:
        option_sets += [{option.name: value} for value in values_of(option)]
    option_sets.append({o.name: values_of(o)[-1] for o in spec.options})
    most = 0 if spec.references is None else spec.references.max_count
    extras = list(itertools.product((0, most), (False, spec.keep_audio_field is not None)))
    made = []
    for options, (count, sound) in itertools.product(option_sets, set(extras)):
        request = spec.create_request(
            prompt="p" * spec.prompt_max,
            video_url=VIDEO,
            references=[IMAGE] * count,
            options=options,
            keep_audio=sound,
        )
        made.append(request.body())
    return made


@pytest.mark.parametrize("spec", MODELS.values(), ids=lambda spec: spec.id)
def test_every_body_is_valid_against_the_model_s_schema(spec: ModelSpec) -> None:
    schema = schema_of(spec)
    known = set(schema["properties"])
    made = bodies(spec)
    assert len(made) > 2
    for body in made:
        jsonschema.validate(body, schema)
        assert set(body) <= known, set(body) - known
        assert spec.read_body(body).body() == body


@pytest.mark.parametrize("spec", MODELS.values(), ids=lambda spec: spec.id)
def test_options_are_the_schema_s_own_with_its_bounds(spec: ModelSpec) -> None:
    properties = schema_of(spec)["properties"]
    for option in spec.options:
        field = properties[option.name]
        if "enum" in field:
            assert list(option.choices) == field["enum"], option.name
        if "minimum" in field:
            assert option.minimum == field["minimum"], option.name
        if "maximum" in field:
            assert option.maximum == field["maximum"], option.name
        if "default" in field:
            assert option.default == field["default"], option.name
    for name, value in spec.fixed.items():
        assert value in properties[name].get("enum", [value]), name


@pytest.mark.parametrize("spec", MODELS.values(), ids=lambda spec: spec.id)
def test_a_prompt_past_the_model_s_limit_breaks_the_schema_where_it_has_one(
    spec: ModelSpec,
) -> None:
    limit = schema_of(spec)["properties"]["prompt"].get("maxLength")
    if limit is not None:
        assert spec.prompt_max == limit
    else:
        assert "prompt" in " ".join(spec.assumed)  # no published limit: the spec says assumed


def test_the_copies_are_the_published_schemas() -> None:
    if not SHARED.is_dir():
        pytest.skip("shared/ is not beside this clone (CI lays it there)")
    for spec in MODELS.values():
        assert schema_of(spec) == schema_of(spec, SHARED), spec.id
