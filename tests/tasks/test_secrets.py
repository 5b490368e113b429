"""The key from a Prefect Secret block (``AIMLAPI_API_KEY_BLOCK``), against a real Prefect
server (the test harness's): the block's value becomes the settings' key, and a block that
cannot be used is one line naming the setting and the block, never a value. A served
deployment's run with the key only in a block: ``tests/deployments/test_key_block.py``."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from pydantic import SecretStr

from flows.edit_video import edit_video
from reskin.cli.edit import require_service
from reskin.errors import ConfigError
from reskin.settings import Settings, load_settings
from reskin.standin.server import StandIn
from reskin.standin.stats import Stats
from tasks.secrets import SETTING, with_key_from_block
from tests.flows.checks import ask, assert_one_line

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]

KEY = "sk-block-" + uuid.uuid4().hex


class Note(Block):
    """A block of another type than Secret."""

    text: str


def block_name() -> str:
    """A name no other test's block has (the harness's server is the session's)."""
    return f"key-{uuid.uuid4().hex[:12]}"


def settings_naming(name: str, **values: object) -> Settings:
    return Settings(_env_file=None, api_key_block=name, **values)  # type: ignore[arg-type]


async def test_no_block_named_leaves_the_settings_as_they_are() -> None:
    settings = Settings(_env_file=None, api_key=SecretStr("sk-env"))
    assert await with_key_from_block(settings) is settings


async def test_the_blocks_value_becomes_the_key_and_only_its_name_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = block_name()
    await Secret(value=KEY).asave(name)
    # A key in the environment too: the block is the deliberate choice and wins.
    settings = settings_naming(name, api_key=SecretStr("sk-stale-env-key"))

    with caplog.at_level(logging.INFO, logger="tasks.secrets"):
        loaded = await with_key_from_block(settings)

    assert isinstance(loaded.api_key, SecretStr)
    assert loaded.api_key.get_secret_value() == KEY
    assert loaded.api_key_block == name
    assert settings.api_key is not None  # the caller's settings are not changed
    assert settings.api_key.get_secret_value() == "sk-stale-env-key"
    assert KEY not in repr(loaded)
    lines = [record.getMessage() for record in caplog.records]
    assert any(name in line and "AIMLAPI_API_KEY is ignored" in line for line in lines), lines
    assert not [line for line in lines if KEY in line]


async def test_a_key_that_looks_like_json_stays_a_string() -> None:
    # Secret.get() would parse "12345" as a number; a key is a string as it is.
    name = block_name()
    await Secret(value="12345").asave(name)
    loaded = await with_key_from_block(settings_naming(name))
    assert loaded.api_key is not None
    assert loaded.api_key.get_secret_value() == "12345"


async def test_a_missing_block_is_one_line_naming_the_setting_and_the_block() -> None:
    name = block_name()
    with pytest.raises(ConfigError) as caught:
        await with_key_from_block(settings_naming(name))
    message = assert_one_line(caught.value, SETTING, f"'{name}'", "does not have", "create it")
    assert caught.value.__cause__ is None  # no Prefect traceback chained to a user error
    assert "Traceback" not in message


async def test_a_block_of_another_type_says_so() -> None:
    name = block_name()
    await Note(text="not a key").asave(name)
    with pytest.raises(ConfigError) as caught:
        await with_key_from_block(settings_naming(name))
    assert_one_line(caught.value, SETTING, f"'{name}'", "Note block, not a Secret")


@pytest.mark.parametrize(
    ("value", "said"), [("   ", "is empty"), ({"key": KEY}, "holds JSON, not a key")]
)
async def test_an_empty_or_json_secret_is_one_line_without_its_value(
    value: object, said: str
) -> None:
    name = block_name()
    await Secret(value=value).asave(name)
    with pytest.raises(ConfigError) as caught:
        await with_key_from_block(settings_naming(name))
    message = assert_one_line(caught.value, SETTING, f"'{name}'", said)
    assert KEY not in message


def test_the_setting_is_read_from_its_variable_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SETTING, "aimlapi-key")
    assert load_settings().api_key_block == "aimlapi-key"
    monkeypatch.setenv(SETTING, " ")  # empty names none (`reskin demo` sets it so)
    assert load_settings().api_key_block is None
    monkeypatch.setenv(SETTING, "Not A Block Name")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert_one_line(caught.value, SETTING)
    assert "Not A Block Name" not in str(caught.value)


def test_reskin_edit_starts_with_a_block_and_no_key_and_leaves_it_to_the_run() -> None:
    require_service(settings_naming("aimlapi-key"))  # no error: the run reads the block
    with pytest.raises(ConfigError) as caught:
        require_service(Settings(_env_file=None))
    assert_one_line(caught.value, "AIMLAPI_API_KEY")


async def test_a_run_naming_a_missing_block_fails_before_any_work(
    edit_env: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The flow reads the block first: nothing reaches the service, nothing is written."""
    name = block_name()
    monkeypatch.delenv("AIMLAPI_API_KEY")
    monkeypatch.setenv(SETTING, name)
    output = tmp_path / "out" / "never.mp4"
    request = ask(tmp_path / "never-read.mp4", output)

    with pytest.raises(ConfigError) as caught:
        await edit_video(request)

    assert_one_line(caught.value, SETTING, f"'{name}'")
    assert standin.stats() == Stats()  # not one call: no create, no upload
    assert not output.parent.exists()
