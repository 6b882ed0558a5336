"""Issue 9 item 1: a board cannot make us fetch an internal address (server-side request forgery).

Boards choose what we fetch next: redirects, sitemap `<loc>`s, "next" links. Anything that is an
internal address (loopback, private, link-local, metadata…) or another port of a configured host
is refused with one warning, unless its exact origin is a configured source's.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import httpcore
import pytest

from bot.errors import RefusedFetch
from bot.fetch import AddressRefused, GuardedBackend, OriginPolicy, internal_kind
from tests.boardserver import serve
from tests.fetchkit import fetcher, within
from tests.fieldkit import once, stored, write_config


def _feed(*titles: str, base: str = "https://board.example") -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>{base}/jobs/{i}</link><guid>{base}/jobs/{i}</guid>"
        "<description>Acme is hiring.</description></item>"
        for i, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Acme jobs'
        f"</title><link>{base}/</link>{items}</channel></rss>"
    ).encode()


def _job_page(title: str) -> bytes:
    return (
        '<html><head><script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "JobPosting", "title": "{title}", "hiringOrganization": {{"@type": '
        '"Organization", "name": "Acme"}, "jobLocation": {"@type": "Place", "address": '
        '"Berlin"}}</script></head><body></body></html>'
    ).encode()


def _urlset(urls: list[str]) -> bytes:
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
    ).encode()


def _warnings_naming(caplog: pytest.LogCaptureFixture, *parts: str) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return [line for line in lines if all(part in line for part in parts)]


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket tried to connect to (the conftest guard still applies)."""
    seen: list[Any] = []
    guarded = socket.socket.connect

    def recording(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        return guarded(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return seen


async def test_redirect_to_another_port_of_localhost_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bug: a 302 to http://127.0.0.1:<other port>/ was followed and its answer stored."""
    async with serve(ports=2) as server:
        internal = server.url("/admin/jobs.rss", 1)
        server.add("/jobs.rss", status=302, headers={"Location": internal})
        server.add("/admin/jobs.rss", body=_feed("Internal secret"))
        settings = write_config(
            tmp_path, [{"name": "board", "kind": "rss", "url": server.url("/jobs.rss")}]
        )
        (outcome,) = await within(once(settings))
    assert not outcome.ok
    assert internal in (outcome.error or "")
    assert stored(settings) == []
    assert [r.port for r in server.requests] == [server.ports[0]]  # never connected to port 1
    assert len(_warnings_naming(caplog, "board", internal)) == 1


async def test_redirect_to_another_configured_source_is_followed(tmp_path: Path) -> None:
    async with serve(ports=2) as server:
        server.add("/old.rss", status=301, headers={"Location": server.url("/jobs.rss", 1)})
        server.add("/jobs.rss", body=_feed("Platform Engineer"))
        settings = write_config(
            tmp_path,
            [
                {"name": "moved", "kind": "rss", "url": server.url("/old.rss", 0)},
                {"name": "other", "kind": "rss", "url": server.url("/jobs.rss", 1)},
            ],
        )
        outcomes = await within(once(settings))
    assert all(o.ok for o in outcomes), outcomes
    assert {p.title for p in stored(settings)} == {"Platform Engineer"}


async def test_sitemap_loc_on_an_internal_origin_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(ports=2) as server:
        good, internal = server.url("/job/backend-1", 0), server.url("/job/secret-2", 1)
        server.add("/sitemap.xml", body=_urlset([good, internal]))
        server.add("/job/backend-1", body=_job_page("Backend Engineer"))
        server.add("/job/secret-2", body=_job_page("Internal secret"))
        settings = write_config(
            tmp_path, [{"name": "shop", "kind": "jsonld", "url": server.url("/sitemap.xml")}]
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    assert [p.title for p in stored(settings)] == ["Backend Engineer"]
    assert server.ports[1] not in {r.port for r in server.requests}
    assert len(_warnings_naming(caplog, "shop", internal)) == 1


async def test_html_next_link_to_an_internal_origin_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(ports=2) as server:
        internal = server.url("/page2", 1)
        server.add(
            "/careers",
            body=(
                '<ul><li class="job"><a href="/jobs/1">Data Engineer</a></li></ul>'
                f'<a rel="next" href="{internal}">next</a>'
            ).encode(),
        )
        server.add("/page2", body=b'<ul><li class="job"><a href="/jobs/2">Secret</a></li></ul>')
        settings = write_config(
            tmp_path,
            [
                {
                    "name": "careers",
                    "kind": "html",
                    "url": server.url("/careers"),
                    "item": "li.job",
                    "title": "a",
                    "next": "a[rel=next]",
                    "company_name": "Acme",
                }
            ],
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    assert [p.title for p in stored(settings)] == ["Data Engineer"]
    assert server.ports[1] not in {r.port for r in server.requests}
    assert len(_warnings_naming(caplog, "careers", internal)) == 1


async def test_metadata_address_is_refused_without_any_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, connects: list[Any]
) -> None:
    metadata = "http://169.254.169.254/latest/meta-data/job/iam-1"
    async with serve() as server:
        server.add("/sitemap.xml", body=_urlset([metadata]))
        settings = write_config(
            tmp_path,
            [{"name": "shop", "kind": "jsonld", "url": server.url("/sitemap.xml"), "robots": True}],
        )
        (outcome,) = await within(once(settings))
    assert not outcome.ok
    assert stored(settings) == []
    assert all(address[0] == "127.0.0.1" for address in connects)
    assert len(_warnings_naming(caplog, "shop", metadata)) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:8080/",
        "http://0.0.0.0:8000/",
        "http://10.0.0.5/admin",
        "http://[::1]/",
        "http://224.0.0.1/",
    ],
)
async def test_internal_ip_literals_are_refused_before_connecting(
    url: str, connects: list[Any]
) -> None:
    async with fetcher(policy=OriginPolicy()) as fetch:
        with pytest.raises(RefusedFetch, match="refused to fetch") as caught:
            await within(fetch.get(url, source="board"))
    assert caught.value.source == "board"
    assert caught.value.url == url
    assert not caught.value.retryable
    assert connects == []


async def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "intranet.test" else []

    async with serve() as server:
        policy = OriginPolicy.of([server.url("/")])
        async with fetcher(policy=policy, resolver=resolver) as fetch:
            server.add("/x", body=b"secret")
            url = f"http://intranet.test:{server.ports[0]}/x"
            with pytest.raises(RefusedFetch, match=r"intranet\.test resolves to 127\.0\.0\.1"):
                await within(fetch.get(url, source="board", robots=False))
            # The configured origin itself is allowed, loopback or not.
            ok = await within(fetch.get(server.url("/x"), robots=False))
    assert ok.text == "secret"
    assert server.hits("/x") == 1


async def test_robots_txt_redirect_to_an_internal_origin_is_not_followed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve(ports=2) as server:
        policy = OriginPolicy.of([server.url("/", 0)])
        server.add("/robots.txt", status=301, headers={"Location": server.url("/robots.txt", 1)})
        server.add("/jobs", body=b"ok")
        async with fetcher(policy=policy) as fetch:
            result = await within(fetch.get(server.url("/jobs", 0), source="board"))
    assert result.text == "ok"
    assert server.ports[1] not in {r.port for r in server.requests}
    assert len(_warnings_naming(caplog, "board", server.url("/robots.txt", 1))) == 1


def test_policy_rules() -> None:
    policy = OriginPolicy.of(["https://jobs.example/board", "http://127.0.0.1:8000/feed", "seeds/"])
    assert policy.refusal("https://jobs.example/other") is None
    assert policy.refusal("http://jobs.example/") is None  # its web ports: http→https and back
    assert "another port" in (policy.refusal("https://jobs.example:8443/admin") or "")
    assert policy.refusal("http://127.0.0.1:8000/anything") is None  # configured by the operator
    assert "another scheme" in (policy.refusal("https://127.0.0.1:8000/") or "")
    assert "another port" in (policy.refusal("http://127.0.0.1:8001/") or "")
    assert "loopback" in (policy.refusal("http://127.0.0.2:8000/") or "")
    assert policy.refusal("https://boards.example.org/x") is None  # names are checked at connect
    assert policy.refusal("https://Bücher.example/") is None


def test_internal_kinds() -> None:
    assert internal_kind("169.254.169.254") == "cloud metadata"
    assert internal_kind("fd00:ec2::254") == "cloud metadata"
    assert internal_kind("100.100.100.200") == "cloud metadata"
    assert internal_kind("127.0.0.2") == "loopback"
    assert internal_kind("::ffff:10.0.0.1") == "private"
    assert internal_kind("2002:7f00:1::") == "loopback"  # 6to4 of 127.0.0.1
    assert internal_kind("64:ff9b::a9fe:a9fe") == "cloud metadata"  # NAT64 of 169.254.169.254
    assert internal_kind("192.168.1.1") == "private"
    assert internal_kind("100.64.0.1") == "non-public"  # carrier-grade NAT
    assert internal_kind("fe80::1") == "link-local"
    assert internal_kind("ff02::1") == "multicast"
    assert internal_kind("0.0.0.0") == "unspecified"
    assert internal_kind("240.0.0.1") is not None  # class E
    assert internal_kind("93.184.215.14") is None
    assert internal_kind("2606:4700::1111") is None
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        internal_kind("jobs.example")


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> Any:
        return (self.peer, 443) if info == "server_addr" else None


class _RecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, peer: str | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.peer = peer
        self.streams: list[_Stream] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((host, port))
        self.streams.append(_Stream(self.peer or host))
        return self.streams[-1]


async def test_dns_rebinding_connects_to_the_address_that_was_checked() -> None:
    """The name is resolved once per connection and the socket opened to that very address, so
    a resolver that answers a public address and then 127.0.0.1 never gets us to loopback."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"], ["93.184.215.14"]])
    resolutions: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        resolutions.append(host)
        return next(answers)

    inner = _RecordingBackend()
    backend = GuardedBackend(OriginPolicy(), rebinding, inner)
    await backend.connect_tcp("rebind.example", 443)
    assert inner.calls == [("93.184.215.14", 443)]
    assert resolutions == ["rebind.example"]
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1 \(loopback\)"):
        await backend.connect_tcp("rebind.example", 443)
    assert inner.calls == [("93.184.215.14", 443)]  # the second answer was never connected to


async def test_a_peer_that_turns_out_internal_is_dropped() -> None:
    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    inner = _RecordingBackend(peer="10.1.2.3")
    with pytest.raises(AddressRefused, match=r"10\.1\.2\.3 \(private\)"):
        await GuardedBackend(OriginPolicy(), public, inner).connect_tcp("odd.example", 443)
    assert inner.streams[0].closed


async def test_configured_endpoint_connects_without_checks() -> None:
    async def never(host: str, port: int) -> list[str]:
        raise AssertionError("a configured endpoint is not resolved by the guard")

    inner = _RecordingBackend()
    backend = GuardedBackend(OriginPolicy.of(["http://jobs.internal:8080/"]), never, inner)
    await backend.connect_tcp("jobs.internal", 8080)
    assert inner.calls == [("jobs.internal", 8080)]
