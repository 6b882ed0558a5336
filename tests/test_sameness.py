"""Which postings are the same job (issue 12): keys, ATS ids, the must/must-not merge table,
presentation helpers. Pairs come from the corpus and the seeds (tests/fixtures/sameness)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Posting
from bot.sameness import (
    DESCRIPTION_THRESHOLD,
    Sameness,
    also_on,
    ats_ids,
    canonical_member,
    company_key,
    compare,
    descriptions_similar,
    group_key,
    host_kind,
    is_repost,
    location_list,
    locations_compatible,
    ordinal,
    posting_ats_ids,
    repost_label,
    same_group,
    same_job,
    title_key,
)
from bot.sources.markdown import parse_markdown

FIXTURES = Path(__file__).parent / "fixtures" / "sameness"
LEVER_UUID = "9de54dd6-61c5-4285-b111-9558666d8be5"


def corpus(relative: str) -> Posting:
    return parse_markdown((FIXTURES / "corpus" / relative).read_text(encoding="utf-8"))


def seed(prefix: str) -> Posting:
    (path,) = (FIXTURES / "seeds").glob(f"{prefix}_*.txt")
    return parse_markdown(path.read_text(encoding="utf-8"))


def on_lever(posting: Posting, uuid: str, **changes: object) -> Posting:
    """The same job as Binance's own Lever board shows it (the fake Lever board of issue 12)."""
    fields: dict[str, object] = {
        "url": f"https://jobs.lever.co/binance/{uuid}",
        "apply_url": f"https://jobs.lever.co/binance/{uuid}/apply",
        **changes,
    }
    return dataclasses.replace(posting, **fields)  # type: ignore[arg-type]


def posting(title: str, company: str, location: str = "", url: str = "", **kw: object) -> Posting:
    return Posting(
        url=url or f"https://board.example/{title}",
        title=title,
        company=company,
        location=location,
        **kw,  # type: ignore[arg-type]
    )


# --- company_key / title_key -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Binance", "binance"),
        ("The Acme Corp., Inc.", "acme"),
        ("Scalable GmbH", "scalable"),
        ("QAD, Inc.", "qad"),
        ("Turnitin, LLC", "turnitin"),
        ("Gusto, Inc.", "gusto"),
        ("Atlassian Pty Ltd", "atlassian"),
        ("Acme Holdings Co., Ltd.", "acme holdings"),
        ("Booking.com B.V.", "booking com"),
        ("Société Générale S.A.", "societe generale"),
        ("Capgemini SAS", "capgemini"),
        ("Siemens AG", "siemens"),
        ("Arm PLC", "arm"),
        ("McDonald's Corporation", "mcdonalds"),
        ("Arch Global Services (Philippines) Inc.", "arch global services philippines"),
        ("The Trade Desk", "trade desk"),
        ("Business & Decision", "business and decision"),
        ("dentsu", "dentsu"),
        ("", ""),
    ],
)
def test_company_key(name: str, key: str) -> None:
    assert company_key(name) == key


@pytest.mark.parametrize(
    ("title", "location", "key"),
    [
        ("Sr. Backend Engineer (Remote)", "", "senior backend engineer"),
        ("Senior Backend Engineer", "", "senior backend engineer"),
        ("Snr Backend Engineer", "", "senior backend engineer"),
        ("Jr. Developer", "", "junior developer"),
        ("Backend Engineer", "", "backend engineer"),
        ("Backend Engineer [EMEA]", "", "backend engineer"),
        ("Software Engineer | Platform team", "", "software engineer"),
        ("Senior Backend Engineer - Berlin", "Berlin, Germany", "senior backend engineer"),
        ("Backend Engineer - München", "Munich", "backend engineer"),
        ("Backend Engineer - Payments", "Berlin", "backend engineer payments"),
        ("Software Engineer III", "", "software engineer iii"),
        ("IT Engineer II (Hybrid)", "", "it engineer ii"),
        ("Solution Engineer (Remote, Canada)", "", "solution engineer"),
        ("Expert Technique Data (H/F)", "", "expert technique data"),
        ("Senior Software Engineer (C++) - Backend", "", "senior software engineer c++ backend"),
        ("Senior Backend Engineer - Java (Cloud)", "Taiwan", "senior backend engineer java cloud"),
        ("Product Manager (Team Lead)", "", "product manager team lead"),
        ("Engineer (Platform Team)", "", "engineer"),
        ("Software Engineer (Backend)", "", "software engineer backend"),
        ("Engineer (Go, Remote)", "", "engineer go remote"),
        ("Engineer (Remote - US only)", "", "engineer"),
        ("Data Engineer (Berlin)", "Berlin, Germany", "data engineer"),
        ("Senior Engineer - Backend (Remote)", "", "senior engineer backend"),
    ],
)
def test_title_key(title: str, location: str, key: str) -> None:
    assert title_key(title, location) == key


