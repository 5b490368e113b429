from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from reskin.errors import ConfigError
from reskin.registry import DEFAULT_MODEL
from reskin.settings import DEFAULT_BASE_URL, Settings, load_settings


def test_defaults_point_at_the_real_service_without_a_key():
    s = Settings(_env_file=None)
    assert s.base_url == DEFAULT_BASE_URL
    assert s.model == DEFAULT_MODEL
    assert s.api_key is None
    assert s.uses_default_service
    assert s.poll_deadline_s == 1200


def test_service_variables_keep_their_names_and_the_rest_use_the_prefix(monkeypatch):
    monkeypatch.setenv("AIMLAPI_API_KEY", "sk-env")
    monkeypatch.setenv("AIMLAPI_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("RESKIN_MAX_RETRIES", "2")
    monkeypatch.setenv("RESKIN_POLL_DEADLINE_S", "30")
    s = Settings(_env_file=None)
    assert s.api_key is not None
    assert s.api_key.get_secret_value() == "sk-env"
    assert s.base_url == "http://127.0.0.1:9"
    assert not s.uses_default_service
    assert (s.max_retries, s.poll_deadline_s) == (2, 30)


def test_a_dotenv_file_is_read_when_asked(tmp_path: Path):
    env = tmp_path / "custom.env"
    env.write_text("AIMLAPI_API_KEY=sk-file\nRESKIN_READ_TIMEOUT_S=5\n")
    s = Settings(_env_file=env)
    assert s.api_key is not None
    assert s.api_key.get_secret_value() == "sk-file"
    assert s.read_timeout_s == 5


def test_the_key_is_masked_in_repr_and_dumps():
    s = Settings(_env_file=None, api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(s)
    assert "sk-very-secret" not in str(s.model_dump())
    assert "sk-very-secret" not in s.model_dump_json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 11),
        ("read_timeout_s", 0),
        ("http_max_connections", 0),
        ("poll_deadline_s", 10**6),
        ("base_url", "ftp://example.test"),
        ("model", "runway/gen5"),
        ("model", ""),
    ],
)
def test_out_of_bounds_values_are_refused(field, value):
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **{field: value})


def test_every_field_is_described():
    for name, field in Settings.model_fields.items():
        assert field.description, name


def test_the_readme_documents_every_setting():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    aliases = {
        "api_key": "AIMLAPI_API_KEY",
        "api_key_block": "AIMLAPI_API_KEY_BLOCK",
        "base_url": "AIMLAPI_BASE_URL",
    }
    for name in Settings.model_fields:
        variable = aliases.get(name, f"RESKIN_{name.upper()}")
        assert f"| `{variable}` |" in readme, variable


def test_load_settings_turns_bad_values_into_one_line_without_the_value(monkeypatch):
    monkeypatch.setenv("AIMLAPI_BASE_URL", "ftp://secret-host.test")
    monkeypatch.setenv("RESKIN_MAX_RETRIES", "99")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert "AIMLAPI_BASE_URL" in message
    assert "RESKIN_MAX_RETRIES" in message
    assert "secret-host" not in message
    assert "\n" not in message
