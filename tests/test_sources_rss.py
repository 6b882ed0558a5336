"""RSS 2.0 (We Work Remotely) and Atom feeds."""

from __future__ import annotations

import pytest

from bot.errors import ParseError
from bot.sources import rss
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, fixture_text, source, within

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Jobs</title>
<entry><title>Backend Engineer</title><link href="https://ex.com/jobs/1"/>
<id>tag:ex.com,2024:1</id><published>2024-05-01T10:00:00Z</published>
<author><name>Example Co</name></author><category term="python"/>
<content type="html">&lt;p&gt;Write &lt;b&gt;Python&lt;/b&gt;.&lt;/p&gt;</content></entry></feed>"""


def test_wwr_company_region_skills() -> None:
    text = fixture_text("weworkremotely_category_back_end_rss.xml")
    postings = rss.parse_feed(text, company_in_title=True, remote=True)
    assert len(postings) == 7
    first = postings[0]
    assert first.company == "Proxify AB"
    assert first.title == "Senior Java Backend Developer"
    assert first.location == "Anywhere in the World"
    assert first.remote
    assert first.tags == ("Back-End Programming", "Java and Back-End Dev", "Full-Time")
    assert first.posted_at is not None
    assert first.posted_at.year == 2026
    assert first.description.startswith("Headquarters: Sweden")
    assert "<" not in first.description


def test_atom() -> None:
    (posting,) = rss.parse_feed(ATOM)
    assert posting.title == "Backend Engineer"
    assert posting.company == "Example Co"
    assert posting.url == "https://ex.com/jobs/1"
    assert posting.description == "Write Python."
    assert posting.tags == ("python",)


def test_invalid() -> None:
    with pytest.raises(ParseError, match="invalid XML"):
        rss.parse_feed(fixture_text("weworkremotely_remote_jobs_rss.xml")[:3000])
    with pytest.raises(ParseError, match="not an RSS"):
        rss.parse_feed("<html><body>hi</body></html>")
    with pytest.raises(ParseError, match="entities"):
        rss.parse_feed('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;</rss>')
    assert rss.parse_feed('<rss version="2.0"><channel><title>x</title></channel></rss>') == []


async def test_collect_wwr_defaults_follow_the_host() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/remote-jobs.rss", body=fixture("weworkremotely_remote_jobs_rss.xml"))
        config = source("rss", server.url("/remote-jobs.rss"), company_in_title=True)
        result = await within(rss.collect(context(fetch), config))
    assert [p.company for p in result.postings][:2] == ["Mathmo", "Qase"]
