"""The compact outbox (issue 10, item 5): plain rows, terms computed at send time, and an
ingest that lets the event loop run, each new posting committed with its outbox rows."""

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlite_utils import Database

import bot.store.postings
from bot.models import Posting, StoredPosting
from bot.store import PendingDelivery, Store, migrations
from bot.subscriptions import Subscriptions
from tests.fetchkit import within

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def posting(n: int, title: str = "Python engineer") -> Posting:
    # One company each: the same title at one company would be one job (issue 12's groups).
    return Posting(url=f"https://jobs.example.com/{n}", title=title, company=f"Acme {n}")


def test_old_json_outbox_rows_become_plain_rows_and_pending_ones_stay_pending(
    tmp_path: Path,
) -> None:
    """Bug: each outbox row carried JSON lists of subscription ids and terms (22% of ingest)."""
    path = tmp_path / "old.db"
    db = Database(path)
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db, stop_before="m004_compact_outbox")
    old = Store(db)
    # As that version wrote it (today's Chats reads columns later migrations add).
    db.table("chats").insert(
        {"id": 7, "type": "private", "title": "t", "created_at": T0.isoformat()}
    )
    for n in (1, 2):  # rows as that schema held them (today's ingest writes later columns)
        p = posting(n)
        db.table("postings").insert(
            {
                "id": p.id,
                "url": p.url,
                "source": "board",
                "title": p.title,
                "company": p.company,
                "first_seen": T0.isoformat(),
                "last_seen": T0.isoformat(),
            }
        )
    for n, status in ((1, "sent"), (2, "pending")):
        db.table("deliveries").insert(
            {
                "chat_id": 7,
                "posting_id": posting(n).id,
                "subscription_ids": "[4, 9]",
                "terms": '["python"]',
                "status": status,
                "created_at": T0.isoformat(),
                "next_attempt_at": T0.isoformat(),
            }
        )
    old.close()

    store = Store.open(path)
    columns = set(store.db.table("deliveries").columns_dict)
    assert "terms" not in columns
    assert "subscription_ids" not in columns
    (pending,) = store.pending_for_chat(7)
    assert (pending.posting_id, pending.subscription_id) == (posting(2).id, 4)
    store.mark_sent([pending.id], now=T0)
    assert store.pending_for_chat(7) == []
    assert store.pending_count() == 0
    store.close()


def test_matching_writes_ids_only_and_terms_come_from_the_chats_queries() -> None:
    """Bug: matched terms were computed at ingest for every match, shown or not."""
    store = Store.open(":memory:")
    subs = Subscriptions(store)
    store.ingest("board", [posting(0)], now=T0)  # the baseline
    store.touch_chat(7, type="private", title="t", now=T0)
    first = subs.add(7, "python").subscription
    subs.add(7, "rust")
    second = subs.add(7, "engineer OR designer").subscription
    result = store.ingest("board", [posting(1)], now=T0, matcher=subs.matcher)
    assert result.deliveries == 1
    (row,) = store.pending_for_chat(7)
    assert row.subscription_id == first.id < second.id
    new: StoredPosting = result.new[0]
    assert subs.matched_terms(7, [new]) == {new.id: ("python", "engineer")}


async def test_ingest_async_lets_the_loop_run_and_commits_each_posting_with_its_alerts(
    tmp_path: Path,
) -> None:
    """Bug: a 1,000-posting ingest froze polling and sending for 92-105 s."""
    path = tmp_path / "jobs.db"
    store = Store.open(path)
    store.ingest("board", [posting(0)], now=T0)
    store.touch_chat(7, type="private", title="t", now=T0)
    reader = Store.open_readonly(path)
    # (postings, outbox rows) as another connection saw them while the ingest ran.
    seen_while_running: list[tuple[int, int]] = []
    done = asyncio.Event()

    in_transaction: list[bool] = []

    async def ticker() -> None:
        while not done.is_set():
            alerts = reader.db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
            seen_while_running.append((reader.count_postings(), alerts))
            # No transaction of the scrape is open for this coroutine's statements to join.
            in_transaction.append(store.db.conn.in_transaction)
            await asyncio.sleep(0)

    def matcher(new: object) -> list[PendingDelivery]:
        return [PendingDelivery(7, p.id, 1) for p in new]  # type: ignore[attr-defined]

    ticks = asyncio.create_task(ticker())
    result = await within(
        store.ingest_async("board", [posting(n) for n in range(1, 2001)], matcher=matcher)
    )
    done.set()
    await within(ticks)
    # The loop ran while the matcher's thread worked and between the write's transactions;
    # another connection saw the scrape land in several commits, every posting with its alert.
    assert [p for p, _ in seen_while_running].count(1) >= 2
    assert len({p for p, _ in seen_while_running} - {1, 2001}) >= 2
    assert all(alerts == postings - 1 for postings, alerts in seen_while_running)
    assert seen_while_running == sorted(seen_while_running)
    assert not any(in_transaction)
    assert (len(result.new), result.deliveries) == (2000, 2000)
    assert reader.count_postings() == 2001
    reader.close()
    store.close()


