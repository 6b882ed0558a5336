"""Workday's CXS API: board URLs, relative dates, paging by offset, details of new postings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.sources import workday
from bot.sources.base import SourceContext
from tests.boardserver import Reply, Request, serve
from tests.fetchkit import fetcher, fixture, fixture_text, source, within
from tests.fieldkit import once, stored, write_config

NVIDIA = "workday_cxs_jobs_nvidia.json"
TREND = "workday_cxs_jobs_trendmicro.json"
NVIDIA_DETAIL = "workday_cxs_job_detail_nvidia.json"
TREND_DETAIL = "workday_cxs_job_detail_trendmicro.json"
NOW = datetime(2026, 7, 10, 15, 30, tzinfo=UTC)
NVIDIA_BOARD = workday.board_of("https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite")


@pytest.mark.parametrize(
    ("url", "origin", "tenant", "site", "prefix"),
    [
        (
            "https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite",
            "https://nvidia.wd5.myworkdayjobs.com",
            "nvidia",
            "NVIDIAExternalCareerSite",
            "/NVIDIAExternalCareerSite",
        ),
        (
            "https://nvidia.wd5.myworkdayjobs.com/en-US/NVIDIAExternalCareerSite/job/Israel-Yokneam/X_JR1",
            "https://nvidia.wd5.myworkdayjobs.com",
            "nvidia",
            "NVIDIAExternalCareerSite",
            "/NVIDIAExternalCareerSite",
        ),
        (
            "https://trendmicro.wd3.myworkdayjobs.com/wday/cxs/trendmicro/External/jobs",
            "https://trendmicro.wd3.myworkdayjobs.com",
            "trendmicro",
            "External",
            "/External",
        ),
        (
            "https://wd1.myworkdaysite.com/recruiting/acme/Careers",
            "https://wd1.myworkdaysite.com",
            "acme",
            "Careers",
            "/recruiting/acme/Careers",
        ),
    ],
)
def test_board_of_any_page(url: str, origin: str, tenant: str, site: str, prefix: str) -> None:
    board = workday.board_of(url)
    assert (board.origin, board.tenant, board.site, board.public_prefix) == (
        origin,
        tenant,
        site,
        prefix,
    )
    assert board.jobs_url == f"{origin}/wday/cxs/{tenant}/{site}/jobs"


def test_board_without_a_site_is_refused() -> None:
    with pytest.raises(ParseError, match="no Workday site"):
        workday.board_of("https://nvidia.wd5.myworkdayjobs.com/")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("Posted Today", datetime(2026, 7, 10, tzinfo=UTC)),
        ("Posted Yesterday", datetime(2026, 7, 9, tzinfo=UTC)),
        ("Posted 3 Days Ago", datetime(2026, 7, 7, tzinfo=UTC)),
        ("Posted 30+ Days Ago", datetime(2026, 6, 10, tzinfo=UTC)),
    ],
)
def test_relative_dates_become_a_day_no_later_than_the_post(text: str, day: datetime) -> None:
    assert workday.posted_before(text, NOW) == day
    assert workday.posted_before("soon", NOW) is None


def test_parse_nvidia_page() -> None:
    postings, total = workday.parse_page(fixture_text(NVIDIA), board=NVIDIA_BOARD, now=NOW)
    assert total == 27
    assert len(postings) == 20
    first, second = postings[0], postings[1]
    assert first.title == "Software Golang Kubernetes Engineer"
    assert first.url == (
        "https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite"
        "/job/Israel-Tel-Aviv/Software-Golang-Kubernetes-Engineer_JR2020442"
    )
    assert first.company == "nvidia"
    assert first.location == ""
    assert first.posted_at == datetime(2026, 7, 7, tzinfo=UTC)
    assert second.posted_at == datetime(2026, 6, 10, tzinfo=UTC)  # "Posted 30+ Days Ago"
    assert first.extra["req_id"] == "JR2020442"


def test_parse_trendmicro_page_keeps_the_xmlname_slug() -> None:
    board = workday.board_of("https://trendmicro.wd3.myworkdayjobs.com/External")
    postings, total = workday.parse_page(
        fixture_text(TREND), board=board, company="Trend Micro", now=NOW
    )
    assert total == 42
    assert len(postings) == 5
    assert postings[0].title == "(Sr.) Backend Engineer"
    assert postings[0].location == "Taipei"
    assert postings[0].url.endswith("/External/job/Taipei/XMLNAME--Sr--Backend-Engineer_R0006260-1")
    assert postings[0].company == "Trend Micro"


def test_detail_fills_description_locations_time_type_and_date() -> None:
    postings, _ = workday.parse_page(fixture_text(NVIDIA), board=NVIDIA_BOARD, now=NOW)
    listed = postings[1]
    filled = workday.parse_detail(fixture_text(NVIDIA_DETAIL), listed, now=NOW)
    assert filled.url == listed.url
    assert filled.title == "Senior Software Golang Kubernetes Engineer"
    assert filled.location == "Israel, Yokneam; Israel, Raanana; Israel, Tel Aviv"
    assert filled.tags == ("Full time",)
    assert filled.extra["country"] == "IL"
    assert filled.posted_at == datetime(2026, 4, 24, tzinfo=UTC)  # startDate, before the bound
    assert filled.description.startswith(
        "NVIDIA Networking is looking for an excellent Software Developer"
    )
    assert "you're creative" in filled.description  # &#39; decoded


def test_trendmicro_detail() -> None:
    board = workday.board_of("https://trendmicro.wd3.myworkdayjobs.com/External")
    postings, _ = workday.parse_page(fixture_text(TREND), board=board, now=NOW)
    filled = workday.parse_detail(fixture_text(TREND_DETAIL), postings[0], now=NOW)
    assert filled.location == "Taipei"
    assert filled.posted_at == datetime(2024, 5, 29, tzinfo=UTC)
    assert filled.description.startswith("Join Trend ‧ Join New Generation")


def _paged(request: Request) -> Reply:
    body = json.loads(request.body)
    if body["offset"] == 0:
        return Reply(200, fixture(NVIDIA))
    # Later pages of some tenants report no total: the first page's one counts.
    return Reply(200, json.dumps({**json.loads(fixture_text(TREND)), "total": 0}).encode())


def _known(urls: set[str]) -> SourceContext:
    return SourceContext(known_urls=lambda asked, identity: {u for u in asked if u in urls})


async def test_collect_pages_by_offset_and_details_only_new_postings() -> None:
    async with serve() as server, fetcher() as fetch:
        jobs = "/wday/cxs/nvidia/NVIDIAExternalCareerSite/jobs"
        server.add(jobs, handler=_paged)
        detail = "/wday/cxs/nvidia/NVIDIAExternalCareerSite/job/Israel-Yokneam/"
        server.add(
            detail + "Senior-Software-Golang-Kubernetes-Engineer_JR2015916",
            body=fixture(NVIDIA_DETAIL),
        )
        first, _ = workday.parse_page(
            fixture_text(NVIDIA), board=workday.board_of(server.url(jobs)), now=NOW
        )
        fresh = first[1].url
        trend, _ = workday.parse_page(
            fixture_text(TREND), board=workday.board_of(server.url(jobs)), now=NOW
        )
        stored = {p.url for p in [*first, *trend]} - {fresh}
        ctx = SourceContext(fetcher=fetch, known_urls=_known(stored).known_urls)
        config = source("workday", server.url(jobs), company="NVIDIA")
        result = await within(workday.crawl(ctx, config, clock=lambda: NOW))
    posts = [json.loads(r.body) for r in server.requests if r.method == "POST"]
    assert posts == [
        {"appliedFacets": {}, "limit": 20, "offset": 0, "searchText": ""},
        {"appliedFacets": {}, "limit": 20, "offset": 20, "searchText": ""},
    ]
    assert [r.method for r in server.requests].count("GET") == 1  # one new posting, one detail
    assert len(result.postings) == 25
    assert result.complete
    assert not result.warnings
    new = next(p for p in result.postings if p.url == fresh)
    assert new.company == "NVIDIA"
    assert new.description.startswith("NVIDIA Networking")


async def test_failing_detail_keeps_the_posting_and_the_rest_wait_past_max_details() -> None:
    async with serve() as server, fetcher() as fetch:
        jobs = "/wday/cxs/nvidia/Site/jobs"
        server.add(jobs, body=fixture(NVIDIA))
        ctx = SourceContext(fetcher=fetch)
        config = source("workday", server.url(jobs), max_details=2, max_pages=1)
        result = await within(workday.crawl(ctx, config, clock=lambda: NOW))
    # Two new postings detailed (both 404 here, so kept as listed), 18 left for the next run.
    assert [p.title for p in result.postings] == [
        "Software Golang Kubernetes Engineer",
        "Senior Software Golang Kubernetes Engineer",
    ]
    assert not result.complete
    assert len(result.warnings) == 2
    assert all("HTTP 404" in w for w in result.warnings)


async def test_second_run_through_the_store_asks_no_detail_again(tmp_path: Path) -> None:
    """Through the real once cycle: details for the first run's new postings only."""
    async with serve() as server:
        jobs = "/wday/cxs/trendmicro/External/jobs"
        # The same 5 rows at every offset (total 42: 3 pages): each URL is still detailed once.
        server.add(jobs, body=fixture(TREND))
        detail = "/wday/cxs/trendmicro/External/job/Taipei/XMLNAME--Sr--Backend-Engineer_R0006260-1"
        server.add(detail, body=fixture(TREND_DETAIL))
        settings = write_config(
            tmp_path, [{"name": "trend", "kind": "workday", "url": server.url(jobs)}]
        )
        first = await within(once(settings))
        details_first = [r.path for r in server.requests if r.method == "GET"]
        second = await within(once(settings))
        details_second = [r.path for r in server.requests if r.method == "GET"][
            len(details_first) :
        ]
    assert first[0].ok
    assert first[0].seen == 5
    assert second[0].ok
    assert second[0].new == 0
    assert len([p for p in details_first if "/job/" in p]) == 5
    assert [p for p in details_second if "/job/" in p] == []
    kept = {p.title: p for p in stored(settings)}
    assert kept["(Sr.) Backend Engineer"].description.startswith("Join Trend")
