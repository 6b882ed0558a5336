"""JSON-LD JobPosting pages found through a sitemap (remotewlb.com's layout) or a listing."""

from __future__ import annotations

import pytest

from bot.errors import FetchError, ParseError
from bot.sources import jsonld
from tests.boardserver import serve
from tests.fetchkit import DictValidators, context, fetcher, fixture, fixture_text, source, within

NODESK = "nodesk_job_detail_jsonld.html"
ICIMS = "icims_job_detail_jsonld_no_meta_charset.html"


def _index(base: str, months: list[str]) -> bytes:
    shards = "".join(f"<sitemap><loc>{base}/sitemaps/jobs/{m}-1</loc></sitemap>" for m in months)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemaps/pages.xml</loc></sitemap>{shards}</sitemapindex>"
    ).encode()


def _urlset(urls: list[str]) -> bytes:
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
    ).encode()


def test_nodesk_page() -> None:
    (posting,) = jsonld.parse_job_page(fixture_text(NODESK), url="https://nodesk.co/j/1")
    assert posting.title == "Software engineer"
    assert posting.company == "Sticker Mule"
    assert posting.remote
    assert posting.location == "Remote, Anywhere"
    assert posting.salary == "USD 150,000–250,000 per year"
    assert posting.description.startswith("Sticker Mule is building the Internet’s most")
    assert "\\u003c" not in posting.description
    assert "<p>" not in posting.description
    assert posting.url == "https://nodesk.co/j/1"


def test_icims_page() -> None:
    (posting,) = jsonld.parse_job_page(fixture_text(ICIMS), url="https://x.icims.com/jobs/1977")
    assert posting.title == "Senior Product Manager"
    assert posting.company == "BusPatrol"
    assert posting.location == "Austin, TX, US"
    assert not posting.remote
    assert posting.salary == "USD $190,000.00 - USD $200,000.00 /Yr."
    assert posting.extra["valid_through"].startswith("2027-12-05")


def test_graph_arrays_and_escaped_descriptions() -> None:
    page = """<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
      {"@type": "WebPage", "name": "x"},
      {"@type": ["JobPosting"], "title": "Go dev",
       "description": "&lt;p&gt;Hi &amp;amp; bye&lt;/p&gt;", "hiringOrganization": "Acme",
       "jobLocation": {"address": "Berlin"}}]}</script>
      <script type="application/ld+json">{"broken": </script>
      <script type="application/ld+json">[{"@type": "JobPosting", "title": "Second"}]</script>"""
    postings = jsonld.parse_job_page(page, url="https://a/j/1")
    assert [p.title for p in postings] == ["Go dev", "Second"]
    assert postings[0].description == "Hi & bye"
    assert postings[0].company == "Acme"
    assert postings[0].location == "Berlin"


def test_sitemap_parsing_and_order() -> None:
    index = jsonld.parse_sitemap(_index("https://w", ["2024-01", "2024-02"]).decode())
    assert index.is_index
    assert index.newest_first()[0] == "https://w/sitemaps/jobs/2024-02-1"
    dated = jsonld.parse_sitemap(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://w/job/a-1</loc><lastmod>2024-01-01</lastmod></url>"
        "<url><loc>https://w/job/b-2</loc><lastmod>2024-03-01</lastmod></url>"
        "<url><loc>https://w/job/c-3</loc><lastmod>2024-02-01</lastmod></url></urlset>"
    )
    assert dated.newest_first() == ["https://w/job/b-2", "https://w/job/c-3", "https://w/job/a-1"]
    with pytest.raises(ParseError, match="not a sitemap"):
        jsonld.parse_sitemap("<html/>")
    with pytest.raises(ParseError, match="invalid sitemap"):
        jsonld.parse_sitemap("<urlset><url><loc>x</loc>")


