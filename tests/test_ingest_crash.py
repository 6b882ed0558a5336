"""An ingest killed between its transactions (issue 10, item 5): the next run of the same scrape
alerts each job exactly once, floods nobody, loses nothing, counts each closing run's miss once
and leaves the groups consistent.

The write is a series of short transactions (`Postings._writes`); a kill is simulated by a
trigger that aborts one of them (its own changes roll back, the earlier ones stay committed:
the state a SIGKILL between the two leaves), and `WRITE_ROWS` is 1 so each new posting is its
own transaction (and, unless a test says otherwise, `SLAB_POSTINGS` is 1: each posting's rows
are written before the next posting is stored).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import bot.store.postings
from bot.models import Posting, StoredPosting
from bot.store import PendingDelivery, Store
from tests.fetchkit import within

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CHAT = 7


def everyone(postings: Sequence[StoredPosting]) -> Iterable[PendingDelivery]:
    """A matcher for one chat subscribed to everything."""
    return [PendingDelivery(CHAT, p.id, 1) for p in postings]


def job(n: int, title: str = "", location: str = "Berlin") -> Posting:
    return Posting(
        f"https://board.test/jobs/{n}", title or f"Engineer {n}", company="Acme", location=location
    )


@pytest.fixture(autouse=True)
def one_posting_per_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.store.postings, "WRITE_ROWS", 1)
    monkeypatch.setattr(bot.store.postings, "SLAB_POSTINGS", 1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "jobs.db")
    opened.touch_chat(CHAT, type="private", title="t", now=T0)
    yield opened
    opened.close()


def kill(store: Store, trigger: str) -> None:
    """The transaction whose statement fires `trigger` ("BEFORE INSERT ON t WHEN ...") aborts."""
    store.db.execute(f"CREATE TRIGGER killed {trigger} BEGIN SELECT RAISE(ABORT, 'killed'); END")


def revive(store: Store) -> None:
    store.db.execute("DROP TRIGGER killed")


def kill_at_posting(store: Store, posting: Posting) -> None:
    kill(store, f"BEFORE INSERT ON postings WHEN NEW.id = '{posting.id}'")


def alerted(store: Store) -> list[str]:
    rows = store.db.execute("SELECT posting_id FROM deliveries ORDER BY id").fetchall()
    return [row[0] for row in rows]


def stored(store: Store) -> set[str]:
    return {row[0] for row in store.db.execute("SELECT id FROM postings")}


def assert_groups_consistent(store: Store) -> None:
    """Every posting in a stored group, every group's canonical member stored, every ATS id's
    group stored, and a group open iff one of its members is."""
    broken = store.db.execute(
        "SELECT "
        "(SELECT count(*) FROM postings WHERE group_id IS NULL "
        "  OR group_id NOT IN (SELECT id FROM groups)), "
        "(SELECT count(*) FROM groups WHERE canonical_id NOT IN (SELECT id FROM postings)), "
        "(SELECT count(*) FROM ats_ids WHERE group_id NOT IN (SELECT id FROM groups)), "
        "(SELECT count(*) FROM groups g WHERE (g.closed_at IS NULL) != EXISTS "
        "  (SELECT 1 FROM postings p WHERE p.group_id = g.id AND p.closed_at IS NULL))"
    ).fetchone()
    assert tuple(broken) == (0, 0, 0, 0)


async def test_a_scrape_killed_between_postings_alerts_each_job_once_on_the_next_run(
    store: Store,
) -> None:
    store.ingest("board", [job(0)], now=T0)  # the baseline
    scrape = [job(n) for n in range(1, 7)]
    kill_at_posting(store, scrape[3])
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        await within(
            store.ingest_async("board", scrape, now=T0 + timedelta(hours=1), matcher=everyone)
        )
    # The postings stored before the kill are stored with their alerts, the rest not at all.
    assert stored(store) == {p.id for p in [job(0), *scrape[:3]]}
    assert alerted(store) == [p.id for p in scrape[:3]]
    revive(store)
    result = await within(
        store.ingest_async("board", scrape, now=T0 + timedelta(hours=2), matcher=everyone)
    )
    assert [p.id for p in result.alerted] == [p.id for p in scrape[3:]]
    assert alerted(store) == [p.id for p in scrape]
    again = store.ingest("board", scrape, now=T0 + timedelta(hours=3), matcher=everyone)
    assert (again.new, alerted(store)) == ((), [p.id for p in scrape])
    assert_groups_consistent(store)


@pytest.mark.parametrize(
    "trigger",
    [
        "BEFORE INSERT ON postings WHEN NEW.id = '{fourth}'",
        "BEFORE INSERT ON sources WHEN NEW.baseline_at IS NOT NULL",
    ],
    ids=["between postings", "at the baseline mark"],
)
def test_a_first_scrape_killed_before_its_baseline_mark_floods_nobody(
    store: Store, trigger: str
) -> None:
    scrape = [job(n) for n in range(1, 7)]
    kill(store, trigger.format(fourth=scrape[3].id))
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        store.ingest("board", scrape, now=T0, matcher=everyone)
    revive(store)
    # Still the source's baseline: the rest of the backlog is stored, nobody is alerted.
    result = store.ingest("board", scrape, now=T0 + timedelta(hours=1), matcher=everyone)
    assert result.baseline
    assert (stored(store), alerted(store)) == ({p.id for p in scrape}, [])
    fresh = job(7)
    result = store.ingest("board", [*scrape, fresh], now=T0 + timedelta(hours=2), matcher=everyone)
    assert not result.baseline
    assert alerted(store) == [fresh.id]


def test_a_closing_run_killed_midway_counts_its_miss_once(store: Store) -> None:
    a, b, c, d = job(1), job(2), job(3), job(4)
    store.ingest("board", [a, b, c], now=T0, closes=True)

    def misses() -> dict[str, tuple[int, bool]]:
        rows = store.db.execute("SELECT id, missed, closed_at FROM postings").fetchall()
        return {pid: (missed, closed is not None) for pid, missed, closed in rows}

    kill_at_posting(store, d)
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        store.ingest("board", [a, b, d], now=T0 + timedelta(days=1), matcher=everyone, closes=True)
    # That run saw the whole listing: c missed it once, a and b were seen (count and reset
    # are one transaction), d is not stored.
    assert misses() == {a.id: (0, False), b.id: (0, False), c.id: (1, False)}
    revive(store)
    # The next run is c's second miss in a row: closed; d stored and alerted once.
    store.ingest("board", [a, b, d], now=T0 + timedelta(days=2), matcher=everyone, closes=True)
    assert misses() == {a.id: (0, False), b.id: (0, False), c.id: (2, True), d.id: (0, False)}
    assert alerted(store) == [d.id]
    store.ingest("board", [a, b, d], now=T0 + timedelta(days=3), matcher=everyone, closes=True)
    assert alerted(store) == [d.id]
    assert_groups_consistent(store)


def test_one_job_split_by_a_kill_stays_one_group_and_one_alert(store: Store) -> None:
    store.ingest("board", [job(0)], now=T0)  # the baseline
    cities = [job(n, title="Sales Manager", location=f"City {n}") for n in range(1, 7)]
    kill_at_posting(store, cities[3])
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        store.ingest("board", cities, now=T0 + timedelta(hours=1), matcher=everyone)
    assert_groups_consistent(store)
    revive(store)
    store.ingest("board", cities, now=T0 + timedelta(hours=2), matcher=everyone)
    assert_groups_consistent(store)
    groups = store.db.execute(
        "SELECT count(DISTINCT group_id) FROM postings WHERE title = 'Sales Manager'"
    ).fetchone()[0]
    assert (groups, alerted(store)) == (1, [cities[0].id])


CHATS = range(100, 600)  # 500 chats: a posting's rows take three parts of 200


def to_every_chat(postings: Sequence[StoredPosting]) -> Iterable[PendingDelivery]:
    return [PendingDelivery(chat, p.id, 1) for p in postings for chat in CHATS]


def with_chats(store: Store) -> Store:
    for chat in CHATS:
        store.touch_chat(chat, type="private", title="t", now=T0)
    return store


def test_one_postings_rows_are_written_in_parts_and_the_mark_is_gone_after(store: Store) -> None:
    """Bug: one posting's ~2,000 outbox rows were one transaction on the event loop (100-250
    ms once the outbox is large): they are written in parts now."""
    with_chats(store)
    store.ingest("board", [job(0)], now=T0)  # the baseline
    transactions = []
    store.db.conn.set_trace_callback(
        lambda sql: transactions.append(sql) if sql.startswith("BEGIN") else None
    )
    store.ingest("board", [job(0), job(1)], now=T0, matcher=to_every_chat)
    store.db.conn.set_trace_callback(None)
    assert alerted(store).count(job(1).id) == len(CHATS)
    assert len(transactions) >= 3 + 2  # three parts, and the run's first and last steps
    assert store.db.execute("SELECT count(*) FROM fanout").fetchone()[0] == 0


def test_a_kill_between_the_parts_of_a_postings_rows_is_finished_by_the_next_run(
    store: Store,
) -> None:
    """The posting was stored with its first part: the next run writes the rest, once each."""
    with_chats(store)
    store.ingest("board", [job(0)], now=T0)  # the baseline
    pid = job(1).id
    after_first_part = (  # a trigger's condition, with the id the test made
        f"BEFORE INSERT ON deliveries WHEN NEW.posting_id = '{pid}' AND "  # noqa: S608
        f"(SELECT count(*) FROM deliveries WHERE posting_id = '{pid}') >= 200"
    )
    kill(store, after_first_part)
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        store.ingest("board", [job(0), job(1)], now=T0, matcher=to_every_chat)
    revive(store)
    assert pid in stored(store)
    assert alerted(store).count(pid) == 200
    assert store.db.execute("SELECT posting_id FROM fanout").fetchall() == [(pid,)]
    store.ingest("board", [job(0), job(1)], now=T0 + timedelta(hours=1), matcher=to_every_chat)
    counts = store.db.execute(
        "SELECT count(*), count(DISTINCT chat_id) FROM deliveries WHERE posting_id = ?", [pid]
    ).fetchone()
    assert tuple(counts) == (len(CHATS), len(CHATS))  # each chat once: none lost, none twice
    assert store.db.execute("SELECT count(*) FROM fanout").fetchone()[0] == 0
    assert_groups_consistent(store)


def test_a_slabs_rows_are_written_chat_by_chat_across_its_postings(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: rows were written posting by posting, so every short transaction changed a page of
    the outbox's chat index per chat (~2,000) and rewrote each to the WAL: they follow the
    matcher's order now, chat by chat across a slab's postings."""
    monkeypatch.setattr(bot.store.postings, "SLAB_POSTINGS", 3)
    with_chats(store)
    store.ingest("board", [job(0)], now=T0)  # the baseline

    def chat_by_chat(postings: Sequence[StoredPosting]) -> Iterable[PendingDelivery]:
        return [PendingDelivery(chat, p.id, 1) for chat in CHATS for p in postings]

    scrape = [job(n) for n in range(1, 5)]
    store.ingest("board", scrape, now=T0, matcher=chat_by_chat)
    rows = store.db.execute("SELECT chat_id, posting_id FROM deliveries ORDER BY id").fetchall()
    first, second = [p.id for p in scrape[:3]], [scrape[3].id]
    expected = [(c, p) for c in CHATS for p in first] + [(c, p) for c in CHATS for p in second]
    assert [tuple(row) for row in rows] == expected
    assert store.db.execute("SELECT count(*) FROM fanout").fetchone()[0] == 0