def test_seniority_is_kept_in_the_key() -> None:
    """Regression: "Backend Engineer" and "Senior Backend Engineer" must never share a key."""
    assert title_key("Backend Engineer") != title_key("Senior Backend Engineer")
    assert title_key("Software Engineer II") != title_key("Software Engineer III")


def test_group_key_is_empty_without_a_company() -> None:
    """Regression: company-less postings must not share one ever-growing index bucket."""
    assert group_key(posting("Software Engineer", "")) == ""
    assert group_key(posting("Software Engineer", "The")) == "the\nsoftware engineer"


def test_group_key_is_company_then_title() -> None:
    assert group_key(seed("004")) == "binance\nsenior rust engineer"
    assert group_key(posting("Sr. Rust Engineer (Remote)", "Binance, Inc.")) == group_key(
        seed("004")
    )


# --- ats_ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ids"),
    [
        (f"https://jobs.lever.co/binance/{LEVER_UUID}/apply", {f"lever:{LEVER_UUID}"}),
        (f"https://api.lever.co/v0/postings/binance/{LEVER_UUID}", {f"lever:{LEVER_UUID}"}),
        (
            "https://remote.example/out?to=https%3A%2F%2Fjobs.lever.co%2Fbinance%2F"
            + LEVER_UUID.upper(),
            {f"lever:{LEVER_UUID}"},
        ),
        ("https://job-boards.greenhouse.io/anthropic/jobs/5074975008", {"greenhouse:5074975008"}),
        ("https://careers.x.com/open-roles?gh_jid=5074975008", {"greenhouse:5074975008"}),
        (
            "https://jobs.ashbyhq.com/cursor/0ec39ed7-a5dc-4551-bb26-b7f4f9fb4a74",
            {"ashby:0ec39ed7-a5dc-4551-bb26-b7f4f9fb4a74"},
        ),
        ("https://apply.workable.com/j/0897A038EC/apply", {"workable:0897a038ec"}),
        ("https://apply.workable.com/blueground/j/264C395E51/", {"workable:264c395e51"}),
        (
            "https://jobs.smartrecruiters.com/Equinox/744000137225639-female-locker-room-associate",
            {"smartrecruiters:744000137225639"},
        ),
        (
            "https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite/job/Israel-Tel-Aviv/"
            "Software-Golang-Kubernetes-Engineer_JR2020442",
            {"workday:nvidia:JR2020442"},
        ),
        (
            "https://acme.wd1.myworkdayjobs.com/External/job/Berlin/Engineer_R-1234",
            {"workday:acme:R-1234"},
        ),
        ("https://breezy.breezy.hr/p/98323abf2296-employee-12", {"breezy:98323abf2296"}),
        ("https://curtinmaritime.bamboohr.com/careers/201", {"bamboohr:curtinmaritime:201"}),
        ("https://www.remotewlb.com/apply/senior-rust-engineer", set()),
    ],
)
def test_ats_ids(url: str, ids: set[str]) -> None:
    assert ats_ids(url) == ids


def test_posting_ats_ids_reads_the_apply_url_too() -> None:
    infra = seed("001")
    assert posting_ats_ids(infra) == {f"lever:{LEVER_UUID}"}
    aggregated = dataclasses.replace(infra, url="https://www.remotewlb.com/apply/x")
    assert posting_ats_ids(aggregated) == {f"lever:{LEVER_UUID}"}


# --- the must / must-not table ----------------------------------------------------------------

# (a, b, expected). Corpus pairs are real re-listings or per-city copies on remotewlb.
MUST_MERGE: list[tuple[str, Posting, Posting, Sameness]] = []
MUST_NOT_MERGE: list[tuple[str, Posting, Posting]] = []


def _corpus_pair(a: str, b: str) -> tuple[Posting, Posting]:
    return corpus(a), corpus(b)


