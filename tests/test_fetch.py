"""The polite fetcher against a real server on 127.0.0.1 (and MockTransport where simpler)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import time

import brotli
import httpx
import pytest

from bot.errors import FetchError
from bot.fetch import Fetcher, make_client, parse_retry_after
from tests.boardserver import Reply, Request, Route, serve
from tests.fetchkit import FAST, DictValidators, Sleeps, fetcher, settings, within


async def test_sends_user_agent_with_contact_and_decodes_gzip_and_brotli() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/gz", body=gzip.compress(b'{"a": 1}'), headers={"Content-Encoding": "gzip"})
        server.add("/br", body=brotli.compress(b"caf\xc3\xa9"), headers={"Content-Encoding": "br"})
        gz = await within(fetch.get(server.url("/gz"), robots=False))
        br = await within(fetch.get(server.url("/br"), robots=False))
    assert gz.json() == {"a": 1}
    assert br.text == "café"
    agent = server.requests[0].headers["user-agent"]
    assert agent.startswith("jobhound/")
    assert FAST.contact_url in agent
    assert "br" in server.requests[0].headers["accept-encoding"]


async def test_make_client_has_configured_timeouts_and_no_automatic_redirects() -> None:
    client = make_client(settings(connect_timeout=3, read_timeout=7, total_timeout=11))
    async with client:
        assert client.timeout.connect == 3
        assert client.timeout.read == 7
        assert client.follow_redirects is False  # the Fetcher follows them, hop by hop


async def test_conditional_get_304_after_remember() -> None:
    store = DictValidators()
    async with serve() as server, fetcher(validators=store) as fetch:
        server.add(
            "/board",
            body=b"[]",
            etag='"v1"',
            headers={"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
        )
        first = await within(fetch.get(server.url("/board"), robots=False, conditional=True))
        assert not first.not_modified
        assert first.etag == '"v1"'
        fetch.remember(first)
        second = await within(fetch.get(server.url("/board"), robots=False, conditional=True))
    assert second.not_modified
    assert second.content == b""
    assert store.data[server.url("/board")] == ('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert server.requests[1].headers["if-none-match"] == '"v1"'
    assert server.requests[1].headers["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


async def test_validators_not_stored_until_remembered() -> None:
    store = DictValidators()
    async with serve() as server, fetcher(validators=store) as fetch:
        server.add("/board", body=b"[]", etag='"v1"')
        await within(fetch.get(server.url("/board"), robots=False, conditional=True))
        again = await within(fetch.get(server.url("/board"), robots=False, conditional=True))
    assert not again.not_modified  # a body never parsed is fetched in full again
    assert store.data == {}


async def test_redirects_followed_up_to_the_limit() -> None:
    async with serve() as server, fetcher() as fetch:
        for i in range(5):
            server.add(f"/r{i}", status=302, headers={"Location": f"/r{i + 1}"})
        server.add("/r5", body=b"landed")
        result = await within(fetch.get(server.url("/r0"), robots=False))
    assert result.text == "landed"
    assert result.url == server.url("/r5")
    assert result.requested_url == server.url("/r0")


async def test_redirect_loop_is_a_fetch_error() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/a", status=301, headers={"Location": "/b"})
        server.add("/b", status=301, headers={"Location": "/a"})
        with pytest.raises(FetchError, match="redirects") as caught:
            await within(fetch.get(server.url("/a"), source="loop", robots=False))
    assert caught.value.source == "loop"
    assert caught.value.url == server.url("/a")
    assert len(server.requests) == 6  # the first request and 5 redirects, then stop


async def test_redirect_without_location_is_a_fetch_error() -> None:
    """We Work Remotely answers an unknown category with a 301 and no Location."""
    async with serve() as server, fetcher() as fetch:
        server.add("/cat.rss", status=301)
        with pytest.raises(FetchError, match="without a Location"):
            await within(fetch.get(server.url("/cat.rss"), robots=False))


async def test_404_is_not_retried() -> None:
    sleeps = Sleeps()
    async with serve() as server, fetcher(sleep=sleeps) as fetch:
        with pytest.raises(FetchError) as caught:
            await within(fetch.get(server.url("/gone"), source="b", robots=False))
    assert caught.value.status == 404
    assert not caught.value.retryable
    assert "not found" in str(caught.value)
    assert str(caught.value).startswith("b <http")
    assert server.hits("/gone") == 1
    assert sleeps.waits == []


async def test_5xx_retried_with_backoff_then_succeeds() -> None:
    sleeps = Sleeps()
    answers = iter([Reply(503), Reply(500), Reply(200, b"ok")])
    async with serve() as server, fetcher(sleep=sleeps, rng=lambda: 0.5) as fetch:
        server.add("/flaky", handler=lambda request: next(answers))
        result = await within(fetch.get(server.url("/flaky"), robots=False))
    assert result.text == "ok"
    assert server.hits("/flaky") == 3
    # Equal jitter with rng 0.5: 0.75 × backoff × 2^attempt.
    assert sleeps.waits == pytest.approx([0.0075, 0.015])


async def test_429_honours_retry_after() -> None:
    sleeps = Sleeps()
    answers = iter([Reply(429, b"", {"Retry-After": "7"}), Reply(200, b"ok")])
    async with serve() as server, fetcher(sleep=sleeps) as fetch:
        server.add("/busy", handler=lambda request: next(answers))
        result = await within(fetch.get(server.url("/busy"), robots=False))
    assert result.text == "ok"
    assert sleeps.waits == [7.0]


async def test_5xx_gives_up_after_the_retries() -> None:
    sleeps = Sleeps()
    async with serve() as server, fetcher(sleep=sleeps) as fetch:
        server.add("/down", status=502)
        with pytest.raises(FetchError) as caught:
            await within(fetch.get(server.url("/down"), robots=False))
    assert caught.value.status == 502
    assert caught.value.retryable
    assert server.hits("/down") == FAST.retries + 1
    assert len(sleeps.waits) == FAST.retries


async def test_overlong_retry_after_fails_at_once() -> None:
    sleeps = Sleeps()
    async with serve() as server, fetcher(sleep=sleeps) as fetch:
        server.add("/later", status=503, headers={"Retry-After": "86400"})
        with pytest.raises(FetchError, match="Retry-After"):
            await within(fetch.get(server.url("/later"), robots=False))
    assert sleeps.waits == []


def test_parse_retry_after() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Mon, 01 Jan 2024 00:01:00 GMT", now) == 60
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_connect_error_retried_then_typed_error() -> None:
    sleeps = Sleeps()
    async with serve() as server:
        url = server.url("/")
    # The server is closed now: nothing listens on that port.
    async with fetcher(sleep=sleeps) as fetch:
        with pytest.raises(FetchError, match="network error") as caught:
            await within(fetch.get(url, source="dead", robots=False))
    assert caught.value.retryable
    assert len(sleeps.waits) == FAST.retries


async def test_server_that_never_answers_times_out() -> None:
    quick = settings(read_timeout=0.3, total_timeout=1.0, retries=0)
    async with serve() as server, fetcher(quick) as fetch:
        server.add("/hang", hang=True)
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"timed out|no complete answer") as caught:
            await within(fetch.get(server.url("/hang"), source="slow", robots=False))
    assert caught.value.source == "slow"
    assert caught.value.retryable
    assert time.monotonic() - started < 10  # generous: the point is that it ends


async def test_total_timeout_cuts_a_slow_trickle() -> None:
    quick = settings(read_timeout=5.0, total_timeout=0.5, retries=0)
    async with serve() as server, fetcher(quick) as fetch:
        server.add("/slow", delay=3.0, body=b"late")
        with pytest.raises(FetchError, match="no complete answer"):
            await within(fetch.get(server.url("/slow"), robots=False))


async def test_50mb_streamed_body_is_abandoned_past_the_cap() -> None:
    capped = settings(max_bytes=1024 * 1024, retries=0)
    async with serve() as server, fetcher(capped) as fetch:
        server.add("/huge", body=b"x" * 65536, stream_chunks=800)  # 50 MB, no Content-Length
        with pytest.raises(FetchError, match="larger than") as caught:
            await within(fetch.get(server.url("/huge"), source="big", robots=False))
    assert caught.value.source == "big"
    assert not caught.value.retryable
    assert server.bytes_sent < 50 * 1024 * 1024  # we stopped reading long before the end


async def test_declared_oversize_is_refused_before_reading() -> None:
    def huge(request: Request) -> Reply:
        return Reply(200, b"{}", {"Content-Length": str(50 * 1024 * 1024)})

    capped = settings(max_bytes=1024 * 1024, retries=0)
    async with serve() as server, fetcher(capped) as fetch:
        server.add("/huge", handler=huge)
        with pytest.raises(FetchError, match="Content-Length"):
            await within(fetch.get(server.url("/huge"), robots=False))


async def test_gzip_bomb_is_capped_after_decompression() -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    capped = settings(max_bytes=1024 * 1024, retries=0)
    async with serve() as server, fetcher(capped) as fetch:
        server.add("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
        with pytest.raises(FetchError, match="larger than"):
            await within(fetch.get(server.url("/bomb"), robots=False))


async def test_robots_disallow_stops_the_request() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/robots.txt", body=b"User-agent: *\nDisallow: /private\n")
        server.add("/private/board", body=b"secret")
        server.add("/public", body=b"ok")
        with pytest.raises(FetchError, match=r"robots\.txt") as caught:
            await within(fetch.get(server.url("/private/board"), source="r"))
        assert (await within(fetch.get(server.url("/public")))).text == "ok"
        # A board whose API is meant to be read can opt out per source.
        assert (await within(fetch.get(server.url("/private/board"), robots=False))).text
    assert caught.value.source == "r"
    assert server.hits("/robots.txt") == 1  # cached per host
    assert server.hits("/private/board") == 1


async def test_robots_for_our_token() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add(
            "/robots.txt", body=b"User-agent: jobhound\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
        )
        server.add("/x", body=b"ok")
        with pytest.raises(FetchError, match=r"robots\.txt"):
            await within(fetch.get(server.url("/x")))


async def test_missing_robots_allows_and_5xx_robots_blocks() -> None:
    async with serve(ports=2) as server, fetcher(settings(retries=0)) as fetch:
        server.add("/x", body=b"ok")
        assert (await within(fetch.get(server.url("/x", 0)))).text == "ok"  # robots.txt is 404
        server.routes["/robots.txt"] = Route(status=500)
        with pytest.raises(FetchError, match=r"robots\.txt"):
            await within(fetch.get(server.url("/x", 1)))


async def test_robots_crawl_delay_spaces_requests() -> None:
    sleeps = Sleeps()
    async with serve() as server, fetcher(sleep=sleeps) as fetch:
        server.add("/robots.txt", body=b"User-agent: *\nCrawl-delay: 5\n")
        server.add("/x", body=b"ok")
        await within(fetch.get(server.url("/x")))
        await within(fetch.get(server.url("/x")))
    assert sleeps.waits
    assert max(sleeps.waits) > 4


async def test_host_delay_spaces_request_starts() -> None:
    delay = 0.15
    starts: list[float] = []

    def stamp(request: Request) -> Reply:
        starts.append(time.monotonic())
        return Reply(200, b"ok")

    async with serve() as server, fetcher(settings(host_delay=delay)) as fetch:
        server.add("/x", handler=stamp)
        await within(asyncio.gather(*(fetch.get(server.url("/x"), robots=False) for _ in range(4))))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 4
    assert min(gaps) >= delay * 0.8


async def test_per_host_and_global_concurrency_caps() -> None:
    polite = settings(per_host_concurrency=2, global_concurrency=3)
    async with serve(ports=3) as server, fetcher(polite) as fetch:
        server.add("/slow", delay=0.2, body=b"ok")
        jobs = [fetch.get(server.url("/slow", i % 3), robots=False) for i in range(12)]
        await within(asyncio.gather(*jobs))
    assert max(server.max_in_flight.values()) <= 2
    assert server.max_total_in_flight <= 3
    assert server.max_total_in_flight >= 2  # and it did run requests side by side


async def test_a_hanging_board_does_not_delay_another_host() -> None:
    quick = settings(read_timeout=3.0, total_timeout=3.0, retries=0, global_concurrency=4)
    done: list[str] = []
    async with serve(ports=2) as server, fetcher(quick) as fetch:
        server.add("/hang", hang=True)
        server.add("/ok", body=b"ok")

        async def run(name: str, url: str) -> None:
            with contextlib.suppress(FetchError):
                await fetch.get(url, robots=False, source=name)
            done.append(name)

        await within(
            asyncio.gather(
                run("hanging", server.url("/hang", 0)), run("healthy", server.url("/ok", 1))
            )
        )
    assert done == ["healthy", "hanging"]


async def test_post_json() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add(
            "/jobs", handler=lambda r: Reply(200, r.body, {"Content-Type": "application/json"})
        )
        result = await within(fetch.post_json(server.url("/jobs"), {"query": ""}, robots=False))
    assert result.json() == {"query": ""}
    assert server.requests[0].method == "POST"
    assert server.requests[0].headers["content-type"] == "application/json"


async def test_mock_transport_works_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"ok": True}])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        fetch = Fetcher(FAST, client)
        result = await within(fetch.get("https://api.lever.co/v0/postings/x", robots=False))
    assert result.json() == [{"ok": True}]


async def test_non_http_url_is_a_fetch_error() -> None:
    async with fetcher() as fetch:
        with pytest.raises(FetchError, match="http"):
            await within(fetch.get("file:///etc/passwd", robots=False))
