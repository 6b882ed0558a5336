"""Facet terms of the query language and the facts of a posting they test.

One facet term (`salary>=90k EUR`, `remote:de`, `seniority>=senior`, `type:contract`, `age<14d`,
`onsite:berlin`; a trailing `!` makes the fact required) parses into a `FacetFilter`;
`matches(facts, now)` answers True, False, or None when the posting does not state the fact
(None passes by default; the alert says "salary not stated").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.errors import QueryError
from bot.facets.employment import Employment, employment_from_structured, employment_from_text
from bot.facets.remote import (
    WORLD,
    Mode,
    RemoteScope,
    open_to,
    place_of,
    scope_from_schema_org,
    scope_from_text,
    scope_from_workplace_type,
    shut_to,
)
from bot.facets.salary import CODES, Salary, salary_from_extra, salary_from_text
from bot.facets.seniority import Seniority, seniority_from_title
from bot.text import counted

FACETS = ("salary", "remote", "onsite", "seniority", "type", "age")
# How a facet term compares: `salary>=90k`, `remote:eu`, `seniority≥senior`.
OPERATORS = r">=|<=|≥|≤|>|<|:|="
_TERM = re.compile(
    rf"(?P<name>[a-z]+)\s*(?P<op>{OPERATORS})\s*(?P<value>[^<>=≥≤:\s].*?)\s*(?P<req>!)?$"
)
# Currencies whose unit is within a factor of about two of the US dollar: a filter without a
# currency compares with these as they are; a posting in another currency counts as unknown.
_DOLLAR_LIKE = frozenset(str.split("USD EUR GBP CHF CAD AUD NZD SGD"))
_AGE_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400}
_AGE_NAMES = {"h": "hour", "d": "day", "w": "week", "m": "month"}
AGE_MAX_DAYS = 3650  # age<…: ten years, longer than any board keeps a posting
# A salary figure with thousands separators: 90,000, 100.000, 120'000 (one kind of separator).
_THOUSANDS = re.compile(r"\d{1,3}(?P<sep>[.,'’])\d{3}(?:(?P=sep)\d{3})*")
# A filter's amount at most: beyond a year's pay in any currency's units (IDR, VND included).
SALARY_MAX = 100_000_000_000


class FacetError(QueryError, ValueError):
    """A facet term that cannot be understood; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a posting states about itself; None / `Mode.UNKNOWN` where it does not."""

    salary: Salary | None = None
    remote: RemoteScope = field(default_factory=RemoteScope)
    seniority: Seniority | None = None
    employment: Employment | None = None
    posted_at: datetime | None = None
    valid_through: datetime | None = None
    first_seen: datetime | None = None
    location: str = ""


def facts_of(
    *,
    title: str,
    location: str = "",
    remote: bool = False,
    salary: str = "",
    description: str = "",
    extra: Mapping[str, str] | None = None,
    posted_at: datetime | None = None,
    first_seen: datetime | None = None,
) -> Facts:
    """The facts of a posting from its stored fields. `extra` (`Posting.extra`) carries what a
    source read from structured data: `Salary.as_extra()` keys, `workplace_type`,
    `job_location_type` + `applicant_locations` (comma-separated names), `employment_type`,
    `valid_through` (ISO 8601). Structured facts win; text (salary field, title, then
    description) fills the rest."""
    extra = extra or {}
    found_salary = (
        salary_from_extra(extra)
        or salary_from_text(salary)
        or salary_from_text(title)
        or salary_from_text(description)
    )
    scope = _scope(extra, title, location, remote)
    employment = employment_from_structured(extra.get("employment_type")) or employment_from_text(
        title, description
    )
    valid_through = None
    if extra.get("valid_through"):
        try:
            valid_through = datetime.fromisoformat(extra["valid_through"])
        except ValueError:
            valid_through = None
    return Facts(
        salary=found_salary,
        remote=scope,
        seniority=seniority_from_title(title),
        employment=employment,
        posted_at=posted_at,
        valid_through=valid_through,
        first_seen=first_seen,
        location=location,
    )


def _scope(extra: Mapping[str, str], title: str, location: str, remote: bool) -> RemoteScope:
    """The remote scope from the structured data a source kept, else from the text."""
    if "job_location_type" in extra:
        names = extra.get("applicant_locations", "").split(",")
        countries = extra.get("job_countries", "").split(",")
        return scope_from_schema_org(extra["job_location_type"], names, location, title, countries)
    if extra.get("workplace_type"):
        return scope_from_workplace_type(extra["workplace_type"], location)
    return scope_from_text(location, remote=remote, title=title)


def _compare(op: str, left: float, right: float) -> bool:
    return {
        ">=": left >= right,
        ">": left > right,
        "<=": left <= right,
        "<": left < right,
        ":": left == right,
    }[op]


_SHOW_OP = {">=": "≥", "<=": "≤", ">": ">", "<": "<", ":": "="}


@dataclass(frozen=True, slots=True)
class FacetFilter:
    """One parsed facet term. `matches` gives None for an unknown fact unless `required`."""

    facet: str
    op: str
    value: str
    amount: float = 0.0
    currency: str | None = None
    required: bool = False

    def matches(self, facts: Facts, now: datetime) -> bool | None:
        """True/False, or None when the posting does not state the fact (False if required)."""
        result = self._test(facts, now)
        return False if result is None and self.required else result

    def unstated(self, facts: Facts, now: datetime) -> str | None:
        """What an alert says when the posting passed only because it does not state the fact
        ("salary not stated"), else None."""
        if self.required or self._test(facts, now) is not None:
            return None
        if self.facet == "salary" and facts.salary is not None:  # stated, in another currency
            return f"salary in {facts.salary.currency} not compared"
        return f"{_UNSTATED[self.facet]} not stated"

    def _test(self, facts: Facts, now: datetime) -> bool | None:  # noqa: C901 - one branch per facet, each a line or two
        if self.facet == "salary":
            return self._salary(facts.salary)
        if self.facet == "remote":
            scope = facts.remote
            if scope.mode is Mode.UNKNOWN:
                return None
            if self.value in ("yes", "no"):
                return (scope.mode is Mode.REMOTE) == (self.value == "yes")
            if scope.mode is not Mode.REMOTE or shut_to(scope, self.value):
                return False
            return open_to(scope, self.value) if scope.regions else None
        if self.facet == "onsite":
            if facts.remote.mode is Mode.REMOTE:
                return False
            if not facts.location:
                return None
            place = place_of(self.value)
            if place is not None and place != WORLD and place in facts.remote.regions:
                return True
            return f" {self.value} " in f" {_fold(facts.location)} "
        if self.facet == "seniority":
            if facts.seniority is None:
                return None
            return _compare(self.op, facts.seniority, self.amount)
        if self.facet == "type":
            return None if facts.employment is None else facts.employment.value == self.value
        if self.facet == "age":
            since = facts.posted_at or facts.first_seen
            if since is None:
                return None
            return _compare(self.op, (now - since).total_seconds(), self.amount)
        raise AssertionError(self.facet)

    def _salary(self, salary: Salary | None) -> bool | None:
        if salary is None:
            return None
        if self.currency is None:
            if salary.currency not in _DOLLAR_LIKE:
                return None
        elif salary.currency != self.currency:
            return False
        high, low = salary.yearly_max, salary.yearly_min
        # At least X: the most it may pay reaches X; at most X: the least it pays is within X.
        figure = (high if high is not None else low) if ">" in self.op else (low or high)
        return None if figure is None else _compare(self.op, figure, self.amount)

    def describe(self) -> str:
        """The term as understood, for `/subscribe`'s reply ("salary ≥ 90,000 EUR/year")."""
        req = " (required)" if self.required else ""
        op = _SHOW_OP[self.op]
        if self.facet == "salary":
            if self.currency:
                money = f"{self.amount:,.0f} {self.currency}"
                note = f" (postings paid in other currencies do not match){req}"
            else:
                money = f"{self.amount:,.0f}"
                note = f" (compared in USD, EUR, GBP, CHF, CAD, AUD, NZD or SGD){req}"
            return f"salary {op} {money}/year{note}"
        if self.facet == "remote":
            where = {"yes": "remote", "no": "not remote"}.get(self.value)
            return f"{where or 'remote, open to someone living in ' + self.value}{req}"
        if self.facet == "onsite":
            return f"onsite or hybrid in {self.value}{req}"
        if self.facet == "seniority":
            return f"seniority {op} {Seniority(int(self.amount)).name.lower()}{req}"
        if self.facet == "type":
            return f"employment {self.value.replace('_', '-')}{req}"
        count, unit = int(self.value[:-1]), _AGE_NAMES[self.value[-1]]
        span = counted(count, unit)
        return f"posted {'less' if '<' in self.op else 'more'} than {span} ago{req}"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", text))


