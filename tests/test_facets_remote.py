"""Remote scope facts: location strings from the corpus and fixtures -> mode and regions."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.facets.filters import Facts, parse_facet
from bot.facets.remote import (
    EU,
    EUROPE,
    JOB_LOCATION_OFFICE,
    REGIONS,
    WORLD,
    Mode,
    RemoteScope,
    open_to,
    place_of,
    scope_from_schema_org,
    scope_from_text,
    scope_from_workplace_type,
)
from bot.store.facts import facts_from_row, facts_row

FIXTURES = Path(__file__).parent / "fixtures"
R, HY, ON, UN = Mode.REMOTE, Mode.HYBRID, Mode.ONSITE, Mode.UNKNOWN

# Location strings as boards write them: RemoteWLB `🌎` badges (corpus), RemoteOK and Ashby
# `location` (fixtures), We Work Remotely `<region>` (fixtures), and the issue's examples.
TABLE: list[tuple[str, Mode, set[str]]] = [
    ("Remote (EU only)", R, {"EU"}),
    # regressions (tester): a way of working the text rules out is not the mode
    ("Remote EU, no hybrid", R, {"EU"}),
    ("non-remote, on-site", ON, set()),
    ("USA Only", R, {"US"}),
    ("Anywhere in the World", R, {WORLD}),
    ("remote,Asia", R, {"ASIA"}),
    ("Remote - Germany", R, {"DE"}),
    ("Hybrid, Berlin", HY, set()),
    ("Remote", R, set()),
    ("Remote,Berlin, Germany", R, {"DE"}),
    ("Remote, US", R, {"US"}),
    ("Remote,Warsaw, Poland", R, {"PL"}),
    ("Remote,San Francisco, CA", R, {"US"}),
    ("US Remote", R, {"US"}),
    ("Remote,London, United Kingdom", R, {"GB"}),
    ("Remote,Quezon City, National Capital Region, Philippines, Philippines", R, {"PH"}),
    ("Remote,München, Germany", R, {"DE"}),
    ("Remote,Mumbai, India", R, {"IN"}),
    ("Remote - United States", R, {"US"}),
    ("Remote - Portugal", R, {"PT"}),
    ("Remote,Montréal, Canada", R, {"CA"}),
    ("Remote,Ho Chi Minh City, Viet Nam", R, {"VN"}),
    ("Remote,Prague, Czech Republic", R, {"CZ"}),
    ("Remote,Ciudad de México, Mexico", R, {"MX"}),
    ("remote,Remote", R, set()),
    ("United States (Remote)", R, {"US"}),
    ("Remote-US", R, {"US"}),
    ("Remote within US", R, {"US"}),
    ("United States | Remote", R, {"US"}),
    ("United States of America - Remote / Home Office", R, {"US"}),
    ("USA, Canada, Mexico - Remote", R, {"US", "CA", "MX"}),
    (
        "CANADA - Remote, EMEA - Remote, LATAM - Remote, UNITED STATES - Remote",
        R,
        {"CA", "EMEA", "LATAM", "US"},
    ),
    ("Remote, Canada", R, {"CA"}),
    ("Remote (Florida)", R, {"US"}),
    ("Remote,Englewood Cliffs, NEW JERSEY", R, {"US"}),
    ("Hybrid / Bungie-Approved Remote Locations", HY, set()),
    ("Denver, CO; New York City, NY; United States (Remote);", R, {"US"}),
    ("Dublin", UN, set()),
    ("Seattle, WA", UN, {"US"}),
    ("United States", UN, {"US"}),
    ("Troy, MI", UN, {"US"}),
    ("Bombay, MH", UN, set()),
    ("United States - Remote Flexibility", R, {"US"}),
    ("Europe", UN, {"EUROPE"}),
    ("Remote, U.S.", R, {"US"}),
    ("Phoenix - remote first in US", R, {"US"}),
    ("Dublin - remote first in IE", R, {"IE"}),
    ("remote,Toronto, Ontario", R, {"CA"}),
    ("Mountain View, CA / Remote friendly (US + Canada Only)", R, {"US", "CA"}),
    ("Remote,Lithuania, Poland, Germany, Cyprus", R, {"LT", "PL", "DE", "CY"}),
    ("Remote,Dodoma, Tanzania, United Republic Of", R, {"TZ"}),
    ("Remote,Global, OTHER", R, {WORLD}),
    ("remote,Poznan", R, set()),
    ("Houghton Le Spring, England, United Kingdom", UN, {"GB"}),
    # A negated place is ruled out, "-" here as in the stored column (issue 11 testers): not a
    # place the job is open to, and one a remote:XX filter for it does not match.
    ("Remote - not available in Germany", R, {"-DE"}),
    ("Remote within Europe (no UK)", R, {"EUROPE", "-GB"}),
    ("Remote (EU, excluding Germany)", R, {"EU", "-DE"}),
    ("Remote (EU, excluding Germany and Austria)", R, {"EU", "-DE", "-AT"}),
    ("Remote, Europe ex. UK", R, {"EUROPE", "-GB"}),
    ("Remote Europe except UK", R, {"EUROPE", "-GB"}),
    ("Remote - not open to UK", R, {"-GB"}),
    ("Remote (outside US)", R, {"-US"}),
    ("Remote (anywhere except US)", R, {WORLD, "-US"}),
    ("Europe (no UK), US", UN, {"EUROPE", "US", "-GB"}),
    ("Remote - no visa sponsorship, US only", R, {"US"}),
    ("Remote - not available in Germany, Remote - US", R, {"US", "-DE"}),
    # A world-wide place alone is a remote posting (issue 11 tester); a hybrid or onsite word wins.
    ("Worldwide", R, {WORLD}),
    ("Global", R, {WORLD}),
    ("Hybrid, Worldwide", HY, {WORLD}),
    ("Onsite, Global", ON, {WORLD}),
]


@pytest.mark.parametrize(("location", "mode", "regions"), TABLE)
def test_scope_from_text(location: str, mode: Mode, regions: set[str]) -> None:
    ruled_out = frozenset(r[1:] for r in regions if r.startswith("-"))
    stated = frozenset(r for r in regions if not r.startswith("-"))
    assert scope_from_text(location) == RemoteScope(mode, stated, ruled_out)


def test_negated_country_is_not_read_as_open_to_it() -> None:
    # Regression: "Remote - not available in Germany" matched remote:de.
    assert not open_to(scope_from_text("Remote - not available in Germany"), "DE")


@pytest.mark.parametrize(
    ("location", "query", "expected"),
    [
        # Regressions (issue 11 tester): a place ruled out still matched through its region.
        ("Remote (EU, excluding Germany)", "remote:de", False),
        ("Remote (EU, excluding Germany)", "remote:fr", True),
        ("Remote (EU, excluding Germany)", "remote:eu", True),  # the EU, less one country
        ("Remote within Europe (no UK)", "remote:gb", False),
        ("Remote (anywhere except US)", "remote:us", False),
        ("Remote (anywhere except US)", "remote:de", True),
        ("Remote (anywhere except US)", "remote:world", False),
        ("Remote - not available in Germany", "remote:de", False),  # was: unknown, passed
        ("Remote - not available in Germany", "remote:fr", None),
    ],
)
def test_a_place_ruled_out_does_not_match_its_filter(
    location: str, query: str, expected: bool | None
) -> None:
    facts = Facts(remote=scope_from_text(location))
    assert parse_facet(query).matches(facts, datetime(2026, 11, 30, tzinfo=UTC)) is expected


def test_ruled_out_places_are_stored_and_read_back() -> None:
    facts = Facts(remote=scope_from_text("Remote (EU, excluding Germany and Austria)"))
    row = facts_row(facts)
    assert row["remote_regions"] == "EU,-AT,-DE"
    back = facts_from_row(row, location="", posted_at=None, first_seen=None)
    assert back.remote == facts.remote
    assert back.remote.label() == "Remote · EU, not AT, not DE"


def test_worldwide_alone_is_remote_not_unknown() -> None:
    # Regression: "Worldwide" gave mode unknown, so its alert showed no remote scope.
    assert scope_from_text("Worldwide") == RemoteScope(R, frozenset({WORLD}))
    assert scope_from_text("Worldwide").label() == "Remote · anywhere"


def test_board_remote_flag_makes_a_plain_location_remote() -> None:
    # Ashby's isRemote with location "Europe" (ashby_posting_api_nango.json).
    assert scope_from_text("Europe", remote=True) == RemoteScope(R, frozenset({"EUROPE"}))


@pytest.mark.parametrize(
    ("scope", "place", "expected"),
    [
        (RemoteScope(R, frozenset({"DE"})), "DE", True),
        (RemoteScope(R, frozenset({"EU"})), "DE", True),
        (RemoteScope(R, frozenset({"EUROPE"})), "DE", True),
        (RemoteScope(R, frozenset({"EMEA"})), "DE", True),
        (RemoteScope(R, frozenset({WORLD})), "DE", True),
        (RemoteScope(R, frozenset({"US"})), "DE", False),
        (RemoteScope(R, frozenset({"EU"})), "EU", True),
        (RemoteScope(R, frozenset({"EUROPE"})), "EU", True),
        (RemoteScope(R, frozenset({"EMEA"})), "EU", True),
        (RemoteScope(R, frozenset({WORLD})), "EU", True),
        (RemoteScope(R, frozenset({"US"})), "EU", False),
        (RemoteScope(R, frozenset({"DE"})), "EU", False),  # Germany only is not open to all the EU
        (RemoteScope(R, frozenset({"GB"})), "EU", False),
        (RemoteScope(R, frozenset({"GB"})), "EUROPE", False),
        (RemoteScope(R, frozenset({"LATAM"})), "BR", True),
        (RemoteScope(R, frozenset({"CA", "US"})), "US", True),
        (RemoteScope(R, frozenset()), "DE", False),
    ],
)
def test_open_to(scope: RemoteScope, place: str, expected: bool) -> None:
    assert open_to(scope, place) is expected


def test_region_tables_nest() -> None:
    assert len(EU) == 27
    assert EU < EUROPE < REGIONS["EMEA"]
    assert "GB" in EUROPE
    assert "GB" not in EU


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("Germany", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Deutschland", "DE"),
        ("eu", "EU"),
        ("north_america", "NORTH_AMERICA"),
        ("UK", "GB"),
        ("Anywhere", WORLD),
        ("Berlin", None),
        ("", None),
    ],
)
def test_place_of(name: str, place: str | None) -> None:
    assert place_of(name) == place


def test_schema_org_telecommute_from_jsonld_fixtures() -> None:
    for name, regions in (
        ("jsonld_join_remote_heycontactheroes.html", {"DE"}),
        ("nodesk_job_detail_jsonld.html", {WORLD}),
    ):
        html = (FIXTURES / name).read_text(encoding="utf-8")
        blocks = re.findall(r"<script[^>]*application/ld\+json[^>]*>(.*?)</script>", html, re.S)
        posting = next(
            d for d in (json.loads(b, strict=False) for b in blocks) if "jobLocationType" in d
        )
        scope = scope_from_schema_org(
            posting["jobLocationType"], posting.get("applicantLocationRequirements")
        )
        assert scope == RemoteScope(R, frozenset(regions)), name


def test_schema_org_without_telecommute_reads_the_location() -> None:
    assert scope_from_schema_org(None, None, "Hybrid, Berlin") == RemoteScope(HY, frozenset())


@pytest.mark.parametrize(
    ("job_location_type", "location", "expected"),
    [
        # Shapes of the fixtures' JSON-LD: iCIMS and HRMOS give a jobLocation address only.
        (JOB_LOCATION_OFFICE, "Austin, TX, US", RemoteScope(ON, frozenset({"US"}))),
        (JOB_LOCATION_OFFICE, "［渋谷本社］東京都渋谷区", RemoteScope(ON, frozenset())),
        (JOB_LOCATION_OFFICE, "Berlin, Germany", RemoteScope(ON, frozenset({"DE"}))),
        # The text's remote or hybrid word wins over the address.
        (JOB_LOCATION_OFFICE, "Hybrid, Berlin", RemoteScope(HY, frozenset())),
        (JOB_LOCATION_OFFICE, "Remote, Berlin, Germany", RemoteScope(R, frozenset({"DE"}))),
        (JOB_LOCATION_OFFICE, "Worldwide", RemoteScope(R, frozenset({WORLD}))),
        # No jobLocation either: nothing is known.
        (None, "Austin, TX, US", RemoteScope(UN, frozenset({"US"}))),
    ],
)
def test_schema_org_job_location_without_telecommute(
    job_location_type: str | None, location: str, expected: RemoteScope
) -> None:
    assert scope_from_schema_org(job_location_type, None, location) == expected


@pytest.mark.parametrize(
    ("workplace_type", "location", "expected"),
    [
        ("Remote", "Europe", RemoteScope(R, frozenset({"EUROPE"}))),  # Ashby
        ("OnSite", "San Francisco, CA", RemoteScope(ON, frozenset({"US"}))),  # Ashby
        ("Hybrid", "London", RemoteScope(HY, frozenset())),  # Ashby
        ("hybrid", "Atlanta, Georgia", RemoteScope(HY, frozenset({"US"}))),  # Lever; the state
        ("unspecified", "Bombay, MH", RemoteScope(UN, frozenset())),  # Lever
        ("remote", "Remote - Portugal", RemoteScope(R, frozenset({"PT"}))),
    ],
)
def test_scope_from_workplace_type(
    workplace_type: str, location: str, expected: RemoteScope
) -> None:
    assert scope_from_workplace_type(workplace_type, location) == expected


def test_label() -> None:
    assert RemoteScope(R, frozenset({"EU"})).label() == "Remote · EU"
    assert RemoteScope(HY).label() == "Hybrid"
    assert RemoteScope().label() == ""


@pytest.mark.parametrize(
    ("regions", "label"),
    [
        ({WORLD}, "Remote · anywhere"),
        ({"EUROPE"}, "Remote · Europe"),
        ({"EU"}, "Remote · EU"),
        ({"APAC"}, "Remote · APAC"),
        ({"EMEA"}, "Remote · EMEA"),
        ({"LATAM"}, "Remote · LATAM"),
        ({"NORTH_AMERICA"}, "Remote · North America"),
        ({"MIDDLE_EAST"}, "Remote · Middle East"),
        ({"DE"}, "Remote · DE"),
        ({"CA", "US"}, "Remote · CA, US"),
        ({"EUROPE", "GB"}, "Remote · Europe, GB"),
    ],
)
def test_label_writes_regions_as_people_do(regions: set[str], label: str) -> None:
    # Regression: alerts showed region codes in capitals ("Remote · WORLD", "Remote · EUROPE").
    assert RemoteScope(R, frozenset(regions)).label() == label
