"""Benchmark: new postings vs 100,000 subscriptions on the path ingest takes, and the naive loop.

Run: `python benchmarks/bench_matching.py [--subs N] [--repeat N] [--naive-sample N]
[--facet-share F]` (issue 11: `--facet-share 0.1` gives a tenth of the queries a facet term,
`remote:eu`, `salary>=90k`, `seniority>=senior`, ...; one in twenty of those is facet-only)
(`PYTHONPATH=<checkout of pre-i10> python benchmarks/bench_matching.py` measures the old index).

The production path: `Subscriptions.reload` builds its `MatchIndex` one `add` at a time, with
word statistics from the stored postings (`Subscriptions.word_statistics`; here the corpus
postings that are not new; `--no-stats` for the guess used before anything is stored), and
`Subscriptions.matcher` (the matcher `Store.ingest` calls with a scrape's new postings) builds
one `Document` per posting and calls `index.match_many` for each chunk of `_MATCH_CHUNK`. This
measures exactly that step (`match_step`) at scrapes of 1, 10, 50 and 1,000 new postings
against the naive loop (every query evaluated on every Document), on the heap as the daemon
has it (frozen after start-up), in CPU time of this process (the machine is shared, and waiting
for a core is not matching). `--repeat` rounds each time the naive loop on a sample and then the
index; the ratio is taken within each round and its median reported with its range (both loops
are bound by memory, whose speed on a shared machine moves by 2x from minute to minute). The
matched terms and outbox rows the matcher builds afterwards are the outbox's cost, not the
index's, and are left out.

Memory: tracemalloc's traced bytes while the index is built, divided by the subscriptions (the
parsed queries exist before and are not counted: the Subscriptions service keeps them anyway).

Postings come from ../shared/corpus. Queries have 1-3 terms drawn from the 500 most frequent
title and tag words; a fifth carry an exclusion, a tenth a field prefix, some an OR group, and a
few a prefix (`word*`) or a phrase. Results on the naive sample must equal the index's. Fixed
seed; the figures are printed, never asserted: benchmarks do not gate CI.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: a PYTHONPATH checkout (pre-i10) comes first

from workload import make_queries, title_bigrams, vocabulary  # noqa: E402

from bot.facets.filters import Facts  # noqa: E402
from bot.matching import Match, MatchIndex, TermStats, naive_match  # noqa: E402
from bot.models import Posting  # noqa: E402
from bot.query import Document, Query, parse_query, tokenize  # noqa: E402
from bot.sources.markdown import read_folder  # noqa: E402
from bot.store.facts import posting_facts  # noqa: E402
from bot.subscriptions import _MATCH_CHUNK  # noqa: E402

SEED = 4
CORPUS = ROOT.parent / "shared" / "corpus"
BATCHES = (1, 10, 50, 1_000)
NOW = datetime(2026, 11, 30, tzinfo=UTC)


FACETS = (
    "remote:eu",
    "remote:us",
    "remote:yes",
    "salary>=90k",
    "salary>=100k USD",
    "seniority>=senior",
    "-seniority:intern",
    "type:contract",
    "age<14d",
    "onsite:berlin",
)


def with_facets(texts: list[str], share: float, rng: random.Random) -> list[str]:
    """`share` of the queries with a facet term added; one in twenty of those facet-only."""
    out = []
    for text in texts:
        if rng.random() < share:
            facet = rng.choice(FACETS)
            if rng.random() < 0.05:
                text = facet.lstrip("-") if facet.startswith("-") else facet
            else:
                text = f"{text} {facet}"
        out.append(text)
    return out


# The facts each posting was stored with (computed at ingest, outside the matching step).
FACTS: dict[str, Facts] = {}


def match_step(index: MatchIndex, postings: Sequence[Posting]) -> list[list[Match]]:
    """What `Subscriptions.matcher` does with a scrape's new postings before the outbox rows
    (a stored posting carries its facts; here they come from FACTS)."""
    docs = [document(posting) for posting in postings]
    found: list[list[Match]] = []
    for start in range(0, len(docs), _MATCH_CHUNK):
        found.extend(index.match_many(docs[start : start + _MATCH_CHUNK]))
    return found


def document(posting: Posting) -> Document:
    """`Document.from_posting` of the stored posting: with its facts."""
    return Document.from_fields(
        title=posting.title,
        company=posting.company,
        location=posting.location,
        tags=posting.tags,
        description=posting.description,
        remote=posting.remote,
        facts=FACTS.get(posting.url),
    )


def timed_scrapes(index: MatchIndex, postings: list[Posting], size: int) -> float:
    """CPU seconds per posting matching `postings` split into scrapes of `size`."""
    t0 = time.process_time()
    for start in range(0, len(postings), size):
        match_step(index, postings[start : start + size])
    return (time.process_time() - t0) / len(postings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subs", type=int, default=100_000)
    parser.add_argument("--postings", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--facet-share", type=float, default=0.0)
    parser.add_argument("--no-stats", action="store_true", help="index without word statistics")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    print(f"bot package: {sys.modules['bot.matching'].__file__}")

    rng = random.Random(SEED)
    postings = list(read_folder(CORPUS).postings)
    rng.shuffle(postings)
    new = postings[: args.postings]
    words, phrases = vocabulary(postings, tokenize), title_bigrams(postings, tokenize)
    texts = make_queries(words, phrases, args.subs, rng)
    texts = with_facets(texts, args.facet_share, random.Random(SEED + 11))
    FACTS.update((p.url, posting_facts(p, NOW)) for p in new)
    subs: list[tuple[int, int, Query]] = [
        (i, 1_000 + i // 20, parse_query(text))  # ~20 subscriptions per chat
        for i, text in enumerate(texts, start=1)
    ]
    with_facet = [q for _, _, q in subs if q.facets]
    facet_only = sum(not q.terms for q in with_facet)
    print(f"queries with a facet term: {len(with_facet)} ({facet_only} facet-only)")

    stored = postings[args.postings :]  # the rest of the corpus: stored before the new ones
    stats = TermStats() if args.no_stats else TermStats.from_documents(map(document, stored))
    print(f"word statistics from {stats.size} stored postings")

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = MatchIndex(stats=stats)  # as Subscriptions.reload builds it
    for sub_id, chat_id, query in subs:
        index.add(sub_id, chat_id, query)
    match_step(index, new[:8])  # anything built lazily on the first match counts too
    index_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(
        f"index: {len(index)} subscriptions, {index.distinct_queries} distinct queries, "
        f"{index_bytes / 1e6:.1f} MB = {index_bytes / len(index):.0f} bytes per subscription"
    )

    docs = [document(p) for p in new]
    sample = [docs[i] for i in range(0, len(docs), max(1, len(docs) // args.naive_sample))]
    results = match_step(index, new)
    naive = [naive_match(subs, doc) for doc in sample]  # and a first pass, not timed
    step = max(1, len(docs) // args.naive_sample)
    same = all(found == sorted(results[i * step]) for i, found in enumerate(naive))
    print(f"{sum(map(len, results)) / len(results):.0f} matches per posting; same results: {same}")

    # The heap as the daemon has it when it matches: frozen after start-up
    # (`freeze_startup_objects`), so no collection walks the index.
    gc.collect()
    gc.freeze()
    # Paired rounds: the naive loop and the index are timed back to back in each round and
    # compared within it. On a shared machine the speed of memory moves by 2x from minute to
    # minute (both loops are bound by it), so a ratio of bests taken minutes apart says more
    # about the neighbours than about the index.
    naive_runs: list[float] = []
    doc_runs: list[float] = []
    index_runs: dict[int, list[float]] = {size: [] for size in BATCHES}
    for _ in range(args.repeat):
        t0 = time.process_time()
        for doc in sample:
            naive_match(subs, doc)
        naive_runs.append((time.process_time() - t0) / len(sample))
        t0 = time.process_time()
        for p in new:
            document(p)
        doc_runs.append((time.process_time() - t0) / len(new))
        for size in BATCHES:
            index_runs[size].append(timed_scrapes(index, new, size))
    print(
        f"naive:  {min(naive_runs) * 1e3:.1f} ms per posting matching (best of {args.repeat} on "
        f"{len(sample)} postings, worst {max(naive_runs) * 1e3:.1f}) + "
        f"{min(doc_runs) * 1e3:.2f} ms for its Document"
    )
    for size, runs in index_runs.items():
        with_docs = sorted(n / i for n, i in zip(naive_runs, runs, strict=True))
        alone = sorted(
            n / max(i - d, 1e-9) for n, i, d in zip(naive_runs, runs, doc_runs, strict=True)
        )
        print(
            f"scrapes of {size:>5}: {min(runs) * 1e3:.2f} ms per posting with Documents (best "
            f"of {len(runs)}, worst {max(runs) * 1e3:.2f}); naive loop / index in the same "
            f"round: {median(alone):.0f}x on matching alone ({alone[0]:.0f}-{alone[-1]:.0f}), "
            f"{median(with_docs):.0f}x with Documents"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
