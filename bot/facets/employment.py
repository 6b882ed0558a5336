"""Employment type of a posting: from a board's structured value, else explicit title text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class Employment(StrEnum):
    """How a job is held."""

    FULL_TIME = "full_time"
    PART_TIME = "part_time"
    CONTRACT = "contract"
    INTERNSHIP = "internship"
    TEMPORARY = "temporary"


# Structured values, letters only and lower case: schema.org employmentType (FULL_TIME,
# PART_TIME, CONTRACTOR, TEMPORARY, INTERN), Lever `commitment` ("Full-time", "Part-time",
# "Internship"), Workday `timeType` ("Full time"), Ashby `employmentType` ("FullTime",
# "Contract"), Personio `schedule`/`employmentType` ("full-time", "permanent", "intern").
_STRUCTURED = {
    "fulltime": Employment.FULL_TIME,
    "full": Employment.FULL_TIME,
    "permanent": Employment.FULL_TIME,
    "vollzeit": Employment.FULL_TIME,
    "parttime": Employment.PART_TIME,
    "part": Employment.PART_TIME,
    "teilzeit": Employment.PART_TIME,
    "contract": Employment.CONTRACT,
    "contractor": Employment.CONTRACT,
    "freelance": Employment.CONTRACT,
    "freelancer": Employment.CONTRACT,
    "intern": Employment.INTERNSHIP,
    "internship": Employment.INTERNSHIP,
    "trainee": Employment.INTERNSHIP,
    "workingstudent": Employment.INTERNSHIP,
    "werkstudent": Employment.INTERNSHIP,
    "temporary": Employment.TEMPORARY,
    "temp": Employment.TEMPORARY,
    "fixedterm": Employment.TEMPORARY,
    "seasonal": Employment.TEMPORARY,
}
_CONTRACT_ROLES = (
    r"(?:manager|management|specialist|administrator|analyst|coordinator|officer|lawyer"
    r"|attorney|counsel|negotiator|director)\b"
)
_TEXT = (
    (Employment.INTERNSHIP, r"intern(?:ship)?|werkstudent\w*|working student|praktikum"),
    # "Contract Manager", "Contract Analyst": a role handling contracts, not a contract job
    (Employment.CONTRACT, rf"contract(?:or)?(?!\s+{_CONTRACT_ROLES})|freelance(?:r)?|b2b|1099"),
    (Employment.PART_TIME, r"part[- ]?time|teilzeit"),
    (Employment.TEMPORARY, r"temporary|temp|fixed[- ]term|befristet|seasonal"),
    (Employment.FULL_TIME, r"full[- ]?time|vollzeit|permanent|festanstellung"),
)
_TITLE = tuple((kind, re.compile(rf"\b(?:{words})\b", re.IGNORECASE)) for kind, words in _TEXT)
# In a description only a labelled statement counts ("Employment type: Contract"): prose
# mentions "full-time" and "contractors" for many other reasons.
_LABELLED = tuple(
    (
        kind,
        re.compile(
            rf"\b(?:employment|job|contract|position|work) ?type\W{{0,4}}(?:{words})\b",
            re.IGNORECASE,
        ),
    )
    for kind, words in _TEXT
)


def employment_from_structured(value: str | Iterable[str] | None) -> Employment | None:
    """The type a board's structured value names (a string or a list, first known one wins), else
    None ("OTHER", "PER_DIEM", "VOLUNTEER", empty)."""
    values = [value] if isinstance(value, str) else list(value or ())
    for item in values:
        key = re.sub(r"[^a-z]", "", item.lower())
        if key in _STRUCTURED:
            return _STRUCTURED[key]
        key = re.sub(r"(?:time|employee|position|job)$", "", key)
        if key in _STRUCTURED:
            return _STRUCTURED[key]
        for kind, pattern in _TITLE:  # "Regular Full Time (Salary)" (a Lever commitment)
            if pattern.search(item):
                return kind
    return None


def employment_from_text(title: str, description: str = "") -> Employment | None:
    """The type a title states ("Backend Engineer (Contract)", "Werkstudent", "Part-time QA"),
    else one a description states with a label ("Employment type: Contract"), else None."""
    for patterns, text in ((_TITLE, title), (_LABELLED, description)):
        for kind, pattern in patterns:
            if pattern.search(text):
                return kind
    return None
