"""The filter language: parsing, its errors, its canonical form, and matching one posting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.models import Posting, StoredPosting
from bot.query import MAX_QUERY_CHARS, MAX_QUERY_TERMS, Document, fold, parse_query, tokenize


def _posting(title: str, description: str = "", **fields: Any) -> Posting:
    return Posting(
        url=f"https://jobs.example/{title}", title=title, description=description, **fields
    )


POSTINGS = {
    "java": _posting(
        "Senior Java Developer",
        "Spring Boot and Kafka.",
        company="Acme",
        location="Berlin, Germany",
        tags=("Java",),
    ),
    "js": _posting("JavaScript Engineer (Node.js)", "React and TypeScript services."),
    "go": _posting("Backend Engineer (Go)", "gRPC and PostgreSQL."),
    "good": _posting("Support Agent", "A good attitude and good English."),
    "cpp": _posting("C++ Engineer", "Modern C++17 and CMake."),
    "csharp": _posting("C# / .NET Developer", "Azure and SQL Server.", company="Contoso"),
    "aspnet": _posting("Backend Developer", "APIs in ASP.NET Core."),
    "c": _posting("Embedded C Developer", "Firmware for microcontrollers."),
    "munich": _posting(
        "Entwickler (m/w/d)",
        "Büro in der Leopoldstraße.",
        company="Müller GmbH",
        location="München, Deutschland",
    ),
    "sre": _posting(
        "Site Reliability Engineer",
        "Kubernetes, on-call, a blameless engineering culture.",
        company="Cloudy",
        location="Anywhere",
        remote=True,
        tags=("Golang",),
    ),
    "intern": _posting(
        "Software Engineering Intern", "A summer internship working with senior engineers."
    ),
    "php": _posting("PHP Developer", "Laravel and MySQL; no Django.", tags=("PHP",)),
    "python": _posting("Python Developer", "Django and Flask.", tags=("Python",)),
    "fullstack": _posting("Full-Stack Developer", "Vue.js front end, Go back end."),
}
DOCS = {name: Document.from_posting(p) for name, p in POSTINGS.items()}

MATCHES = [
    # whole words, tech names intact
    ("java", "java", True),
    ("java", "js", False),
    ("javascript", "js", True),
    ("javascript", "java", False),
    ("go", "go", True),
    ("go", "good", False),
    ("good", "good", True),
    ("c++", "cpp", True),
    ("c", "cpp", False),
    ("c", "csharp", False),
    ("c", "c", True),
    ("c#", "csharp", True),
    ("c#", "cpp", False),
    (".net", "csharp", True),
    (".net", "aspnet", True),
    ("asp.net", "aspnet", True),
    ("net", "csharp", False),
    ("node.js", "js", True),
    ("node.js", "java", False),
    ("node", "js", True),
    ("nodejs", "js", True),
    ("vue", "fullstack", True),
    ("vue.js", "fullstack", True),
    # prefixes
    ("engineer", "intern", False),
    ("engineer*", "intern", True),
    ("engineer*", "sre", True),
    ("engineer*", "java", False),
    ("c++*", "cpp", True),
    ("title:dev*", "java", True),
    ("title:dev*", "sre", False),
    # case and accents
    ("JAVA", "java", True),
    ("munchen", "munich", True),
    ("MÜNCHEN", "munich", True),
    ("muller", "munich", True),
    ("leopoldstrasse", "munich", True),
    # phrases
    ('"site reliability"', "sre", True),
    ('"reliability site"', "sre", False),
    ('"Site  Reliability  Engineer"', "sre", True),
    ('title:"site reliability"', "sre", True),
    ('company:"site reliability"', "sre", False),
    ('"full stack"', "fullstack", True),
    ("full-stack", "fullstack", True),
    ('"vue front end"', "fullstack", True),
    ('"senior engineers"', "intern", True),
    ('"engineer senior"', "intern", False),
    ('"java kafka"', "java", False),
    # fields
    ("title:intern", "intern", True),
    ("title:internship", "intern", False),
    ("internship", "intern", True),
    ("tag:golang", "sre", True),
    ("tag:go", "sre", False),
    ("location:berlin", "java", True),
    ("title:berlin", "java", False),
    ("company:acme", "java", True),
    ("location:remote", "sre", True),
    ("title:(java OR php)", "php", True),
    ("title:(java OR php)", "python", False),
    # exclusion
    ("engineer* -title:intern", "intern", False),
    ("engineer* -title:intern", "sre", True),
    ("engineer* NOT intern", "sre", True),
    ("developer -django", "php", False),
    ("developer -django", "java", True),
    ("developer NOT django", "python", False),
    ('engineer* -"site reliability"', "sre", False),
    ("developer -(php OR python)", "java", True),
    ("developer -(php OR python)", "php", False),
    ("engineer -cm*", "cpp", False),
    ("engineer -cm*", "go", True),
    ("engineer -java*", "js", False),
    # OR and groups
    ("(rust OR golang) kubernetes", "sre", True),
    ("rust OR golang kubernetes", "sre", True),
    ("rust OR python", "python", True),
    ("rust OR python", "java", False),
    ("java OR (c# .net)", "csharp", True),
    ("java OR (c# kafka)", "csharp", False),
    ("(java AND spring) OR (php AND laravel)", "php", True),
    ("developer (java or php)", "php", True),
]


@pytest.mark.parametrize(("query", "posting", "expected"), MATCHES)
def test_query_matches_posting(query: str, posting: str, expected: bool) -> None:
    assert parse_query(query).matches(DOCS[posting]) is expected


ERRORS = [
    ("", "The query is empty"),
    ("   ", "The query is empty"),
    ("(rust", "Unbalanced parenthesis: the '(' at position 1 is never closed."),
    ("rust OR (go", "Unbalanced parenthesis: the '(' at position 9 is never closed."),
    ("rust)", "Unbalanced parenthesis: the ')' at position 5 has no matching '('."),
    ("()", "The parentheses at position 1 are empty."),
    ("rust OR", "'OR' at position 6 needs a term on both sides."),
    ("OR rust", "'OR' at position 1 needs a term on both sides."),
    ("rust AND OR go", "'AND' at position 6 needs a term on both sides."),
    ("rust NOT", "'NOT' at position 6 must be followed by a term to exclude"),
    ("rust -", "The '-' at position 6 must be directly followed by what to exclude"),
    ('"site reliability', "Unclosed quote: the quote at position 1 is never closed."),
    ('rust ""', "The quotes at position 6 contain no letters or digits"),
    ("-php", "The query only excludes words"),
    ("NOT php NOT java", "The query only excludes words"),
    ("rust OR -php", "Each alternative joined by OR needs a word to look for"),
    ("pay:100k", "Unknown field 'pay:' at position 1"),
    # salary is a facet since issue 11: a colon is not a comparison
    ("salary:100k", "salary needs a comparison: salary>=90k"),
    # regressions: a facet with spaces was "'>=' ... has no letters or digits to search for",
    # one with no value an "Unknown field 'onsite:'"
    (
        "rust salary >= 90k",
        "'salary' at position 6 needs its value right after it, with no space, as in: salary>=90k.",
    ),
    ("rust salary>= 90k", "'salary>=' at position 6 needs its value right after it"),
    (
        "rust onsite:",
        "'onsite:' at position 6 needs its value right after it, with no space, "
        "as in: onsite:berlin.",
    ),
    ("rust Remote:", "as in: remote:eu."),
    ("rust age < 14d", "as in: age<14d."),
    ("title:", "'title:' at position 1 must be directly followed by a word"),
    ("title: rust", "'title:' at position 1 must be directly followed by a word"),
    ("title:-intern", "put the '-' before the field name, as in: -title:intern."),
    ("eng*neer", "The '*' at position 4 may only end a word"),
    ("rust *", "The '*' at position 6 must directly follow a word"),
    ("e*", "is too short: a '*' prefix needs at least 2 letters"),
    ("full-sta*", "a '*' prefix works on a single word"),
    ("rust !!!", "'!!!' at position 6 has no letters or digits to search for."),
    ("x" * (MAX_QUERY_CHARS + 1), "The query is 201 characters long; the limit is 200."),
    (" ".join(["w"] * (MAX_QUERY_TERMS + 1)), "The query has 21 terms; the limit is 20"),
]


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_bad_query_says_what_is_wrong(query: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert text.endswith(".")


def test_bounds_are_inclusive() -> None:
    assert str(parse_query("x" * MAX_QUERY_CHARS)) == "x" * MAX_QUERY_CHARS
    parse_query(" ".join(f"w{i}" for i in range(MAX_QUERY_TERMS)))
    parse_query(" ".join(['"a b"'] * MAX_QUERY_TERMS))  # a phrase counts as one term


CANONICAL = [
    ("rust remote", "rust AND remote"),
    ("(rust OR golang) backend -title:intern", "(rust OR golang) AND backend AND NOT title:intern"),
    ("rust OR golang backend", "(rust OR golang) AND backend"),  # OR binds tighter, as in search
    ("(a b) OR c", "(a AND b) OR c"),
    ('title:"Site Reliability"', 'title:"site reliability"'),
    ("“site reliability”", '"site reliability"'),  # a phone's typographic quotes
    ("München", "munchen"),
    ("full-stack", '"full stack"'),
    ("python NOT django", "python AND NOT django"),
    ("title:(rust OR go)", "title:rust OR title:go"),
    ("title:(rust OR go) remote", "(title:rust OR title:go) AND remote"),
    ("tags:Golang", "tag:golang"),
    ('"or" not x', '"or" AND NOT x'),
    ("c++ or c#", "c++ OR c#"),
    ("NOT NOT rust", "rust"),
    ("rust rust", "rust"),
    ("rust -(php OR java*)", "rust AND NOT (php OR java*)"),
    ("Node.js .NET", "node.js AND .net"),
]


@pytest.mark.parametrize(("query", "canonical"), CANONICAL)
def test_canonical_form_is_the_query_as_understood(query: str, canonical: str) -> None:
    parsed = parse_query(query)
    assert str(parsed) == canonical
    assert parse_query(canonical) == parsed


def test_canonical_form_longer_than_the_bound_still_parses() -> None:
    """Regression: a saved canonical form (explicit ANDs) was refused on reload as too long."""
    text = " ".join(f"word{i:02}" for i in range(MAX_QUERY_TERMS))
    query = parse_query(text)
    assert len(str(query)) > MAX_QUERY_CHARS
    assert parse_query(str(query)) == query


def test_length_bound_measures_the_query_not_its_spacing() -> None:
    assert parse_query("rust" + " " * 300 + "remote") == parse_query("rust remote")
    with pytest.raises(QueryError, match="The query is 1001 characters long"):
        parse_query("x " * 500 + "y")


def test_matched_terms_are_the_positive_terms_found() -> None:
    query = parse_query('(rust OR golang) "site reliability" engineer* -php title:site')
    assert query.matched_terms(DOCS["sre"]) == ("golang", '"site reliability"', "engineer*", "site")
    assert query.matched_terms(DOCS["java"]) == ()


def test_highlight_spans_point_into_the_original_text() -> None:
    query = parse_query("engineer* c++ munchen node -java")
    title = "Senior C++/.NET Engineer (Node.js), München"
    spans = query.highlight_spans(title)
    assert [title[a:b] for a, b in spans] == ["C++", "Engineer", "Node.js", "München"]
    phrase = parse_query('"site reliability"')
    assert phrase.highlight_spans("Site  Reliability Engineer") == [(0, 17)]
    assert parse_query("title:rust").highlight_spans("rust", field="company") == []


def test_document_from_stored_posting() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    stored = StoredPosting(
        id="x",
        url="https://jobs.example/1",
        source="test",
        title="Rust Engineer",
        company="Ferris",
        location="Zürich",
        remote=False,
        tags=("Rust",),
        posted_at=None,
        salary="",
        description="Tokio.",
        apply_url="",
        first_seen=now,
        last_seen=now,
    )
    doc = Document.from_posting(stored)
    assert parse_query("tag:rust location:zurich company:ferris tokio").matches(doc)
    assert not parse_query("location:remote").matches(doc)


def test_tokenizer_keeps_tech_names() -> None:
    assert tokenize("Senior C++/C#/.NET & Node.js dev, F# too; e.g. Java.") == [
        "senior",
        "c++",
        "c#",
        ".net",
        "node.js",
        "dev",
        "f#",
        "too",
        "e.g",
        "java",
    ]
    assert fold("Ærøskøbing İstanbul STRASSE Straße") == "aeroskobing istanbul strasse strasse"


_SPECIAL = ["(", ")", '"', "-", "*", ":", " ", "OR", "NOT", "AND", "or", "not", "title:", "tag:"]
_WORDS = ["rust", "go", "c++", "c#", ".net", "é", "x", "“", "”", "\t", "\n", "\\", "'", "_"]
_PIECES = st.sampled_from(_SPECIAL + _WORDS)


@given(st.lists(_PIECES, max_size=60).map("".join) | st.text(max_size=260))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_parses_or_raises_query_error_with_a_message(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as exc:  # any text may parse, so not pytest.raises
        assert str(exc).strip()  # noqa: PT017
        assert "\n" not in str(exc)  # noqa: PT017
        return
    # what parses has a canonical form that parses back to it, and can be evaluated
    assert parse_query(str(query)) == query
    for doc in (DOCS["sre"], DOCS["cpp"]):
        assert isinstance(query.matches(doc), bool)
        assert isinstance(query.matched_terms(doc), tuple)