def is_facet(term: str) -> bool:
    """True when `term` is written as a facet (`name` then `:`, `=`, `<`, `>`, `≥`, `≤`)."""
    found = _TERM.match(term.strip().lower())
    return found is not None and found.group("name") in FACETS


def _amount(text: str) -> tuple[float, str | None]:
    found = re.fullmatch(
        r"(?P<cur1>[$€£]|[a-z]{3})?\s*(?P<num>\d+(?:[.,'’]\d+)*)\s*(?P<k>[km])?\s*(?P<cur2>[a-z]{3}|[$€£])?",
        text,
    )
    if found is None:
        raise FacetError(f"salary: {text!r} is not an amount; write it like 90k, 90000 or 90k EUR")
    digits = found.group("num")
    if _THOUSANDS.fullmatch(digits):  # 90,000 / 100.000 / 120'000: groups of three
        number = float(re.sub(r"\D", "", digits))
    elif re.fullmatch(r"\d+(?:[.,]\d+)?", digits):  # 90 / 92.5k / 92,5k
        number = float(digits.replace(",", "."))
    else:
        raise FacetError(f"salary: {text!r} is not an amount; write it like 90k, 90000 or 90k EUR")
    number *= {"k": 1000, "m": 1_000_000}.get(found.group("k") or "", 1)
    if not 0 < number <= SALARY_MAX:
        raise FacetError(f"salary: {text!r} is out of range; write it like 90k or 90000")
    mark = found.group("cur1") or found.group("cur2")
    currency = {"$": "USD", "€": "EUR", "£": "GBP"}.get(mark or "", (mark or "").upper() or None)
    if currency is not None and currency not in CODES:
        raise FacetError(f"salary: {mark!r} is not a currency code I know (use e.g. EUR, USD)")
    return number, currency


