"""Personio, Teamtailor, BambooHR and Breezy: every fixture parsed, each board fetched whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.errors import FetchError
from bot.sources import bamboohr, breezy, personio, teamtailor
from tests.boardserver import Reply, Request, serve
from tests.fetchkit import context, fetcher, fixture, fixture_text, source, within

PERSONIO = "https://acme.jobs.personio.de/xml"


# -- Personio --------------------------------------------------------------------------------


def test_personio_live_feed_title_is_the_direct_name_child() -> None:
    (only,) = personio.parse_feed(fixture_text("personio_xml_personio.xml"), board_url=PERSONIO)
    assert only.title == "Staff Software Engineer, Data Platform"
    assert only.url == "https://acme.jobs.personio.de/job/1834171"
    assert only.company == "Personio SE & Co. KG"
    assert only.location == "Munich, Berlin"
    assert only.posted_at == datetime(2024, 11, 13, 14, 10, 41, tzinfo=UTC)
    assert only.description == ""  # empty <jobDescriptions> upstream


def test_personio_sections_offices_and_company() -> None:
    postings = personio.parse_feed(
        fixture_text("personio_xml_1komma5grad_personio_stitched.xml"), board_url=PERSONIO
    )
    assert len(postings) == 4
    first = postings[0]
    assert first.title.startswith("(Lead/Senior) Technical Product Manager")
    assert first.location == "Remote, Hamburg, Berlin, München"
    assert first.remote
    assert first.company == "Heartbeat AI GmbH"
    assert first.description.startswith("1KOMMA5°\nAt 1KOMMA5°, we pursue a clear vision")
    assert "Dein Profil\nYou have:" in first.description


def test_personio_demo_and_test_account_feeds() -> None:
    demo = personio.parse_feed(fixture_text("personio_xml_demo_example.xml"), board_url=PERSONIO)
    assert [(p.title, p.location, p.company) for p in demo] == [
        ("General Application", "Remote", "acme"),
        ("SEO Marketing Manager", "London", "acme"),
        ("Social Media (Working Student)", "London", "Parent Ltd."),
    ]
    assert demo[0].description.startswith("Your mission\n\nLorem ipsum")
    tests = personio.parse_feed(
        fixture_text("personio_xml_testaccount_positions.xml"), board_url=PERSONIO, company="Acme"
    )
    assert len(tests) == 11
    assert all(p.company == "Acme" for p in tests)
    assert tests[0].salary == "GBP 100,000 per year"  # <max> empty
    assert tests[0].posted_at == datetime(2024, 9, 24, 11, 0, 15, tzinfo=UTC)


async def test_personio_fills_empty_descriptions_from_the_english_feed() -> None:
    english = fixture_text("personio_xml_personio.xml").replace(
        "<jobDescriptions></jobDescriptions>",
        "<jobDescriptions><jobDescription><name>Role</name>"
        "<value><![CDATA[<p>Build the data platform.</p>]]></value>"
        "</jobDescription></jobDescriptions>",
    )
    assert english != fixture_text("personio_xml_personio.xml")

    def feed(request: Request) -> Reply:
        body = (
            english
            if "language=en" in request.target
            else fixture_text("personio_xml_personio.xml")
        )
        return Reply(200, body.encode(), {"Content-Type": "application/xml"})

    async with serve() as server, fetcher() as fetch:
        server.add("/xml", handler=feed)
        result = await within(personio.collect(context(fetch), source("personio", server.url("/"))))
    assert [r.target for r in server.requests] == ["/xml", "/xml?language=en"]
    assert result.postings[0].description == "Role\nBuild the data platform."


async def test_personio_redirect_to_the_marketing_site_is_board_not_found() -> None:
    async with serve(ports=2) as server, fetcher() as fetch:
        server.add("/xml", status=307, headers={"Location": server.url("/", port_index=1)})
        server.add("/", body=b"<html>personio.com</html>")
        config = source("personio", server.url("/xml"))
        # Same host, other port: the fetcher follows; the kind notices the board is gone.
        with pytest.raises(FetchError, match="board not found"):
            await within(personio.collect(context(fetch), config))


# -- Teamtailor ------------------------------------------------------------------------------


def test_teamtailor_feeds() -> None:
    knauf = teamtailor.parse_feed(fixture_text("teamtailor_jobs_json_knaufsemea.json"))
    assert len(knauf) == 3
    lab = knauf[-1]
    assert lab.title == "Lab Manager"
    assert lab.company == "Knauf Belgium"
    assert lab.url == "https://knaufsemea.teamtailor.com/jobs/7764194-lab-manager"
    assert lab.location == "Wielsbeke, WE&I, BE"
    assert lab.posted_at == datetime(2026, 5, 20, 10, 44, 12, tzinfo=timezone(timedelta(hours=2)))
    assert lab.description.startswith("Knauf (www.knauf.com) is een multinational")
    carr = teamtailor.parse_feed(fixture_text("teamtailor_jobs_json_carrtalent.json"))
    assert [p.location for p in carr] == ["", "Miami, US"]  # the first has no jobLocation
    assert carr[1].salary == "USD 120,000–130,000 per year"
    assert carr[1].company == ("Carr Talent Acquisition")
    (tip,) = teamtailor.parse_feed(fixture_text("teamtailor_jobs_json_tiptapp.json"), company="T")
    assert tip.location == "Stockholm, SE"
    assert tip.company == "T"


async def test_teamtailor_collect_from_a_job_page_url() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/jobs.json", body=fixture("teamtailor_jobs_json_knaufsemea.json"))
        config = source("teamtailor", server.url("/jobs/7764194-lab-manager"))
        result = await within(teamtailor.collect(context(fetch), config))
    assert len(result.postings) == 3
    assert server.requests[0].path == "/jobs.json"


# -- BambooHR --------------------------------------------------------------------------------


def test_bamboohr_list_workplace_codes() -> None:
    rows = bamboohr.parse_list(
        fixture_text("bamboohr_careers_list_curtinmaritime.json"),
        board_url="https://curtinmaritime.bamboohr.com/careers/list",
    )
    assert len(rows) == 21
    chef = rows[0]
    assert chef.title == "Vessel Chef"
    assert chef.url == "https://curtinmaritime.bamboohr.com/careers/201"
    assert chef.company == "curtinmaritime"
    assert chef.location == "Long Beach, California"
    assert chef.tags == ("Marine Transportation", "Full-Time", "on-site")
    assert not chef.remote
    remote = [p for p in rows if p.remote]
    assert remote
    assert all("remote" in p.tags for p in remote)
    assert any("hybrid" in p.tags for p in rows)
    empty = fixture_text("bamboohr_careers_list_empty_zapier.json")
    assert bamboohr.parse_list(empty, board_url="https://zapier.bamboohr.com/careers/list") == []


def test_bamboohr_details() -> None:
    rows = bamboohr.parse_list(
        fixture_text("bamboohr_careers_list_curtinmaritime.json"),
        board_url="https://curtinmaritime.bamboohr.com/careers/list",
    )
    chef = bamboohr.parse_detail(
        fixture_text("bamboohr_careers_detail_curtinmaritime.json"), rows[0]
    )
    assert chef.salary == "$300 - $425/Day ($21.43 - $30.35 per hour)"
    assert chef.posted_at == datetime(2025, 4, 22, tzinfo=UTC)
    assert chef.location == "Long Beach, California, United States"
    assert chef.description.startswith("Location: Varies\n\nDepartment: Marine Transportation")
    giatec = bamboohr.parse_list(
        fixture_text("bamboohr_careers_list_giatecscientific.json"),
        board_url="https://giatecscientific.bamboohr.com/careers/list",
        company="Giatec",
    )
    talent = bamboohr.parse_detail(
        fixture_text("bamboohr_careers_detail_giatecscientific.json"), giatec[0]
    )
    assert talent.company == "Giatec"
    assert talent.salary == ""
    assert talent.description
    assert talent.posted_at is not None


async def test_bamboohr_collect_details_new_postings_only() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add("/careers/list", body=fixture("bamboohr_careers_list_giatecscientific.json"))
        server.add(
            "/careers/167/detail", body=fixture("bamboohr_careers_detail_giatecscientific.json")
        )
        listed = bamboohr.parse_list(
            fixture_text("bamboohr_careers_list_giatecscientific.json"),
            board_url=server.url("/careers/list"),
        )
        stored = [p.url for p in listed[1:]]
        result = await within(
            bamboohr.collect(context(fetch, stored), source("bamboohr", server.url("/careers")))
        )
    assert [r.path for r in server.requests] == ["/careers/list", "/careers/167/detail"]
    assert len(result.postings) == 5
    assert result.postings[0].description


# -- Breezy ----------------------------------------------------------------------------------


def test_breezy_plain_feed() -> None:
    postings = breezy.parse_feed(fixture_text("breezy_json_breezy-trial.json"))
    assert [p.title for p in postings] == [
        "Employee #12",
        "Open Position",
        "Position Title Details",
    ]
    first = postings[0]
    assert first.company == "MS Breezy Trial"
    assert first.location == "Chaos, FL, United States"
    assert first.url == "https://breezy.breezy.hr/p/98323abf2296-employee-12"
    assert first.salary == "$0.05 – $0.06 / hour"
    assert first.tags == ("Does Not Matter", "other")
    assert first.posted_at == datetime(2024, 2, 15, 14, 37, 22, 684000, tzinfo=UTC)
    assert first.description == ""


def test_breezy_verbose_feed_descriptions_and_hybrid() -> None:
    postings = breezy.parse_feed(
        fixture_text("breezy_json_verbose_german-american-chambers-of-commerce.json")
    )
    assert len(postings) == 4
    assert postings[0].description.startswith("Field/Department\n\nAdministrative")
    assert [p.salary for p in postings] == [
        "",
        "$75,000 – $85,000",
        "$165,000 – $180,000 / year",
        "$110,000+ / year",
    ]
    hybrid = postings[3]
    assert not hybrid.remote
    assert "hybrid" in hybrid.tags
    assert hybrid.location == "Charlotte, NC, United States"


async def test_breezy_collect_asks_for_verbose() -> None:
    async with serve() as server, fetcher() as fetch:
        server.add(
            "/json",
            body=fixture("breezy_json_verbose_german-american-chambers-of-commerce.json"),
        )
        result = await within(breezy.collect(context(fetch), source("breezy", server.url("/"))))
    assert server.requests[0].target == "/json?verbose=true"
    assert len(result.postings) == 4
