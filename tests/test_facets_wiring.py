"""Issue 11, items 2-4: facts stored as columns (and migrated), facet terms in queries and the
match index, facts in the alert line."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.deliver.format import TELEGRAM_BUTTONS, AlertItem, pack_alerts
from bot.errors import QueryError
from bot.facets.filters import facts_of
from bot.facets.remote import Mode
from bot.facets.seniority import Seniority
from bot.matching import MatchIndex, naive_match
from bot.models import Posting
from bot.query import Document, parse_query
from bot.store import Store, migrations
from bot.store.facts import FACT_COLUMNS
from bot.subscriptions import Subscriptions

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def posting(n: int, **fields: object) -> Posting:
    base: dict[str, object] = {"url": f"https://jobs.example.com/{n}", "title": "Rust engineer"}
    return Posting(**(base | fields))  # type: ignore[arg-type]


def test_ingest_stores_the_facts_as_columns() -> None:
    store = Store.open(":memory:")
    p = posting(
        1,
        title="Senior Rust Engineer (contract)",
        location="Remote (EU only)",
        salary="€80,000 – €95,000 a year",
    )
    store.ingest("board", [p], now=T0)
    row = store.db.execute(
        f"SELECT {', '.join(FACT_COLUMNS)} FROM postings"  # noqa: S608
    ).fetchone()
    assert dict(zip(FACT_COLUMNS, row, strict=True)) == {
        "salary_min": 80000.0,
        "salary_max": 95000.0,
        "salary_currency": "EUR",
        "salary_period": "year",
        "salary_yearly_min": 80000.0,
        "salary_yearly_max": 95000.0,
        "remote_mode": "remote",
        "remote_regions": "EU",
        "seniority": "senior",
        "employment_type": "contract",
        "valid_through": None,
    }
    (stored,) = store.latest(1)
    assert stored.facts.salary is not None
    assert stored.facts.salary.compact() == "€80–95k/yr"
    assert stored.facts.first_seen == T0


async def test_ingest_async_computes_the_facts_off_the_loop(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "jobs.db")
    p = posting(2, title="Staff Engineer", extra={"workplace_type": "hybrid"}, location="Berlin")
    await store.ingest_async("board", [p], now=T0)
    (stored,) = store.latest(1)
    assert (stored.facts.remote.mode, stored.facts.seniority) == (Mode.HYBRID, Seniority.LEAD)
    store.close()


def test_migration_computes_facts_of_postings_stored_before(tmp_path: Path) -> None:
    """Postings and subscriptions of a database from before issue 11 keep working."""
    path = tmp_path / "old.db"
    db = Database(path)
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db, stop_before="m_facets")
    db.table("postings").insert(
        {
            "id": "a" * 64,
            "url": "https://jobs.example.com/old",
            "source": "board",
            "title": "Senior Backend Engineer",
            "location": "Remote - USA Only",
            "remote": 1,
            "salary": "$120,000 – $150,000 a year",
            "first_seen": T0.isoformat(),
            "last_seen": T0.isoformat(),
        }
    )
    db.table("chats").insert({"id": 7, "type": "private", "title": "t"})
    db.table("subscriptions").insert(
        {"chat_id": 7, "query": "backend", "created_at": T0.isoformat()}
    )
    db.close()

    store = Store.open(path)
    (old,) = store.latest(1)
    assert old.facts.salary is not None
    assert old.facts.salary.compact() == "$120–150k/yr"
    assert old.facts.remote.label() == "Remote · US"
    assert old.facts.seniority is Seniority.SENIOR
    subs = Subscriptions(store)
    subs.reload()
    doc = Document.from_posting(old)
    assert parse_query("backend").matches(doc)
    assert not parse_query("backend remote:eu").matches(doc)  # US only
    assert parse_query("backend salary>=140k").matches(doc)
    assert not parse_query("backend salary>=90k EUR").matches(doc)  # another currency
    store.ingest("board", [posting(9, title="baseline")], now=T0)  # the source's first scrape
    new = store.ingest("board", [posting(3, title="backend dev")], now=T0, matcher=subs.matcher)
    assert new.deliveries == 1
    store.close()


def doc_of(**fields: object) -> Document:
    facts = facts_of(**fields)  # type: ignore[arg-type]
    return Document.from_fields(
        title=str(fields.get("title", "")), location=str(fields.get("location", "")), facts=facts
    )


@pytest.mark.parametrize(
    ("query", "fields", "expected"),
    [
        ("rust salary>=90k", {"title": "Rust dev", "salary": "$100k–120k"}, True),
        ("rust salary>=90k", {"title": "Rust dev", "salary": "$60k–70k"}, False),
        ("rust salary>=90k", {"title": "Rust dev"}, True),  # not stated: passes
        ("rust salary>=90k!", {"title": "Rust dev"}, False),  # ... unless required
        ("rust salary>=90k EUR", {"title": "Rust dev", "salary": "€95k"}, True),
        ("rust salary>=90k EUR", {"title": "Rust dev", "salary": "$150k"}, False),
        # regression (tester): "€" after the amount was read as a word with no letters
        ("rust salary>=90k €", {"title": "Rust dev", "salary": "$150k"}, False),
        ("rust salary>=90k €", {"title": "Rust dev", "salary": "€95k"}, True),
        ("rust -seniority:intern", {"title": "Rust dev"}, True),  # NOT unknown stays unknown
        ("rust -seniority:intern", {"title": "Rust intern"}, False),
        ("rust seniority>=senior", {"title": "Junior Rust dev"}, False),
        # regression (tester): "type:full time" also asked for the word "time"
        ("rust type:full time", {"title": "Rust dev (Vollzeit)"}, True),
        ("rust seniority>=senior", {"title": "Staff Rust dev"}, True),
        ("remote:de", {"title": "x", "location": "Remote (EU only)"}, True),
        ("remote:de", {"title": "x", "location": "Remote - USA Only"}, False),
        ("remote:eu OR salary>=200k", {"title": "x", "location": "USA Only", "remote": True}, True),
        ("onsite:berlin rust", {"title": "Rust dev", "location": "Berlin, Germany"}, True),
        ("type:contract", {"title": "Rust contractor (contract)"}, True),
    ],
)
def test_facet_terms_in_queries(query: str, fields: dict[str, object], expected: bool) -> None:
    assert parse_query(query).matches(doc_of(**fields)) is expected


def test_age_is_judged_at_now_by_posted_at_else_first_seen() -> None:
    facts = facts_of(title="Rust", posted_at=T0 - timedelta(days=20), first_seen=T0)
    doc = Document.from_fields(title="Rust", facts=facts, now=T0)
    assert not parse_query("rust age<14d").matches(doc)
    assert parse_query("rust age<30d").matches(doc)


def test_facet_queries_print_and_parse_back_and_bad_ones_are_refused() -> None:
    for text in ("salary>=92.5k USD! rust", "remote:eu -type:contract go", "age<2w x OR y"):
        query = parse_query(text)
        assert parse_query(str(query)) == query
    with pytest.raises(QueryError, match="only excludes"):
        parse_query("-seniority:intern")
    with pytest.raises(QueryError, match="seniority: 'wizard' is not one of"):
        parse_query("rust seniority:wizard")


def test_index_equals_the_naive_loop_with_facet_queries() -> None:
    """Facet conditions are keys of the trie (facet-only queries too), judged three-valued."""
    rng = random.Random(11)
    texts = [
        "rust remote:eu",
        "remote:de",
        "salary>=90k",
        "python -seniority:intern",
        "(rust OR go) salary>=100k EUR!",
        "seniority>=senior OR golang",
        "java age<7d",
        "rust",
        '"site reliability" remote:yes',
        "eng* seniority>=senior",
        "(rust OR python) -go age<7d",
        "rust -(go OR java) salary>=90k",
        "(rust remote:eu) OR (python salary>=100k)",
    ]
    index = MatchIndex()
    subs = []
    for i, text in enumerate(texts):
        index.add(i, 100 + i, parse_query(text))
        subs.append((i, 100 + i, parse_query(text)))
    titles = [
        "Senior Rust dev",
        "Python intern",
        "Go engineer",
        "Java lead",
        "Staff Golang",
        "Site reliability engineer",
        "Rust and Go engineer",
    ]
    places = ["Remote (EU only)", "Remote, USA only", "Berlin", ""]
    pays = ["€95k", "$120k", "", "£50k"]
    for _ in range(200):
        doc = doc_of(
            title=rng.choice(titles),
            location=rng.choice(places),
            salary=rng.choice(pays),
            first_seen=T0 - timedelta(days=rng.randint(0, 20)),
        )
        assert sorted(index.match(doc)) == naive_match(subs, doc)


def test_button_cap_and_callback_data_bound_with_many_alerts() -> None:
    store = Store.open(":memory:")
    company = "Ünïcødé Company " * 30
    # 70 different jobs (distinct titles): one company's postings of one title would be one job.
    jobs = [posting(n, company=company, title=f"Rust engineer {n}") for n in range(70)]
    store.ingest("board", jobs, now=T0)
    postings = store.latest(70)
    refs = {
        p.id: (store.company_ids([p.company])[p.company], store.posting_ref(p.id)) for p in postings
    }
    items = [AlertItem(i, p, (), 0, *refs[p.id], now=T0) for i, p in enumerate(postings)]
    messages = pack_alerts(items)
    assert len(messages) >= 3
    for message in messages:
        count = len(message.buttons) + sum(len(row) for row in message.actions)
        assert count <= TELEGRAM_BUTTONS
        for row in message.actions:
            assert all(len(b.callback_data.encode()) <= 64 for b in row)


def test_a_folded_place_prints_as_one_term() -> None:
    """Bug: `onsite:são-paulo` printed as `onsite:sao paulo`, which parses back differently."""
    query = parse_query("onsite:são-paulo rust")
    assert str(query) == "onsite:sao-paulo AND rust"
    assert parse_query(str(query)) == query