for _name, _a, _b, _kind in [
    (
        "seeka relisted",
        "Java/2024-05/software-engineer-internship-testing-technical-analysis-and-automation-wfh-only-107834.md",
        "Java/2024-05/software-engineer-internship-testing-technical-analysis-and-automation-wfh-only-106119.md",
        Sameness.SAME_JOB,
    ),
    (
        "syncreon relisted",
        "Java/2024-05/java-developers-with-sql-and-unix-experience-urgent-required-107527.md",
        "Java/2024-05/java-developers-with-sql-and-unix-experience-urgent-required-108304.md",
        Sameness.SAME_JOB,
    ),
    (
        "vericast (hybrid)",
        "Java/2024-05/it-engineer-ii-hybrid.md",
        "Java/2024-06/it-engineer-ii-hybrid-109147.md",
        Sameness.SAME_JOB,
    ),
    (
        "QAD, Inc.",
        "Java/2024-05/cloud-ci-cd-engineer-106942.md",
        "Java/2024-05/cloud-ci-cd-engineer.md",
        Sameness.SAME_JOB,
    ),
    (
        "applaudo",
        "Java/2024-05/machine-learning-engineer-107264.md",
        "Java/2024-05/machine-learning-engineer-107842.md",
        Sameness.SAME_JOB,
    ),
    (
        "alter, two skills",
        "Java/2024-05/ai-expert-108030.md",
        "Python/2024-05/ai-expert.md",
        Sameness.SAME_JOB,
    ),
    (
        "dynatrace",
        "Java/2024-05/solution-engineer-remote-canada.md",
        "PHP/2024-05/solution-engineer-remote-canada-107255.md",
        Sameness.SAME_JOB,
    ),
    (
        "mcdonald's",
        "Java/2024-06/software-engineer-ii-java-remote-108656.md",
        "Java/2024-06/software-engineer-ii-java-remote-106829.md",
        Sameness.SAME_JOB,
    ),
    (
        "sopra steria",
        "Java/2024-05/data-engineer-energie-telecom-lyon.md",
        "Java/2024-06/data-engineer-energie-telecom-lyon-108009.md",
        Sameness.SAME_JOB,
    ),
    (
        "jitterbit",
        "Java/2024-05/senior-software-engineer-c-backend.md",
        "Java/2024-05/senior-software-engineer-c-backend-106895.md",
        Sameness.SAME_JOB,
    ),
    (
        "palo alto Sr",
        "Python/2024-05/sr-staff-software-engineer-expanse-107226.md",
        "Golang/2024-06/sr-staff-software-engineer-expanse-109608.md",
        Sameness.SAME_JOB,
    ),
    (
        "wolt",
        "Java/2024-06/senior-kotlin-backend-engineer-merchant-integrations.md",
        "Java/2024-06/senior-kotlin-backend-engineer-merchant-integrations-110771.md",
        Sameness.SAME_JOB,
    ),
    (
        "dentsu per city",
        "Java/2024-05/qa-engineer-108341.md",
        "Java/2024-05/qa-engineer-108404.md",
        Sameness.OTHER_CITY,
    ),
    (
        "renesas per city",
        "Java/2024-06/site-reliability-engineer-110370.md",
        "Java/2024-06/site-reliability-engineer-110300.md",
        Sameness.OTHER_CITY,
    ),
    (
        "reddit onsite per city",
        "Java/2024-05/senior-software-engineer-storage-93016.md",
        "Java/2024-05/senior-software-engineer-storage-92392.md",
        Sameness.OTHER_CITY,
    ),
    (
        "reddit remote copy",
        "Java/2024-05/senior-software-engineer-storage-93016.md",
        "Java/2024-05/senior-software-engineer-storage-93018.md",
        Sameness.OTHER_CITY,
    ),
]:
    MUST_MERGE.append((_name, *_corpus_pair(_a, _b), _kind))

