"""The key from a Prefect Secret block: ``AIMLAPI_API_KEY_BLOCK`` names it, and every run loads
it from the Prefect server it reports to, so no worker needs the key in its environment.

Read where the settings become a run's services, on whatever runs the flow (a worker, a served
deployment's process, ``reskin edit``): :func:`with_key_from_block` returns the settings with
the block's value as their ``api_key``, a :class:`~pydantic.SecretStr` from the start. The core
stays Prefect-free: it sees a key, never a block. The block's name may be logged; its value is
never logged, put in a parameter, an artifact or a message. A block named but missing, of
another type, empty, or not a string is one line naming the setting and the block
(:class:`~reskin.errors.ConfigError`). With a block named, ``AIMLAPI_API_KEY`` is ignored: the
block is the more deliberate choice, and a stale key left on one machine must not win.

Make the block once, in the UI (Blocks, Secret) or in Python::

    from prefect.blocks.system import Secret
    Secret(value="sk-...").save("aimlapi-key")      # then AIMLAPI_API_KEY_BLOCK=aimlapi-key
"""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
from prefect import get_run_logger
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.exceptions import MissingContextError, PrefectHTTPStatusError
from pydantic import SecretStr

from reskin.errors import ConfigError
from reskin.settings import Settings

#: The setting that names the block, as a user sets it.
SETTING = "AIMLAPI_API_KEY_BLOCK"


async def with_key_from_block(settings: Settings) -> Settings:
    """``settings`` with the key of the Secret block they name; unchanged when they name none.

    Raises :class:`~reskin.errors.ConfigError` (one line) when the block cannot be used.
    """
    name = settings.api_key_block
    if name is None:
        return settings
    key = await _secret_value(name)
    if settings.api_key is not None:
        _logger().info(
            "the key comes from the Prefect Secret block %r: AIMLAPI_API_KEY is ignored", name
        )
    else:
        _logger().info("the key comes from the Prefect Secret block %r", name)
    return settings.model_copy(update={"api_key": key})


async def _secret_value(name: str) -> SecretStr:
    try:
        block = cast("Secret[Any]", await Secret.aload(name))
    except ValueError:  # Prefect's word for "no Secret block of that name"
        raise ConfigError(await _missing(name)) from None
    except (PrefectHTTPStatusError, httpx.HTTPError) as exc:
        raise ConfigError(
            f"{SETTING} names the Prefect Secret block '{name}', but the Prefect server could "
            f"not be asked for it ({_why(exc)}): check PREFECT_API_URL, or set AIMLAPI_API_KEY "
            f"and unset {SETTING}"
        ) from None
    value: Any = block.value.get_secret_value()
    # Not Secret.get(): it parses a string that looks like JSON, and a key is a string as is.
    if not isinstance(value, str) or not value.strip():
        what = "is empty" if isinstance(value, str) else "holds JSON, not a key"
        raise ConfigError(
            f"the Prefect Secret block '{name}' ({SETTING}) {what}: set its value to the "
            "AI/ML API key (Blocks in the Prefect UI)"
        )
    return SecretStr(value.strip())


async def _missing(name: str) -> str:
    """The one line for a name that is no Secret block: of another type, or none at all."""
    kind = await _block_type_of(name)
    if kind is not None:
        return (
            f"{SETTING} names the Prefect block '{name}', which is a {kind} block, not a "
            "Secret: name a Secret block that holds the AI/ML API key"
        )
    return (
        f"{SETTING} names the Prefect Secret block '{name}', which the Prefect server does not "
        "have: create it (Blocks > Secret in the Prefect UI) with the AI/ML API key, or unset "
        f"{SETTING} and set AIMLAPI_API_KEY"
    )


async def _block_type_of(name: str) -> str | None:
    """The type of a block named ``name``, if the server has one (secrets left out)."""
    body = {
        "block_documents": {"name": {"any_": [name]}},
        "include_secrets": False,
        "limit": 1,
    }
    try:
        async with get_client() as client:
            response = await client.request("POST", "/block_documents/filter", json=body)
    except (PrefectHTTPStatusError, httpx.HTTPError):
        return None  # only the wording of the message depends on it
    for document in response.json():
        block_type = document.get("block_type") or {}
        return str(block_type.get("name") or block_type.get("slug") or "another")
    return None


def _why(exc: Exception) -> str:
    if isinstance(exc, PrefectHTTPStatusError):
        return f"it answered {exc.response.status_code}"
    return type(exc).__name__


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger (its lines show in the UI), else this module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)