async def test_no_transaction_is_open_while_the_matcher_runs(tmp_path: Path) -> None:
    """Bug: the scrape's transaction stayed open across awaits, so the sender's and the
    commands' statements of that moment joined it (and read rows not yet committed)."""
    store = Store.open(tmp_path / "jobs.db")
    store.ingest("board", [posting(0)], now=T0)
    store.touch_chat(7, type="private", title="t", now=T0)
    matching = threading.Event()
    release = threading.Event()

    def matcher(new: object) -> list[PendingDelivery]:
        matching.set()
        release.wait(10)
        return [PendingDelivery(7, p.id, 1) for p in new]  # type: ignore[attr-defined]

    run = asyncio.create_task(store.ingest_async("board", [posting(1)], matcher=matcher))
    assert await asyncio.to_thread(matching.wait, 10)
    # Another coroutine's moment: no scrape transaction to join, nothing of the scrape visible.
    assert not store.db.conn.in_transaction
    assert store.count_postings() == 1
    store.touch_chat(8, type="private", title="u", now=T0)  # commits on its own
    release.set()
    result = await within(run)
    assert result.deliveries == 1
    assert store.count_postings() == 2
    store.close()


def test_the_outbox_keyed_posting_first_keeps_one_delivery_per_chat_and_posting(
    tmp_path: Path,
) -> None:
    """Bug: the (chat, posting) key took a page per chat for every posting written."""
    path = tmp_path / "old.db"
    db = Database(path)
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db, stop_before="m_outbox_posting_first")
    old = Store(db)  # keyed chat first, as before
    old.ingest("board", [posting(0)], now=T0)
    old.touch_chat(7, type="private", title="t", now=T0)
    old.ingest(
        "board",
        [posting(1)],
        now=T0,
        matcher=lambda new: [PendingDelivery(7, p.id, 1) for p in new],
    )
    old.close()

    store = Store.open(path)
    indexes = {i.name: (i.columns, bool(i.unique)) for i in store.db.table("deliveries").indexes}
    assert indexes["idx_deliveries_posting_id_chat_id"] == (["posting_id", "chat_id"], True)
    assert indexes["idx_deliveries_chat_id"] == (["chat_id"], False)
    assert "idx_deliveries_chat_id_posting_id" not in indexes
    (pending,) = store.pending_for_chat(7)
    assert pending.posting_id == posting(1).id
    assert store.enqueue([PendingDelivery(7, posting(1).id, 1)], now=T0) == 0
    assert store.enqueue([PendingDelivery(7, posting(0).id, 1)], now=T0) == 1
    store.close()


def test_a_muted_companys_postings_do_not_count_toward_the_per_cycle_cap() -> None:
    """Bug: muted postings were queued, counted by the cap (holding back others) and only then
    dropped by the sender, so a muted company's burst cost the chat its other alerts."""
    store = Store.open(":memory:")
    subs = Subscriptions(store, cap_per_cycle=2)
    store.ingest("board", [posting(0)], now=T0)  # the baseline
    store.touch_chat(7, type="private", title="t", now=T0)
    subs.add(7, "python")
    ids = store.company_ids(["Acme Corp"])
    store.mute(7, ids["Acme Corp"], now=T0)
    roles = ["backend developer", "data engineer", "QA analyst", "SRE", "team lead", "ML ops"]
    burst = [
        replace(posting(n, f"Python {role}"), company="ACME corp ")
        for n, role in enumerate(roles[:5], start=1)
    ]
    others = [replace(posting(n, "Python trainer"), company=f"Other {n}") for n in (6, 7)]
    result = store.ingest("board", burst + others, now=T0, matcher=subs.matcher)
    assert result.deliveries == 2
    rows = store.pending_for_chat(7)
    assert len(rows) == 2
    assert all(row.overflow == 0 for row in rows)  # nothing held back


