"""Lever: the postings API and the hosted board page, on real responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.errors import FetchError, ParseError
from bot.sources import lever
from tests.boardserver import serve
from tests.fetchkit import DictValidators, context, fetcher, fixture, fixture_text, source, within

API_2026 = "lever_api_leverdemo_postings_2026.json"
BOARD = "lever_listing_januxrx.html"


def test_api_urls_from_what_users_paste() -> None:
    assert lever.api_url("https://jobs.lever.co/binance") == (
        "https://api.lever.co/v0/postings/binance?mode=json"
    )
    assert lever.api_url("https://jobs.eu.lever.co/acme/") == (
        "https://api.eu.lever.co/v0/postings/acme?mode=json"
    )
    assert lever.api_url("https://api.lever.co/v0/postings/binance?team=Eng") == (
        "https://api.lever.co/v0/postings/binance?team=Eng&mode=json"
    )
    assert lever.board_url("https://api.lever.co/v0/postings/binance?mode=json") == (
        "https://jobs.lever.co/binance"
    )


def test_parse_api_2026() -> None:
    postings = lever.parse_api(fixture_text(API_2026), company="Lever Demo")
    assert len(postings) == 3
    first = postings[0]
    assert first.title == "AbelsonTaylor Writer"
    assert first.url == "https://jobs.lever.co/leverdemo/33538a2f-d27d-4a96-8f05-fa4b0e4d940e"
    assert first.apply_url.endswith("/apply")
    assert first.company == "Lever Demo"
    assert first.location == "Arlington, TX"
    assert first.tags == ("Customer Success", "Professional Services", "Regular Full Time (Salary)")
    assert first.posted_at == datetime(2019, 3, 21, 16, 33, 55, 299000, tzinfo=UTC)
    assert first.description.startswith("Welcome to the Demo Job Listing for Lever!")
    assert first.extra["workplace"] == "hybrid"


def test_parse_api_2015_and_grouped_shapes_agree() -> None:
    plain = lever.parse_api(fixture_text("lever_api_leverdemo_postings_body_2015.json"))
    grouped = lever.parse_api(fixture_text("lever_api_leverdemo_postings_group_body_2015.json"))
    assert len(plain) == 28
    assert {p.url for p in plain} == {p.url for p in grouped}


def test_salary_range() -> None:
    text = json.dumps(
        [
            {
                "text": "Eng",
                "hostedUrl": "https://jobs.lever.co/a/1",
                "salaryRange": {
                    "currency": "USD",
                    "interval": "per-year-salary",
                    "min": 100000,
                    "max": 150000,
                },
            }
        ]
    )
    (posting,) = lever.parse_api(text)
    assert posting.salary == "USD 100,000–150,000 per year"


def test_parse_board_page() -> None:
    postings = lever.parse_board(fixture_text(BOARD), base_url="https://jobs.lever.co/januxrx")
    assert len(postings) == 13
    first = postings[0]
    assert first.title == "Director, Corporate Strategy and Analytics"
    assert first.company == "Janux Therapeutics"
    assert first.location == "San Diego, CA"
    assert first.tags == ("Business Development", "Full-Time")
    assert first.extra["workplace"] == "On-site"
    assert first.url == "https://jobs.lever.co/januxrx/2d3977f1-f207-4c2d-a534-c7e517b66bfb"
    assert len({p.url for p in postings}) == 13


def test_board_and_api_invalid_input() -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        lever.parse_api(fixture_text(API_2026)[:5000])
    with pytest.raises(ParseError, match="expected a list"):
        lever.parse_api('{"jobs": []}')
    with pytest.raises(ParseError, match="not a Lever job board"):
        lever.parse_board("<html><body><h1>Access denied</h1></body></html>")
    assert lever.parse_api("[]") == []


def test_truncated_board_page_yields_what_it_has() -> None:
    html = fixture_text(BOARD)
    cut = html.index('data-qa-posting-id="f3a03986')
    postings = lever.parse_board(html[:cut], base_url="https://jobs.lever.co/januxrx")
    assert 0 < len(postings) < 13


async def test_collect_api_then_304_is_unchanged_without_parsing() -> None:
    store = DictValidators()
    async with serve() as server, fetcher(validators=store) as fetch:
        server.add("/v0/postings/leverdemo", body=fixture(API_2026), etag='"e1"')
        config = source("lever", server.url("/v0/postings/leverdemo"))
        first = await within(lever.collect(context(fetch), config))
        second = await within(lever.collect(context(fetch), config))
    assert len(first.postings) == 3
    assert first.postings[0].company == "leverdemo"
    assert second.unchanged
    assert second.postings == ()
    assert server.requests[0].target == "/v0/postings/leverdemo?mode=json"


async def test_collect_api_pages_with_skip_and_limit() -> None:
    body = fixture_text("lever_api_leverdemo_postings_body_2015.json")
    items = json.loads(body)
    async with serve() as server, fetcher() as fetch:
        for skip in range(0, 40, 10):
            page = json.dumps(items[skip : skip + 10]).encode()
            server.add(f"/v0/postings/demo?mode=json&skip={skip}&limit=10", body=page)
        config = source("lever", server.url("/v0/postings/demo"), page_size=10)
        result = await within(lever.collect(context(fetch), config))
    assert len(result.postings) == 28
    assert len(server.requests) == 3


async def test_collect_board_empty_and_errors() -> None:
    empty = b'<html><body><div class="postings-wrapper"></div></body></html>'
    async with serve() as server, fetcher() as fetch:
        server.add("/empty", body=empty)
        server.add("/broken", body=b'<html><body><div class="main">oops')
        result = await within(
            lever.collect_board(context(fetch), source("lever_html", server.url("/empty")))
        )
        assert result.postings == ()
        assert not result.unchanged
        with pytest.raises(ParseError) as parse_error:
            await within(
                lever.collect_board(context(fetch), source("lever_html", server.url("/broken")))
            )
        with pytest.raises(FetchError) as fetch_error:
            await within(
                lever.collect_board(context(fetch), source("lever_html", server.url("/nope")))
            )
    assert parse_error.value.source == "test-lever_html"
    assert parse_error.value.url.endswith("/broken")
    assert fetch_error.value.status == 404
    assert fetch_error.value.source == "test-lever_html"


async def test_no_fetcher_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="no HTTP fetcher"):
        await lever.collect(context(None), source("lever", "https://jobs.lever.co/x"))
