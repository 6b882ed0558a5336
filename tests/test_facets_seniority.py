"""Seniority and employment type facts: real titles (corpus, fixtures) and board values."""

from __future__ import annotations

import pytest

from bot.facets.employment import Employment, employment_from_structured, employment_from_text
from bot.facets.seniority import Seniority, seniority_from_title

S = Seniority

# Titles from ../shared/corpus (RemoteWLB) and the fixtures, with the level they state.
TITLES: list[tuple[str, Seniority | None]] = [
    ("Sr. Data Engineer", S.SENIOR),
    ("Sr. Android Engineer, Driver Framework", S.SENIOR),
    ("Senior Software Engineer", S.SENIOR),
    ("Senior Software Engineer II", S.SENIOR),
    ("Software Engineer III", S.SENIOR),
    ("2024-7224_QA Engineer II (Data-Actuarial)", S.MID),
    ("Android Software Engineer II", S.MID),
    ("mid-net-engineer-full-stack", S.MID),
    ("Analista de Desenvolvimento de Software Sênior Java", S.SENIOR),
    ("Staff Software Engineer", S.LEAD),
    ("Senior Staff Product Security Engineer", S.LEAD),
    ("Principal Ruby on Rails Engineer", S.LEAD),
    ("Senior/Principal Site Reliability Engineer (AdTech)", S.LEAD),
    ("Lead Engineer - Integrations Services", S.LEAD),
    ("Tech Lead Java - Aéronautique - Aix-en-Provence", S.LEAD),
    ("Team Lead Data Engineering - Analytics Platform (m/f/x)", S.LEAD),
    ("Leader Technique Full-Stack (H/F)", S.LEAD),
    ("Software Engineer L5, Payments", S.SENIOR),
    ("Engineering Manager - Kotlin Backend (m/f/x) onsite or remote in Germany", S.MANAGER),
    ("Senior Manager, Malware Reverse Engineering", S.MANAGER),
    ("Senior Product Manager", S.SENIOR),
    ("Product Manager", None),
    ("Head of European and UK Policy", S.DIRECTOR),
    ("VP Corporate Marketing Brand & Communications", S.DIRECTOR),
    ("Director of Engineering", S.DIRECTOR),
    ("Strong Junior .NET Developer (Business Process Automation)", S.JUNIOR),
    ("Jr Developer", S.JUNIOR),
    ("Graduate Software Engineer", S.JUNIOR),
    ("Software Engineer Internship - Testing, Technical Analysis, and Automation", S.INTERN),
    ("Co-op QA Automation Engineer (Fall)", S.INTERN),
    ("Alternance - Développeur(se) Java - Banque - Albi", S.INTERN),
    ("Werkstudent Softwareentwicklung (m/w/d)", S.INTERN),
    ("Software Engineer", None),
    ("Elastic Infrastructure and Data Engineer", None),
    ("Implementation Engineer", None),
]


@pytest.mark.parametrize(("title", "level"), TITLES)
def test_seniority_from_title(title: str, level: Seniority | None) -> None:
    assert seniority_from_title(title) is level


def test_levels_are_ordered() -> None:
    assert S.INTERN < S.JUNIOR < S.MID < S.SENIOR < S.LEAD < S.MANAGER < S.DIRECTOR
    assert Seniority.parse("staff") is S.LEAD
    assert Seniority.parse("Director+") is S.DIRECTOR
    with pytest.raises(ValueError, match="boss"):
        Seniority.parse("boss")


E = Employment


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("FULL_TIME", E.FULL_TIME),  # schema.org employmentType
        (["OTHER", "CONTRACTOR"], E.CONTRACT),  # schema.org list
        ("FullTime", E.FULL_TIME),  # Ashby employmentType (ashby_posting_api_nango.json)
        ("Full-time", E.FULL_TIME),  # Lever commitment (lever fixtures)
        ("Part-time", E.PART_TIME),
        ("Internship", E.INTERNSHIP),
        ("Regular Full Time (Salary)", E.FULL_TIME),  # Lever commitment (leverdemo 2026)
        ("Full time", E.FULL_TIME),  # Workday timeType (workday_cxs_job_detail_nvidia.json)
        ("TEMPORARY", E.TEMPORARY),
        ("INTERN", E.INTERNSHIP),
        ("permanent", E.FULL_TIME),  # Personio employmentType
        ("OTHER", None),
        ("", None),
        (None, None),
    ],
)
def test_employment_from_structured(value: str | list[str] | None, kind: Employment | None) -> None:
    assert employment_from_structured(value) is kind


@pytest.mark.parametrize(
    ("title", "description", "kind"),
    [
        ("Backend Engineer (Contract)", "", E.CONTRACT),
        ("Freelancer (m/w/d) gesucht: Inbound - Home Office in der EU!", "", E.CONTRACT),
        ("Part-time QA Tester", "", E.PART_TIME),
        ("Werkstudent Softwareentwicklung (m/w/d)", "", E.INTERNSHIP),
        ("Software Engineer", "Employment type: Contract", E.CONTRACT),
        ("Software Engineer", "You will work with full-time staff and contractors.", None),
        ("Senior Software Engineer", "", None),
        ("Contract Manager", "", None),  # regression: a role handling contracts, typed contract
        ("Senior Contract Analyst (m/f/d)", "", None),
        ("Contract Lead Engineer", "", E.CONTRACT),
        ("Contractor - Data Engineer", "", E.CONTRACT),
    ],
)
def test_employment_from_text(title: str, description: str, kind: Employment | None) -> None:
    assert employment_from_text(title, description) is kind
