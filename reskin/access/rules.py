"""The rules a run is held to, from the settings (:class:`Access`), and the settings' names."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reskin.settings import Settings

Network = IPv4Network | IPv6Network

HTTP_SETTING = "RESKIN_ALLOW_HTTP"
HOSTS_SETTING = "RESKIN_ALLOWED_HOSTS"
NETWORKS_SETTING = "RESKIN_ALLOWED_NETWORKS"
DIRS_SETTING = "RESKIN_ALLOWED_DIRS"


@dataclass(frozen=True)
class Access:
    """What the settings let a run touch (see :mod:`reskin.access`)."""

    allow_http: bool = False
    #: Host names and literal addresses reached whatever they resolve to (lower case).
    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    #: Resolved folders local files must lie in; None: anywhere.
    dirs: tuple[Path, ...] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        return cls(
            allow_http=settings.allow_http,
            hosts=frozenset(settings.allowed_hosts),
            networks=tuple(settings.allowed_networks),
            dirs=settings.allowed_dirs,
        )
