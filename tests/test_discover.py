"""`add URL`: a board's kind and options from any link a user has at hand."""

from __future__ import annotations

from typing import Any

import pytest

from bot import discover
from tests.fetchkit import fixture_text

GH_API = "https://boards-api.greenhouse.io/v1/boards/{}/jobs"

# (URL a user pastes, kind, URL configured, options)
URLS: list[tuple[str, str, str, dict[str, Any]]] = [
    # Lever: board, posting, apply page, API, EU
    ("https://jobs.lever.co/binance", "lever", "https://jobs.lever.co/binance", {}),
    (
        "https://jobs.lever.co/januxrx/5b1f9c1e-8a3c-4b5d-9a7e-2f3c4d5e6f70",
        "lever",
        "https://jobs.lever.co/januxrx",
        {},
    ),
    (
        "https://jobs.lever.co/highspot/1c6f0a3b-1111-2222-3333-444455556666/apply?lever-source=x",
        "lever",
        "https://jobs.lever.co/highspot",
        {},
    ),
    (
        "https://api.lever.co/v0/postings/leverdemo?mode=json",
        "lever",
        "https://jobs.lever.co/leverdemo",
        {},
    ),
    ("https://jobs.eu.lever.co/spotify", "lever", "https://jobs.eu.lever.co/spotify", {}),
    # Greenhouse: both board hosts, a job, the embed, the API
    ("https://boards.greenhouse.io/anthropic", "greenhouse", GH_API.format("anthropic"), {}),
    ("https://job-boards.greenhouse.io/xai", "greenhouse", GH_API.format("xai"), {}),
    (
        "https://job-boards.greenhouse.io/gitlab/jobs/8123456002",
        "greenhouse",
        GH_API.format("gitlab"),
        {},
    ),
    (
        "https://job-boards.eu.greenhouse.io/safariai/jobs/4567",
        "greenhouse",
        GH_API.format("safariai"),
        {},
    ),
    (
        "https://boards.greenhouse.io/embed/job_board?for=miradortherapeuticsinc",
        "greenhouse",
        GH_API.format("miradortherapeuticsinc"),
        {},
    ),
    (
        "https://boards-api.greenhouse.io/v1/boards/anthropic/jobs?content=true",
        "greenhouse",
        GH_API.format("anthropic"),
        {},
    ),
    # Ashby: board, posting, API
    ("https://jobs.ashbyhq.com/cursor", "ashby", "https://jobs.ashbyhq.com/cursor", {}),
    (
        "https://jobs.ashbyhq.com/ramp/0d7e9a2c-aaaa-bbbb-cccc-ddddeeeeffff/application",
        "ashby",
        "https://jobs.ashbyhq.com/ramp",
        {},
    ),
    (
        "https://api.ashbyhq.com/posting-api/job-board/nango?includeCompensation=true",
        "ashby",
        "https://jobs.ashbyhq.com/nango",
        {},
    ),
    # Workable: board, posting, API, old subdomain
    (
        "https://apply.workable.com/blueground/",
        "workable",
        "https://apply.workable.com/blueground/",
        {},
    ),
    (
        "https://apply.workable.com/huble/j/9A8B7C6D5E/",
        "workable",
        "https://apply.workable.com/huble/",
        {},
    ),
    (
        "https://apply.workable.com/api/v3/accounts/blueground/jobs",
        "workable",
        "https://apply.workable.com/blueground/",
        {},
    ),
    ("https://zego.workable.com/", "workable", "https://apply.workable.com/zego/", {}),
    # SmartRecruiters: board, posting, API
    (
        "https://jobs.smartrecruiters.com/Equinox",
        "smartrecruiters",
        "https://jobs.smartrecruiters.com/Equinox",
        {},
    ),
    (
        "https://jobs.smartrecruiters.com/ServiceNow/744000138497339-sr-product-security-engineer",
        "smartrecruiters",
        "https://jobs.smartrecruiters.com/ServiceNow",
        {},
    ),
    (
        "https://api.smartrecruiters.com/v1/companies/equinox/postings?limit=100",
        "smartrecruiters",
        "https://jobs.smartrecruiters.com/equinox",
        {},
    ),
    # Recruitee
    ("https://bunq.recruitee.com/", "recruitee", "https://bunq.recruitee.com/", {}),
    (
        "https://bunq.recruitee.com/o/fraud-ops-expert",
        "recruitee",
        "https://bunq.recruitee.com/",
        {},
    ),
    # Workday: board, locale, posting, API, myworkdaysite
    (
        "https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite",
        "workday",
        "https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite",
        {},
    ),
    (
        "https://nvidia.wd5.myworkdayjobs.com/en-US/NVIDIAExternalCareerSite/job/Israel-Yokneam/"
        "Senior-Software-Golang-Kubernetes-Engineer_JR2015916",
        "workday",
        "https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite",
        {},
    ),
    (
        "https://trendmicro.wd3.myworkdayjobs.com/wday/cxs/trendmicro/External/jobs",
        "workday",
        "https://trendmicro.wd3.myworkdayjobs.com/External",
        {},
    ),
    (
        "https://wd1.myworkdaysite.com/recruiting/acme/Careers/job/Berlin/Engineer_R1",
        "workday",
        "https://wd1.myworkdaysite.com/recruiting/acme/Careers",
        {},
    ),
    # Personio
    (
        "https://1komma5grad.jobs.personio.de/",
        "personio",
        "https://1komma5grad.jobs.personio.de/xml",
        {},
    ),
    (
        "https://personio.jobs.personio.com/job/1834171?language=en",
        "personio",
        "https://personio.jobs.personio.com/xml",
        {},
    ),
    # Teamtailor
    (
        "https://knaufsemea.teamtailor.com/jobs",
        "teamtailor",
        "https://knaufsemea.teamtailor.com/jobs",
        {},
    ),
    (
        "https://carrtalent.na.teamtailor.com/jobs/659554-home-buying-specialist",
        "teamtailor",
        "https://carrtalent.na.teamtailor.com/jobs",
        {},
    ),
    # BambooHR
    (
        "https://curtinmaritime.bamboohr.com/careers",
        "bamboohr",
        "https://curtinmaritime.bamboohr.com/careers",
        {},
    ),
    (
        "https://giatecscientific.bamboohr.com/careers/167",
        "bamboohr",
        "https://giatecscientific.bamboohr.com/careers",
        {},
    ),
    # Breezy
    ("https://breezy.breezy.hr/", "breezy", "https://breezy.breezy.hr", {}),
    (
        "https://german-american-chambers-of-commerce.breezy.hr/p/dcc694c6b681-3-month-internship",
        "breezy",
        "https://german-american-chambers-of-commerce.breezy.hr",
        {},
    ),
    # RemoteOK
    ("https://remoteok.com/", "remoteok", "https://remoteok.com/api", {}),
    ("https://remoteok.com/remote-dev-jobs", "remoteok", "https://remoteok.com/api", {}),
    # RSS/Atom feeds
    (
        "https://weworkremotely.com/categories/remote-back-end-programming-jobs",
        "rss",
        "https://weworkremotely.com/categories/remote-back-end-programming-jobs.rss",
        {},
    ),
    (
        "https://weworkremotely.com/remote-jobs.rss",
        "rss",
        "https://weworkremotely.com/remote-jobs.rss",
        {},
    ),
    ("https://blog.example.org/jobs/feed/", "rss", "https://blog.example.org/jobs/feed/", {}),
    # A JSON-LD site by its sitemap
    (
        "https://www.remotewlb.com/sitemap.xml",
        "jsonld",
        "https://www.remotewlb.com/sitemap.xml",
        {},
    ),
]


