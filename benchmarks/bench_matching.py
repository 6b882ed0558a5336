"""Benchmark: 100,000 subscriptions against 1,000 new postings, indexed vs the naive loop.

Run: `python benchmarks/bench_matching.py [--subs N] [--postings N] [--naive-sample N]`.

Postings come from ../shared/corpus (1,000 taken as "new", the rest as the stored sample the
index learns word frequencies from). Queries have 1-3 terms drawn from the 500 most frequent
title and tag words; a fifth carry an exclusion, a tenth a field prefix, some an OR group, and a
few a prefix (`word*`) or a phrase. The naive loop is timed on a sample of postings and scaled;
its results on that sample must equal the index's. Fixed seed; the figures are printed, never
asserted: benchmarks do not gate CI.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.matching import MatchIndex, TermStats, naive_match  # noqa: E402
from bot.models import Posting  # noqa: E402
from bot.query import Document, Query, parse_query, tokenize  # noqa: E402
from bot.sources.markdown import read_folder  # noqa: E402

SEED = 4
CORPUS = ROOT.parent / "shared" / "corpus"


def vocabulary(postings: list[Posting], size: int = 500) -> list[str]:
    """The `size` most frequent words of titles and tags."""
    counts: Counter[str] = Counter()
    for p in postings:
        counts.update(tokenize(p.title))
        for tag in p.tags:
            counts.update(tokenize(tag))
    # operator words are searched for in quotes, as a user would
    return [f'"{w}"' if w in ("or", "and", "not") else w for w, _ in counts.most_common(size)]


def title_bigrams(postings: list[Posting]) -> list[str]:
    """Two-word phrases seen in titles, for the few phrase queries."""
    found: Counter[str] = Counter()
    for p in postings:
        words = tokenize(p.title)
        found.update(f"{a} {b}" for a, b in pairwise(words))
    return [w for w, _ in found.most_common(200)]


def make_queries(words: list[str], phrases: list[str], count: int, rng: random.Random) -> list[str]:
    """`count` query strings in the mix the issue describes."""
    queries = []
    for _ in range(count):
        terms = rng.sample(words, rng.randint(1, 3))
        roll = rng.random()
        if roll < 0.03:
            terms[0] = f'"{rng.choice(phrases)}"'
        elif roll < 0.06 and len(terms[0]) > 3 and terms[0].isalpha():
            terms[0] = terms[0][: rng.randint(3, len(terms[0]))] + "*"
        if rng.random() < 0.10:
            terms[-1] = (
                rng.choice(("title:", "title:", "tag:", "company:", "location:")) + terms[-1]
            )
        if len(terms) >= 2 and rng.random() < 0.15:
            terms[:2] = [f"({terms[0]} OR {terms[1]})"]
        if rng.random() < 0.20:
            terms.append("-" + rng.choice(words))
        queries.append(" ".join(terms))
    return queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subs", type=int, default=100_000)
    parser.add_argument("--postings", type=int, default=1_000)
    parser.add_argument("--naive-sample", type=int, default=20)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1

    rng = random.Random(SEED)
    t0 = time.perf_counter()
    postings = list(read_folder(CORPUS).postings)
    print(f"corpus: {len(postings)} postings read in {time.perf_counter() - t0:.2f} s")
    rng.shuffle(postings)
    new, stored = postings[: args.postings], postings[args.postings :]

    texts = make_queries(vocabulary(postings), title_bigrams(postings), args.subs, rng)
    t0 = time.perf_counter()
    subs: list[tuple[int, int, Query]] = []
    for i, text in enumerate(texts, start=1):
        subs.append((i, 1_000 + i // 20, parse_query(text)))  # ~20 subscriptions per chat
    parse_s = time.perf_counter() - t0
    print(f"queries: {len(subs)} parsed in {parse_s:.2f} s, e.g. {[str(q) for *_, q in subs[:4]]}")

    t0 = time.perf_counter()
    stats = TermStats.from_documents(Document.from_posting(p) for p in stored)
    index = MatchIndex(subs, stats=stats)
    build_s = time.perf_counter() - t0
    # the index is long-lived: keep the cyclic GC from re-scanning its million objects (the
    # daemon can do the same after loading subscriptions); applies to both loops alike
    gc.freeze()
    print(
        f"index: built in {build_s:.2f} s ({index.distinct_queries} distinct queries, "
        f"word frequencies from {stats.size} stored postings)"
    )

    t0 = time.perf_counter()
    docs = [Document.from_posting(p) for p in new]
    docs_s = time.perf_counter() - t0
    results = index.match_many(docs)
    match_s = time.perf_counter() - t0 - docs_s
    matches = sum(len(r) for r in results)

    sample = range(0, len(docs), max(1, len(docs) // args.naive_sample))
    t0 = time.perf_counter()
    naive = {i: naive_match(subs, docs[i]) for i in sample}
    naive_s = (time.perf_counter() - t0) / len(naive) * len(docs)
    same = all(naive[i] == sorted(results[i]) for i in naive)

    print(f"Documents: {len(docs)} built in {docs_s:.3f} s")
    print(
        f"indexed: {match_s:.3f} s matching, {docs_s + match_s:.3f} s for the whole batch "
        f"(Documents included); {matches} matches ({matches / len(docs):.0f} per posting)"
    )
    print(
        f"naive:   {naive_s:.1f} s matching (timed on {len(naive)} postings, scaled to "
        f"{len(docs)}), {naive_s + docs_s:.1f} s with Documents"
    )
    print(
        f"ratio:   {naive_s / match_s:.0f}x on matching, "
        f"{(naive_s + docs_s) / (match_s + docs_s):.0f}x on the whole batch; "
        f"same results on the {len(naive)} sampled postings: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
