"""The process's one TLS context, for every httpx client reskin makes.

httpx loads the CA bundle into a fresh context for every client it makes, ``http://`` base URLs
included: about 25 to 35 ms of CPU and 0.8 MiB each (``bench/results/in_flight.md``), which a
client per wait, per download and per run multiplies.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The process's one SSL context, built as httpx builds its default (certifi's CA bundle,
    or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set; read once, at the first client).

    One context may serve many clients, threads and event loops: it is only read, except that
    httpcore sets its ALPN protocols at each TLS connect, always to ``["http/1.1"]`` since no
    client here enables HTTP/2; do not hand it to a client that does.
    """
    return httpx.create_ssl_context()
