"""What a run may touch: a user's URLs reach public addresses only, local files stay in the
allowed folders (docs/security.md).

Runs come from the command line, the Prefect UI's form, manifests others wrote and schedules,
and run on workers inside a team's network. What a user hands in (the input, the reference
images, the output, a batch's inbox, manifest and rows) is checked here:

- **URLs**: ``https://`` only (``http://`` with ``RESKIN_ALLOW_HTTP``); every connection, each
  redirect hop included, goes to a public address unless ``RESKIN_ALLOWED_HOSTS`` names the
  host or ``RESKIN_ALLOWED_NETWORKS`` holds the address. The check is on the address actually
  connected to: :class:`GuardedBackend` resolves the name once, checks every address it got
  and connects to a checked one (TLS still names the host), so a name that resolves to
  127.0.0.1, or to a public address first and a private one next, gets nowhere. Any other
  scheme (``file://``, ``ftp://``, ...) is refused; ``s3://`` goes to the storage the settings
  name. :func:`check_url` is the same rule without connecting (literal addresses and
  ``localhost`` refused at once; with a ``resolver``, names too).
- **Local paths**: with ``RESKIN_ALLOWED_DIRS`` set, a path is resolved (links followed, ``..``
  folded) and must lie in one of its folders (:func:`check_path`); unset, anything this user
  can read or write (the command line's default).

Each refusal is one :class:`~reskin.errors.AccessError` line naming what was refused and the
setting that allows it, raised before anything is read from it or paid. The service's own URLs
(``AIMLAPI_BASE_URL``, the result URLs it answers, a presigned S3 URL) are not a user's and are
not checked: a stand-in on loopback works with the default settings.

Call :func:`check_request` (one edit) or :func:`check_location` (one place) before a run
starts, and fetch a user's URL through :func:`guarded_transport`.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from reskin.errors import AccessError

if TYPE_CHECKING:
    from reskin.edit.request import EditRequest
    from reskin.settings import Settings

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
#: ``resolver(host, port)``: the addresses ``host`` resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
#: ``lookup(host, port)``: the same, blocking.
Lookup = Callable[[str, int], Sequence[str]]

_HTTP = "RESKIN_ALLOW_HTTP"
_HOSTS = "RESKIN_ALLOWED_HOSTS"
_NETWORKS = "RESKIN_ALLOWED_NETWORKS"
_DIRS = "RESKIN_ALLOWED_DIRS"
#: NAT64's well-known prefix (RFC 6052): the last 32 bits are an IPv4 address.
_NAT64 = IPv6Network("64:ff9b::/96")
#: Shared address space (RFC 6598, carrier-grade NAT): not global, not "private" to Python.
_SHARED = IPv4Network("100.64.0.0/10")


@dataclass(frozen=True)
class Access:
    """What the settings let a run touch (see the module's docstring)."""

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


# --- addresses ----------------------------------------------------------------------------


def address_problem(address: Address) -> str | None:
    """Why ``address`` is not a public one (``"a loopback address"``), or None when it is.
    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by it."""
    embedded = _embedded(address)
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


def _embedded(address: Address) -> tuple[IPv4Address, ...]:
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


def _allowed_address(address: Address, access: Access) -> bool:
    candidates = (address, *_embedded(address))
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in access.networks
    )


def _host(host: str) -> str:
    return host.lower().strip("[]").rstrip(".")


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _address_refusal(shown: str, host: str, address: Address, access: Access) -> str | None:
    if _allowed_address(address, access):
        return None
    problem = address_problem(address)
    if problem is None:
        return None
    via = "" if _literal(host) == address else f" ({host} resolves to {address})"
    return (
        f"{shown} is refused: {address} is {problem}{via}, and runs reach public addresses "
        f"only; give a public URL, or allow it with {_HOSTS} or {_NETWORKS}"
    )


# --- URLs --------------------------------------------------------------------------------


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
            f"{shown} is refused: plain http:// is off; give an https:// URL, or set {_HTTP}=true"
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
    host = _host(raw_host)
    if not host:
        raise AccessError(f"{shown} is refused: it names no host; check it")
    if host in access.hosts:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise AccessError(
            f"{shown} is refused: {host} is this machine (loopback), and runs reach public "
            f"addresses only; give a public URL, or allow it with {_HOSTS}"
        )
    address = _literal(host)
    if address is not None:
        refusal = _address_refusal(shown, host, address, access)
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
    host = _host(parts.hostname or "")
    if host in access.hosts or _literal(host) is not None:
        return
    try:
        found = (lookup or system_lookup)(host, parts.port or 443)
    except OSError:
        return
    shown = f"{what} {shown_url(url)}"
    for text in found:
        refusal = _address_refusal(shown, host, _parse(text), access)
        if refusal is not None:
            raise AccessError(refusal)


