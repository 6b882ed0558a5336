"""A posting's facts (`bot.facets`) as columns of the `postings` table, and back.

Computed once, when a posting is first stored (`facts_row`), so matching, `/latest` and the
alerts read them without parsing text again; `m_facets` fills them for rows stored before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.facets.employment import Employment
from bot.facets.filters import Facts, facts_of
from bot.facets.remote import Mode, RemoteScope
from bot.facets.salary import Period, Salary
from bot.facets.seniority import Seniority
from bot.models import Posting

# Column -> SQLite type, in table order (added by the `m_facets` migration).
FACT_COLUMNS: dict[str, type] = {
    "salary_min": float,
    "salary_max": float,
    "salary_currency": str,  # ISO 4217
    "salary_period": str,  # year, month, week, day, hour
    "salary_yearly_min": float,  # in salary_currency, for comparison and sorting
    "salary_yearly_max": float,
    "remote_mode": str,  # onsite, hybrid, remote, unknown
    # ISO 3166 codes and region names, comma-separated, sorted; a place ruled out: "-DE"
    "remote_regions": str,
    "seniority": str,  # intern ... director, or NULL
    "employment_type": str,  # full_time, part_time, contract, internship, temporary
    "valid_through": str,  # ISO 8601
}


def posting_facts(posting: Posting, first_seen: datetime | None = None) -> Facts:
    """The facts of a posting as a scrape yields it (structured `extra` first, then text).
    CPU-bound (about 3 ms for a long description): the daemon calls it in a worker thread."""
    return facts_of(
        title=posting.title,
        location=posting.location,
        remote=posting.remote,
        salary=posting.salary,
        description=posting.description,
        extra=posting.extra,
        posted_at=posting.posted_at,
        first_seen=first_seen,
    )


def facts_row(facts: Facts) -> dict[str, Any]:
    """The columns of FACT_COLUMNS holding `facts` (None where a fact is not stated)."""
    salary = facts.salary
    return {
        "salary_min": salary.min if salary else None,
        "salary_max": salary.max if salary else None,
        "salary_currency": salary.currency if salary else None,
        "salary_period": str(salary.period) if salary else None,
        "salary_yearly_min": salary.yearly_min if salary else None,
        "salary_yearly_max": salary.yearly_max if salary else None,
        "remote_mode": str(facts.remote.mode),
        # a place the posting rules out is written with a "-": "EU,-DE"
        "remote_regions": ",".join(
            [*sorted(facts.remote.regions), *(f"-{p}" for p in sorted(facts.remote.excluded))]
        )
        or None,
        "seniority": facts.seniority.name.lower() if facts.seniority is not None else None,
        "employment_type": str(facts.employment) if facts.employment is not None else None,
        "valid_through": facts.valid_through.isoformat() if facts.valid_through else None,
    }


def facts_from_row(
    row: Mapping[str, Any],
    *,
    location: str,
    posted_at: datetime | None,
    first_seen: datetime | None,
) -> Facts:
    """The Facts a row's FACT_COLUMNS hold (a row stored before the migration: none)."""
    salary = None
    if row.get("salary_currency") and (
        row.get("salary_min") is not None or row.get("salary_max") is not None
    ):
        salary = Salary(
            row.get("salary_min"),
            row.get("salary_max"),
            row["salary_currency"],
            Period(row.get("salary_period") or "year"),
        )
    places = [p for p in (row.get("remote_regions") or "").split(",") if p]
    regions = frozenset(p for p in places if not p.startswith("-"))
    excluded = frozenset(p[1:] for p in places if p.startswith("-"))
    seniority = row.get("seniority")
    employment = row.get("employment_type")
    valid = row.get("valid_through")
    return Facts(
        salary=salary,
        remote=RemoteScope(Mode(row.get("remote_mode") or "unknown"), regions, excluded),
        seniority=Seniority[seniority.upper()] if seniority else None,
        employment=Employment(employment) if employment else None,
        posted_at=posted_at,
        valid_through=datetime.fromisoformat(valid) if valid else None,
        first_seen=first_seen,
        location=location,
    )
