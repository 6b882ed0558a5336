"""An empty answer (200, no body) from any board: one failed source with a one-line reason,
never a traceback (a tester's rss source raised AttributeError on every run)."""

from __future__ import annotations

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
