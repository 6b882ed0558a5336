"""Salary: the pay a posting states, from a board's structured data or from its text.

A `Salary` keeps the figures as stated (`min`/`max` in `currency` per `period`) and a yearly figure
in the same currency for comparison. Currencies are never converted. Text that is not a salary
("competitive", "$500 sign-on bonus", "401k", "$58M raised") gives None, never a wrong salary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Period(StrEnum):
    """The unit of time a salary figure is paid per."""

    YEAR = "year"
    MONTH = "month"
    WEEK = "week"
    DAY = "day"
    HOUR = "hour"


# Full-time working periods in a year, the factors US payroll practice uses to annualise pay
# (U.S. OPM, "Pay Administration": 2,087/2,080 hours; 52 weeks; 260 working days = 52 × 5;
# 12 months). A yearly figure is `amount × PER_YEAR[period]`.
PER_YEAR: Mapping[Period, int] = {
    Period.YEAR: 1,
    Period.MONTH: 12,
    Period.WEEK: 52,
    Period.DAY: 260,
    Period.HOUR: 2080,
}
_SHORT_PERIOD = {"year": "yr", "month": "mo", "week": "wk", "day": "day", "hour": "hr"}
# Plausible yearly pay in any currency: below this a "year" figure is a stipend or a typo; above,
# it is a funding round (JPY and KRW salaries reach tens of millions, so the bound is generous).
_MIN_YEARLY = 1_000
_MAX_YEARLY = 1_000_000_000
# From text, where perks and allowances look like pay, a figure must come to 5,000 a year.
_MIN_TEXT_YEARLY = 5_000
_SYMBOLS = {
    "US$": "USD",
    "CA$": "CAD",
    "C$": "CAD",
    "AU$": "AUD",
    "A$": "AUD",
    "NZ$": "NZD",
    "S$": "SGD",
    "HK$": "HKD",
    "R$": "BRL",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
}
# ISO 4217 codes a posting's text may write beside an amount (a fixed list: any three capitals
# would take "ARR" or "CEO" for a currency).
CODES = frozenset(
    str.split(
        "USD EUR GBP CAD AUD NZD CHF JPY INR PLN SEK NOK DKK CZK HUF RON BRL MXN SGD HKD ZAR ILS "
        "TRY CNY KRW"
    )
)
_CODE = "|".join(sorted(CODES))
_SYM = r"(?:US|CA|C|AU|A|NZ|S|HK|R)?\$|€|£|¥|₹"
_CUR = rf"(?:(?:{_CODE})\s?(?:{_SYM})?|{_SYM})"
# Indian grouping first ("12,00,000": lakhs of two digits, then the last three), then the usual.
_NUM = (
    r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d{1,2})?"
    r"|\d{1,3}(?:[,.'\u202f\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
)
# "25 LPA", "₹8-12 LPA", "18 lakhs per annum": lakhs (100,000 rupees) a year, as Indian postings
# write it.
_LPA = re.compile(
    r"(?<![\w.,])(?:₹|INR|Rs\.?)?\s?(?P<a>\d{1,3}(?:\.\d{1,2})?)"
    r"(?:\s?(?:-|–|to)\s?(?P<b>\d{1,3}(?:\.\d{1,2})?))?"
    r"\s?(?:LPA|lakhs?\s(?:per annum|p\.?a\.?)|lacs?\s(?:per annum|p\.?a\.?))\b",
    re.IGNORECASE,
)
_LAKH = 100_000
_PERIOD_WORDS = (
    r"\(?(?:(?:gross|net|brutto|netto|brut|before tax)\s?)?(?:(?:/|per|a|an|each|p\.?|pro|par)\s?)?"
    r"(?P<{g}>years?|yr|annum|annual(?:ly)?|yearly|months?|mo|monthly|weeks?|wk|weekly"
    r"|days?|daily|hours?|hourly|hr|h|monatlich|monat|mois|mensuel|jahr|jährlich|jour|j"
    r"|stunde|tag)\b\.?"
    r"|(?P<{g}pa>p\.\s?a\.|pa\b)"
)
# A period word's stem -> Period (English, German, French as postings write them).
_PERIOD_STEMS = (
    ("jour", Period.DAY),
    ("j", Period.DAY),
    ("jahr", Period.YEAR),
    ("jähr", Period.YEAR),
    ("an", Period.YEAR),
    ("mo", Period.MONTH),
    ("stunde", Period.HOUR),
    ("tag", Period.DAY),
    ("y", Period.YEAR),
    ("w", Period.WEEK),
    ("d", Period.DAY),
    ("h", Period.HOUR),
)


def _amount(tag: str) -> str:
    return (
        rf"(?P<{tag}cur1>{_CUR})?\s?(?P<{tag}num>{_NUM})(?![\d,.]?\d)\s?"
        rf"(?P<{tag}k>[kK](?![a-zA-Z]))?(?P<{tag}plus>\+)?\s?(?P<{tag}cur2>(?:{_CODE})\b|€|£|euros?\b)?"
    )


_SALARY = re.compile(
    rf"(?<![\w.,]){_amount('a')}\s?(?:{_PERIOD_WORDS.format(g='p1')})?"
    rf"(?:\s?(?:-|–|—|~|to|and|bis|und|à|et|y|a|e)\s?{_amount('b')})?"
    rf"(?:\s?(?:{_PERIOD_WORDS.format(g='p2')}))?",
    re.IGNORECASE,
)
# What follows an amount that makes it not a salary: a magnitude (funding, revenue), or a perk.
_MAGNITUDE = re.compile(
    r"\s?(?:(?:in |of )?(?:equity|stock|shares|rsus?)\b|[mb]n?\b|mm\b|million|billion"
    r"|milliard\w*|trillion|mil\b|%|\s?(?:in assets|funding|revenue|arr\b|valuation))",
    re.IGNORECASE,
)
# A perk named right after a single figure ("$500 sign-on bonus", "$1,000 USD annual stipend");
# after a range ("$100,000 - $115,000 plus bonus") the range is the salary.
_PERK = re.compile(
    r"\s?(?:[\w-]+\s){0,3}(?:bonus|stipend|budget|allowance|reimburse\w*|donation|sign[- ]?on"
    r"|signing|relocation|credit|voucher|gift|grant|per employee)",
    re.IGNORECASE,
)
# Words shortly before a figure that make it not pay ("raised over $58M", "Food vouchers of
# 3,257 MXN / month", "annual $1,500 education stipend" is caught after the figure instead).
_NOT_BEFORE = re.compile(
    r"(?:raised|funding|revenue|arr|valuation|bonus|stipend|budget|allowance|worth|over"
    r"|reimbursement|investment|vouchers?|credits?|donations?)\W+(?:\w+\W+)?$",
    re.IGNORECASE,
)
# A "$" after two capitals that are no currency prefix ("UY $168K", "AR $2.2M") or a figure
# followed by capitals that are no ISO code ("$168K URU"): some other dollar or peso.
_FOREIGN_BEFORE = re.compile(r"\b(?!US)[A-Z]{2}\s$")
_FOREIGN_AFTER = re.compile(r"\s?([A-Z]{3})\b")
# Capitals after a figure that are not a currency but say how it is paid: on-target earnings,
# depending on experience / qualifications, based on experience.
_PAY_TERMS = frozenset({"OTE", "DOE", "DOQ", "BOE"})
_FROM = re.compile(r"\b(?:from|starting at|at least|minimum(?: of)?|ab)\s*$", re.IGNORECASE)
_UP_TO = re.compile(r"\b(?:up to|bis zu|jusqu'à|maximum(?: of)?)\s*$", re.IGNORECASE)
_PERIOD_OF = {
    "y": Period.YEAR,
    "a": Period.YEAR,
    "p": Period.YEAR,
    "m": Period.MONTH,
    "w": Period.WEEK,
    "d": Period.DAY,
    "h": Period.HOUR,
}


@dataclass(frozen=True, slots=True)
class Salary:
    """Pay as stated: `min`/`max` (either may be None, not both) in `currency` (ISO 4217) per
    `period`; `yearly_min`/`yearly_max` are the same figures per year (factors in `PER_YEAR`)."""

    min: float | None
    max: float | None
    currency: str
    period: Period = Period.YEAR

    @property
    def yearly_min(self) -> float | None:
        """`min` per year, in `currency`."""
        return None if self.min is None else self.min * PER_YEAR[self.period]

    @property
    def yearly_max(self) -> float | None:
        """`max` per year, in `currency`."""
        return None if self.max is None else self.max * PER_YEAR[self.period]

    def compact(self) -> str:
        """A short label for an alert line: "€80–95k/yr", "$45/hr", "from £60k/yr"."""
        symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(self.currency)
        low, high = self.min, self.max
        thousands = all(v is None or v >= 1000 for v in (low, high))

        def figure(value: float) -> tuple[str, str]:  # (number, unit): ("92.5", "k")
            if not thousands:
                return (f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"), ""
            scale, unit = (1_000_000, "M") if value >= 1_000_000 else (1000, "k")
            return f"{value / scale:,.1f}".removesuffix(".0"), unit

        prefix = ""
        if low is not None and high is not None and low != high:
            (a, a_unit), (b, b_unit) = figure(low), figure(high)
            # "80–95k", not "80k–95k"; "800k–1.2M"
            text = f"{a}–{b}{b_unit}" if a_unit == b_unit else f"{a}{a_unit}–{b}{b_unit}"
        elif low is not None:
            text = "".join(figure(low))
            prefix = "" if high is not None else "from "
        else:
            text, prefix = "".join(figure(high or 0)), "up to "
        money = f"{prefix}{symbol}{text}" if symbol else f"{prefix}{text} {self.currency}"
        return f"{money}/{_SHORT_PERIOD[self.period]}"

    def as_extra(self) -> dict[str, str]:
        """The salary as `Posting.extra` entries (`salary_min`, `salary_max`, `salary_currency`,
        `salary_period`), read back by `salary_from_extra`."""
        extra = {"salary_currency": self.currency, "salary_period": str(self.period)}
        if self.min is not None:
            extra["salary_min"] = f"{self.min:g}"
        if self.max is not None:
            extra["salary_max"] = f"{self.max:g}"
        return extra


def period_of(unit: object) -> Period | None:
    """The `Period` a board's unit names: schema.org `unitText` (HOUR, DAY, WEEK, MONTH, YEAR),
    Lever `interval` ("per-year-salary", "per-hour-wage"), Ashby `interval` ("1 YEAR"), Personio
    `type` ("yearly"); None for anything else ("one-time", "NONE")."""
    if not isinstance(unit, str):
        return None
    word = re.sub(r"^(?:per[-_ ]|1\s)", "", unit.strip().lower())
    if word.startswith(("one", "none", "per-")) or not word:
        return None
    if word.startswith("an"):  # annual
        return Period.YEAR
    return _PERIOD_OF.get(word[0]) if word[0] in "ymwdh" else None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return number if number > 0 else None


def salary_from_range(
    low: object, high: object, currency: object, period: Period | None = Period.YEAR
) -> Salary | None:
    """A Salary from structured figures (numbers or numeric strings; 0 or empty = absent), an
    ISO 4217 code and a period; None when no figure, no known currency code or no period, or when
    the yearly figure is implausible (below 1,000 or above 10^9)."""
    lo, hi = _number(low), _number(high)
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if period is None or (lo is None and hi is None) or not re.fullmatch(r"[A-Z]{3}", code):
        return None
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    salary = Salary(lo, hi, code, period)
    yearly = [v for v in (salary.yearly_min, salary.yearly_max) if v is not None]
    if not all(_MIN_YEARLY <= v <= _MAX_YEARLY for v in yearly):
        return None
    return salary


def salary_from_lever(salary_range: Mapping[str, object] | None) -> Salary | None:
    """Lever postings API `salaryRange {currency, interval, min, max}` (interval such as
    "per-year-salary", "per-hour-wage"; Lever postings API docs, fixtures/FORMATS.md)."""
    if not salary_range:
        return None
    return salary_from_range(
        salary_range.get("min"),
        salary_range.get("max"),
        salary_range.get("currency"),
        period_of(salary_range.get("interval")),
    )


def salary_from_ashby(compensation: Mapping[str, object] | None) -> Salary | None:
    """Ashby posting API `compensation`: the `summaryComponents` entry (else the first tier's
    `components` entry) whose `compensationType` is "Salary", with `interval` "1 YEAR" etc."""
    if not compensation:
        return None
    groups: list[object] = [compensation.get("summaryComponents")]
    tiers = compensation.get("compensationTiers")
    if isinstance(tiers, list):
        groups += [tier.get("components") for tier in tiers if isinstance(tier, Mapping)]
    for group in groups:
        for part in group if isinstance(group, list) else ():
            if isinstance(part, Mapping) and part.get("compensationType") == "Salary":
                salary = salary_from_range(
                    part.get("minValue"),
                    part.get("maxValue"),
                    part.get("currencyCode"),
                    period_of(part.get("interval")),
                )
                if salary is not None:
                    return salary
    summary = compensation.get("compensationTierSummary")
    return salary_from_text(summary) if isinstance(summary, str) else None


def salary_from_schema_org(amount: object) -> Salary | None:
    """schema.org `baseSalary` / `estimatedSalary`: a `MonetaryAmount {currency, value}` whose
    value is a number or a `QuantitativeValue {value | minValue, maxValue, unitText}`
    (https://schema.org/MonetaryAmount); a list takes its first usable entry. No `unitText`
    means a year (Google's JobPosting guide lists HOUR, DAY, WEEK, MONTH, YEAR)."""
    if isinstance(amount, list):
        for item in amount:
            if (salary := salary_from_schema_org(item)) is not None:
                return salary
        return None
    if not isinstance(amount, Mapping):
        return None
    value = amount.get("value")
    currency = amount.get("currency")
    if isinstance(value, Mapping):
        unit = value.get("unitText") or amount.get("unitText") or "YEAR"
        low = value.get("minValue", value.get("value"))
        high = value.get("maxValue", value.get("value"))
        return salary_from_range(low, high, currency, period_of(unit))
    unit = amount.get("unitText") or "YEAR"
    return salary_from_range(value, value, currency, period_of(unit))


def salary_from_remoteok(salary_min: object, salary_max: object) -> Salary | None:
    """RemoteOK API `salary_min`/`salary_max`: US dollars per year, 0 meaning not stated
    (remoteok.com/api; its job form asks for a yearly USD range)."""
    return salary_from_range(salary_min, salary_max, "USD", Period.YEAR)


def salary_from_remotewlb(badge: str) -> Salary | None:
    """The RemoteWLB markdown `💰` badge ("💰 USD $190,800~$267,100"): a yearly range."""
    return salary_from_text(badge.replace("💰", " "), default_period=Period.YEAR)


def salary_from_extra(extra: Mapping[str, str]) -> Salary | None:
    """The salary a source stored in `Posting.extra` with `Salary.as_extra`, else None."""
    if "salary_currency" not in extra:
        return None
    try:
        period = Period(extra.get("salary_period", "year"))
    except ValueError:
        return None
    return salary_from_range(
        extra.get("salary_min"), extra.get("salary_max"), extra["salary_currency"], period
    )


def _parse_number(text: str) -> float:
    text = re.sub(r"[\s\u202f\u00a0']", "", text)
    decimal = re.search(r"[.,](\d{1,2})$", text)
    whole = text[: decimal.start()] if decimal else text
    number = float(re.sub(r"[.,]", "", whole) or "0")
    return number + (float(f"0.{decimal.group(1)}") if decimal else 0.0)


def _currency(*marks: str | None) -> str | None:
    symbols = [m.strip() for m in marks if m and m.strip()]
    for mark in symbols:  # a code wins over a symbol: "CAD $146,000", "$147,000 CAD"
        code = re.match(r"[A-Za-z]{3}", mark)
        if code and code.group().upper() in CODES:
            return code.group().upper()
        if mark.lower().startswith("euro"):
            return "EUR"
    for mark in symbols:
        if mark in _SYMBOLS:
            return _SYMBOLS[mark]
    return None


def _period(match: re.Match[str]) -> Period | None:
    for group in ("p1", "p2"):
        if match.group(f"{group}pa"):
            return Period.YEAR
        if word := match.group(group):
            word = word.lower()
            return next(period for stem, period in _PERIOD_STEMS if word.startswith(stem))
    return None


def _one(  # noqa: C901 - the guards against non-salaries, each one rule of the table test
    match: re.Match[str], text: str, default_period: Period | None
) -> Salary | None:
    a_num, b_num = match.group("anum"), match.group("bnum")
    if match.group("acur1") == "$" and _FOREIGN_BEFORE.search(text[: match.start()][-4:]):
        return None
    foreign = _FOREIGN_AFTER.match(text, match.end())
    if foreign and foreign.group(1) not in CODES | _PAY_TERMS:
        return None
    if _MAGNITUDE.match(text, match.end()) or _NOT_BEFORE.search(text[: match.start()][-30:]):
        return None
    if b_num is None and _PERK.match(text, match.end()):
        return None
    currency = _currency(
        match.group("acur1"), match.group("acur2"), match.group("bcur1"), match.group("bcur2")
    )
    if currency is None:
        return None
    low = _parse_number(a_num)
    high = _parse_number(b_num) if b_num else None
    before = text[: match.start()][-20:]
    # "$110,000+ / year", "from $120k", "up to €90k": one end of the range only.
    open_ended = high is None and (bool(match.group("aplus")) or bool(_FROM.search(before)))
    up_to = high is None and bool(_UP_TO.search(before))
    a_k, b_k = bool(match.group("ak")), bool(match.group("bk"))
    # "€60–70k": the k of the second figure covers a bare first; a grouped figure ("$94,000k")
    # is already in units, its k a slip.
    if low < 1000 and (a_k or (b_k and not a_k and high is not None and high < 1000)):
        low *= 1000
    if high is not None and high < 1000 and b_k:
        high *= 1000
    if high is not None and low > high:
        return None
    period = _period(match)
    if period is None:
        # No period stated: only a figure that can only be yearly pay counts.
        if low < 10_000:
            return None
        period = default_period or Period.YEAR
    if period is Period.YEAR and low < 10_000:
        return None
    if low * PER_YEAR[period] < _MIN_TEXT_YEARLY:  # "$250 a month to get you set up"
        return None
    if up_to:
        return salary_from_range(None, low, currency, period)
    return salary_from_range(low, None if open_ended else high or low, currency, period)


def salary_from_text(text: str, default_period: Period | None = None) -> Salary | None:
    """The first salary a title, badge or description states ("$120,000 – $150,000 a year",
    "€60–70k", "£450/day", "80.000 € brutto", "USD 150,000–250,000 per year", "₹12,00,000",
    "8-12 LPA"), else None.

    A figure needs a currency (symbol or ISO code); one without a period counts only if it is at
    least 10,000 (then yearly). A figure followed by a magnitude or a perk ("$58M", "$500
    sign-on bonus", "$1,000 stipend") or after "raised", "up to", "budget" is skipped.
    """
    # Markdown and HTML emphasis splits figures from their currency and period:
    # "CAD **$200,000 - $220,000.**", "**$111,000/year** to **$185,000/year**".
    text = re.sub(r"[*_`]+|</?(?:b|strong|em|i)>", "", text)
    for match in _SALARY.finditer(text):
        if (salary := _one(match, text, default_period)) is not None:
            return salary
    if (lakhs := _LPA.search(text)) is not None:
        low = float(lakhs.group("a")) * _LAKH
        high = float(lakhs.group("b")) * _LAKH if lakhs.group("b") else low
        return salary_from_range(low, high, "INR", Period.YEAR) if low <= high else None
    return None
