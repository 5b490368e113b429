"""A user's URLs (reskin/access/): https to public addresses only, unless a setting widens it;
the check is on the address connected to, for every redirect hop. The hostile set of issue 18 is
refused in one line, with nothing read and no request reaching a loopback listener; the allowed
cases still fetch."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from ipaddress import IPv4Network, ip_address
from pathlib import Path

import pytest

from reskin.access import (
    Access,
    address_problem,
    check_url,
    check_url_resolved,
    shown_url,
)
from reskin.access.transport import GuardedTransport, Resolver, guarded_transport
from reskin.aimlapi.retry import RetryPolicy
from reskin.download import download
from reskin.edit.source import fetch_remote, take_source
from reskin.errors import AccessError, DownloadError
from reskin.media.binaries import FFmpegTools
from reskin.settings import Settings
from tests.access.conftest import BODY, TLS_NAME, Counting
from tests.flows.checks import assert_one_line

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.216.34"


def _settings(tmp_path: Path, **fields: object) -> Settings:
    """Settings built from ``fields`` alone (no environment, no .env), retries off."""
    return Settings.model_validate({"work_dir": str(tmp_path / "work"), "max_retries": 0, **fields})


def _resolver(*answers: Sequence[str]) -> tuple[list[str], Resolver]:
    """A resolver that gives ``answers`` in turn (the last one again after that), and the
    names it was asked."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    return asked, resolve


# --- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to judge, not to bind)
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ],
)
def test_internal_addresses_are_not_public(address: str, word: str) -> None:
    problem = address_problem(ip_address(address))
    assert problem is not None
    assert word in problem


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ip_address(address)) is None


# --- the hostile set, without connecting ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hints"),
    [
        ("http://{here}/clip.mp4", ["plain http:// is off", "RESKIN_ALLOW_HTTP=true"]),
        ("https://{here}/clip.mp4", ["127.0.0.1 is a loopback address", "RESKIN_ALLOWED_HOSTS"]),
        ("https://[::1]:{port}/clip.mp4", ["::1 is a loopback address", "RESKIN_ALLOWED_NETWORKS"]),
        ("https://[::ffff:127.0.0.1]:{port}/c.mp4", ["loopback address", "RESKIN_ALLOWED_HOSTS"]),
        ("https://10.20.30.40/clip.mp4", ["10.20.30.40 is a private address"]),
        ("https://169.254.169.254/latest/meta-data/", ["169.254.169.254 is a link-local"]),
        (
            "https://localhost:{port}/clip.mp4",
            ["localhost is this machine", "RESKIN_ALLOWED_HOSTS"],
        ),
        ("https://media.localhost:{port}/c.mp4", ["media.localhost is this machine"]),
        ("file:///etc/passwd", ["file:// is not fetched", "an https:// URL"]),
        ("ftp://{here}/clip.mp4", ["ftp:// is not fetched"]),
        ("gopher://{here}/_GET", ["gopher:// is not fetched"]),
    ],
)
async def test_the_hostile_set_is_refused_in_one_line_before_anything_is_read(
    url: str,
    hints: list[str],
    listener: Counting,
    tmp_path: Path,
    ffmpeg_tools: FFmpegTools,
) -> None:
    url = url.format(here=f"127.0.0.1:{listener.port}", port=listener.port)
    before = listener.hits()
    job = tmp_path / "job"
    job.mkdir()
    with pytest.raises(AccessError) as caught:
        await take_source(url, job, ffmpeg_tools, _settings(tmp_path))
    message = assert_one_line(caught.value, "is refused", *hints)
    assert message.startswith("input ")
    assert list(job.iterdir()) == []
    assert listener.hits() == before


async def test_allowing_plain_http_still_refuses_the_loopback_address(
    listener: Counting, tmp_path: Path
) -> None:
    before = listener.hits()
    with pytest.raises(AccessError) as caught:
        await fetch_remote(
            listener.url(),
            tmp_path / "got",
            max_bytes=10**6,
            settings=_settings(tmp_path, allow_http=True),
            what="input clip.mp4",
        )
    assert_one_line(caught.value, "127.0.0.1 is a loopback address", "RESKIN_ALLOWED_HOSTS")
    assert not (tmp_path / "got").exists()
    assert listener.hits() == before