def slab_matcher(calls: list[list[str]]) -> Callable[..., Iterable[PendingDelivery]]:
    """`to_every_chat`, recording the postings of each call."""

    def matcher(postings: Sequence[StoredPosting]) -> Iterable[PendingDelivery]:
        calls.append([p.id for p in postings])
        return to_every_chat(postings)

    return matcher


@pytest.mark.parametrize("rows_before_kill", [0, 200], ids=["before its rows", "after a part"])
async def test_a_slab_cut_short_by_a_kill_is_finished_by_the_next_run_matched_together(
    store: Store, monkeypatch: pytest.MonkeyPatch, rows_before_kill: int
) -> None:
    """A slab's postings are stored (marked) before its rows: the next run matches them again
    in one call, as the scrape did (the per-cycle cap holds across them: no flood), and writes
    each (chat, posting) row once."""
    monkeypatch.setattr(bot.store.postings, "SLAB_POSTINGS", 3)
    with_chats(store)
    store.ingest("board", [job(0)], now=T0)  # the baseline
    scrape = [job(n) for n in range(1, 4)]
    kill(
        store,
        f"BEFORE INSERT ON deliveries WHEN (SELECT count(*) FROM deliveries) >= {rows_before_kill}",  # noqa: S608
    )
    calls: list[list[str]] = []
    with pytest.raises(sqlite3.IntegrityError, match="killed"):
        await within(store.ingest_async("board", scrape, now=T0, matcher=slab_matcher(calls)))
    revive(store)
    ids = [p.id for p in scrape]
    assert stored(store) == {job(0).id, *ids}
    assert len(alerted(store)) == rows_before_kill
    marked = store.db.execute("SELECT posting_id FROM fanout ORDER BY rowid").fetchall()
    assert [row[0] for row in marked] == ids
    calls.clear()
    later = T0 + timedelta(hours=1)
    result = await within(
        store.ingest_async("board", scrape, now=later, matcher=slab_matcher(calls))
    )
    assert (result.new, calls) == ((), [ids])  # one call, all three: the cap sees them together
    counts = store.db.execute(
        "SELECT count(*), count(DISTINCT chat_id || posting_id) FROM deliveries"
    ).fetchone()
    assert tuple(counts) == (len(CHATS) * 3, len(CHATS) * 3)  # none lost, none twice
    assert store.db.execute("SELECT count(*) FROM fanout").fetchone()[0] == 0
    assert_groups_consistent(store)