def parse_facet(term: str) -> FacetFilter:  # noqa: C901 - one validation per facet's grammar, read top to bottom
    """One facet term -> FacetFilter. Raises FacetError with a user-facing message."""
    found = _TERM.match(term.strip().lower())
    if found is None or found.group("name") not in FACETS:
        raise FacetError(f"{term!r} is not a filter; facets are {', '.join(FACETS)}")
    name, value, required = found.group("name"), found.group("value"), bool(found.group("req"))
    op = {"≥": ">=", "≤": "<=", "=": ":"}.get(found.group("op"), found.group("op"))
    if name == "salary":
        if op == ":":
            raise FacetError("salary needs a comparison: salary>=90k or salary<=120k EUR")
        amount, currency = _amount(value)
        return FacetFilter(name, op, value, amount, currency, required)
    if name in ("remote", "onsite", "type") and op != ":":
        raise FacetError(f"{name} takes a value after a colon, like {FACET_EXAMPLES[name]}")
    if name == "remote":
        if value in ("yes", "true"):
            return FacetFilter(name, op, "yes", required=required)
        if value in ("no", "false"):
            return FacetFilter(name, op, "no", required=required)
        place = place_of(value)
        if place is None:
            raise FacetError(f"remote: {value!r} is not a country or region (try de, eu, emea)")
        return FacetFilter(name, op, place, required=required)
    if name == "onsite":
        return FacetFilter(name, op, _fold(value), required=required)
    if name == "type":
        kind = employment_from_structured(value)
        if kind is None:
            raise FacetError(
                f"type: {value!r} is not one of {', '.join(e.value for e in Employment)}"
            )
        return FacetFilter(name, op, kind.value, required=required)
    if name == "seniority":
        try:
            level = Seniority.parse(value)
        except ValueError:
            names = ", ".join(s.name.lower() for s in Seniority)
            raise FacetError(f"seniority: {value!r} is not one of {names}") from None
        return FacetFilter(name, op, level.name.lower(), float(level), required=required)
    age = re.fullmatch(r"(\d+)\s*([hdwm])", value)
    if age is None or op == ":":
        raise FacetError("age takes a comparison and a duration, like age<14d (h, d, w, m)")
    digits = age.group(1).lstrip("0") or "0"
    seconds = int(digits) * _AGE_UNITS[age.group(2)] if len(digits) <= 6 else -1  # -1: too long
    if not 0 < seconds <= AGE_MAX_DAYS * 86400:
        raise FacetError(f"age: {value!r} is out of range; use 1h to {AGE_MAX_DAYS}d")
    value = f"{digits}{age.group(2)}"
    return FacetFilter(name, op, value, float(seconds), required=required)


_UNSTATED = {
    "salary": "salary",
    "remote": "remote scope",
    "onsite": "location",
    "seniority": "seniority",
    "type": "employment type",
    "age": "date",
}
FACET_EXAMPLES = {
    "salary": "salary>=90k",
    "remote": "remote:eu",
    "onsite": "onsite:berlin",
    "seniority": "seniority>=senior",
    "type": "type:contract",
    "age": "age<14d",
}
