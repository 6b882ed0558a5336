"""Print the per-posting cost of finding a new posting's group with an index, as the store grows.

A sketch of the wiring planned for issue 12 (not the store's code): a `postings` table with a
`group_key` column and an index on it, filled with 10,000 and then 100,000 postings made from the
corpus (each corpus posting under many company names, so keys stay realistic and buckets small);
then for 1,000 new postings: `group_key`, one indexed SELECT of the candidates, `compare` with
each. The figure should not grow with the table.

Run: .venv/bin/python benchmarks/bench_sameness_index.py [../shared/corpus/remotewlb]
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import sqlite_utils

from bot.models import Posting
from bot.sameness import Sameness, compare, group_key
from bot.sources.markdown import parse_markdown

NEW = 1000


def variant(posting: Posting, n: int) -> Posting:
    return dataclasses.replace(posting, company=f"{posting.company} {n}", url=f"{posting.url}-{n}")


def fill(db: sqlite_utils.Database, corpus: list[Posting], total: int) -> None:
    rows = []
    for i in range(total):
        p = variant(corpus[i % len(corpus)], i // len(corpus))
        rows.append(
            {
                "id": i,
                "url": p.url,
                "title": p.title,
                "company": p.company,
                "location": p.location,
                "remote": p.remote,
                "description": p.description,
                "group_key": group_key(p),
            }
        )
    db["postings"].insert_all(rows, pk="id", batch_size=5000)
    db["postings"].create_index(["group_key"], if_not_exists=True)


def ingest_cost(db: sqlite_utils.Database, new: list[Posting]) -> tuple[float, int]:
    comparisons = 0
    start = time.perf_counter()
    with db.conn:  # one write transaction per batch, as the scrape's
        for posting in new:
            key = group_key(posting)
            if not key:
                continue
            for row in db.query(
                "select url, title, company, location, remote, description, '' as apply_url"
                " from postings where group_key = ?",
                [key],
            ):
                comparisons += 1
                candidate = Posting(**{**row, "remote": bool(row["remote"])})
                if compare(candidate, posting) is not Sameness.DIFFERENT:
                    break
    return (time.perf_counter() - start) / len(new), comparisons


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/remotewlb")
    corpus = [parse_markdown(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.md"))]
    # New postings: the corpus under company names the table holds (variant 3), so every one
    # finds its candidates.
    new = [variant(corpus[i % len(corpus)], 3) for i in range(NEW)]
    for total in (10_000, 100_000):
        db = sqlite_utils.Database(memory=True)
        fill(db, corpus, total)
        per_posting, comparisons = ingest_cost(db, new)
        print(
            f"{total:>7} stored: {per_posting * 1e6:.0f} µs per new posting"
            f" ({comparisons / NEW:.2f} candidates compared on average)"
        )


if __name__ == "__main__":
    main()
