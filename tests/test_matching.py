"""The match index: on the real corpus it returns exactly what the naive loop returns."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from bot.errors import QueryError
from bot.matching import (
    Match,
    MatchIndex,
    TermStats,
    _Group,
    facet_conditions,
    naive_match,
    plan_filings,
)
from bot.query import And, Document, Not, Query, Term, parse_query, tokenize
from bot.sources.markdown import read_folder
from bot.store.facts import posting_facts

CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus"
SEED = 20240
BATCH = 64  # documents per match_many call in the batch tests: a large scrape


@pytest.fixture(scope="module")
def corpus_docs() -> list[Document]:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present beside the repository")
    return [Document.from_posting(p) for p in read_folder(CORPUS).postings]


@pytest.fixture(scope="module")
def random_subs(corpus_docs: list[Document]) -> list[tuple[int, int, Query]]:
    return _random_subscriptions(corpus_docs, 3000, random.Random(SEED))


def _random_subscriptions(  # noqa: C901 - a generator of random query shapes, one branch each
    docs: list[Document], count: int, rng: random.Random
) -> list[tuple[int, int, Query]]:
    """Queries exercising every construct: fields, phrases, prefixes, OR, NOT, nested groups."""
    title_words: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for doc in docs:
        title = doc.sequences["title"]
        title_words.update(title)
        pairs.update(f"{a} {b}" for a, b in pairwise(title) if a and b)
    words = [w for w, _ in title_words.most_common(400)]
    phrases = [p for p, _ in pairs.most_common(100)]
    rare = [w for w, n in title_words.items() if n == 1][:200]
    fields = ("title:", "company:", "location:", "tag:")

    def term() -> str:
        roll = rng.random()
        if roll < 0.08:
            text = f'"{rng.choice(phrases)}"'
        elif roll < 0.16:
            word = rng.choice(words)
            text = (word[: rng.randint(2, len(word))] if len(word) > 2 else word) + "*"
        elif roll < 0.22:
            text = rng.choice(rare)
        else:
            text = rng.choice(words)
        if text.strip('"*') in ("or", "and", "not"):
            text = f'"{text.strip(chr(34))}"'
        if rng.random() < 0.15:
            text = rng.choice(fields) + text
        return text

    def expression(depth: int) -> str:
        parts = []
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            if depth < 2 and roll < 0.2:
                group = " OR ".join(expression(depth + 1) for _ in range(rng.randint(2, 3)))
                parts.append(f"({group})")
            else:
                parts.append(term())
        return " ".join(parts)

    subs: list[tuple[int, int, Query]] = []
    while len(subs) < count:
        text = expression(0)
        roll = rng.random()
        if roll < 0.2:
            text += " -" + term()
        elif roll < 0.25:
            text += f" NOT ({term()} OR {term()})"
        elif roll < 0.3:
            text = f"{term()} OR {text}"
        elif roll < 0.33:  # an OR too big to expand into conjunctions
            text = " ".join(f"({term()} OR {term()} OR {term()})" for _ in range(3))
        try:
            query = parse_query(text)
        except QueryError:  # skip what the bounds refuse
            continue
        sub_id = len(subs) + 1
        subs.append((sub_id, 100 + sub_id % 37, query))
    return subs


def _sorted(results: list) -> list:  # type: ignore[type-arg]
    return sorted(results)


@pytest.fixture(scope="module")
def naive_found(
    corpus_docs: list[Document], random_subs: list[tuple[int, int, Query]]
) -> tuple[list[Match], ...]:
    """The naive loop's answer for each corpus document, in corpus order: the oracle of the
    next two tests, computed once (it is this module's slowest step under coverage)."""
    return tuple(naive_match(random_subs, doc) for doc in corpus_docs)


def test_index_equals_naive_loop_on_corpus(
    corpus_docs: list[Document],
    random_subs: list[tuple[int, int, Query]],
    naive_found: tuple[list[Match], ...],
) -> None:
    index = MatchIndex(random_subs, stats=TermStats.from_documents(corpus_docs[::3]))
    total = 0
    for doc, expected in zip(corpus_docs, naive_found, strict=True):
        assert _sorted(index.match(doc)) == expected
        total += len(expected)
    assert total > 10_000  # the queries do match: the comparison is not vacuous


def test_match_many_equals_match(
    corpus_docs: list[Document],
    random_subs: list[tuple[int, int, Query]],
    naive_found: tuple[list[Match], ...],
) -> None:
    index = MatchIndex(random_subs)  # no statistics: the rough guess picks the anchors
    batch = corpus_docs[:400]
    for found, expected in zip(index.match_many(batch), naive_found[:400], strict=True):
        assert _sorted(found) == expected
    assert index.match_many(batch[:3]) == [index.match(doc) for doc in batch[:3]]


def test_add_and_remove_keep_index_equal_to_naive(
    corpus_docs: list[Document], random_subs: list[tuple[int, int, Query]]
) -> None:
    rng = random.Random(SEED + 1)
    index = MatchIndex(random_subs)
    live = dict((s, (c, q)) for s, c, q in random_subs)
    removed = rng.sample(sorted(live), len(live) // 2)
    for sub_id in removed:
        assert index.remove(sub_id)
        del live[sub_id]
    assert not index.remove(removed[0])
    assert len(index) == len(live)
    docs = corpus_docs[::5]
    index.match_many(docs)  # the nodes' views are built now: the changes below must drop them
    # replace some ids with other queries, re-add some removed ones
    for sub_id in rng.sample(sorted(live), 200):
        chat_id, _ = live[sub_id]
        query = random_subs[rng.randrange(len(random_subs))][2]
        index.add(sub_id, chat_id, query)
        live[sub_id] = (chat_id, query)
    for sub_id in removed[:300]:
        index.add(sub_id, 7, random_subs[sub_id - 1][2])
        live[sub_id] = (7, random_subs[sub_id - 1][2])
    subs = [(s, c, q) for s, (c, q) in live.items()]
    assert sorted(s for s, _, _ in index) == sorted(live)
    for doc, found in zip(docs, index.match_many(docs), strict=True):
        assert _sorted(found) == naive_match(subs, doc)
    for sub_id in rng.sample(sorted(live), len(live) // 2):  # trie nodes lose children
        index.remove(sub_id)
        del live[sub_id]
    subs = [(s, c, q) for s, (c, q) in live.items()]
    for doc, found in zip(docs, index.match_many(docs), strict=True):
        assert _sorted(found) == naive_match(subs, doc)
    for sub_id in list(live):
        index.remove(sub_id)
    assert len(index) == 0
    assert index.distinct_queries == 0
    assert index.match(docs[0]) == []
    assert not index._root.children
    assert not index._universe
    assert not index._prefixes


FACET_CONDITIONS = (
    "remote:eu",
    "remote:de",
    "remote:yes",
    "salary>=90k",
    "salary>=100k USD!",
    "seniority>=senior",
    "-seniority:intern",
    "type:contract",
    "age<30d",
    "onsite:berlin",
    "(remote:us OR salary>=150k)",
    "NOT (type:contract OR seniority:junior)",
)


@pytest.fixture(scope="module")
def corpus_docs_with_facts() -> list[Document]:
    """The corpus as stored: each posting with the facts ingest computes for it."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present beside the repository")
    now = datetime(2026, 11, 30, tzinfo=UTC)
    postings = read_folder(CORPUS).postings
    return [
        Document.from_fields(
            title=p.title,
            company=p.company,
            location=p.location,
            tags=p.tags,
            description=p.description,
            remote=p.remote,
            facts=posting_facts(p, now),
            now=now,
        )
        for p in postings
    ]


def test_facet_conditions_are_keys_and_equal_the_naive_loop(
    corpus_docs_with_facts: list[Document], random_subs: list[tuple[int, int, Query]]
) -> None:
    """Issue 11: queries with facet conditions (alone, with words, negated, in an OR) give the
    naive loop's results on the corpus with its facts, and their keys leave with them."""
    rng = random.Random(SEED + 4)
    subs = []
    for sub_id, chat_id, query in random_subs[:1500]:
        roll = rng.random()
        if roll < 0.05:
            text = " ".join(rng.sample(FACET_CONDITIONS, rng.randint(1, 2)))
        elif roll < 0.4:
            text = f"{query} {rng.choice(FACET_CONDITIONS)}"
        elif roll < 0.45:
            text = f"({query}) OR {rng.choice(FACET_CONDITIONS)}"
        else:
            text = str(query)
        try:
            subs.append((sub_id, chat_id, parse_query(text)))
        except QueryError:  # what the bounds refuse (an OR of facets only, ...)
            subs.append((sub_id, chat_id, query))
    docs = corpus_docs_with_facts
    with_facets = sum(bool(facet_conditions(q.root)) for _, _, q in subs)
    assert with_facets > 400
    stats = TermStats.from_documents(docs[::3])
    for index in (MatchIndex(subs), MatchIndex(subs, stats=stats)):
        total = 0
        for doc in docs[::2]:
            expected = naive_match(subs, doc)
            assert _sorted(index.match(doc)) == expected
            total += len(expected)
        assert total > 5_000
        assert index._facets  # the conditions in use, each tested once per document
        for sub_id, _, _ in subs:
            index.remove(sub_id)
        assert not index._facets
        assert not index._universe
        assert not index._root.children


def _doc(title: str, description: str = "", **fields: object) -> Document:
    return Document.from_fields(title=title, description=description, **fields)  # type: ignore[arg-type]


def test_or_query_matches_once_and_groups_by_chat() -> None:
    index = MatchIndex()
    index.add(1, 10, parse_query("rust OR golang"))
    index.add(2, 10, parse_query("(rust OR golang) backend -intern"))
    index.add(3, 20, parse_query("rust OR golang"))  # same query, another chat
    index.add(4, 20, parse_query("engineer* OR developer*"))
    doc = _doc("Rust and Golang Backend Engineer", "Engineering, engineers.")
    assert sorted(index.match(doc)) == [(1, 10), (2, 10), (3, 20), (4, 20)]
    assert index.match_chats(doc) == {10: [1, 2], 20: [3, 4]}
    assert index.distinct_queries == 3
    assert sorted(index.match(_doc("Rust Backend Intern"))) == [(1, 10), (3, 20)]


def test_hand_built_query_without_anchor_is_still_matched() -> None:
    """Queries parse_query refuses (only exclusions) are evaluated on every document."""
    only_excludes = Query(Not(Term(("php",))))
    index = MatchIndex([(1, 1, only_excludes), (2, 1, Query(And((Term(("go",)),))))])
    assert index.match(_doc("Rust Engineer")) == [(1, 1)]
    assert index.match(_doc("PHP Engineer")) == []


def test_prefix_and_field_keys() -> None:
    index = MatchIndex()
    index.add(1, 1, parse_query("title:eng* -tag:php"))
    index.add(2, 1, parse_query("title:eng*"))
    index.add(3, 1, parse_query("developer -java*"))
    docs = [
        _doc("Engineer", tags=("PHP",)),
        _doc("Engineering lead"),
        _doc("Developer", "JavaScript"),
        _doc("Developer", "Python"),
        _doc("Developer", company="Engage"),
    ]
    assert [sorted(index.match(d)) for d in docs] == [
        [(2, 1)],
        [(1, 1), (2, 1)],
        [],
        [(3, 1)],
        [(3, 1)],
    ]
    index.remove(2)
    index.remove(1)
    assert [sorted(index.match(d)) for d in docs] == [[], [], [], [(3, 1)], [(3, 1)]]
    assert set(index._prefixes) == {""}


def test_tokenize_is_what_documents_use() -> None:
    doc = _doc("C++ / Node.js")
    assert set(tokenize("C++ / Node.js")) <= doc.fields["title"]


def test_phrases_are_checked_field_by_field_like_the_naive_loop() -> None:
    """A phrase of any field is checked as the phrase in each field: same answers, including
    dotted names, phrases spanning two fields or two tags, and longer phrases."""
    texts = [
        '"vue developer"',
        '"node js"',
        '"senior vue developer" -php',
        '"rust backend"',
        '"backend rust"',
        '"lead rust engineer"',
        'title:"rust engineer"',
        '"berlin remote" OR "engineer berlin"',
        'NOT "rust engineer" backend',
    ]
    subs = [(i, i, parse_query(t)) for i, t in enumerate(texts, start=1)]
    docs = [
        _doc("Senior Vue.js Developer", "Node.js and PHP"),
        _doc("Rust", "Backend work", tags=("rust", "backend")),
        _doc("Lead Rust Engineer", company="Backend Rust GmbH", location="Berlin"),
        _doc("Engineer", location="Berlin, remote", tags=("rust engineer",)),
        _doc("Backend", "We use rust. Engineer wanted.", tags=("lead", "rust engineer")),
        _doc("Senior Vue developer", "node js"),
        _doc("node.js backend", "Rust engineer needed"),
        _doc("Rust backend engineer", "lead rust engineer", remote=True),
    ]
    index = MatchIndex(subs)
    for doc in docs:
        assert sorted(index.match(doc)) == naive_match(subs, doc)
    for doc, found in zip(docs, index.match_many(docs), strict=True):
        assert sorted(found) == naive_match(subs, doc)


def test_exclusions_at_one_node_in_a_batch() -> None:
    """Queries sharing a trie node with different exclusions (one, several, via an OR): each
    document gets exactly the unvetoed ones, alone and in a batch."""
    texts = [
        "rust",
        "rust -php",
        "rust -php",
        "rust -java",
        "rust -php -java",
        "rust -go",
        "rust OR golang",
        "(rust OR golang) -intern",
        "rust -title:senior",
        "rust -sen*",
    ]
    subs = [(i, 100 + i % 3, parse_query(t)) for i, t in enumerate(texts, start=1)]
    words = ["php", "java", "go", "intern", "golang", "senior", "sensor"]
    rng = random.Random(SEED + 2)
    docs = [_doc("Rust " + " ".join(rng.sample(words, rng.randint(0, 3)))) for _ in range(40)]
    docs += [_doc("Senior", "rust"), _doc("Golang intern"), _doc("Rust", tags=("php", "go"))]
    docs *= BATCH // len(docs) + 1
    index = MatchIndex(subs)
    for doc, found in zip(docs, index.match_many(docs), strict=True):
        assert sorted(found) == naive_match(subs, doc)
        assert sorted(index.match(doc)) == naive_match(subs, doc)
    index.remove(2)
    index.add(11, 5, parse_query("rust -php -go"))
    subs = [s for s in subs if s[0] != 2] + [(11, 5, parse_query("rust -php -go"))]
    for doc, found in zip(docs, index.match_many(docs), strict=True):
        assert sorted(found) == naive_match(subs, doc)


def test_phrases_through_dotted_names_at_any_position() -> None:
    """A phrase word may stand for a dotted name's part at the start, middle or end of a field,
    or for parts of two dotted names in a row."""
    texts = ['"vue developer"', '"senior vue"', '"js node"', '"node js react"', '"asp net core"']
    texts += ['"vue node"', '"js developer"', '"developer vue"', '"net core"']
    subs = [(i, i, parse_query(t)) for i, t in enumerate(texts, start=1)]
    docs = [
        _doc("Vue.js developer"),
        _doc("Senior Vue.js"),
        _doc("Vue.js Node.js React"),
        _doc("ASP.NET Core developer", "node.js react"),
        _doc("Developer", tags=("vue.js", "node.js react")),
        _doc("Developer vue", "vue developer node"),
    ]
    index = MatchIndex(subs)
    batch = docs * (BATCH // len(docs) + 1)
    for doc, found in zip(batch, index.match_many(batch), strict=True):
        assert sorted(found) == naive_match(subs, doc)
        assert sorted(index.match(doc)) == naive_match(subs, doc)


def test_match_many_restores_the_garbage_collector() -> None:
    index = MatchIndex([(1, 1, parse_query("rust"))])
    docs = [_doc("Rust")] * 10
    assert gc.isenabled()
    assert all(found == [Match(1, 1)] for found in index.match_many(docs))
    assert gc.isenabled()
    gc.disable()
    try:
        index.match_many(docs)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_match_many_never_switches_the_garbage_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: match_many disabled the process-wide cyclic GC around every batch."""
    index = MatchIndex([(1, 1, parse_query("rust")), (2, 1, parse_query("rust -php"))])

    def refuse() -> None:
        raise AssertionError("matching switched the process-wide garbage collector")

    for name in ("disable", "enable", "freeze", "unfreeze"):
        monkeypatch.setattr(gc, name, refuse)
    docs = [_doc("Rust"), _doc("Rust PHP")] * BATCH
    expected = [[(1, 1), (2, 1)], [(1, 1)]] * BATCH
    assert [sorted(found) for found in index.match_many(docs)] == expected


def _workload_subscriptions(
    docs: list[Document], count: int, rng: random.Random
) -> list[tuple[int, int, Query]]:
    """The issue's workload: 1-3 of the 500 most frequent title words per query, a fifth with
    an exclusion, a tenth with a field, some with an OR; about 20 subscriptions per chat."""
    counts: Counter[str] = Counter(w for doc in docs for w in doc.sequences["title"] if w)
    words = [w for w, _ in counts.most_common(500) if w not in ("or", "and", "not")]
    subs = []
    for sub_id in range(1, count + 1):
        terms = rng.sample(words, rng.randint(1, 3))
        if rng.random() < 0.10:
            terms[-1] = rng.choice(("title:", "tag:", "location:")) + terms[-1]
        if len(terms) >= 2 and rng.random() < 0.15:
            terms[:2] = [f"({terms[0]} OR {terms[1]})"]
        if rng.random() < 0.20:
            terms.append("-" + rng.choice(words))
        subs.append((sub_id, 1_000 + sub_id // 20, parse_query(" ".join(terms))))
    return subs


def test_index_holds_at_most_1_kb_per_subscription(corpus_docs: list[Document]) -> None:
    """Regression: the index took 1.7 KB per subscription (dicts and frozensets per node)."""
    subs = _workload_subscriptions(corpus_docs, 10_000, random.Random(SEED + 3))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index = MatchIndex(subs)
        index.match_many(corpus_docs[:20])  # the tuples nodes build on first use count too
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert size / len(index) <= 1024


def test_a_subscriber_joining_a_matched_query_is_found() -> None:
    """The node rebuilds its tuple of matches when a query it holds gains a subscriber."""
    index = MatchIndex([(1, 10, parse_query("rust")), (2, 10, parse_query("rust -php"))])
    docs = [_doc("Rust"), _doc("Rust PHP")] * BATCH
    assert sorted(index.match(docs[0])) == [(1, 10), (2, 10)]
    index.add(3, 20, parse_query("rust"))
    index.add(4, 20, parse_query("rust -php"))
    assert sorted(index.match(docs[0])) == [(1, 10), (2, 10), (3, 20), (4, 20)]
    assert [sorted(found) for found in index.match_many(docs)] == [
        [(1, 10), (2, 10), (3, 20), (4, 20)],
        [(1, 10), (3, 20)],
    ] * BATCH
    index.remove(1)
    assert sorted(index.match(docs[1])) == [(3, 20)]


def test_plan_files_an_or_as_exclusive_conjunctions_rarest_key_first() -> None:
    """Planning is pure: `a OR b` is `a`, and `b` where `a` is absent; paths rarest first."""
    stats = TermStats(10, {"rust": 1, "backend": 5, "golang": 2})
    index = MatchIndex(stats=stats)
    query = parse_query("(rust OR golang) backend")
    filings = plan_filings(_Group(query), index._rarity, index._matcher)
    assert [(f.kind, f.path, f.excluded) for f in filings] == [
        ("direct", ("rust", "backend"), ()),
        ("vetoable", ("golang", "backend"), ("rust",)),
    ]


def test_subscriptions_index_uses_word_statistics_of_stored_postings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The production index files queries rarest key first by the stored postings' words
    (at most STATS_SAMPLE of the newest); with nothing stored it falls back to the guess."""
    from bot import subscriptions
    from bot.models import Posting
    from bot.store import Store
    from bot.subscriptions import Subscriptions

    store = Store.open(":memory:")
    assert Subscriptions(store).index.stats.size == 0
    titles = ["Rust engineer", "Python engineer", "Go engineer", "Rust intern"]
    store.ingest(
        "board",
        [Posting(url=f"https://jobs.example.com/{n}", title=t) for n, t in enumerate(titles)],
    )
    monkeypatch.setattr(subscriptions, "STATS_SAMPLE", 3)
    subs = Subscriptions(store)
    stats = subs.index.stats
    assert stats.size == 3
    assert stats.counts["engineer"] >= 2
    store.touch_chat(1, type="private", title="me")
    subs.add(1, "engineer rust")
    filed = subs.index._subs[next(iter(subs.index._subs))].filed
    assert [f.path for f in filed] == [("rust", "engineer")]  # the rarer word first