_RUST = seed("004")
_LEAD = seed("002")
_SECURITY = seed("003")
_JAVA = seed("000")
_INFRA = seed("001")
MUST_MERGE += [
    (
        "binance on lever and remotewlb",
        _LEAD,
        on_lever(_LEAD, LEVER_UUID, location="Asia"),
        Sameness.SAME_JOB,
    ),
    (
        "Sr. on lever",
        _RUST,
        on_lever(_RUST, LEVER_UUID, title="Sr. Rust Engineer"),
        Sameness.SAME_JOB,
    ),
    (
        "(Remote) suffix",
        _SECURITY,
        on_lever(_SECURITY, LEVER_UUID, title=_SECURITY.title + " (Remote)"),
        Sameness.SAME_JOB,
    ),
    (
        "Binance, Inc.",
        _JAVA,
        on_lever(_JAVA, LEVER_UUID, company="Binance, Inc.", location="Taipei, Taiwan"),
        Sameness.SAME_JOB,
    ),
    (
        "lever uuid in an aggregator link",
        _INFRA,
        dataclasses.replace(
            _INFRA,
            url=f"https://remote.example/go?u=https%3A%2F%2Fjobs.lever.co%2Fbinance%2F{LEVER_UUID}",
            title="Blockchain Infrastructure Dev",
            apply_url="",
            description="",
        ),
        Sameness.SAME_JOB,
    ),
    (
        "no description on one side",
        _RUST,
        on_lever(_RUST, LEVER_UUID, description=""),
        Sameness.SAME_JOB,
    ),
    (
        "one location empty",
        _RUST,
        on_lever(_RUST, LEVER_UUID, location="", remote=False),
        Sameness.SAME_JOB,
    ),
    (
        "gh_jid on the company site",
        posting(
            "Research Engineer",
            "Anthropic",
            "San Francisco, CA",
            "https://job-boards.greenhouse.io/anthropic/jobs/5074975008",
        ),
        posting(
            "Research Engineer, Interpretability",
            "Anthropic PBC",
            "SF",
            "https://careers.anthropic.example/?gh_jid=5074975008",
        ),
        Sameness.SAME_JOB,
    ),
    (
        "onsite, city in country",
        posting("Backend Engineer", "Acme GmbH", "Berlin", "https://a.example/1"),
        posting("Backend Engineer [EMEA]", "ACME", "Berlin, Germany", "https://b.example/2"),
        Sameness.SAME_JOB,
    ),
    (
        "workday R-number",
        posting(
            "Engineer",
            "Acme",
            "Berlin",
            "https://acme.wd1.myworkdayjobs.com/Ext/job/Berlin/Engineer_R-1234",
        ),
        posting(
            "Software Engineer",
            "Acme SE",
            "Remote",
            "https://acme.wd1.myworkdayjobs.com/en-US/Ext/details/Engineer_R-1234?q=1",
        ),
        Sameness.SAME_JOB,
    ),
    (
        "one board, 30 cities",
        posting("Data Engineer", "Acme", "Berlin", "https://careers.acme.example/jobs/1"),
        posting("Data Engineer", "Acme", "Munich", "https://careers.acme.example/jobs/2"),
        Sameness.OTHER_CITY,
    ),
]

for _name, _a, _b in [
    (
        "reddit III, two teams",
        "Java/2024-05/software-engineer-iii-92014.md",
        "Nodejs/2024-05/software-engineer-iii-93003.md",
    ),
    (
        "raft, generic title, two texts",
        "Golang/2024-06/senior-software-engineer-113467.md",
        "Java/2024-06/senior-software-engineer-113428.md",
    ),
    (
        "same title, other company: lead backend",
        "C#/2024-05/lead-backend-engineer.md",
        "React/2024-06/lead-backend-engineer-106758.md",
    ),
    (
        "same title, other company: software qa",
        "C#/2024-05/software-qa-engineer-101589.md",
        "Python/2024-06/software-qa-engineer-107869.md",
    ),
    (
        "same title, other company: devsecops",
        "C#/2024-06/devsecops-engineer-113460.md",
        "Vue/2024-06/devsecops-engineer-109959.md",
    ),
    (
        "same title, other company: principal",
        "C#/2024-06/principal-software-engineer-108668.md",
        "Java/2024-06/principal-software-engineer-109992.md",
    ),
    (
        "same title, other company: senior frontend",
        "C#/2024-06/senior-frontend-engineer-108138.md",
        "Nodejs/2024-05/senior-frontend-engineer-105309.md",
    ),
    (
        "same title, other company: engineer ii",
        "C#/2024-06/software-engineer-ii-109572.md",
        "Java/2024-06/software-engineer-ii-111142.md",
    ),
    (
        "senior vs not: applaudo",
        "C#/2024-05/senior-fullstack-developer-react-js-net.md",
        "C#/2024-05/fullstack-developer-react-js-net.md",
    ),
    (
        "senior vs not: kms",
        "C#/2024-05/senior-net-software-engineer-kms-healthcare-106737.md",
        "C#/2024-05/net-software-engineer-kms-healthcare-106737.md",
    ),
    (
        "senior vs not: raft",
        "C#/2024-06/senior-cybersecurity-engineer.md",
        "C#/2024-06/cybersecurity-engineer-113458.md",
    ),
    (
        "staff vs not: raft",
        "C#/2024-06/staff-devsecops-engineer-111838.md",
        "C#/2024-06/devsecops-engineer-113460.md",
    ),
    (
        "senior vs not: lastpass php",
        "PHP/2024-06/senior-software-engineer-php.md",
        "PHP/2024-06/software-engineer-php-108554.md",
    ),
    (
        "senior vs not: lastpass platform",
        "Nodejs/2024-06/senior-platform-development-engineer-108574.md",
        "React/2024-06/platform-development-engineer.md",
    ),
    (
        "staff vs not: lastpass platform",
        "React/2024-06/staff-platform-development-engineer.md",
        "React/2024-06/platform-development-engineer.md",
    ),
    (
        "level II vs III",
        "Java/2024-05/android-software-engineer-ii.md",
        "Java/2024-05/android-software-engineer-iii.md",
    ),
    (
        "level I vs none",
        "Java/2024-06/software-developer-i-104686.md",
        "Golang/2024-06/software-developer-108845.md",
    ),
]:
    MUST_NOT_MERGE.append((_name, *_corpus_pair(_a, _b)))