async def test_sitemap_index_crawl_fetches_only_unknown_pages_then_304() -> None:
    store = DictValidators()
    async with serve() as server, fetcher(validators=store) as fetch:
        base = server.url("")
        server.add("/sitemap.xml", body=_index(base, ["2024-01", "2024-02", "2024-03"]))
        server.add("/sitemaps/jobs/2024-01-1", body=_urlset([f"{base}/job/old-1"]), etag='"a"')
        server.add(
            "/sitemaps/jobs/2024-02-1",
            body=_urlset([f"{base}/job/feb-20", f"{base}/job/feb-21"]),
            etag='"b"',
        )
        server.add(
            "/sitemaps/jobs/2024-03-1",
            body=_urlset([f"{base}/job/mar-30", f"{base}/job/mar-31", f"{base}/job/mar-32"]),
            etag='"c"',
        )
        for path in ("/job/feb-20", "/job/mar-30", "/job/mar-31"):
            server.add(path, body=fixture(NODESK))
        server.add("/job/mar-32", body=b"<html><body>This job has expired</body></html>")
        config = source("jsonld", server.url("/sitemap.xml"), max_shards=2)
        ctx = context(fetch, known=[f"{base}/job/feb-21"])
        first = await within(jsonld.collect(ctx, config))
        second = await within(jsonld.collect(ctx, config))
    assert sorted(p.url for p in first.postings) == [
        f"{base}/job/feb-20",
        f"{base}/job/mar-30",
        f"{base}/job/mar-31",
    ]
    assert len(first.warnings) == 1
    assert "no JobPosting" in first.warnings[0]
    assert server.hits("/job/feb-21") == 0  # stored already: never fetched
    assert server.hits("/sitemaps/jobs/2024-01-1") == 0  # only the newest max_shards
    assert server.hits("/sitemaps/pages.xml") == 0
    assert second.unchanged
    assert server.hits("/job/mar-30") == 1


async def test_every_job_page_failing_is_an_error() -> None:
    async with serve() as server, fetcher(settings_retries0()) as fetch:
        base = server.url("")
        server.add("/sitemap.xml", body=_urlset([f"{base}/job/a-1", f"{base}/job/b-2"]))
        config = source("jsonld", server.url("/sitemap.xml"))
        with pytest.raises(ParseError, match="none of 2 job pages") as caught:
            await within(jsonld.collect(context(fetch), config))
    assert caught.value.source == "test-jsonld"


async def test_all_known_are_listed_not_fetched() -> None:
    """Every job page stored already: none fetched, all reported as listed (seen by the run;
    "unchanged" left the stored postings' last_seen behind, see test_jsonld_listing.py)."""
    async with serve() as server, fetcher() as fetch:
        base = server.url("")
        server.add("/sitemap.xml", body=_urlset([f"{base}/job/a-1"]))
        ctx = context(fetch, known=[f"{base}/job/a-1"])
        result = await within(jsonld.collect(ctx, source("jsonld", server.url("/sitemap.xml"))))
    assert not result.unchanged
    assert result.postings == ()
    assert result.listed == (f"{base}/job/a-1",)
    assert server.hits("/job/a-1") == 0


async def test_listing_page_links() -> None:
    listing = (
        b'<html><body><a href="/jobs/1">One</a><a href="/jobs/2#apply">Two</a>'
        b'<a href="/about">About</a><a href="https://elsewhere.com/jobs/3">x</a></body></html>'
    )
    async with serve() as server, fetcher() as fetch:
        server.add("/careers", body=listing)
        server.add("/jobs/1", body=fixture(NODESK))
        server.add("/jobs/2", body=fixture(ICIMS), headers={"Content-Type": "text/html"})
        result = await within(
            jsonld.collect(context(fetch), source("jsonld", server.url("/careers")))
        )
    assert sorted(p.title for p in result.postings) == [
        "Senior Product Manager",
        "Software engineer",
    ]
    assert server.hits("/about") == 0


async def test_missing_sitemap_is_a_fetch_error() -> None:
    async with serve() as server, fetcher() as fetch:
        with pytest.raises(FetchError) as caught:
            await within(
                jsonld.collect(context(fetch), source("jsonld", server.url("/sitemap.xml")))
            )
    assert caught.value.status == 404


def settings_retries0():  # type: ignore[no-untyped-def]
    from tests.fetchkit import settings

    return settings(retries=0)
