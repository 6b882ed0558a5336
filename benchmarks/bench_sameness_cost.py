"""Print the pure cost of grouping one posting: its `group_key` and `compare` with each stored
posting under that key (what ingest will do per new posting, the index lookup aside).

Run: .venv/bin/python benchmarks/bench_sameness_cost.py [../shared/corpus/remotewlb]
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

from bot.models import Posting
from bot.sameness import Sameness, compare, group_key
from bot.sources.markdown import parse_markdown


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/remotewlb")
    postings = [parse_markdown(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.md"))]
    start = time.perf_counter()
    keys = [group_key(p) for p in postings]
    key_seconds = time.perf_counter() - start
    index: dict[str, list[Posting]] = defaultdict(list)
    comparisons = 0
    grouped = 0
    start = time.perf_counter()
    for key, posting in zip(keys, postings, strict=True):
        if not key:
            continue
        candidates = index[key]
        comparisons += len(candidates)
        if any(compare(c, posting) is not Sameness.DIFFERENT for c in candidates):
            grouped += 1
        candidates.append(posting)
    compare_seconds = time.perf_counter() - start
    n = len(postings)
    print(f"{n} postings, {len(index)} keys, {grouped} joined a group, {comparisons} comparisons")
    print(f"group_key: {key_seconds / n * 1e6:.0f} µs per posting")
    print(
        f"compare: {compare_seconds / max(comparisons, 1) * 1e6:.0f} µs per comparison, "
        f"{compare_seconds / n * 1e6:.0f} µs per posting"
    )


if __name__ == "__main__":
    main()
