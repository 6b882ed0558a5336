"""Workable and SmartRecruiters: each new posting's detail fills its description, once."""

from __future__ import annotations

import json

from bot.sources import smartrecruiters, workable
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, fixture_text, source, within

WORKABLE_LIST = "workable_api_v3_jobs_blueground.json"
WORKABLE_DETAIL = "workable_api_v2_job_detail_blueground.json"
SMART_LIST = "smartrecruiters_postings_equinox.json"
SMART_DETAIL = "smartrecruiters_posting_detail_equinox.json"


def _last_page(name: str) -> bytes:
    return json.dumps({**json.loads(fixture_text(name)), "nextPage": None}).encode()


def test_workable_detail_fills_the_description() -> None:
    postings, _ = workable.parse_page(fixture_text(WORKABLE_LIST), account="blueground")
    ios = next(p for p in postings if p.extra["shortcode"] == "B02DA69C8F")
    assert ios.description == ""
    filled = workable.parse_detail(fixture_text(WORKABLE_DETAIL), ios)
    assert filled.description.startswith("🌍 Redefining how people live")
    assert filled.title == ios.title
    assert filled.url == ios.url


async def test_workable_details_only_for_new_postings_and_a_failure_keeps_the_list_data() -> None:
    postings, _ = workable.parse_page(fixture_text(WORKABLE_LIST), account="blueground")
    stored = [p.url for p in postings if p.extra["shortcode"] not in ("B02DA69C8F", "264C395E51")]
    async with serve() as server, fetcher() as fetch:
        server.add("/api/v3/accounts/blueground/jobs", body=_last_page(WORKABLE_LIST))
        server.add("/api/v2/accounts/blueground/jobs/B02DA69C8F", body=fixture(WORKABLE_DETAIL))
        # 264C395E51 has no route: its detail answers 404.
        config = source("workable", server.url("/api/v3/accounts/blueground/jobs"))
        result = await within(workable.collect(context(fetch, stored), config))
    details = sorted(r.path for r in server.requests if r.method == "GET")
    assert details == [
        "/api/v2/accounts/blueground/jobs/264C395E51",
        "/api/v2/accounts/blueground/jobs/B02DA69C8F",
    ]
    by_code = {p.extra["shortcode"]: p for p in result.postings}
    assert len(by_code) == 10
    assert result.complete
    assert by_code["B02DA69C8F"].description.startswith("🌍 Redefining how people live")
    failed = by_code["264C395E51"]
    assert failed.title == "Senior Performance Marketing Strategist"
    assert failed.description == ""
    assert len(result.warnings) == 1
    assert "HTTP 404" in result.warnings[0]


async def test_workable_more_new_postings_than_max_details_wait_for_the_next_run() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/api/v3/accounts/blueground/jobs", body=_last_page(WORKABLE_LIST))
        server.add("/api/v2/accounts/blueground/jobs/264C395E51", body=fixture(WORKABLE_DETAIL))
        config = source("workable", server.url("/api/v3/accounts/blueground/jobs"), max_details=1)
        result = await within(workable.collect(context(fetch), config))
    assert [p.extra["shortcode"] for p in result.postings] == ["264C395E51"]
    assert not result.complete
    assert server.hits("/api/v2/accounts/blueground/jobs/264C395E51") == 1


def test_smartrecruiters_detail_fills_the_description() -> None:
    postings, _ = smartrecruiters.parse_page(fixture_text(SMART_LIST))
    first = postings[0]
    filled = smartrecruiters.parse_detail(fixture_text(SMART_DETAIL), first)
    assert filled.description.startswith(
        "Job Description\nWe are looking for energetic, creative, and enthusiastic Female Locker"
    )


async def test_smartrecruiters_details_only_for_new_postings() -> None:
    postings, _ = smartrecruiters.parse_page(fixture_text(SMART_LIST))
    stored = [p.url for p in postings[1:]]
    async with serve() as server, fetcher() as fetch:
        base = "/v1/companies/Equinox/postings"
        whole = {**json.loads(fixture_text(SMART_LIST)), "totalFound": 5}
        server.add(base, body=json.dumps(whole).encode())
        server.add(f"{base}/744000137225639", body=fixture(SMART_DETAIL))
        config = source("smartrecruiters", server.url(base))
        result = await within(smartrecruiters.collect(context(fetch, stored), config))
    assert [r.path for r in server.requests] == [base, f"{base}/744000137225639"]
    assert len(result.postings) == 5
    assert not result.warnings
    assert result.postings[0].description.startswith("Job Description")
    assert all(p.description == "" for p in result.postings[1:])


async def test_a_posting_listed_twice_is_detailed_once() -> None:
    from dataclasses import replace

    from bot.models import URL_IDENTITY, Posting
    from bot.sources import details
    from bot.sources.base import SourceContext

    asked: list[str] = []

    async def detail(posting: Posting) -> Posting:
        asked.append(posting.url)
        return replace(posting, description="filled")

    twice = Posting(url="https://a.example/j/1", title="One")
    other = Posting(url="https://a.example/j/2", title="Two")
    filled = await within(
        details.fill_new(
            SourceContext(), [twice, other, twice], detail, identity=URL_IDENTITY, limit=5
        )
    )
    assert sorted(asked) == ["https://a.example/j/1", "https://a.example/j/2"]
    assert [p.description for p in filled.postings] == ["filled"] * 3
    assert filled.complete