def test_a_shown_url_carries_no_credentials_or_signature() -> None:
    url = "https://user:pw@cdn.example/v/a.mp4?X-Amz-Signature=abc#t=1"
    assert shown_url(url) == "https://cdn.example/v/a.mp4"
    with pytest.raises(AccessError) as caught:
        check_url(url.replace("https", "http"), Access())
    assert "pw" not in str(caught.value)
    assert "abc" not in str(caught.value)


# --- names: the address connected to is the one checked -------------------------------------


async def test_a_name_that_resolves_to_loopback_gets_nowhere(
    listener: Counting, tmp_path: Path
) -> None:
    asked, resolve = _resolver(["127.0.0.1"])
    access = Access(allow_http=True)
    url = listener.url(host="media.example")
    before = listener.hits()
    with pytest.raises(AccessError) as caught:
        await download(
            url,
            tmp_path / "got",
            max_bytes=10**6,
            timeout_s=10,
            transport=guarded_transport(access, resolver=resolve),
        )
    assert_one_line(caught.value, "media.example resolves to 127.0.0.1", "RESKIN_ALLOWED_HOSTS")
    assert asked == ["media.example"]
    assert listener.hits() == before
    assert not (tmp_path / "got").exists()
    assert not (tmp_path / "got.part").exists()


