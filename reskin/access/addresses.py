"""Addresses: which are public, which the rules allow, and the one line that refuses one."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from reskin.access.rules import HOSTS_SETTING, NETWORKS_SETTING, Access

Address = IPv4Address | IPv6Address
#: NAT64's well-known prefix (RFC 6052): the last 32 bits are an IPv4 address.
_NAT64 = IPv6Network("64:ff9b::/96")
#: Shared address space (RFC 6598, carrier-grade NAT): not global, not "private" to Python.
_SHARED = IPv4Network("100.64.0.0/10")


def address_problem(address: Address) -> str | None:
    """Why ``address`` is not a public one (``"a loopback address"``), or None when it is.
    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by it."""
    embedded = carried(address)
    if not embedded:
        return _own_problem(address)
    # The prefix that carries an IPv4 address is not global by itself: the address it carries
    # is where the packets go.
    for candidate in embedded:
        problem = _own_problem(candidate)
        if problem is not None:
            return f"{problem} (it carries {candidate})"
    return None


def _own_problem(address: Address) -> str | None:
    # The order matters only for the word used: each is refused.
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (where cloud metadata services answer)"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, IPv4Address) and address in _SHARED, "a shared (CGNAT) address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    for hit, word in checks:
        if hit:
            return word
    return None


def carried(address: Address) -> tuple[IPv4Address, ...]:
    if isinstance(address, IPv4Address):
        return ()
    found: list[IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(IPv4Address(int(address) & 0xFFFFFFFF))
    return tuple(found)


def allowed_address(address: Address, access: Access) -> bool:
    candidates = (address, *carried(address))
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in access.networks
    )


def host_of(host: str) -> str:
    return host.lower().strip("[]").rstrip(".")


def literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def address_refusal(shown: str, host: str, address: Address, access: Access) -> str | None:
    if allowed_address(address, access):
        return None
    problem = address_problem(address)
    if problem is None:
        return None
    via = "" if literal(host) == address else f" ({host} resolves to {address})"
    return (
        f"{shown} is refused: {address} is {problem}{via}, and runs reach public addresses "
        f"only; give a public URL, or allow it with {HOSTS_SETTING} or {NETWORKS_SETTING}"
    )


def parse(text: str) -> Address:
    return ipaddress.ip_address(text.split("%", 1)[0])
