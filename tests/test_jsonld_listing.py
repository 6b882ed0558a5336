"""A jsonld source reads only the job pages it has not stored: the stored ones its listing still
links are seen all the same (counts, open postings), and a listing that links nothing is a
layout change, not "unchanged"."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from bot.store import Store
from tests.boardserver import serve
from tests.fetchkit import within
from tests.fieldkit import once, write_config

HTML = {"Content-Type": "text/html"}


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
    async with serve() as server:
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "jsonld", "url": server.url("/jobs/")}]
        )
        server.add("/jobs/", body=listing(), headers=HTML)
        caplog.set_level(logging.WARNING, logger="bot.pipeline")
        (empty_first,) = await within(once(settings))
        warned = [r.getMessage() for r in caplog.records]
        for n in (1, 2):
            server.add(f"/jobs/{n}", body=job_page(n), headers=HTML)
        server.add("/jobs/", body=listing(1, 2), headers=HTML)
        (listed,) = await within(once(settings))
        server.add("/jobs/", body=listing(), headers=HTML)
        (emptied,) = await within(once(settings))
    assert (empty_first.ok, empty_first.unchanged, empty_first.seen) == (True, False, 0)
    assert len(warned) == 1
    assert "the listing links no job page" in warned[0]
    assert (listed.ok, listed.new) == (True, 2)
    assert not emptied.ok
    assert emptied.error is not None
    assert "no postings where the last run had 2" in emptied.error
    # The failure is the run's one line (tester: the warning came too).
    emptied_lines = [r.getMessage() for r in caplog.records][len(warned) :]
    assert [line for line in emptied_lines if "links no job page" in line] == []


async def test_a_run_sees_the_stored_pages_its_listing_links(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (tester): a listing of 10 that gained 1 logged "1 posting, 1 new, 10
    closed", and the stored pages' last_seen never moved, so /stats counted them closed."""
    async with serve() as server:
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "jsonld", "url": server.url("/jobs/")}]
        )
        for n in range(1, 12):
            server.add(f"/jobs/{n}", body=job_page(n), headers=HTML)
        server.add("/jobs/", body=listing(*range(1, 11)), headers=HTML)
        (first,) = await within(once(settings))
        caplog.set_level(logging.INFO, logger="bot.pipeline")
        server.add("/jobs/", body=listing(*range(1, 12)), headers=HTML)
        (grown,) = await within(once(settings))
        (same,) = await within(once(settings))
    assert (first.seen, first.new) == (10, 10)
    assert (grown.seen, grown.new) == (11, 1)
    assert (same.ok, same.unchanged, same.seen, same.new) == (True, False, 11, 0)
    assert "field: 11 postings, 1 new" in caplog.text
    assert re.findall(r"(\d+) closed", caplog.text) == ["0", "0"]
    assert all(server.hits(f"/jobs/{n}") == 1 for n in range(1, 12))  # each read once
    store = Store.open(settings.storage.path)
    try:
        assert store.open_count("field") == 11
        (health,) = [h for h in store.source_health() if h.name == "field"]
        assert health.last_count == 11
    finally:
        store.close()
