"""Ashby's job-board API."""

from __future__ import annotations

import pytest

from bot.errors import ParseError
from bot.sources import ashby
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, fixture_text, source, within


def test_api_url_from_board_url() -> None:
    assert ashby.api_url("https://jobs.ashbyhq.com/cursor") == (
        "https://api.ashbyhq.com/posting-api/job-board/cursor?includeCompensation=true"
    )


def test_parse_cursor_titles_are_trimmed() -> None:
    postings = ashby.parse_api(fixture_text("ashby_posting_api_cursor.json"), company="Cursor")
    assert len(postings) == 54
    first = postings[0]
    assert first.title == "Software Engineer, Growth"  # "Software Engineer, Growth " upstream
    assert first.location == "SF / NY"
    assert first.company == "Cursor"
    assert first.apply_url.endswith("/application")
    assert first.description.startswith("Our mission is to automate coding.")
    assert all(p.title == p.title.strip() for p in postings)


def test_parse_compensation_and_remote() -> None:
    postings = ashby.parse_api(fixture_text("ashby_posting_api_nango.json"))
    first = postings[0]
    assert first.salary == "$120K - $200K"
    assert first.remote


def test_invalid() -> None:
    with pytest.raises(ParseError):
        ashby.parse_api("<html>rate limited</html>")
    assert ashby.parse_api('{"jobs": [], "apiVersion": "1"}') == []


async def test_collect() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/posting-api/job-board/cursor", body=fixture("ashby_posting_api_cursor.json"))
        config = source("ashby", server.url("/posting-api/job-board/cursor"))
        result = await within(ashby.collect(context(fetch), config))
    assert len(result.postings) == 54
    assert result.postings[0].company == "cursor"