MUST_NOT_MERGE += [
    (
        "backend vs senior backend, one company",
        _SECURITY,
        on_lever(_SECURITY, LEVER_UUID, title="Senior Backend Engineer - Blockchain Security"),
    ),
    (
        "same title, other company",
        _RUST,
        dataclasses.replace(
            _RUST, company="Bybit", url="https://www.remotewlb.com/apply/senior-rust-engineer-2"
        ),
    ),
    (
        "onsite elsewhere, other board",
        posting("Backend Engineer", "Acme", "Berlin, Germany", "https://a.example/1"),
        posting("Backend Engineer", "Acme", "Munich, Germany", "https://b.example/1"),
    ),
    (
        "onsite, other country, other board",
        _JAVA,
        on_lever(_JAVA, LEVER_UUID, location="Tokyo, Japan"),
    ),
    (
        "two lever postings, one place",
        on_lever(_RUST, LEVER_UUID),
        on_lever(_RUST, "0b5bd7a1-1a4e-4b7e-9c55-2f3a1c1b2d3e"),
    ),
    (
        "team tails differ",
        posting("Backend Engineer - Payments", "Acme", "", "https://a.example/1"),
        posting("Backend Engineer - Identity", "Acme", "", "https://a.example/2"),
    ),
    (
        "no company on either side",
        posting("Backend Engineer", "", "", "https://a.example/1"),
        posting("Backend Engineer", "", "", "https://b.example/1"),
    ),
    (
        "junior vs senior",
        posting("Jr. Developer", "Acme", url="https://a.example/1"),
        posting("Sr. Developer", "Acme", url="https://b.example/1"),
    ),
    (
        "different descriptions",
        _LEAD,
        on_lever(
            _LEAD,
            LEVER_UUID,
            description=_RUST.description[:200]
            + " Golang gRPC Kafka microservices for the content platform.",
        ),
    ),
]


@pytest.mark.parametrize(
    ("a", "b", "kind"), [row[1:] for row in MUST_MERGE], ids=[row[0] for row in MUST_MERGE]
)
def test_must_merge(a: Posting, b: Posting, kind: Sameness) -> None:
    assert compare(a, b) is kind
    assert compare(b, a) is kind
    assert same_group(a, b)
    assert same_job(a, b) is (kind is Sameness.SAME_JOB)


@pytest.mark.parametrize(
    ("a", "b"), [row[1:] for row in MUST_NOT_MERGE], ids=[row[0] for row in MUST_NOT_MERGE]
)
def test_must_not_merge(a: Posting, b: Posting) -> None:
    """Regression: false merges (other company, other seniority, other place) hide real jobs."""
    assert compare(a, b) is Sameness.DIFFERENT
    assert compare(b, a) is Sameness.DIFFERENT
    assert not same_group(a, b)


def test_table_is_big_enough() -> None:
    assert len(MUST_MERGE) >= 25
    assert len(MUST_NOT_MERGE) >= 25