def test_the_table_has_forty_urls() -> None:
    assert len(URLS) >= 40


@pytest.mark.parametrize(("url", "kind", "configured", "options"), URLS)
def test_recognise(url: str, kind: str, configured: str, options: dict[str, Any]) -> None:
    guess = discover.recognise(url)
    assert guess is not None, url
    assert (guess.kind, guess.url, dict(guess.options)) == (kind, configured, options)
    assert guess.kind in discover.BOARD_NAMES


@pytest.mark.parametrize(
    "url",
    [
        "https://careers.acme.example/jobs",
        "https://jobs.lever.co/",
        "https://www.breezy.hr/pricing",
        "https://apply.workable.com/j/9A8B7C6D5E",
        "ftp://example.org/jobs.rss",
    ],
)
def test_urls_that_say_nothing(url: str) -> None:
    assert discover.recognise(url) is None


def test_names_are_valid_source_names() -> None:
    guess = discover.recognise("https://German-American.breezy.hr/")
    assert guess is not None
    assert guess.name == "german-american"
    assert discover.source_name("ACME Corp. (EU)") == "acme-corp-eu"


# -- pages ---------------------------------------------------------------------------------------


def test_careers_page_embedding_greenhouse() -> None:
    page = """<html><body><h1>Join us</h1><div id="grnhse_app"></div>
    <script src="https://boards.greenhouse.io/embed/job_board/js?for=acme&amp;b=https://acme.example"></script>
    </body></html>"""
    guess = discover.from_page("https://acme.example/careers", page)
    assert guess is not None
    assert (guess.kind, guess.url) == ("greenhouse", GH_API.format("acme"))


def test_careers_page_linking_a_workday_board() -> None:
    page = '<a href="https://acme.wd3.myworkdayjobs.com/en-US/AcmeCareers">Open roles</a>'
    guess = discover.from_page("https://www.acme.example/careers", page)
    assert guess is not None
    assert guess.kind == "workday"
    assert guess.url == "https://acme.wd3.myworkdayjobs.com/AcmeCareers"


def test_job_page_with_json_ld() -> None:
    page = fixture_text("nodesk_job_detail_jsonld.html")
    guess = discover.from_page("https://nodesk.co/remote-jobs/some-job/", page)
    assert guess is not None
    assert (guess.kind, guess.url) == (
        "jsonld",
        "https://nodesk.co/remote-jobs/some-job/",
    )


def test_page_with_a_feed_link() -> None:
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/jobs/feed.xml">'
        "</head><body>Jobs</body></html>"
    )
    guess = discover.from_page("https://jobs.example.org/", page)
    assert guess is not None
    assert (guess.kind, guess.url) == (
        "rss",
        "https://jobs.example.org/jobs/feed.xml",
    )


def test_a_feed_body_is_an_rss_source() -> None:
    feed = fixture_text("weworkremotely_category_back_end_rss.xml")
    guess = discover.from_page("https://feeds.example.org/jobs", feed)
    assert guess is not None
    assert guess.kind == "rss"


def test_a_page_that_shows_nothing() -> None:
    assert discover.from_page("https://acme.example/", "<html><p>Hello</p></html>") is None
