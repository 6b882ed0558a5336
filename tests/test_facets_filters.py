"""Facet terms: parsing, matching with unknown facts, descriptions, and user-facing errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import QueryError
from bot.facets.employment import Employment
from bot.facets.filters import FacetError, Facts, facts_of, is_facet, parse_facet
from bot.facets.remote import Mode, RemoteScope
from bot.facets.salary import Period, Salary
from bot.facets.seniority import Seniority

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
EU_FACTS = facts_of(
    title="Senior Backend Engineer (Contract)",
    location="Remote (EU only)",
    salary="€80–95k",
    posted_at=NOW - timedelta(days=3),
)
US_ONLY = facts_of(
    title="Staff Engineer",
    location="Remote - United States",
    description="The pay range for this role is $160,000 - $173,000.",
    first_seen=NOW - timedelta(days=20),
)
UNKNOWN = facts_of(title="Software Engineer")
BERLIN = facts_of(title="Jr Developer", location="Hybrid, Berlin, Germany")


def test_facts_of_reads_every_fact() -> None:
    expected = Facts(
        salary=Salary(80_000, 95_000, "EUR", Period.YEAR),
        remote=RemoteScope(Mode.REMOTE, frozenset({"EU"})),
        seniority=Seniority.SENIOR,
        employment=Employment.CONTRACT,
        posted_at=NOW - timedelta(days=3),
        location="Remote (EU only)",
    )
    assert expected == EU_FACTS


def test_structured_extra_wins_over_text() -> None:
    facts = facts_of(
        title="Engineer",
        location="Berlin",
        salary="€50k",
        extra={
            **Salary(90_000, 110_000, "EUR").as_extra(),
            "workplace_type": "Remote",
            "employment_type": "FULL_TIME",
            "valid_through": "2026-12-31T00:00:00+00:00",
        },
    )
    assert facts.salary == Salary(90_000, 110_000, "EUR")
    assert facts.remote.mode is Mode.REMOTE
    assert facts.employment is Employment.FULL_TIME
    assert facts.valid_through == datetime(2026, 12, 31, tzinfo=UTC)


def test_schema_org_extra() -> None:
    facts = facts_of(
        title="Freelancer",
        extra={"job_location_type": "TELECOMMUTE", "applicant_locations": "Deutschland"},
    )
    assert facts.remote == RemoteScope(Mode.REMOTE, frozenset({"DE"}))


@pytest.mark.parametrize(
    ("term", "eu_senior", "us_only", "unknown"),
    [
        ("salary>=90k", True, True, None),
        ("salary>=90k EUR", True, False, None),
        ("salary>=90k!", True, True, False),
        ("salary>=100k EUR", False, False, None),
        ("salary<=100k USD", False, False, None),
        ("salary>=€90k", True, False, None),
        ("remote:yes", True, True, None),
        ("remote:no", False, False, None),
        ("remote:eu", True, False, None),
        ("remote:de", True, False, None),
        ("remote:germany", True, False, None),
        ("remote:us", False, True, None),
        ("remote:world!", False, False, False),
        ("seniority:senior", True, False, None),
        ("seniority>=senior", True, True, None),
        ("seniority>=lead", False, True, None),
        ("seniority<senior", False, False, None),
        ("type:contract", True, None, None),
        ("type:full-time", False, None, None),
        ("age<14d", True, False, None),
        ("age<14d!", True, False, False),
        ("age>2w", False, True, None),
    ],
)
def test_matches(
    term: str, eu_senior: bool | None, us_only: bool | None, unknown: bool | None
) -> None:
    facet = parse_facet(term)
    assert facet.matches(EU_FACTS, NOW) is eu_senior
    assert facet.matches(US_ONLY, NOW) is us_only
    assert facet.matches(UNKNOWN, NOW) is unknown


def test_onsite_place() -> None:
    berlin = parse_facet("onsite:berlin")
    assert berlin.matches(BERLIN, NOW) is True
    assert berlin.matches(EU_FACTS, NOW) is False  # a remote posting is not onsite anywhere
    assert berlin.matches(facts_of(title="x", location="Dublin"), NOW) is False
    assert berlin.matches(UNKNOWN, NOW) is None
    assert parse_facet("onsite:de").matches(BERLIN, NOW) is True


def test_currency_mismatch_never_matches_and_says_so() -> None:
    facet = parse_facet("salary>=90k EUR")
    assert facet.matches(US_ONLY, NOW) is False
    assert facet.describe() == (
        "salary ≥ 90,000 EUR/year (postings paid in other currencies do not match)"
    )


@pytest.mark.parametrize(
    ("term", "text"),
    [
        (
            "salary>=90k",
            "salary ≥ 90,000/year (compared in USD, EUR, GBP, CHF, CAD, AUD, NZD or SGD)",
        ),
        ("remote:eu", "remote, open to someone living in EU"),
        ("remote:yes", "remote"),
        ("onsite:Berlin", "onsite or hybrid in berlin"),
        ("seniority>=senior", "seniority ≥ senior"),
        ("seniority:Sr.", "seniority = senior"),
        ("type:contract!", "employment contract (required)"),
        ("age<14d", "posted less than 14 days ago"),
        ("age>=1h", "posted more than 1 hour ago"),  # was "0.0416667 days"
        ("age<2w", "posted less than 2 weeks ago"),
    ],
)
def test_describe(term: str, text: str) -> None:
    assert parse_facet(term).describe() == text


def test_yen_salary_is_unknown_to_a_filter_without_currency() -> None:
    yen = Facts(salary=Salary(6_000_000, 10_000_000, "JPY"))
    assert parse_facet("salary>=90k").matches(yen, NOW) is None
    assert parse_facet("salary>=5m JPY").matches(yen, NOW) is True
    # Regression: the alert said "salary not stated" for a salary stated in yen.
    assert parse_facet("salary>=90k").unstated(yen, NOW) == "salary in JPY not compared"


@pytest.mark.parametrize(
    ("term", "amount", "currency"),
    [
        ("salary>=90,000", 90_000, None),  # regression: read as 90
        ("salary>=100.000", 100_000, None),  # regression: read as 100
        ("salary>=120'000 CHF", 120_000, "CHF"),
        ("salary>=1,250,000 JPY", 1_250_000, "JPY"),
        ("salary>=92.5k", 92_500, None),
        ("salary>=92,5k EUR", 92_500, "EUR"),
        ("salary>=$90000", 90_000, "USD"),
        ("salary>=120’000 CHF", 120_000, "CHF"),  # the apostrophe phones type
    ],
)
def test_salary_amounts_with_separators(term: str, amount: float, currency: str | None) -> None:
    facet = parse_facet(term)
    assert (facet.amount, facet.currency) == (amount, currency)


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("salary>=lots", "salary: 'lots' is not an amount; write it like 90k, 90000 or 90k EUR"),
        ("salary:90k", "salary needs a comparison: salary>=90k or salary<=120k EUR"),
        ("salary>=90k XYZ", "salary: 'xyz' is not a currency code I know (use e.g. EUR, USD)"),
        ("remote:mars", "remote: 'mars' is not a country or region (try de, eu, emea)"),
        ("remote>=eu", "remote takes a value after a colon, like remote:eu"),
        (
            "seniority:boss",
            "seniority: 'boss' is not one of intern, junior, mid, senior, lead, manager, director",
        ),
        (
            "type:gig",
            "type: 'gig' is not one of full_time, part_time, contract, internship, temporary",
        ),
        ("age<soon", "age takes a comparison and a duration, like age<14d (h, d, w, m)"),
        ("age<0d", "age: '0d' is out of range; use 1h to 3650d"),
        ("age<3651d", "age: '3651d' is out of range; use 1h to 3650d"),
        # regression: an OverflowError from timedelta, the command crashed with no reply
        ("age<1000000000d", "age: '1000000000d' is out of range; use 1h to 3650d"),
        ("age<99999999999999d", "age: '99999999999999d' is out of range; use 1h to 3650d"),
        (
            "salary>=1,00,000",
            "salary: '1,00,000' is not an amount; write it like 90k, 90000 or 90k EUR",
        ),
        ("salary>=0", "salary: '0' is out of range; write it like 90k or 90000"),
        (
            "salary>=999999999999",
            "salary: '999999999999' is out of range; write it like 90k or 90000",
        ),
    ],
)
def test_bad_terms_say_what_to_write(term: str, message: str) -> None:
    with pytest.raises(FacetError) as caught:
        parse_facet(term)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, QueryError)


def test_is_facet() -> None:
    assert is_facet("salary>=90k")
    assert is_facet("remote:eu")
    assert is_facet("AGE<14d")
    assert not is_facet("title:rust")
    assert not is_facet("rust")
    assert not is_facet("c++")


def test_unstated_note_for_alerts() -> None:
    assert parse_facet("salary>=90k").unstated(UNKNOWN, NOW) == "salary not stated"
    assert parse_facet("remote:eu").unstated(UNKNOWN, NOW) == "remote scope not stated"
    assert parse_facet("salary>=90k").unstated(EU_FACTS, NOW) is None
    assert parse_facet("salary>=90k!").unstated(UNKNOWN, NOW) is None  # it did not pass
