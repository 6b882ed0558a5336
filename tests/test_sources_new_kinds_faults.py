"""Workday, Personio, Teamtailor, BambooHR, Breezy survive what every kind survives: a truncated
body, an empty board, a 404, a layout change and a board that never answers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.errors import FetchError, ParseError
from bot.sources.registry import KINDS
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, settings, source, within


@dataclass(frozen=True)
class Board:
    kind: str
    path: str  # what the kind requests
    fixture: str
    empty: bytes


BOARDS = [
    Board(
        "workday",
        "/wday/cxs/acme/Site/jobs",
        "workday_cxs_jobs_trendmicro.json",
        b'{"total": 0, "jobPostings": [], "facets": []}',
    ),
    Board("personio", "/xml", "personio_xml_demo_example.xml", b"<workzag-jobs></workzag-jobs>"),
    Board(
        "teamtailor",
        "/jobs.json",
        "teamtailor_jobs_json_tiptapp.json",
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Acme", "items": []}',
    ),
    Board(
        "bamboohr",
        "/careers/list",
        "bamboohr_careers_list_giatecscientific.json",
        b'{"meta": {"totalCount": 0}, "result": []}',
    ),
    Board("breezy", "/json", "breezy_json_breezy-trial.json", b"[]"),
]
IDS = [b.kind for b in BOARDS]


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
async def test_truncated_body_is_a_parse_error(board: Board) -> None:
    whole = fixture(board.fixture)
    async with serve() as server, fetcher() as fetch:
        server.add(board.path, body=whole[: len(whole) // 2])
        config = source(board.kind, server.url(board.path))
        with pytest.raises(ParseError) as caught:
            await within(KINDS[board.kind].collect(context(fetch), config))
    assert caught.value.source == f"test-{board.kind}"


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
async def test_empty_board_is_no_postings(board: Board) -> None:
    async with serve() as server, fetcher() as fetch:
        server.add(board.path, body=board.empty)
        config = source(board.kind, server.url(board.path))
        result = await within(KINDS[board.kind].collect(context(fetch), config))
    assert result.postings == ()
    assert not result.warnings


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
async def test_missing_board_is_a_404(board: Board) -> None:
    async with serve() as server, fetcher() as fetch:
        config = source(board.kind, server.url(board.path))
        with pytest.raises(FetchError) as caught:
            await within(KINDS[board.kind].collect(context(fetch), config))
    assert caught.value.status == 404
    assert caught.value.source == f"test-{board.kind}"


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
@pytest.mark.parametrize(
    "body", [b"<html><body><h1>Careers</h1></body></html>", b'{"data": {"jobs": []}}']
)
async def test_layout_change_is_a_parse_error(board: Board, body: bytes) -> None:
    async with serve() as server, fetcher() as fetch:
        server.add(board.path, body=body)
        config = source(board.kind, server.url(board.path))
        with pytest.raises(ParseError):
            await within(KINDS[board.kind].collect(context(fetch), config))


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
async def test_board_that_never_answers_times_out(board: Board) -> None:
    quick = settings(read_timeout=0.3, total_timeout=1.0, retries=0)
    async with serve() as server, fetcher(quick) as fetch:
        server.add(board.path, hang=True)
        config = source(board.kind, server.url(board.path))
        with pytest.raises(FetchError, match=r"timed out|no complete answer") as caught:
            await within(KINDS[board.kind].collect(context(fetch), config))
    assert caught.value.retryable
