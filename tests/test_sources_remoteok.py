"""RemoteOK: the legal notice skipped, double-encoded text repaired, honeypot removed."""

from __future__ import annotations

import json

import pytest

from bot.errors import ParseError
from bot.sources import remoteok
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, fixture_text, source, within


def test_parse_skips_legal_notice_and_repairs_mojibake() -> None:
    text = fixture_text("remoteok_api.json")
    raw = json.loads(text)
    postings = remoteok.parse_api(text)
    jobs = [
        item for item in raw if "legal" not in item and item.get("url") and item.get("position")
    ]
    assert len(postings) == len(jobs) > 90
    first = postings[0]
    assert first.title == "Benefits Advisor Leadership Training Program"
    assert first.company == "Fisher Agencies"
    assert first.remote
    assert "What You’ll Do" in first.description  # "What Youâ\x80\x99ll Do" upstream
    for posting in postings:
        for value in (posting.title, posting.company, posting.description, posting.location):
            assert "â\x80" not in value, value[:80]
            assert "Ã" not in value, value[:80]
        assert "Please mention the word" not in posting.description


def test_unknown_tag_gives_only_legal() -> None:
    assert remoteok.parse_api('[{"last_updated": 1, "legal": "terms"}]') == []


def test_api_url() -> None:
    assert remoteok.api_url("https://remoteok.com/") == "https://remoteok.com/api"
    assert remoteok.api_url("https://remoteok.com/api?tags=python") == (
        "https://remoteok.com/api?tags=python"
    )


def test_invalid() -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        remoteok.parse_api(fixture_text("remoteok_api.json")[:10000])


async def test_collect() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add(
            "/api", body=fixture("remoteok_api.json"), headers={"Content-Type": "application/json"}
        )
        result = await within(
            remoteok.collect(context(fetch), source("remoteok", server.url("/api")))
        )
    assert len(result.postings) > 90
