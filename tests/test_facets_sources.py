"""Issue 11, item 1: every source kind fills the facts its board states (real fixtures)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.facets.employment import Employment
from bot.facets.remote import Mode, RemoteScope
from bot.facets.seniority import Seniority
from bot.models import Posting
from bot.sources import (
    ashby,
    bamboohr,
    breezy,
    jsonld,
    lever,
    markdown,
    personio,
    recruitee,
    remoteok,
    smartrecruiters,
    workable,
    workday,
)
from bot.store.facts import posting_facts

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8", errors="replace")


def by_title(postings: list[Posting], start: str) -> Posting:
    return next(p for p in postings if p.title.startswith(start))


def test_lever_api_workplace_type_and_commitment() -> None:
    postings = lever.parse_api(read("lever_api_leverdemo_postings_2026.json"))
    facts = posting_facts(by_title(postings, "AbelsonTaylor Writer"))
    assert facts.remote.mode is Mode.HYBRID
    assert facts.remote.regions == {"US"}
    assert facts.employment is Employment.FULL_TIME


def test_lever_board_page_workplace_and_commitment() -> None:
    postings = lever.parse_board(read("lever_listing_januxrx.html"))
    facts = posting_facts(by_title(postings, "Director, Corporate Strategy"))
    assert (facts.remote.mode, facts.seniority) == (Mode.ONSITE, Seniority.DIRECTOR)
    assert facts.employment is Employment.FULL_TIME


def test_ashby_compensation_tiers_and_workplace() -> None:
    postings = ashby.parse_api(read("ashby_posting_api_nango.json"))
    facts = posting_facts(by_title(postings, "Staff Backend Engineer (Remote, UK)"))
    assert facts.salary is not None
    assert (facts.salary.min, facts.salary.max, facts.salary.currency) == (120000, 200000, "USD")
    assert facts.salary.compact() == "$120–200k/yr"
    assert facts.remote.label() == "Remote · GB"
    assert (facts.seniority, facts.employment) == (Seniority.LEAD, Employment.FULL_TIME)


def test_jsonld_base_salary_valid_through_and_employment() -> None:
    (posting,) = jsonld.parse_job_page(read("jsonld_hrmos_salary.html"), url="https://h.example/1")
    facts = posting_facts(posting)
    assert facts.salary is not None
    assert (facts.salary.min, facts.salary.max, facts.salary.currency) == (6e6, 1e7, "JPY")
    assert facts.valid_through == datetime(2031, 7, 27, 18, 36, 40, 365000, tzinfo=UTC)
    assert facts.employment is Employment.FULL_TIME


def test_jsonld_telecommute_with_applicant_locations() -> None:
    page = read("jsonld_join_remote_heycontactheroes.html")
    (posting,) = jsonld.parse_job_page(page, url="https://join.example/1")
    facts = posting_facts(posting)
    assert facts.remote.mode is Mode.REMOTE
    assert facts.remote.regions == {"DE"}
    assert facts.employment is Employment.CONTRACT  # schema.org CONTRACTOR


def test_jsonld_anywhere_is_the_world() -> None:
    (posting,) = jsonld.parse_job_page(read("nodesk_job_detail_jsonld.html"), url="https://n/1")
    facts = posting_facts(posting)
    assert facts.remote.label() == "Remote · anywhere"
    assert facts.salary is not None
    assert facts.salary.compact() == "$150–250k/yr"


def test_jsonld_office_job_location_is_onsite() -> None:
    # Regression: a JobPosting with a jobLocation address and no TELECOMMUTE counted as unknown.
    page = read("icims_job_detail_jsonld_no_meta_charset.html")
    (posting,) = jsonld.parse_job_page(page, url="https://icims.example/1")
    facts = posting_facts(posting)
    assert facts.remote == RemoteScope(Mode.ONSITE, frozenset({"US"}))
    (posting,) = jsonld.parse_job_page(read("jsonld_hrmos_salary.html"), url="https://h.example/1")
    assert posting_facts(posting).remote.mode is Mode.ONSITE


def test_jsonld_job_location_with_a_remote_or_hybrid_title_keeps_the_title() -> None:
    address = {"@type": "Place", "address": {"addressLocality": "Austin", "addressCountry": "US"}}
    for title, mode in (("Engineer (Remote)", Mode.REMOTE), ("Engineer - Hybrid", Mode.HYBRID)):
        node = {"@type": "JobPosting", "title": title, "jobLocation": address}
        posting = jsonld.posting_from_jsonld(node, page_url="https://j.example/1")
        assert posting is not None
        assert posting_facts(posting).remote.mode is mode, title


@pytest.mark.parametrize(
    ("address", "location", "regions"),
    [
        # Regression (tester): "Berlin, DE" read as Delaware, "Toronto, ON, CA" as California.
        ({"addressLocality": "Berlin", "addressCountry": "DE"}, "Berlin, DE", {"DE"}),
        (
            {"addressLocality": "Toronto", "addressRegion": "ON", "addressCountry": "CA"},
            "Toronto, ON, CA",
            {"CA"},
        ),
        (
            {"addressLocality": "Austin", "addressRegion": "TX", "addressCountry": "US"},
            None,
            {"US"},
        ),
        (
            {"addressLocality": "Pune", "addressCountry": {"@type": "Country", "name": "IN"}},
            "Pune, IN",
            {"IN"},
        ),
        ({"addressLocality": "Hamburg"}, "Hamburg", set()),
    ],
)
def test_jsonld_office_country_is_the_address_country(
    address: dict[str, object], location: str | None, regions: set[str]
) -> None:
    node = {"@type": "JobPosting", "title": "Engineer", "jobLocation": {"address": address}}
    posting = jsonld.posting_from_jsonld(node, page_url="https://j.example/1")
    assert posting is not None
    if location is not None:
        assert posting.location == location  # shown as the board gave it
    assert posting_facts(posting).remote == RemoteScope(Mode.ONSITE, frozenset(regions))


def test_remoteok_salary_min_max() -> None:
    postings = remoteok.parse_api(read("remoteok_api.json"))
    facts = posting_facts(by_title(postings, "VP Corporate Marketing"))
    assert facts.salary is not None
    assert facts.salary.compact() == "$180–210k/yr"
    assert facts.remote.mode is Mode.REMOTE


def test_remotewlb_salary_badge() -> None:
    facts = posting_facts(markdown.parse_markdown(read("remotewlb_salary_badge.md")))
    assert facts.salary is not None
    assert (facts.salary.min, facts.salary.max, facts.salary.currency) == (190800, 267100, "USD")
    assert facts.seniority is Seniority.SENIOR


def test_personio_salary_information_and_schedule() -> None:
    feed = read("personio_xml_testaccount_positions.xml")
    postings = personio.parse_feed(feed, board_url="https://t.jobs.personio.de")
    facts = posting_facts(by_title(postings, "Copy of Junior Compliance"))
    assert facts.salary is not None
    assert facts.salary.currency == "GBP"
    assert facts.salary.compact() == "from £100k/yr"
    assert facts.employment is Employment.FULL_TIME


def test_workday_time_type() -> None:
    stub = Posting(url="https://nvidia.wd5.myworkdayjobs.com/x/job/1", title="t")
    detail = read("workday_cxs_job_detail_nvidia.json")
    posting = workday.parse_detail(detail, stub, now=datetime(2026, 11, 1, tzinfo=UTC))
    facts = posting_facts(posting)
    assert (facts.employment, facts.seniority) == (Employment.FULL_TIME, Seniority.SENIOR)


def test_bamboohr_location_type_and_employment_status() -> None:
    feed = read("bamboohr_careers_list_giatecscientific.json")
    postings = bamboohr.parse_list(feed, board_url="https://giatec.bamboohr.com")
    facts = posting_facts(by_title(postings, "IT Operations Lead"))
    assert facts.remote.label() == "Hybrid · CA"
    assert facts.employment is Employment.FULL_TIME
    student = posting_facts(by_title(postings, "Student Talent Community"))
    assert student.employment is Employment.PART_TIME  # "Part-time Co-op"


def test_breezy_type_id() -> None:
    postings = breezy.parse_feed(read("breezy_json_breezy-trial.json"))
    assert posting_facts(by_title(postings, "Open Position")).employment is Employment.CONTRACT


def test_smartrecruiters_type_of_employment() -> None:
    postings, _ = smartrecruiters.parse_page(read("smartrecruiters_postings_equinox.json"))
    facts = posting_facts(by_title(postings, "Front Desk Associates, Houston"))
    assert facts.employment is Employment.PART_TIME


def test_workable_workplace_and_type() -> None:
    page = read("workable_api_v3_jobs_blueground.json")
    postings, _ = workable.parse_page(page, account="blueground")
    facts = posting_facts(by_title(postings, "Senior Software Engineer, iOS"))
    assert facts.remote.label() == "Remote · GR"
    assert facts.employment is Employment.FULL_TIME
    contract = posting_facts(by_title(postings, "Operations Partner"))
    assert (contract.remote.mode, contract.employment) == (Mode.ONSITE, Employment.CONTRACT)


def test_recruitee_hybrid_and_employment_code() -> None:
    postings = recruitee.parse_offers(read("recruitee_api_offers_bunq.json"))
    facts = posting_facts(by_title(postings, "Head of Trust & Transparency"))
    assert facts.remote.label() == "Hybrid · NL"
    assert facts.employment is Employment.FULL_TIME