async def test_a_name_that_changes_between_lookups_gets_nowhere(
    listener: Counting, tmp_path: Path
) -> None:
    """Public when a batch or a preflight looks it up, loopback when the fetch connects: the
    fetch checks the address it connects to, not the earlier answer."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    access = Access(allow_http=True)
    url = listener.url(host="rebind.example")
    check_url_resolved(url, access, lookup=lambda host, port: next(answers))

    async def resolve(host: str, port: int) -> Sequence[str]:
        return next(answers)

    before = listener.hits()
    with pytest.raises(AccessError, match=r"rebind\.example resolves to 127\.0\.0\.1"):
        await download(
            url,
            tmp_path / "got",
            max_bytes=10**6,
            timeout_s=10,
            transport=guarded_transport(access, resolver=resolve),
        )
    assert listener.hits() == before


async def test_a_name_with_one_private_answer_among_public_ones_is_refused(
    listener: Counting, tmp_path: Path
) -> None:
    _, resolve = _resolver([PUBLIC, "10.0.0.7", "127.0.0.1"])
    before = listener.hits()
    with pytest.raises(AccessError, match=r"10\.0\.0\.7 is a private address"):
        await download(
            listener.url(host="mixed.example"),
            tmp_path / "got",
            max_bytes=10**6,
            timeout_s=10,
            transport=guarded_transport(Access(allow_http=True), resolver=resolve),
        )
    assert listener.hits() == before


def test_a_batch_lookup_refuses_a_name_that_resolves_inward() -> None:
    with pytest.raises(AccessError) as caught:
        check_url_resolved(
            "https://cdn.internal.example/a.mp4",
            Access(),
            what="input",
            lookup=lambda host, port: ["169.254.169.254"],
        )
    assert_one_line(caught.value, "cdn.internal.example resolves to 169.254.169.254")
    # A name that does not resolve passes here: its fetch fails on its own.
    check_url_resolved("https://nowhere.invalid/a.mp4", Access(), lookup=_unresolvable)


def _unresolvable(host: str, port: int) -> Sequence[str]:
    raise OSError(-2, "Name or service not known")


# --- redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "hints"),
    [
        ("other", ["127.0.0.2 is a loopback address", "RESKIN_ALLOWED_NETWORKS"]),
        ("http://169.254.169.254/latest/meta-data/", ["169.254.169.254 is a link-local"]),
        ("http://localhost:{port}/clip.mp4", ["localhost is this machine"]),
        ("file:///etc/passwd", ["file:// is not fetched"]),
    ],
)
async def test_a_redirect_from_an_allowed_host_to_a_private_one_is_refused(
    target: str, hints: list[str], listener: Counting, other_listener: Counting, tmp_path: Path
) -> None:
    destination = other_listener.url() if target == "other" else target
    destination = destination.format(port=listener.port)
    settings = _settings(tmp_path, allow_http=True, allowed_hosts="127.0.0.1")
    before, other_before = listener.hits(), other_listener.hits()
    with pytest.raises(AccessError) as caught:
        await fetch_remote(
            listener.url(f"/redirect?to={destination}"),
            tmp_path / "got",
            max_bytes=10**6,
            settings=settings,
            what="input clip.mp4",
        )
    assert_one_line(caught.value, *hints)
    assert listener.hits() == before + 1  # the allowed hop, and nothing after it
    assert other_listener.hits() == other_before
    assert not (tmp_path / "got").exists()


def test_plain_http_needs_its_setting_even_to_an_allowed_host() -> None:
    """Each redirect hop passes this check too (GuardedTransport): https down to http is off."""
    access = Access(hosts=frozenset({"127.0.0.1"}))
    with pytest.raises(AccessError, match="plain http:// is off"):
        check_url("http://127.0.0.1/after-a-redirect.mp4", access)
    check_url("https://127.0.0.1/clip.mp4", access)  # the allowed host, over https


# --- what the settings allow still works --------------------------------------------------


async def test_an_allowed_host_is_fetched(listener: Counting, tmp_path: Path) -> None:
    settings = _settings(tmp_path, allow_http=True, allowed_hosts="127.0.0.1")
    before = listener.hits()
    await fetch_remote(
        listener.url("/allowed.mp4"),
        tmp_path / "got",
        max_bytes=10**6,
        settings=settings,
        what="input allowed.mp4",
    )
    assert (tmp_path / "got").read_bytes() == BODY
    assert listener.hits() == before + 1


async def test_an_allowed_redirect_is_followed(
    listener: Counting, other_listener: Counting, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, allow_http=True, allowed_networks="127.0.0.0/8")
    before = other_listener.hits()
    await fetch_remote(
        listener.url(f"/redirect?to={other_listener.url('/moved.mp4')}"),
        tmp_path / "got",
        max_bytes=10**6,
        settings=settings,
        what="input moved.mp4",
    )
    assert (tmp_path / "got").read_bytes() == BODY
    assert other_listener.hits() == before + 1


async def test_an_allowed_network_connects_to_the_checked_address_under_the_name(
    listener: Counting, tmp_path: Path
) -> None:
    asked, resolve = _resolver(["127.0.0.1"])
    access = Access(allow_http=True, networks=(IPv4Network("127.0.0.0/8"),))
    await download(
        listener.url("/named.mp4", host="media.example"),
        tmp_path / "got",
        max_bytes=10**6,
        timeout_s=10,
        transport=guarded_transport(access, resolver=resolve),
    )
    assert (tmp_path / "got").read_bytes() == BODY
    assert asked == ["media.example"]  # resolved once, by the guard
    assert listener.requests[-1] == ("/named.mp4", f"media.example:{listener.port}")


def test_public_https_urls_pass_the_static_check() -> None:
    check_url(f"https://{PUBLIC}/clip.mp4", Access())
    check_url("https://cdn.example/v/clip.mp4?sig=1", Access())
    check_url("HTTPS://CDN.EXAMPLE/clip.mp4", Access())


async def test_https_goes_to_the_checked_address_and_tls_still_checks_the_name(
    tls_listener: tuple[Counting, Path], tmp_path: Path
) -> None:
    server, cert = tls_listener
    trusted = ssl.create_default_context(cafile=str(cert))
    asked, resolve = _resolver(["127.0.0.1"])
    access = Access(networks=(IPv4Network("127.0.0.0/8"),))
    await download(
        server.url("/tls.mp4", scheme="https", host=TLS_NAME),
        tmp_path / "got",
        max_bytes=10**6,
        timeout_s=10,
        transport=GuardedTransport(access, resolver=resolve, verify=trusted),
    )
    assert (tmp_path / "got").read_bytes() == BODY
    assert asked == [TLS_NAME]
    assert server.requests[-1] == ("/tls.mp4", f"{TLS_NAME}:{server.port}")
    # The certificate names the host, not the address: the TLS check is on the name the user
    # gave, so the same listener by its address fails verification.
    with pytest.raises(DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
        await download(
            server.url("/tls.mp4", scheme="https"),
            tmp_path / "by-address",
            max_bytes=10**6,
            timeout_s=10,
            retry=RetryPolicy(max_retries=0),
            transport=GuardedTransport(
                Access(hosts=frozenset({"127.0.0.1"})), resolver=resolve, verify=trusted
            ),
        )