# --- locations and descriptions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "compatible"),
    [
        ("Remote", "remote,Asia", True),
        ("Remote - Portugal", "Remote - Hungary", True),
        ("", "Tokyo, Japan", True),
        ("Berlin", "Berlin, Germany", True),
        ("Germany", "Berlin, Germany", True),
        ("München, Germany", "Munich", True),
        ("New York, USA", "New York, United States", True),
        ("Berlin, Germany", "Munich, Germany", False),
        ("San Francisco, CA", "Seattle, WA", False),
        ("San Francisco, CA", "Remote - United States", False),
        ("Berlin; Munich", "Munich, Germany", True),
    ],
)
def test_locations_compatible(a: str, b: str, compatible: bool) -> None:
    assert locations_compatible(a, b) is compatible
    assert locations_compatible(b, a) is compatible


def test_remote_flags_count_as_remote() -> None:
    assert locations_compatible("Taiwan", "Asia", remote_a=True, remote_b=True)
    assert not locations_compatible("Taiwan", "Asia")


def test_descriptions_similar_on_real_text() -> None:
    relisted = _corpus_pair(
        "Java/2024-05/cloud-ci-cd-engineer-106942.md", "Java/2024-05/cloud-ci-cd-engineer.md"
    )
    two_texts = _corpus_pair(
        "Golang/2024-06/senior-software-engineer-113467.md",
        "Java/2024-06/senior-software-engineer-113428.md",
    )
    assert descriptions_similar(relisted[0].description, relisted[1].description)
    assert not descriptions_similar(two_texts[0].description, two_texts[1].description)
    assert 0 < DESCRIPTION_THRESHOLD <= 100


# --- presentation -----------------------------------------------------------------------------


def test_also_on() -> None:
    urls = [
        "https://www.remotewlb.com/apply/backend-lead-golang-content",
        f"https://jobs.lever.co/binance/{LEVER_UUID}",
        "https://www.remotewlb.com/apply/backend-lead-golang-content-2",
    ]
    assert also_on(urls) == "also on: remotewlb.com, jobs.lever.co"
    assert also_on([]) == ""
    assert also_on(f"h{i}.example" for i in range(8)) == (
        "also on: h0.example, h1.example, h2.example, h3.example, h4.example +3"
    )


def test_location_list() -> None:
    cities = ["Berlin", "Munich", *(f"City {i}" for i in range(28)), "berlin", ""]
    assert location_list(cities) == "Berlin, Munich +28"
    assert location_list(["Berlin"]) == "Berlin"
    assert location_list(["Berlin", "Munich"]) == "Berlin, Munich"
    assert location_list([]) == ""


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (102, "102nd"),
        (112, "112th"),
    ],
)
def test_ordinal(n: int, text: str) -> None:
    assert ordinal(n) == text


def test_repost_label() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    first = now - timedelta(days=94, hours=3)
    assert repost_label(first, now, 3) == "reposted · first seen 94 days ago · 3rd time"
    assert repost_label(now - timedelta(hours=30), now, 2) == (
        "reposted · first seen 1 day ago · 2nd time"
    )
    with pytest.raises(ValueError, match="at least the 2nd time"):
        repost_label(first, now, 1)


def test_is_repost_within_180_days() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert is_repost(now - timedelta(days=180), now)
    assert not is_repost(now - timedelta(days=181), now)
    assert not is_repost(None, now)


@dataclasses.dataclass(frozen=True)
class Member:
    url: str
    first_seen: datetime


def test_canonical_member_prefers_the_company_board_then_the_earliest() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    aggregator = Member("https://www.remotewlb.com/apply/backend-lead-golang-content", t0)
    lever = Member(f"https://jobs.lever.co/binance/{LEVER_UUID}", t0 + timedelta(days=3))
    later_lever = Member(
        f"https://jobs.lever.co/binance/{LEVER_UUID[:-1]}0", t0 + timedelta(days=4)
    )
    assert canonical_member([aggregator, later_lever, lever]) == lever
    other = Member("https://www.remotewlb.com/apply/x", t0 - timedelta(days=1))
    assert canonical_member([aggregator, other]) == other
    with pytest.raises(ValueError, match="at least one member"):
        canonical_member([])


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (f"https://jobs.lever.co/binance/{LEVER_UUID}", "ats"),
        ("https://job-boards.greenhouse.io/anthropic/jobs/5074975008", "ats"),
        ("https://careers.x.com/open-roles?gh_jid=5074975008", "ats"),
        ("https://www.remotewlb.com/apply/senior-rust-engineer", "aggregator"),
        ("https://weworkremotely.com/remote-jobs/acme-backend", "aggregator"),
        ("https://careers.acme.example/jobs/1", "other"),
    ],
)
def test_host_kind(url: str, kind: str) -> None:
    assert host_kind(url) == kind