def test_the_outbox_status_index_is_two_partial_ones_and_every_outbox_query_uses_an_index(
    tmp_path: Path,
) -> None:
    """Bug: each outbox row's entry in the (status, next_attempt_at) index cost a fifth of its
    insert; the partial indexes that replace it must still serve every query (a plan that
    walks a whole index of the outbox is a full scan of millions of rows)."""
    path = tmp_path / "old.db"
    db = Database(path)
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db, stop_before="m_outbox_partial_indexes")
    old = Store(db)
    old.ingest("board", [posting(0)], now=T0)
    old.touch_chat(7, type="private", title="t", now=T0)
    old.ingest(
        "board",
        [posting(1), posting(2)],
        now=T0,
        matcher=lambda new: [PendingDelivery(7, p.id, 1) for p in new],
    )
    old.close()

    store = Store.open(path)
    names = {index.name for index in store.db.table("deliveries").indexes}
    assert "idx_deliveries_status_next_attempt_at" not in names
    assert {"idx_deliveries_pending_due", "idx_deliveries_sent_at"} <= names
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    later = T0 + timedelta(hours=1)
    assert store.due_chats(now=later) == [7]
    first, second = store.pending_for_chat(7, due_by=later)
    store.mark_sent([first.id], now=later)
    store.defer([second.id], later + timedelta(hours=1), "timed out")
    assert store.next_due_at() == later + timedelta(hours=1)
    assert store.reset_backoff(now=later) == 1
    assert (store.pending_count(), store.oldest_pending_at()) == (1, T0)
    assert (store.last_sent_at(), store.sent_count_since(T0)) == (later, 1)
    assert store.instant_count(7, T0, later) == 2
    assert [row[0] for row in store.waiting(7)] == [second.id]  # its backoff reset
    store.reschedule([(second.id, later, False, "now")])
    store.mark_dropped([second.id], "chat not found")
    store.db.conn.set_trace_callback(None)
    outbox = [
        sql
        for sql in statements
        if "deliveries" in sql and sql.split()[0] in ("SELECT", "UPDATE", "DELETE")
    ]
    assert len(outbox) >= 13
    for sql in outbox:
        plan = [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        scans = [
            step
            for step in plan
            if step.startswith("SCAN deliveries")
            and step != "SCAN deliveries USING INDEX idx_deliveries_pending_due"
        ]
        assert scans == [], sql
    store.close()


async def test_a_task_woken_by_a_callback_runs_between_every_two_transactions_of_an_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: the ingest let the loop run one iteration between transactions, and a task woken
    by a timer or a socket (its wake-up call in one iteration, its step in the next) ran only
    after the next transaction or two: the loop's stalls were two or three transactions."""
    monkeypatch.setattr(bot.store.postings, "WRITE_ROWS", 200)
    store = Store.open(tmp_path / "jobs.db")
    store.ingest("board", [posting(0)], now=T0)
    chats = range(100, 400)
    for chat in chats:
        store.touch_chat(chat, type="private", title="t", now=T0)
    commits: list[str] = []
    store.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    seen: list[int] = []  # how many transactions had committed at each wake-up

    async def woken_by_callbacks() -> None:
        while not done.is_set():
            wake: asyncio.Future[None] = loop.create_future()
            loop.call_soon(wake.set_result, None)  # as a timer's or a socket's callback does
            await wake
            seen.append(len(commits))

    def matcher(new: object) -> list[PendingDelivery]:
        return [PendingDelivery(c, p.id, 1) for p in new for c in chats]  # type: ignore[attr-defined]

    task = asyncio.create_task(woken_by_callbacks())
    scrape = [posting(n) for n in range(1, 11)]
    result = await within(store.ingest_async("board", scrape, now=T0, matcher=matcher))
    done.set()
    await within(task)
    store.db.conn.set_trace_callback(None)
    assert result.deliveries == len(scrape) * len(chats)
    assert len(commits) >= 10
    steps = [after - before for before, after in pairwise(seen)]
    assert max(steps) <= 1  # never two commits without the task running in between
    store.close()


def test_the_matcher_yields_deliveries_in_chat_order() -> None:
    """The ingest writes outbox rows in the matcher's order; in chat order, a transaction's
    rows are neighbours in the chat index (bench_ingest: ~2 ms less per new posting, and a
    1,000-posting scrape in 23 s instead of 42-50 s, when the order was the trie's)."""
    store = Store.open(":memory:")
    subs = Subscriptions(store)
    store.ingest("board", [posting(0)], now=T0)  # the baseline
    chats = [91, 7, 55, 3, 70, 12]
    for chat_id in chats:
        store.touch_chat(chat_id, type="private", title="t", now=T0)
    for n, chat_id in enumerate(chats):  # filed under different keys: walked in trie order
        subs.add(chat_id, "python" if n % 2 else "python trainer")
    new = [replace(posting(n, "Python trainer"), company=f"Co {n}") for n in (1, 2)]
    stored = store.ingest("board", new, now=T0, matcher=None).new
    order = [d.chat_id for d in subs.matcher(stored)]
    assert order == sorted(order)
    assert set(order) == set(chats)
