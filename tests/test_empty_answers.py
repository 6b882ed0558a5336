"""An empty answer (200, no body) from any board: one failed source with a one-line reason,
never a traceback (a tester's rss source raised AttributeError on every run)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.sources.registry import KINDS
from tests.boardserver import serve
from tests.fetchkit import within
from tests.fieldkit import once, write_config

# Where each kind reads its board (the path its URL parser expects); the rest read "/board".
PATHS = {
    "greenhouse": "/v1/boards/acme/jobs",
    "lever": "/v0/postings/acme",
    "ashby": "/posting-api/job-board/acme",
    "workday": "/wday/cxs/acme/site/jobs",
    "personio": "/xml",
    "teamtailor": "/jobs.json",
    "recruitee": "/api/offers/",
    "bamboohr": "/careers/list",
    "breezy": "/json",
}
OPTIONS = {"html": {"item": "li", "title": "a"}}
REMOTE_KINDS = sorted(name for name, kind in KINDS.items() if not kind.local)


@pytest.mark.parametrize("body", [b"", b"  \r\n\t "], ids=["empty", "blank"])
async def test_every_kind_fails_an_empty_answer_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    caplog.set_level(logging.INFO)
    async with serve() as server:
        for path in {*PATHS.values(), "/board"}:
            server.add(path, body=body, headers={"Content-Type": "application/json"})
        sources = [
            {
                "name": f"s-{kind.replace('_', '-')}",
                "kind": kind,
                "url": server.url(PATHS.get(kind, "/board")),
                **OPTIONS.get(kind, {}),
            }
            for kind in REMOTE_KINDS
        ]
        outcomes = await within(once(write_config(tmp_path, sources)), 60)
    assert len(outcomes) == len(REMOTE_KINDS)
    for outcome in outcomes:
        assert not outcome.ok, outcome
        assert outcome.error, outcome
        assert "\n" not in outcome.error, outcome
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def listing(*jobs: int) -> bytes:
    links = "".join(f'<li><a href="/jobs/{n}">Job {n}</a></li>' for n in jobs)
    return f"<html><body><ul>{links}</ul><a href='/about'>About</a></body></html>".encode()


def job_page(n: int) -> bytes:
    data = {
        "@context": "https://schema.org",
        "@type": "JobPosting",
        "title": f"Engineer {n}",
        "hiringOrganization": {"@type": "Organization", "name": "Acme"},
        "datePosted": "2026-11-01",
    }
    script = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    return f"<html><head>{script}</head><body>Job {n}</body></html>".encode()


async def test_a_jsonld_listing_that_links_no_job_page_is_not_unchanged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: a listing emptied by a redesign read as "unchanged" every run, so the
    layout check never fired; the first run of one that links nothing said nothing."""
    html = {"Content-Type": "text/html"}
    async with serve() as server:
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "jsonld", "url": server.url("/jobs/")}]
        )
        server.add("/jobs/", body=listing(), headers=html)
        caplog.set_level(logging.WARNING, logger="bot.pipeline")
        (empty_first,) = await within(once(settings))
        warned = [r.getMessage() for r in caplog.records]
        for n in (1, 2):
            server.add(f"/jobs/{n}", body=job_page(n), headers=html)
        server.add("/jobs/", body=listing(1, 2), headers=html)
        (listed,) = await within(once(settings))
        server.add("/jobs/", body=listing(), headers=html)
        (emptied,) = await within(once(settings))
    assert (empty_first.ok, empty_first.unchanged, empty_first.seen) == (True, False, 0)
    assert len(warned) == 1
    assert "the listing links no job page" in warned[0]
    assert (listed.ok, listed.new) == (True, 2)
    assert not emptied.ok
    assert emptied.error is not None
    assert "no postings where the last run had 2" in emptied.error
