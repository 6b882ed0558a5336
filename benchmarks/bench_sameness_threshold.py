"""Print how rapidfuzz's token-set ratio separates one job from another on the corpus.

Pairs with equal company and title keys (re-listings and per-city copies of one job) against
pairs from one company with different title keys (sibling jobs sharing the company's
boilerplate). Justifies `bot.sameness.DESCRIPTION_THRESHOLD`. Run:
    .venv/bin/python benchmarks/bench_sameness_threshold.py [../shared/corpus/remotewlb]
"""

from __future__ import annotations

import itertools
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from rapidfuzz import fuzz

from bot.query import fold
from bot.sameness import DESCRIPTION_CHARS, DESCRIPTION_THRESHOLD, company_key, title_key
from bot.sources.markdown import parse_markdown


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/remotewlb")
    postings = [parse_markdown(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.md"))]
    by_company = defaultdict(list)
    for posting in postings:
        if posting.description and company_key(posting.company):
            by_company[company_key(posting.company)].append(posting)
    same: list[float] = []
    other: list[float] = []
    for group in by_company.values():
        for a, b in itertools.combinations(group[:40], 2):
            score = fuzz.token_set_ratio(
                fold(a.description[:DESCRIPTION_CHARS]), fold(b.description[:DESCRIPTION_CHARS])
            )
            if title_key(a.title, a.location) == title_key(b.title, b.location):
                same.append(score)
            else:
                other.append(score)
    for name, scores in (("same title", same), ("other title", other)):
        scores.sort()
        below = sum(s < DESCRIPTION_THRESHOLD for s in scores)
        print(
            f"{name}: {len(scores)} pairs, min {scores[0]:.1f}, p5 {scores[len(scores) // 20]:.1f},"
            f" median {statistics.median(scores):.1f}, p95 {scores[len(scores) * 19 // 20]:.1f},"
            f" max {scores[-1]:.1f}; below {DESCRIPTION_THRESHOLD}: {below}"
        )


if __name__ == "__main__":
    main()
