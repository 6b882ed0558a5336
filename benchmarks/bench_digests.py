"""Benchmark: daily digests of many chats falling due in the same minute (issue 13).

Run: `python benchmarks/bench_digests.py [--chats N] [--subscriptions M]`.

(a) N chats (default 3,000), each with a daily 09:00 subscription and two postings waiting in
    the outbox for it: at 09:00 (the sender's clock injected) the sender finds them by one
    query and sends one digest message per chat through python-telegram-bot with the
    `FloodLimiter` to `tests.fake_telegram.FakeTelegram`, which answers 429 past 30 messages/s
    overall. Printed: messages per second against 30, the time to drain, 429s.
(b) M subscriptions (default 100,000) in as many chats, each with a waiting digest row, their
    due times spread over a day's 1,440 minutes except N of them all due at 09:00: the time of
    the sender's query for the due chats (`Outbox.due_chats`, all of them, and its first page
    as the sender asks) and of `next_due_at` (the sender's wake-up), with the query plan. No
    scheduler job per chat: the number of jobs is the same for 10 chats as for 100,000.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_delivery import make_bot, postings  # noqa: E402

from bot.deliver import FloodLimiter, Limits, Sender  # noqa: E402
from bot.store import PendingDelivery, Store  # noqa: E402
from tests.fake_telegram import FakeTelegram, RateLimits  # noqa: E402

LIMIT = 30.0
DUE = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)


def prepare(store: Store, chats: int, *, spread: int = 0) -> None:
    """`chats` chats with a daily subscription and two waiting digest rows due at DUE; with
    `spread`, that many more whose rows fall due over the day (one row each)."""
    items = postings(200)
    store.ingest("bench", items)
    now = DUE - timedelta(hours=20)
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO chats (id, type, title, active, paused, created_at, updated_at) "
            "VALUES (?, 'private', 'bench', 1, 0, ?, ?)",
            [(100_000 + i, now.isoformat(), now.isoformat()) for i in range(chats + spread)],
        )
        store.db.conn.executemany(
            "INSERT INTO subscriptions (id, chat_id, query, created_at, mode) "
            "VALUES (?, ?, 'python', ?, 'daily 09:00')",
            [(i + 1, 100_000 + i, now.isoformat()) for i in range(chats + spread)],
        )
    rows: list[PendingDelivery] = []
    for i in range(chats):
        for k in range(2):
            posting = items[(2 * i + k) % len(items)]
            rows.append(PendingDelivery(100_000 + i, posting.id, i + 1, due_at=DUE, held="digest"))
    for j in range(spread):
        i = chats + j
        # Spread over the day, never in DUE's minute.
        minute = (j % 1439) + 1
        due = DUE + timedelta(minutes=minute)
        rows.append(
            PendingDelivery(100_000 + i, items[j % len(items)].id, i + 1, due_at=due, held="digest")
        )
    store.enqueue(rows, now=now)
    store.db.conn.commit()


async def send_digests(chats: int) -> None:
    store = Store.open(":memory:")
    prepare(store, chats)
    clock = lambda: DUE + timedelta(seconds=30)  # noqa: E731
    with FakeTelegram(rate_limits=RateLimits()) as tg:
        limiter = FloodLimiter(Limits())
        async with make_bot(tg, limiter) as bot:
            sender = Sender(store, bot, clock=clock)
            started = time.monotonic()
            await sender.drain(timeout=chats / LIMIT * 3 + 60)
            wall = time.monotonic() - started
        sent = tg.sent_messages()
        count_429 = tg.count_429
    span = sent[-1].at - sent[0].at if len(sent) > 1 else float("nan")
    rate = (len(sent) - 1) / span
    digests = sum(1 for m in sent if m.text.startswith("📬 Digest: 2 new postings"))
    print(f"(a) {chats} chats' daily digests due at 09:00, sent at 09:00:30")
    print(
        f"    messages:      {len(sent)} ({digests} digests of 2 postings), "
        f"{len({m.chat_id for m in sent})} chats"
    )
    print(f"    429s received: {count_429} (limiter saw {limiter.retry_after_count})")
    print(f"    time to drain: {wall:.1f} s (first→last accepted {span:.1f} s)")
    print(f"    throughput:    {rate:.2f} msg/s = {rate / LIMIT:.1%} of 30 msg/s")
    print(
        f"    still pending: {store.pending_count()} (none due: {not store.due_chats(now=clock())})"
    )
    store.close()


def find_due(subscriptions: int, chats: int, path: Path) -> None:
    store = Store.open(path)
    prepare(store, chats, spread=subscriptions - chats)
    at = DUE + timedelta(seconds=30)
    timings: dict[str, list[float]] = {"all": [], "page": [], "next": []}
    found = page = 0
    for _ in range(7):
        t0 = time.perf_counter()
        found = len(store.due_chats(now=at, limit=subscriptions))
        t1 = time.perf_counter()
        page = len(store.due_chats(now=at, limit=128))
        t2 = time.perf_counter()
        store.next_due_at()
        t3 = time.perf_counter()
        timings["all"].append(t1 - t0)
        timings["page"].append(t2 - t1)
        timings["next"].append(t3 - t2)
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT chat_id FROM deliveries WHERE status = 'pending' "
        "AND next_attempt_at <= ? GROUP BY chat_id ORDER BY min(id) LIMIT ?",
        [at.isoformat(), 128],
    ).fetchall()
    rows = store.pending_count()
    print(
        f"(b) {subscriptions:,} digest subscriptions, {rows:,} waiting rows, "
        f"{chats:,} due in one minute"
    )
    print(f"    due chats found: {found:,} (the sender's page: {page})")
    ms = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    print(f"    all due chats:   {ms['all']:.1f} ms (median of 7)")
    print(f"    first page:      {ms['page']:.1f} ms; next wake-up (min due): {ms['next']:.2f} ms")
    print(f"    plan:            {'; '.join(str(r[-1]) for r in plan)}")
    print("    scheduler jobs:  0 per chat (the sender's one loop), the same for 10 or 100,000")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--subscriptions", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        find_due(args.subscriptions, args.chats, Path(tmp) / "bench.db")
    asyncio.run(send_digests(args.chats))


if __name__ == "__main__":
    main()
