"""The client's connection pool and SSL context: sized by the settings, kept alive, one context."""

from __future__ import annotations

import asyncio
import json
import ssl
from contextlib import suppress
from types import TracebackType

import httpcore
import httpx
import pytest
from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.retry import RetryPolicy
from reskin.errors import ApiTimeoutError
from reskin.settings import Settings
from reskin.tls import shared_ssl_context

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789abcdef"
GEN_ID = "5f0c1c9e-0000-4000-8000-000000000001:klingai/video-o1-video-to-video-edit"
BODY = json.dumps({"id": GEN_ID, "status": "queued", "video": None}).encode()
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


class HoldingServer:
    """A loopback HTTP/1.1 server that holds every request until :attr:`release` is set, and
    notes the client port of every connection a request came on."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.held = 0
        self.ports: set[int] = set()
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> HoldingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def holding(self, count: int) -> None:
        """Return once ``count`` requests are held."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.held >= count)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                self.ports.add(writer.get_extra_info("peername")[1])
                async with self._changed:
                    self.held += 1
                    self._changed.notify_all()
                await self.release.wait()
                self.held -= 1
                writer.write(ANSWER)
                await writer.drain()
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()


async def test_requests_beyond_the_pool_wait_and_every_connection_is_kept_alive() -> None:
    async with HoldingServer() as server:
        client = AimlapiClient(
            server.url,
            SecretStr(KEY),
            timeout=httpx.Timeout(10.0, pool=0.2),
            retry=RetryPolicy(max_retries=0),
            max_connections=2,
        )
        async with client:
            first = [asyncio.create_task(client.fetch(GEN_ID)) for _ in range(2)]
            await server.holding(2)
            # Both connections are busy: a third request waits in the pool, here until its
            # pool timeout (a larger pool would have sent it, to be held past its read timeout).
            with pytest.raises(ApiTimeoutError) as caught:
                await client.fetch(GEN_ID)
            assert isinstance(caught.value.__cause__, httpx.PoolTimeout)
            server.release.set()
            await asyncio.gather(*first)
            server.release.clear()

            # Both idle connections were kept (httpcore 1.0.9 closes idle ones beyond the
            # keep-alive limit), so the next two requests travel on them.
            second = [asyncio.create_task(client.fetch(GEN_ID)) for _ in range(2)]
            await server.holding(2)
            server.release.set()
            await asyncio.gather(*second)
    assert len(server.ports) == 2


def pool_of(client: AimlapiClient) -> httpcore.AsyncConnectionPool:
    transport = client._http._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    return pool


async def test_the_pool_size_comes_from_the_settings_and_clients_share_one_ssl_context() -> None:
    settings = Settings(_env_file=None, api_key=SecretStr(KEY), http_max_connections=7)
    async with (
        AimlapiClient.from_settings(settings) as configured,
        AimlapiClient("http://127.0.0.1:9", SecretStr(KEY)) as default,
    ):
        one, two = pool_of(configured), pool_of(default)
        assert (one._max_connections, one._max_keepalive_connections) == (7, 7)
        assert (two._max_connections, two._max_keepalive_connections) == (1000, 1000)
        assert one._ssl_context is two._ssl_context is shared_ssl_context()
    # Still httpx's default: certificates and host names are checked against certifi's bundle.
    context = shared_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs()
