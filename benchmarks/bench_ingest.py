"""Benchmark: the whole ingest (store write + matching + outbox rows) with 100,000 subscriptions.

Run: `python benchmarks/bench_ingest.py [--subs N] [--root DIR]`.

The workload is bench_matching's (its query mix, copied here so that either can change alone:
1-3 of the 500 most frequent title/tag words, exclusions, field prefixes, OR groups, a few
prefixes and phrases; about 20 subscriptions per chat; about 2,400 matches per new posting),
stored in a real SQLite file. It measures, on the production path (`Store.ingest_async`, as
the daemon calls it, with `Subscriptions.matcher`):

- milliseconds per new posting for the whole ingest, in scrapes of 10 and 50 new postings
  (wall time, which the machine's other load inflates, and the CPU time of all threads);
- the event loop's longest stall while one scrape of 50, then one of 1,000 new postings is
  ingested as the daemon does it (`Store.ingest_async`; on a tree without it, `Store.ingest`
  on the loop, as the pipeline called it then), measured by a ticker task that wakes every
  millisecond, while a sender task marks alerts sent on the loop's connection every 10 ms.

`--root` runs the same logic against another checkout (e.g. `git archive pre-i10` unpacked)
for "before" figures. Fixed seed; figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import importlib
import itertools
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workload import make_queries, title_bigrams, vocabulary

ROOT = Path(__file__).resolve().parents[1]
SEED = 4
CORPUS = ROOT.parent / "shared" / "corpus"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def copies(postings: list[Any], count: int, tag: str) -> list[Any]:
    """`count` new jobs: the corpus repeated under a new path and a company of its own (a copy
    under the same company and title is the same job since issue 12, and alerts nobody)."""
    out = []
    for n in range(count):
        p = postings[n % len(postings)]
        url, company = f"{p.url.rstrip('/')}/{tag}{n}", f"{p.company} {tag}{n}"
        out.append(dataclasses.replace(p, url=url, company=company))
    return out


async def per_posting(
    store: Any, matcher: Any, postings: list[Any], batch: int
) -> tuple[float, float, int]:
    """(seconds, CPU seconds of the process's threads, outbox rows) for `postings` ingested in
    scrapes of `batch` as the daemon does it (`ingest_async`; on a tree without it, `ingest`)."""
    took, cpu, rows = 0.0, 0.0, 0
    for start in range(0, len(postings), batch):
        scrape = postings[start : start + batch]
        t0, c0 = time.perf_counter(), time.process_time()
        if hasattr(store, "ingest_async"):
            result = await store.ingest_async("board", scrape, matcher=matcher)
        else:
            result = store.ingest("board", scrape, matcher=matcher)
        took += time.perf_counter() - t0
        cpu += time.process_time() - c0
        rows += result.deliveries
    return took, cpu, rows


async def stall_during(
    store: Any, matcher: Any, postings: list[Any], chats: list[int]
) -> tuple[float, float, int]:
    """(seconds for the ingest, longest gap in seconds between two ticks of a 1 ms ticker, sent
    marks written meanwhile). Alongside, as the daemon's sender does on the loop's connection,
    a writer reads a chat's pending alerts and marks them sent every 10 ms."""
    loop = asyncio.get_running_loop()
    longest = 0.0
    done = asyncio.Event()
    marked = 0

    async def sender() -> None:
        nonlocal marked
        for chat in itertools.cycle(chats):
            if done.is_set():
                return
            ids = [d.id for d in store.pending_for_chat(chat, limit=5)]
            store.mark_sent(ids)
            marked += len(ids)
            await asyncio.sleep(0.01)

    async def ticker() -> None:
        nonlocal longest
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            longest = max(longest, now - last - 0.001)
            last = now

    ticks = asyncio.create_task(ticker())
    marks = asyncio.create_task(sender())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    if hasattr(store, "ingest_async"):
        await store.ingest_async("board", postings, matcher=matcher)
    else:  # the tree before issue 10: the pipeline called ingest on the loop
        store.ingest("board", postings, matcher=matcher)
    took = time.perf_counter() - started
    await asyncio.sleep(0.01)
    done.set()
    await ticks
    await marks
    return took, longest, marked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subs", type=int, default=100_000)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose bot/ to run")
    parser.add_argument("--stall-postings", type=int, default=1_000)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    sys.path.insert(0, str(args.root.resolve()))
    from bot.query import tokenize
    from bot.sources.markdown import read_folder
    from bot.store import Store
    from bot.subscriptions import Subscriptions

    rng = random.Random(SEED)
    postings = list(read_folder(CORPUS).postings)
    rng.shuffle(postings)
    texts = make_queries(
        vocabulary(postings, tokenize), title_bigrams(postings, tokenize), args.subs, rng
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        chats = sorted({1_000 + i // 20 for i in range(1, len(texts) + 1)})
        stamp = T0.isoformat()
        with store.db.conn:
            store.db.conn.executemany(
                "INSERT INTO chats (id, type, title, active, paused, created_at, updated_at) "
                "VALUES (?, 'private', 'bench', 1, 0, ?, ?)",
                [(c, stamp, stamp) for c in chats],
            )
            store.db.conn.executemany(
                "INSERT INTO subscriptions (id, chat_id, query, created_at) VALUES (?, ?, ?, ?)",
                [(i, 1_000 + i // 20, q, stamp) for i, q in enumerate(texts, start=1)],
            )
        t0 = time.perf_counter()
        subs = Subscriptions(store)
        print(
            f"{args.root}: {len(texts)} subscriptions in {len(chats)} chats, "
            f"index loaded in {time.perf_counter() - t0:.1f} s"
        )
        store.ingest("board", postings[:1], now=T0)  # the baseline: later scrapes alert
        pool = postings[1:]
        # The heap as the daemon leaves it after start-up: its objects frozen out of the cyclic
        # collector on a tree that does so (`freeze_startup_objects`), else one collection
        # (building the index just now left the collector due for a full pass, ~0.5 s).
        daemon = importlib.import_module("bot.daemon")
        getattr(daemon, "freeze_startup_objects", gc.collect)()
        for batch in (10, 50):
            fresh = copies(pool, 200, f"b{batch}-")
            took, cpu, rows = asyncio.run(per_posting(store, subs.matcher, fresh, batch))
            print(
                f"batch {batch:>3}: {took / len(fresh) * 1000:6.1f} ms per new posting for the "
                f"whole ingest ({cpu / len(fresh) * 1000:.1f} ms of CPU; "
                f"{rows / len(fresh):.0f} outbox rows per posting)"
            )
        for count in (50, args.stall_postings):
            big = copies(pool, count, f"stall{count}-")
            took, longest, marked = asyncio.run(stall_during(store, subs.matcher, big, chats))
            print(
                f"{len(big)} new postings in one scrape: {took:.1f} s, the event loop's longest "
                f"stall {longest * 1000:.0f} ms ({marked} alerts marked sent meanwhile)"
            )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
