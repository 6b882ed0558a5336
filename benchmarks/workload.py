"""The subscription workload bench_matching and bench_ingest share: queries of 1-3 of the 500
most frequent title and tag words of the corpus, with a few phrases, prefixes, field terms,
ORs and exclusions (about 2,400 matches per posting at 100,000 subscriptions).

`tokenize` is passed in (bench_ingest can run another checkout's `bot` package).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

Tokenize = Callable[[str], Sequence[str]]


def vocabulary(postings: Sequence[Any], tokenize: Tokenize, size: int = 500) -> list[str]:
    """The `size` most frequent words of titles and tags."""
    counts: Counter[str] = Counter()
    for p in postings:
        counts.update(tokenize(p.title))
        for tag in p.tags:
            counts.update(tokenize(tag))
    # operator words are searched for in quotes, as a user would
    return [f'"{w}"' if w in ("or", "and", "not") else w for w, _ in counts.most_common(size)]


def title_bigrams(postings: Sequence[Any], tokenize: Tokenize) -> list[str]:
    """Two-word phrases seen in titles, for the few phrase queries."""
    found: Counter[str] = Counter()
    for p in postings:
        words = tokenize(p.title)
        found.update(f"{a} {b}" for a, b in pairwise(words))
    return [w for w, _ in found.most_common(200)]


def make_queries(words: list[str], phrases: list[str], count: int, rng: random.Random) -> list[str]:
    """`count` query strings in the mix the matching issue describes."""
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
