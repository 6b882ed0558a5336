"""Per-source isolation through the real `Pipeline` (issue 10 item 7): a crashing parser, a
failing store write and a layout change each cost their own source one outcome and at most one
log record, and never stop or spoil another source's run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.models import Posting, ScrapeResult
from bot.pipeline import Pipeline
from bot.schedule import parse_schedule
from bot.settings import SourceSettings
from bot.sources.base import SourceContext, SourceKind
from bot.store import Store
from tests.fetchkit import within


class Board:
    """A fake board: what each kind's `collect` returns, run by run."""

    def __init__(self) -> None:
        self.listed: dict[str, list[Posting]] = {}
        self.runs: dict[str, int] = {}

    def postings(self, name: str, count: int) -> None:
        self.listed[name] = [
            Posting(url=f"https://{name}.example/jobs/{n}", title=f"Engineer {n}", company=name)
            for n in range(count)
        ]

    async def collect(self, _context: SourceContext, source: SourceSettings) -> ScrapeResult:
        self.runs[source.name] = self.runs.get(source.name, 0) + 1
        return ScrapeResult(postings=tuple(self.listed[source.name]))


async def crash(_context: SourceContext, source: SourceSettings) -> ScrapeResult:
    raise KeyError("jobs")  # a parser bug: an unexpected shape it did not check


@pytest.fixture
def board() -> Board:
    return Board()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "jobhound.db")
    yield store
    store.close()


def source(name: str, kind: str = "board") -> SourceSettings:
    return SourceSettings(
        name=name, kind=kind, url=f"https://{name}.example/", schedule=parse_schedule("1h")
    )


def pipeline(store: Store, board: Board) -> Pipeline:
    kinds = {"board": SourceKind("board", board.collect), "crash": SourceKind("crash", crash)}
    context = SourceContext(known_urls=store.known_urls)
    return Pipeline(postings=store, health=store, context=context, kinds=kinds)


async def test_a_crashing_parser_costs_only_its_own_source(
    store: Store, board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    board.postings("good", 3)
    sources = [source("broken", "crash"), source("good")]
    outcomes = await within(pipeline(store, board).run_all(sources))
    broken, good = outcomes
    assert (good.ok, good.new) == (True, 3)
    assert not broken.ok
    assert broken.error == "internal error: KeyError('jobs')"
    # A bug: its traceback logged once, for the operator to report.
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.getMessage() == "source broken crashed; it will run again on its schedule"
    health = {h.name: h for h in store.source_health()}
    assert health["broken"].consecutive_failures == 1
    assert health["good"].consecutive_failures == 0
    assert store.count_postings("good") == 3


async def test_a_failing_store_write_is_one_line_and_the_next_run_stores_it(
    store: Store, board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    board.postings("first", 2)
    board.postings("second", 400)
    run = pipeline(store, board)
    (first,) = await within(run.run_all([source("first")]))
    assert first.ok
    # The disk is full: SQLite may not grow the file by a page.
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    caplog.set_level(logging.INFO)
    (full,) = await within(run.run_all([source("second")]))
    assert not full.ok
    assert full.error is not None
    assert "full" in full.error
    assert [r for r in caplog.records if r.exc_info] == []
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("second: not stored:")
    assert line.endswith("Retrying on its next run")
    # Each posting is stored whole, with its rows, or not at all: the file's free pages may
    # have taken the first few (short transactions, `Postings._writes`), never all of them.
    stored = store.count_postings("second")
    assert stored < 400
    assert store.count_postings("first") == 2

    store.db.execute(f"PRAGMA max_page_count = {2**30}")
    (again,) = await within(run.run_all([source("second")]))
    assert (again.ok, again.new) == (True, 400 - stored)
    assert store.count_postings("second") == 400


async def test_a_layout_change_fails_its_source_and_keeps_what_was_stored(
    store: Store, board: Board
) -> None:
    board.postings("redesigned", 5)
    board.postings("steady", 2)
    run = pipeline(store, board)
    sources = [source("redesigned"), source("steady")]
    await within(run.run_all(sources))
    board.listed["redesigned"] = []  # the page still answers, with no posting the parser knows
    changed, steady = await within(run.run_all(sources))
    assert steady.ok
    assert not changed.ok
    assert changed.error is not None
    assert "no postings where the last run had 5" in changed.error
    assert store.count_postings("redesigned") == 5
    assert store.open_count("redesigned") == 5  # not closed by a run that read nothing
    assert board.runs == {"redesigned": 2, "steady": 2}
