"""A user's URLs, checked without connecting (:func:`check_url`) or with a lookup of the
host's addresses now (:func:`check_url_resolved`)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from reskin.access.addresses import address_refusal, host_of, literal, parse
from reskin.access.rules import HOSTS_SETTING, HTTP_SETTING, Access
from reskin.errors import AccessError

#: ``lookup(host, port)``: the addresses ``host`` resolves to, as strings, blocking.
Lookup = Callable[[str, int], Sequence[str]]


def shown_url(url: str) -> str:
    """``url`` as messages show it: no user, password, query or fragment (a presigned URL's
    signature is a credential)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url.split("?", 1)[0][:200]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{netloc}{parts.path}"[:200]


def check_url(url: str, access: Access, *, what: str = "the input") -> None:
    """Refuse (:class:`AccessError`) a user's URL the rules refuse without connecting: a
    scheme other than https (http when allowed), no host, ``localhost``, or a literal address
    that is not public and not allowed. A host name's addresses are checked when connecting
    (:class:`GuardedBackend`), or by :func:`check_url_resolved`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = f"{what} {shown_url(url)}"
    if scheme == "http" and not access.allow_http:
        raise AccessError(
            f"{shown} is refused: plain http:// is off; give an https:// URL, or set "
            f"{HTTP_SETTING}=true"
        )
    if scheme not in ("http", "https"):
        raise AccessError(
            f"{shown} is refused: {scheme or 'a URL without a scheme'}:// is not fetched; give a "
            "local path, an https:// URL or an s3://bucket/key"
        )
    try:
        raw_host = parts.hostname or ""
        parts.port  # noqa: B018 (a bad port raises here, not at connect time)
    except ValueError:
        raise AccessError(f"{shown} is refused: its host or port is not valid; check it") from None
    host = host_of(raw_host)
    if not host:
        raise AccessError(f"{shown} is refused: it names no host; check it")
    if host in access.hosts:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise AccessError(
            f"{shown} is refused: {host} is this machine (loopback), and runs reach public "
            f"addresses only; give a public URL, or allow it with {HOSTS_SETTING}"
        )
    address = literal(host)
    if address is not None:
        refusal = address_refusal(shown, host, address, access)
        if refusal is not None:
            raise AccessError(refusal)


def check_url_resolved(
    url: str, access: Access, *, what: str = "the input", lookup: Lookup | None = None
) -> None:
    """:func:`check_url`, and the host's addresses now, by ``lookup`` (the system's resolver):
    what a batch or a preflight calls before anything is paid. A name that does not resolve
    passes (its fetch fails on its own); connecting checks the addresses again."""
    check_url(url, access, what=what)
    parts = urlsplit(url)
    host = host_of(parts.hostname or "")
    if host in access.hosts or literal(host) is not None:
        return
    try:
        found = (lookup or system_lookup)(host, parts.port or 443)
    except OSError:
        return
    shown = f"{what} {shown_url(url)}"
    for text in found:
        refusal = address_refusal(shown, host, parse(text), access)
        if refusal is not None:
            raise AccessError(refusal)


def system_lookup(host: str, port: int) -> Sequence[str]:
    """The system's resolver (``getaddrinfo``), blocking."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
