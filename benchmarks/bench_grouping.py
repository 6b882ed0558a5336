"""Benchmark: the per-new-posting cost of ingest with grouping (issue 12) as the store grows.

Run: `python benchmarks/bench_grouping.py [--sizes 1000,100000] [--scrapes 10] [--batch 50]`.

For each size, a real SQLite file is filled through `Store.ingest` (so `groups`, `ats_ids` and
the postings' group columns are what production writes) with corpus postings (../shared/corpus,
remotewlb markdown), each corpus pass under other companies ("<company> <pass>") and URLs, so
group-key buckets stay as full as in the corpus while the store grows. Then `--scrapes` scrapes
of `--batch` new postings each are ingested (a third of them copies of stored jobs on another
board, which join a group; the rest new jobs), and it prints milliseconds per new posting for
the whole ingest and for the grouping alone (`Grouper.place`). Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.models import Posting  # noqa: E402
from bot.sources.markdown import read_folder  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.groups import Grouper  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "remotewlb"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SEED = 12


def corpus() -> list[Posting]:
    postings: list[Posting] = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        postings.extend(read_folder(folder).postings)
    return postings


def variant(posting: Posting, n: int, *, host: str = "board.test") -> Posting:
    return dataclasses.replace(
        posting,
        url=f"https://{host}/{n}/{posting.url.rsplit('/', 1)[-1]}",
        apply_url="",
        company=f"{posting.company} {n // 10_000}",
    )


def fill(store: Store, base: list[Posting], size: int) -> None:
    batch: list[Posting] = []
    for n in range(size):
        batch.append(variant(base[n % len(base)], n))
        if len(batch) == 5000:
            store.ingest("fill", batch, now=T0)
            batch = []
    if batch:
        store.ingest("fill", batch, now=T0)


def measure(size: int, scrapes: int, batch: int, base: list[Posting]) -> tuple[float, float]:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "jobs.db")
        fill(store, base, size)
        store.ingest("other", [variant(base[0], 10**9, host="other.test")], now=T0)  # baseline
        totals: list[float] = []
        grouping: list[float] = []
        for scrape in range(scrapes):
            new: list[Posting] = []
            for k in range(batch):
                n = rng.randrange(size)
                if k % 3 == 0:  # a stored job seen on another board
                    new.append(variant(base[n % len(base)], n, host=f"other{scrape}.test"))
                else:  # a new job
                    fresh = variant(base[n % len(base)], n, host=f"new{scrape}.test")
                    new.append(dataclasses.replace(fresh, title=f"{fresh.title} {scrape}-{k}"))
            now = T0 + timedelta(hours=scrape + 1)
            start = time.perf_counter()
            store.ingest("other", new, now=now)
            totals.append((time.perf_counter() - start) * 1000 / batch)
            # The grouping alone, against the same committed state, on copies under new URLs.
            grouper = Grouper(store.db, now)
            probes = store.latest(batch)
            start = time.perf_counter()
            for p in probes:
                grouper.place(dataclasses.replace(p, id=p.id + "x", url=p.url + "x"))
            grouping.append((time.perf_counter() - start) * 1000 / max(1, len(probes)))
        store.close()
    return statistics.median(totals), statistics.median(grouping)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    base = corpus()
    print(f"corpus: {len(base)} postings; scrapes of {args.batch} new postings")
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        total, grouping = measure(size, args.scrapes, args.batch, base)
        print(
            f"{size:>7} stored: ingest {total:.2f} ms per new posting "
            f"(grouping a copy of a stored job: {grouping:.2f} ms; "
            f"run took {time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
