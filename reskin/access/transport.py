"""The httpx transport a user's URL is fetched through: every connection, each redirect hop
included, goes only to an address the rules allow, the one checked (:class:`GuardedBackend`)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio
import httpcore
import httpx

from reskin.access.addresses import Address, address_refusal, host_of, literal, parse
from reskin.access.rules import Access
from reskin.access.urls import check_url
from reskin.errors import AccessError
from reskin.tls import shared_ssl_context

#: ``resolver(host, port)``: the addresses ``host`` resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The system's resolver (``getaddrinfo``), without blocking the event loop."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


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
        name = host_of(host)
        addresses = await self._addresses(name, port, timeout)
        if name not in self._access.hosts:
            shown = f"{self._what} at {name}:{port}"
            for address in addresses:
                refusal = address_refusal(shown, name, address, self._access)
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
        given = literal(name)
        if given is not None:
            return [given]
        try:
            with anyio.fail_after(limit_s):
                found = await self._resolve(name, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {name} took too long") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {name} ({exc})") from exc
        addresses = list(dict.fromkeys(parse(text) for text in found))
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
        context = verify or shared_ssl_context()
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


def guarded_transport(
    access: Access, *, what: str = "the input", resolver: Resolver | None = None
) -> httpx.AsyncBaseTransport:
    """The transport to fetch a user's URL with (:class:`GuardedTransport`)."""
    return GuardedTransport(access, what=what, resolver=resolver)
