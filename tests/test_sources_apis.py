"""Workable (POST + cursor), SmartRecruiters (offset paging) and Recruitee."""

from __future__ import annotations

import json

import pytest

from bot.errors import FetchError, ParseError
from bot.fetch import Fetcher
from bot.sources import recruitee, smartrecruiters, workable
from bot.sources.base import SourceContext
from tests.boardserver import Reply, Request, serve
from tests.fetchkit import context, fetcher, fixture, fixture_text, source, within

WORKABLE = "workable_api_v3_jobs_blueground.json"
SMART = "smartrecruiters_postings_equinox.json"


def all_stored(fetch: Fetcher) -> SourceContext:
    """A context in which every posting is stored already: the list alone is fetched."""
    return SourceContext(fetcher=fetch, known_urls=lambda urls, identity: set(urls))


def test_workable_page() -> None:
    postings, cursor = workable.parse_page(fixture_text(WORKABLE), account="blueground")
    assert len(postings) == 10
    assert cursor == "WzE3ODEwNDk2MDAwMDAsNTg0NDk1Nl0="
    first = postings[0]
    assert first.url == "https://apply.workable.com/blueground/j/264C395E51/"
    assert first.title == "Senior Performance Marketing Strategist"
    assert first.location == "Athens, Greece"
    assert not first.remote
    assert workable.api_url("https://apply.workable.com/blueground/") == (
        "https://apply.workable.com/api/v3/accounts/blueground/jobs"
    )


async def test_workable_collect_posts_and_follows_the_cursor() -> None:
    data = json.loads(fixture_text(WORKABLE))
    last = {**data, "nextPage": None, "results": data["results"][:3]}

    def jobs(request: Request) -> Reply:
        body = json.loads(request.body)
        page = last if body.get("token") == data["nextPage"] else data
        return Reply(200, json.dumps(page).encode(), {"Content-Type": "application/json"})

    async with serve() as server, fetcher() as fetch:
        server.add("/api/v3/accounts/blueground/jobs", handler=jobs)
        config = source("workable", server.url("/api/v3/accounts/blueground/jobs"))
        result = await within(workable.collect(all_stored(fetch), config))
    assert len(result.postings) == 13
    assert [r.method for r in server.requests] == ["POST", "POST"]
    assert json.loads(server.requests[0].body) == {"query": ""}


async def test_workable_second_page_failing_is_a_warning() -> None:
    def jobs(request: Request) -> Reply:
        if b"token" in request.body:
            return Reply(200, b'{"results": [')
        return Reply(200, fixture(WORKABLE))

    async with serve() as server, fetcher() as fetch:
        server.add("/api/v3/accounts/b/jobs", handler=jobs)
        result = await within(
            workable.collect(
                context(fetch), source("workable", server.url("/api/v3/accounts/b/jobs"))
            )
        )
    assert len(result.postings) == 10
    assert "page 2: invalid JSON" in result.warnings[0]


def test_smartrecruiters_page() -> None:
    postings, total = smartrecruiters.parse_page(fixture_text(SMART))
    assert len(postings) == 5
    assert total == 662
    first = postings[0]
    assert first.url == "https://jobs.smartrecruiters.com/Equinox/744000137225639"
    assert first.company == "Equinox"
    assert first.location == "Houston, TX, United States"
    assert smartrecruiters.api_url("https://jobs.smartrecruiters.com/Equinox") == (
        "https://api.smartrecruiters.com/v1/companies/Equinox/postings"
    )


async def test_smartrecruiters_collect_pages_by_offset() -> None:
    data = json.loads(fixture_text(SMART))

    def postings(request: Request) -> Reply:
        offset = int(request.target.split("offset=")[1])
        page = {**data, "offset": offset, "totalFound": 150, "content": data["content"]}
        if offset >= 150:
            page["content"] = []
        return Reply(200, json.dumps(page).encode())

    async with serve() as server, fetcher() as fetch:
        server.add("/v1/companies/equinox/postings", handler=postings)
        config = source("smartrecruiters", server.url("/v1/companies/equinox/postings"))
        result = await within(smartrecruiters.collect(all_stored(fetch), config))
    assert [r.target.split("?")[1] for r in server.requests] == [
        "limit=100&offset=0",
        "limit=100&offset=100",
    ]
    assert len(result.postings) == 10


def test_recruitee_offers() -> None:
    postings = recruitee.parse_offers(fixture_text("recruitee_api_offers_bunq.json"))
    assert len(postings) == 17
    first = postings[0]
    assert first.url == "https://careers.bunq.com/o/fraud-ops-expert"
    assert first.company == "bunq"
    assert first.title == "Fraud Ops Expert"
    assert first.description.startswith("We're building the bank of The Free")
    assert (
        recruitee.api_url("https://bunq.recruitee.com/") == "https://bunq.recruitee.com/api/offers/"
    )


async def test_recruitee_collect_and_bad_bodies() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/api/offers/", body=fixture("recruitee_api_offers_bunq.json"))
        ok = await within(recruitee.collect(context(fetch), source("recruitee", server.url("/"))))
        assert len(ok.postings) == 17
    with pytest.raises(ParseError, match="'offers' list"):
        recruitee.parse_offers("[]")
    assert recruitee.parse_offers('{"offers": []}') == []


async def test_404_board_for_each_api() -> None:
    async with serve() as server, fetcher() as fetch:
        for kind, module in (
            ("workable", workable),
            ("smartrecruiters", smartrecruiters),
            ("recruitee", recruitee),
        ):
            with pytest.raises(FetchError) as caught:
                await within(
                    module.collect(
                        context(fetch),
                        source(
                            kind,
                            server.url("/api/v3/accounts/x/jobs")
                            if kind == "workable"
                            else server.url("/v1/companies/x/postings")
                            if kind == "smartrecruiters"
                            else server.url("/"),
                        ),
                    )
                )
            assert caught.value.status == 404
            assert caught.value.source == f"test-{kind}"
