"""The `html` kind: a board described by CSS selectors in config."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sources import html
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture_text, source, within

SELECTORS = {
    "item": "tr.job-post",
    "title": "p.body--medium",
    "link": "a[href]",
    "location": "p.body__secondary",
}


def test_parse_greenhouse_page_by_selectors() -> None:
    postings, next_url = html.parse_page(
        fixture_text("greenhouse_jobboards_listing_xai.html"), SELECTORS, company_name="xAI"
    )
    assert len(postings) == 50
    assert next_url is None
    assert postings[0].title == "BIM Manager"
    assert postings[0].location == "Memphis, TN; Remote"
    assert postings[0].company == "xAI"


def test_validate() -> None:
    html.validate(SELECTORS)
    with pytest.raises(ValueError, match="'item'"):
        html.validate({"title": "h3"})
    with pytest.raises(ValueError, match="not a valid CSS selector"):
        html.validate({**SELECTORS, "title": "h3[["})
    with pytest.raises(ValueError, match="max_pages"):
        html.validate({**SELECTORS, "max_pages": 0})


async def test_collect_follows_next_and_stops_on_a_loop() -> None:
    page1 = (
        b'<ul><li class="job"><a href="/j/1"><h3>One</h3></a><time datetime="2024-05-01">May</time>'
        b'</li></ul><a rel="next" href="/p2">next</a>'
    )
    page2 = (
        b'<ul><li class="job"><a href="/j/2"><h3>Two</h3></a></li></ul>'
        b'<a rel="next" href="/p1">x</a>'
    )
    options: dict[str, Any] = {
        "item": "li.job",
        "title": "h3",
        "date": "time",
        "next": "a[rel=next]",
    }
    async with serve() as server, fetcher() as fetch:
        server.add("/p1", body=page1)
        server.add("/p2", body=page2)
        result = await within(
            html.collect(context(fetch), source("html", server.url("/p1"), **options))
        )
    assert [p.title for p in result.postings] == ["One", "Two"]
    assert result.postings[0].posted_at is not None
    assert result.postings[0].url == server.url("/j/1")
    assert server.hits("/p1") == 1


async def test_layout_change_gives_no_postings_not_an_error() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/p1", body=b"<html><body><div class='new-layout'></div></body></html>")
        result = await within(
            html.collect(
                context(fetch), source("html", server.url("/p1"), item="li.job", title="h3")
            )
        )
    assert result.postings == ()
    assert not result.unchanged
