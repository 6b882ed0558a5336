"""`latest QUERY` on field cases 10 (whole words, tech names) and 11 (words inside CJK text):
the feed served from 127.0.0.1, one `once`, then the store filtered as `bot/cli.py` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.query import Document, parse_query, tokenize
from bot.store import Store
from bot.subscriptions import latest_matching
from tests.fetchkit import within
from tests.fieldkit import case_dir, field_site, once, write_config


def _cases(case: str) -> list[tuple[str, list[str]]]:
    rows = (case_dir(case) / "queries.txt").read_text(encoding="utf-8").splitlines()
    return [
        (query, [t for t in titles.split(",") if t])
        for query, titles in (row.split("|", 1) for row in rows if row.strip())
    ]


async def _latest_titles(tmp_path: Path, case: str, queries: list[str]) -> dict[str, list[str]]:
    async with field_site(case) as (_, base):
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "rss", "url": f"{base}/jobs.rss"}]
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    store = Store.open(settings.storage.path)
    try:
        return {
            q: [p.title for p in latest_matching(store, [parse_query(q)], 100)] for q in queries
        }
    finally:
        store.close()


@pytest.mark.parametrize("case", ["10-query-whole-words-tech-names", "11-query-cjk-adjacent-words"])
async def test_field_latest_query_returns_exactly_the_expected_titles(
    tmp_path: Path, case: str
) -> None:
    """Bug: `java` missed 高級JAVA工程師 and `c#` missed 精通C# (a Latin word touching CJK)."""
    cases = _cases(case)
    got = await _latest_titles(tmp_path, case, [q for q, _ in cases])
    assert {q: sorted(got[q]) for q, _ in cases} == {q: sorted(t) for q, t in cases}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("高級JAVA工程師", ["高", "級", "java", "工", "程", "師"]),
        ("精通C#，熟悉 .NET Framework", ["精", "通", "c#", "熟", "悉", ".net", "framework"]),
        ("3年以上.NET平台", ["3", "年", "以", "上", ".net", "平", "台"]),
        ("Node.js開発エンジニア", ["node.js", "開", "発", "エ", "ン", "シ", "\u3099", "ニ", "ア"]),
        ("วิศวกรPython", ["ว", "\u0e34", "ศ", "ว", "ก", "ร", "python"]),
        ("工程 師、工程", ["工", "程", "", "師", "", "工", "程"]),
        ("JavaScript and Java", ["javascript", "and", "java"]),
    ],
)
def test_latin_runs_inside_spaceless_scripts_are_words(text: str, words: list[str]) -> None:
    assert tokenize(text) == words


@pytest.mark.parametrize(
    ("query", "title", "found"),
    [
        ("工程師", "高級JAVA工程師", True),
        ("程師", "高級JAVA工程師", True),  # any stretch of a run
        ("工程師", "资深工程师", False),  # simplified 师 is another character
        ("工程師", "工程 師", False),  # never across two runs
        ("title:工程師", "Java 工程師", True),
        ('"高級 java"', "高級JAVA工程師", True),
        ("java", "高級JAVASCRIPT工程師", False),  # Latin whole-word rules unchanged
        ("java", "JavaScript開発", False),
        ("c", "精通C#", False),
        ("c#", "精通C#", True),
        ("エンジニア", "Node.js開発エンジニア", True),
    ],
)
def test_terms_in_spaceless_scripts_match_inside_a_run(query: str, title: str, found: bool) -> None:
    assert parse_query(query).matches(Document.from_fields(title=title)) is found


def test_cjk_terms_read_back_as_typed_and_highlight_in_place() -> None:
    assert str(parse_query("工程師 OR title:エンジニア")) == "工程師 OR title:エンジニア"
    assert str(parse_query('"高級 java"')) == '"高級 java"'
    assert parse_query(str(parse_query("工程師"))).terms == parse_query("工程師").terms
    title = "高級JAVA工程師"
    assert parse_query("工程師 java").highlight_spans(title) == [(2, 9)]  # adjacent: merged
    assert parse_query("工程師").highlight_spans(title) == [(6, 9)]
    assert parse_query("ガイド").highlight_spans("Python ガイド") == [(7, 10)]


def test_the_match_index_finds_cjk_terms_as_the_naive_loop_does() -> None:
    from bot.matching import MatchIndex, naive_match

    queries = [
        "工程師",
        "title:java",
        "c# -title:java",
        '"开发 工程师"',
        "java 工程",
        "程師 OR .net",
    ]
    subs = [(n, 100 + n, parse_query(q)) for n, q in enumerate(queries, 1)]
    index = MatchIndex()
    for sub_id, chat_id, query in subs:
        index.add(sub_id, chat_id, query)
    titles = ["高級JAVA工程師", "java后端开发工程师", ".Net 开发工程师", "Senior Java Engineer"]
    docs = [Document.from_fields(title=t, description="精通C#") for t in titles]
    expected = [sorted(naive_match(subs, doc)) for doc in docs]
    assert [sorted(index.match(doc)) for doc in docs] == expected
    assert [sorted(found) for found in index.match_many(docs)] == expected
    assert [m.sub_id for m in expected[0]] == [1, 2, 5, 6]
