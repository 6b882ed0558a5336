"""Greenhouse: the board API (escaped content) and the paginated hosted board."""

from __future__ import annotations

import pytest

from bot.errors import FetchError, ParseError
from bot.sources import greenhouse
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, fixture_text, source, within

XAI = "greenhouse_jobboards_listing_xai.html"


def test_urls_from_what_users_paste() -> None:
    api = "https://boards-api.greenhouse.io/v1/boards/anthropic/jobs?content=true"
    assert greenhouse.api_url("https://job-boards.greenhouse.io/anthropic") == api
    assert greenhouse.api_url("https://boards.greenhouse.io/anthropic/jobs/123") == api
    assert (
        greenhouse.api_url("https://job-boards.greenhouse.io/embed/job_board?for=anthropic") == api
    )
    assert greenhouse.board_url(api) == "https://job-boards.greenhouse.io/anthropic"


def test_parse_api_anthropic() -> None:
    postings = greenhouse.parse_api(fixture_text("greenhouse_boards_api_anthropic_jobs.json"))
    assert len(postings) == 449
    first = postings[0]
    assert first.title == "Account Coordinator"
    assert first.company == "Anthropic"
    assert first.url == "https://job-boards.greenhouse.io/anthropic/jobs/5074975008"
    assert first.location == "New York City, NY; San Francisco, CA"
    assert first.posted_at is not None
    assert first.posted_at.year == 2026


def test_escaped_content_becomes_plain_text() -> None:
    text = fixture_text("greenhouse_api_generalassembly_jobs_with_content_body_2013.json")
    first = greenhouse.parse_api(text)[0]
    assert first.description.startswith("Who this job is right for\n\nAnim wes anderson")
    assert "&lt;" not in first.description
    assert "<p>" not in first.description


def test_parse_board_page_and_next() -> None:
    postings, has_next = greenhouse.parse_board(fixture_text(XAI))
    assert len(postings) == 50
    assert has_next
    assert postings[0].title == "BIM Manager"
    assert postings[0].company == "xAI"
    assert postings[0].location == "Memphis, TN; Remote"
    assert postings[0].remote
    assert postings[0].tags == ("Data Center",)
    third = postings[2]
    assert (
        third.title == "Construction Supervisor (Night Shift), Power Generation Plant"
    )  # no "New"


def test_parse_embed_board() -> None:
    text = fixture_text("greenhouse_jobboards_embed_miradortherapeuticsinc.html")
    postings, has_next = greenhouse.parse_board(text)
    assert len(postings) == 8
    assert not has_next
    assert postings[0].company == "Mirador Therapeutics, Inc."
    assert "gh_jid=5139831008" in postings[0].url


def test_invalid_inputs() -> None:
    with pytest.raises(ParseError, match="'jobs' list"):
        greenhouse.parse_api('{"error": "not found"}')
    with pytest.raises(ParseError, match="invalid JSON"):
        greenhouse.parse_api('{"jobs": [{"id": 1, "title": "x"')
    with pytest.raises(ParseError, match="not a Greenhouse"):
        greenhouse.parse_board("<html><body>Maintenance</body></html>")
    assert greenhouse.parse_api('{"jobs": [], "meta": {"total": 0}}') == []


async def test_collect_board_follows_pages_and_warns_on_a_failed_page() -> None:
    page = fixture(XAI)
    async with serve() as server, fetcher() as fetch:
        server.add("/xai", body=page)
        server.add("/xai?page=2", body=page)
        server.add("/xai?page=3", status=500)
        config = source("greenhouse_html", server.url("/xai"))
        result = await within(greenhouse.collect_board(context(fetch), config))
    assert len(result.postings) == 100
    assert len(result.warnings) == 1
    assert "page 3" in result.warnings[0]


async def test_collect_api_404_board() -> None:
    async with serve() as server, fetcher() as fetch:
        config = source("greenhouse", server.url("/v1/boards/nobody/jobs"))
        with pytest.raises(FetchError) as caught:
            await within(greenhouse.collect(context(fetch), config))
    assert caught.value.status == 404
    assert caught.value.source == "test-greenhouse"
    assert server.requests[0].target == "/v1/boards/nobody/jobs?content=true"
