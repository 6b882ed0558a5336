"""Lever board pages: our selectolax `lever_html` parser against BeautifulSoup+lxml.

Both extract the same fields into the same Postings (checked), on the real 730 KB page
(13 postings, mostly inline CSS) and on a 400-posting board built by cloning its real
`div.posting` element with other titles, as large boards (Binance) are. Prints times and ratios.

    python benchmarks/bench_lever_html.py
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bs4 import BeautifulSoup  # noqa: E402

from bot.models import Posting  # noqa: E402
from bot.sources import common, lever  # noqa: E402
from bot.text import clean_line  # noqa: E402

PAGE = ROOT / "tests" / "fixtures" / "lever_listing_januxrx.html"
BASE = "https://jobs.lever.co/januxrx"
TITLES = [
    "Senior Backend Engineer",
    "Compliance Analyst",
    "Product Designer",
    "Data Scientist, Risk",
    "Security Engineer",
    "Customer Support Specialist (Türkçe)",
    "Java Developer",
    "Marketing Manager, LATAM",
]


def parse_bs4(html: str, base_url: str) -> list[Posting]:
    """The same extraction as lever.parse_board, written the usual BeautifulSoup way."""
    soup = BeautifulSoup(html, "lxml")
    company = clean_line(soup.title.get_text()) if soup.title else ""

    def text(node: object, selector: str) -> str:
        found = node.select_one(selector)  # type: ignore[attr-defined]
        return common.line(found.get_text()) if found is not None else ""

    postings: list[Posting] = []
    for group in soup.select("div.postings-group"):
        department = text(group, "div.large-category-header")
        team_label = text(group, "div.posting-category-title")
        for node in group.select("div.posting"):
            link = node.select_one("a.posting-title")
            href = link.get("href") if link is not None else None
            if not href:
                continue
            url = common.absolute(base_url, str(href))
            name = node.select_one('[data-qa="posting-name"]') or link
            title = common.line(name.get_text()) if name is not None else ""
            location = text(node, ".sort-by-location")
            commitment = text(node, ".sort-by-commitment")
            team = text(node, ".sort-by-team") or team_label
            workplace = text(node, ".workplaceTypes").rstrip(" —-–").strip()
            extra = {"workplace": workplace} if workplace else {}
            extra |= common.facts_extra(workplace_type=workplace, employment_type=commitment)
            if node.get("data-qa-posting-id"):
                extra["id"] = str(node["data-qa-posting-id"])
            postings.append(
                Posting(
                    url=url,
                    title=title,
                    company=company,
                    location=location,
                    remote=workplace.lower() == "remote" or common.is_remote(location),
                    tags=tuple(dict.fromkeys(t for t in (department, team, commitment) if t)),
                    apply_url=url.rstrip("/") + "/apply",
                    extra=extra,
                )
            )
    return postings


def big_board(html: str, count: int) -> str:
    """The real page with its postings replaced by `count` clones of its first group/posting."""
    start = html.index('<div class="postings-wrapper">') + len('<div class="postings-wrapper">')
    group_start = html.index('<div class="postings-group">', start)
    posting_start = html.index('<div class="posting"', group_start)
    header = html[group_start:posting_start]
    match = re.search(r'<div class="posting" .*?</div></a></div>', html[posting_start:], re.S)
    assert match is not None
    posting = match.group(0)
    uuid = re.search(r'data-qa-posting-id="([^"]+)"', posting).group(1)  # type: ignore[union-attr]
    title = re.search(r'data-qa="posting-name">([^<]+)<', posting).group(1)  # type: ignore[union-attr]
    # The last posting's close and its group's close; the wrapper's close is kept.
    end = html.index("</a></div></div>", html.rindex('<div class="posting"')) + 16
    groups = []
    per_group = 20
    for g in range(0, count, per_group):
        items = []
        for i in range(g, min(g + per_group, count)):
            clone = posting.replace(uuid, f"{uuid[:-6]}{i:06d}")
            clone = clone.replace(title, f"{TITLES[i % len(TITLES)]} #{i}")
            items.append(clone)
        groups.append(header.replace("Business Development", f"Department {g // per_group}"))
        groups.append("".join(items) + "</div>")
    return html[:group_start] + "".join(groups) + html[end:]


def timed(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def compare(label: str, html: str, repeat: int) -> None:
    ours = lever.parse_board(html, base_url=BASE)
    theirs = parse_bs4(html, BASE)
    assert ours == theirs and [p.extra for p in ours] == [p.extra for p in theirs], label
    fast = timed(lambda: lever.parse_board(html, base_url=BASE), repeat)
    slow = timed(lambda: parse_bs4(html, BASE), max(3, repeat // 4))
    print(
        f"{label:<34} {len(ours):>4} postings  {len(html) / 1024:>6.0f} KB  "
        f"selectolax {fast * 1000:7.2f} ms  bs4+lxml {slow * 1000:8.2f} ms  "
        f"ratio {slow / fast:5.1f}×"
    )


def main() -> None:
    html = PAGE.read_text(encoding="utf-8")
    board = big_board(html, 400)
    print("median of repeated runs, same Postings from both parsers (asserted)")
    compare("real page (lever_listing_januxrx)", html, 40)
    compare("400-posting board (cloned)", board, 20)


if __name__ == "__main__":
    main()