def system_lookup(host: str, port: int) -> Sequence[str]:
    """The system's resolver (``getaddrinfo``), blocking."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The system's resolver (``getaddrinfo``), without blocking the event loop."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _parse(text: str) -> Address:
    return ipaddress.ip_address(text.split("%", 1)[0])


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses :class:`Access` allows: the
    host is resolved once by ``resolver``, every address it gave is checked (one that is not
    allowed refuses the lot: a name that mixes public and private answers is not trusted), and
    the connection goes to a checked address, never to the name (which could resolve anew)."""

    def __init__(
        self,
        access: Access,
        *,
        what: str = "the input",
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._access = access
        self._what = what
        self._resolve = resolver or system_resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        name = _host(host)
        addresses = await self._addresses(name, port, timeout)
        if name not in self._access.hosts:
            shown = f"{self._what} at {name}:{port}"
            for address in addresses:
                refusal = _address_refusal(shown, name, address, self._access)
                if refusal is not None:
                    raise AccessError(refusal)
        *others, last = addresses
        for address in others:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue  # the next address, as a resolver's answer is meant to be tried
        return await self._inner.connect_tcp(
            str(last),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def _addresses(self, name: str, port: int, limit_s: float | None) -> list[Address]:
        literal = _literal(name)
        if literal is not None:
            return [literal]
        try:
            with anyio.fail_after(limit_s):
                found = await self._resolve(name, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {name} took too long") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {name} ({exc})") from exc
        addresses = list(dict.fromkeys(_parse(text) for text in found))
        if not addresses:
            raise httpcore.ConnectError(f"{name} resolves to no address")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AccessError(f"{self._what}: a Unix socket is not a place a run may connect to")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport for a user's URLs: each request (every redirect hop is one) passes
    :func:`check_url`, and connects through a :class:`GuardedBackend`. No proxy from the
    environment is used (a proxy would be the address connected to)."""

    def __init__(
        self,
        access: Access,
        *,
        what: str = "the input",
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        context = verify or _default_ssl_context()
        super().__init__(verify=context, trust_env=False)
        self._access = access
        self._what = what
        # httpx takes no network backend, httpcore's pool does: the pool is replaced with one
        # that has it (the same settings httpx gives its own).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=10,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(access, what=what, resolver=resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url(str(request.url), self._access, what=self._what)
        return await super().handle_async_request(request)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's roots), made once: it takes a tenth of a second."""
    return httpx.create_ssl_context()


def guarded_transport(
    access: Access, *, what: str = "the input", resolver: Resolver | None = None
) -> httpx.AsyncBaseTransport:
    """The transport to fetch a user's URL with (:class:`GuardedTransport`)."""
    return GuardedTransport(access, what=what, resolver=resolver)


# --- local paths ---------------------------------------------------------------------------


def check_path(path: str | Path, access: Access, *, what: str, write: bool = False) -> Path:
    """``path`` resolved (links followed, ``..`` folded, relative to the working folder);
    :class:`AccessError` when ``RESKIN_ALLOWED_DIRS`` is set and it lies in none of them."""
    given = Path(path).expanduser()
    resolved = given.resolve()
    if access.dirs is None or any(resolved.is_relative_to(folder) for folder in access.dirs):
        return resolved
    verb = "written" if write else "read"
    leads = "" if resolved == given else f" (it leads to {resolved})"
    folders = ", ".join(str(folder) for folder in access.dirs)
    raise AccessError(
        f"{what} {given}{leads} is outside the folders runs may use ({folders}), so it is not "
        f"{verb}; move it into one of them, or add its folder to {_DIRS}"
    )


def check_location(location: str, access: Access, *, what: str, write: bool = False) -> None:
    """One place a user named: an ``s3://`` location (the storage the settings name), a URL
    (:func:`check_url`: never for an output) or a local path (:func:`check_path`)."""
    scheme = urlsplit(location).scheme.lower()
    if scheme == "s3":
        return
    if len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        if write:
            raise AccessError(
                f"{what} {shown_url(location)} is refused: an output is a local path or an "
                "s3://bucket/key.mp4"
            )
        check_url(location, access, what=what)
        return
    check_path(location, access, what=what, write=write)


def check_request(request: EditRequest, access: Access) -> None:
    """Every place one edit names (input, reference images, output), before anything is read
    or paid."""
    check_location(request.input, access, what="input")
    for index, image in enumerate(request.reference_images):
        check_location(image, access, what=f"reference image {index + 1}")
    check_location(request.output, access, what="output", write=True)
