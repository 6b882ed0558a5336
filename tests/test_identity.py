"""One job, one identity: canonical URLs (RFC 3986 section 6), per-source `url_ignore` and
`id_pattern`, and the store re-keying when the rules change (field cases 06 and 07)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import parse_settings
from bot.errors import ConfigError
from bot.models import Identity, Posting, canonical_url, posting_id
from bot.sources.registry import KINDS
from bot.store import PendingDelivery, Store
from tests.fetchkit import within
from tests.fieldkit import case_dir, field_site, once, serve_file, shown, stored, write_config

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # RFC 3986 6.2.2.1: hex digits of percent-escapes are case-insensitive; upper case.
        ("https://x.test/a%c3%bc", "https://x.test/a%C3%BC"),
        # 6.2.2.2: percent-encoded unreserved characters decoded.
        ("https://x.test/%7Euser/%41b", "https://x.test/~user/Ab"),
        # RFC 3987 3.1: an IRI maps to the URI with its UTF-8 percent-encoded.
        ("https://x.test/Zürich?q=ü", "https://x.test/Z%C3%BCrich?q=%C3%BC"),
        # IDN hosts in punycode.
        ("https://bücher.example/jobs/1", "https://xn--bcher-kva.example/jobs/1"),
        # 6.2.2.3: dot segments removed.
        ("https://x.test/a/./b/../c", "https://x.test/a/c"),
        # 6.2.3: empty query and fragment dropped, default port dropped.
        ("https://x.test:443/job?#", "https://x.test/job"),
        ("http://[::1]:80/job", "http://[::1]/job"),
        # Session ids wherever they sit.
        ("https://x.test/job;jsessionid=0A1B2C?id=7", "https://x.test/job?id=7"),
        ("https://x.test/job;JSESSIONID=0A1B2C/", "https://x.test/job"),
        ("https://x.test/job?PHPSESSID=ab12&jobId=9", "https://x.test/job?jobId=9"),
        (
            "https://x.test/job?sid=1&sessionid=2&jsessionid=3&gh_jid=5",
            "https://x.test/job?gh_jid=5",
        ),
        (
            "https://x.test/job?ASPSESSIONIDQCSCRDTA=X&CFID=1&CFTOKEN=2&id=3",
            "https://x.test/job?id=3",
        ),
        # Tracking and session params removed together, job params kept and sorted.
        (
            "https://x.test/job?utm_source=t&jobId=9&sid=z&gh_jid=4",
            "https://x.test/job?gh_jid=4&jobId=9",
        ),
        # Spaces in a query have one spelling.
        ("https://x.test/s?q=a%20b", "https://x.test/s?q=a+b"),
    ],
)
def test_canonical_url_follows_rfc_3986_section_6(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent: stored URLs re-key to themselves


def test_field_07_percent_escape_case_and_iri_spellings_have_one_id() -> None:
    spellings = [
        "https://jobs.example/en-US/External/job/Zürich/Software-Engineer_R-1234",
        "https://jobs.example/en-US/External/job/Z%C3%BCrich/Software-Engineer_R-1234",
        "https://jobs.example/en-US/External/job/Z%c3%bcrich/Software-Engineer_R-1234",
    ]
    assert {canonical_url(u) for u in spellings} == {spellings[1]}
    assert len({posting_id(u) for u in spellings}) == 1


async def test_field_07_board_iri_and_feed_lowercase_escape_store_one_posting(
    tmp_path: Path,
) -> None:
    """Bug: an IRI link and its lower-case-escape spelling were stored as two postings."""
    case = "07-url-percent-encoding-variants"
    async with field_site(case) as (_, base):
        settings = write_config(
            tmp_path,
            [
                {
                    "name": "board",
                    "kind": "html",
                    "url": f"{base}/careers/",
                    "item": "li.job",
                    "title": "a",
                    "link": "a",
                    "location": ".where",
                },
                {"name": "feed", "kind": "rss", "url": f"{base}/jobs.rss"},
            ],
        )
        outcomes = await within(once(settings))
    assert all(o.ok and o.seen == 1 for o in outcomes)
    (posting,) = stored(settings)
    assert posting.url == f"{base}/en-US/External/job/Z%C3%BCrich/Software-Engineer_R-1234"


FIELD_06 = "06-session-token-in-job-links"
BOARD_06 = "/vx/candidate/jobboard/vacancy/1/adv/"


@pytest.mark.parametrize(
    "rule", [{"url_ignore": ["/xf-[^/]+"]}, {"id_pattern": r"/opp/(\d+)"}], ids=lambda r: str(r)
)
async def test_field_06_per_render_token_in_links_is_not_a_new_posting(
    tmp_path: Path, rule: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """Bug: a board whose links carry a per-render token re-announced every opening each run."""
    template = (case_dir(FIELD_06) / "board.template.html").read_bytes()
    async with field_site(FIELD_06) as (server, base):
        source = {
            "name": "field",
            "kind": "html",
            "url": f"{base}{BOARD_06}",
            "item": "tr.opp",
            "title": "a",
            "link": "a",
            "location": ".loc",
            **rule,
        }
        settings = write_config(tmp_path, [source])
        serve_file(server, BOARD_06, template.replace(b"@TOKEN@", b"3348347fc789"))
        (first,) = await within(once(settings))
        serve_file(server, BOARD_06, template.replace(b"@TOKEN@", b"9f00d1e2aa71"))
        caplog.set_level("INFO", logger="bot.pipeline")
        (second,) = await within(once(settings))
    assert (first.seen, first.new) == (2, 2)
    assert (second.ok, second.seen, second.new) == (True, 2, 0)
    assert "field: 2 postings, 0 new" in caplog.text
    assert len(stored(settings)) == 2


async def test_field_06_readme_config_without_identity_options_sees_the_same_two_postings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bug: without url_ignore/id_pattern, a per-render token made every opening new each run
    (field README's exact config: a changed link of a listed posting is that posting)."""
    template = (case_dir(FIELD_06) / "board.template.html").read_bytes()
    async with field_site(FIELD_06) as (server, base):
        source = {
            "name": "field",
            "kind": "html",
            "url": f"{base}{BOARD_06}",
            "item": "tr.opp",
            "title": "a",
            "location": ".loc",
            "company_name": "Example Bank",
        }
        settings = write_config(tmp_path, [source])
        serve_file(server, BOARD_06, template.replace(b"@TOKEN@", b"3348347fc789"))
        (first,) = await within(once(settings))
        before = {p.title: (p.id, p.first_seen) for p in stored(settings)}
        serve_file(server, BOARD_06, template.replace(b"@TOKEN@", b"9f00d1e2aa71"))
        caplog.set_level("INFO", logger="bot.pipeline")
        (second,) = await within(once(settings))
    assert (first.seen, first.new) == (2, 2)
    assert (second.ok, second.seen, second.new) == (True, 2, 0)
    assert "field: 2 postings, 0 new" in caplog.text
    latest = shown(settings)
    assert len(latest) == 2
    # The stored postings kept their id and first_seen and now link to this render's page.
    assert {p.title: (p.id, p.first_seen) for p in latest} == before
    assert all("xf-9f00d1e2aa71" in p.url for p in latest)


def _config(**source: object) -> dict[str, object]:
    entry = {"name": "b", "kind": "rss", "url": "https://x.test/feed", **source}
    return {"sources": [entry]}


@pytest.mark.parametrize(
    ("source", "key", "words"),
    [
        ({"url_ignore": ["/xf-[^/"]}, "sources[0].url_ignore[0]", "not a valid regular expression"),
        ({"url_ignore": "/xf-"}, "sources[0].url_ignore", "expected list"),
        ({"url_ignore": [""]}, "sources[0].url_ignore[0]", "expected a regular expression"),
        ({"id_pattern": "/opp/\\d+"}, "sources[0].id_pattern", "has 0 groups"),
        ({"id_pattern": "/(opp)/(\\d+)"}, "sources[0].id_pattern", "has 2 groups"),
        ({"id_pattern": "/opp/(\\d+"}, "sources[0].id_pattern", "not a valid regular expression"),
    ],
)
def test_bad_identity_options_stop_start_up_naming_the_key(
    source: dict[str, object], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(kinds=KINDS, raw=_config(**source), path=Path("jobhound.toml"))
    assert key in str(info.value)
    assert words in str(info.value)


def test_identity_options_are_read_into_the_source() -> None:
    settings = parse_settings(
        kinds=KINDS,
        raw=_config(url_ignore=["/xf-[^/]+"], id_pattern=r"/opp/(\d+)"),
        path=Path("j.toml"),
    )
    identity = settings.sources[0].identity
    assert identity.scope == "b"
    assert identity.url_ignore == (re.compile("/xf-[^/]+"),)
    assert identity.key("https://x.test/xf-1/opp/101-a") == "id b 101"
    assert identity.key("https://x.test/xf-1/other") == "https://x.test/other"
    plain = parse_settings(kinds=KINDS, raw=_config(), path=Path("j.toml")).sources[0].identity
    assert plain.posting_id("https://x.test/a?utm_source=x") == posting_id("https://x.test/a")


def test_id_pattern_identity_is_scoped_to_its_source() -> None:
    one = Identity(scope="one", id_pattern=re.compile(r"/opp/(\d+)"))
    two = Identity(scope="two", id_pattern=re.compile(r"/opp/(\d+)"))
    assert one.posting_id("https://a.test/opp/1") == one.posting_id("https://b.test/x/opp/1-y")
    assert one.posting_id("https://a.test/opp/1") != two.posting_id("https://a.test/opp/1")


def test_known_urls_follow_the_sources_identity() -> None:
    store = Store.open(":memory:")
    identity = Identity(scope="s", url_ignore=(re.compile("/xf-[^/]+"),))
    store.ingest("s", [Posting(url="https://x.test/xf-aaa/opp/1", title="a")], identity=identity)
    urls = ["https://x.test/xf-bbb/opp/1", "https://x.test/xf-bbb/opp/2"]
    assert store.known_urls(urls, identity) == {urls[0]}
    assert store.known_urls(urls) == set()


def test_adding_url_ignore_to_a_stored_source_re_keys_it_and_alerts_nobody() -> None:
    store = Store.open(":memory:")
    plain = [Posting(url=f"https://x.test/xf-aaa/opp/{n}", title=f"job {n}") for n in (1, 2)]
    store.ingest("s", plain, now=T0)
    store.ingest("s", plain, now=T0 + timedelta(hours=1))  # baseline done
    identity = Identity(scope="s", url_ignore=(re.compile("/xf-[^/]+"),))
    again = [Posting(url=f"https://x.test/xf-bbb/opp/{n}", title=f"job {n}") for n in (1, 2)]
    result = store.ingest("s", again, identity=identity, now=T0 + timedelta(hours=2))
    assert (result.seen, result.new) == (2, ())
    rows = store.db.execute("SELECT id, url, first_seen FROM postings ORDER BY url").fetchall()
    assert rows == [(identity.posting_id(p.url), p.canonical_url, T0.isoformat()) for p in plain]


def _old_store(path: Path) -> Store:
    """A database as the previous release made it: migrations m001/m002 only, and its ids."""
    from sqlite_utils import Database

    from bot.store import migrations

    db = Database(path)
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db, stop_before="m003_canonical_ids")
    return Store(db)


def _old_delivery(old: Store, chat_id: int, posting_id: object, status: str) -> None:
    """An outbox row as the previous release wrote it (JSON lists of subscriptions and terms)."""
    old.db.table("deliveries").insert(
        {
            "chat_id": chat_id,
            "posting_id": posting_id,
            "subscription_ids": "[1]",
            "terms": '["engineer"]',
            "status": status,
            "created_at": T0.isoformat(),
            "next_attempt_at": T0.isoformat(),
        }
    )


def _old_row(url: str, title: str, seen: datetime) -> dict[str, object]:
    """A posting row as the previous release wrote it: `url` its canonical form, id its hash."""
    import hashlib

    stamp = seen.isoformat(timespec="seconds")
    return {
        "id": hashlib.sha256(url.encode()).hexdigest(),
        "url": url,
        "source": "feed",
        "title": title,
        "company": "",
        "location": "",
        "remote": 0,
        "tags": "[]",
        "posted_at": None,
        "salary": "",
        "description": "",
        "apply_url": url,
        "first_seen": stamp,
        "last_seen": stamp,
    }


def test_migration_recomputes_old_ids_and_merges_what_now_collides(tmp_path: Path) -> None:
    """Bug: the same job stored twice under two URL spellings stays doubled in old databases."""
    path = tmp_path / "old.db"
    old = _old_store(path)
    # The previous release's canonical forms of three spellings of one job, and another job.
    spellings = [
        "https://jobs.example/job/Z%c3%bcrich/R-1",  # stored 2nd, sent to chat 1
        "https://jobs.example/job/Z%C3%BCrich/R-1",  # stored 1st, pending for chat 1 and 2
        "https://jobs.example/job/Zürich/R-1",  # stored 3rd, no delivery
        "https://jobs.example/job;jsessionid=X1/R-2?id=2",
    ]
    rows = [
        _old_row(spellings[0], "Engineer (a)", T0 + timedelta(hours=2)),
        _old_row(spellings[1], "Engineer (b)", T0 + timedelta(hours=1)),
        _old_row(spellings[2], "Engineer (c)", T0 + timedelta(hours=5)),
        _old_row(spellings[3], "Other", T0),
    ]
    old.db.table("postings").insert_all(rows)
    for chat in (1, 2):  # as that version wrote them (today's Chats reads later columns)
        old.db.table("chats").insert(
            {"id": chat, "type": "private", "title": "c", "created_at": T0.isoformat()}
        )
    _old_delivery(old, 1, rows[0]["id"], "sent")
    _old_delivery(old, 1, rows[1]["id"], "pending")
    _old_delivery(old, 2, rows[1]["id"], "pending")
    _old_delivery(old, 2, rows[3]["id"], "pending")
    old.db.table("sources").insert({"name": "feed", "baseline_at": T0.isoformat()})  # past it
    old.close()

    store = Store.open(path)  # applies m003
    job = "https://jobs.example/job/Z%C3%BCrich/R-1"
    other = "https://jobs.example/job/R-2?id=2"
    got = store.db.execute(
        "SELECT id, url, title, first_seen, last_seen FROM postings ORDER BY url"
    ).fetchall()
    assert got == [
        (posting_id(other), other, "Other", T0.isoformat(), T0.isoformat()),
        (
            posting_id(job),
            job,
            "Engineer (b)",  # the earliest first_seen is kept
            (T0 + timedelta(hours=1)).isoformat(),
            (T0 + timedelta(hours=5)).isoformat(),
        ),
    ]
    deliveries = store.db.execute(
        "SELECT chat_id, posting_id, status FROM deliveries ORDER BY chat_id, posting_id"
    ).fetchall()
    assert deliveries == sorted(
        [
            (1, posting_id(job), "sent"),
            (2, posting_id(job), "pending"),
            (2, posting_id(other), "pending"),
        ]
    )
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
    # Nobody is alerted again: the next scrape of the same jobs finds nothing new.
    again = [Posting(url=u, title="x") for u in spellings]
    result = store.ingest(
        "feed",
        again,
        now=T0 + timedelta(days=1),
        matcher=lambda new: [PendingDelivery(1, p.id) for p in new],
    )
    assert (result.seen, result.new, result.deliveries) == (2, (), 0)
    store.close()


def test_adding_id_pattern_merges_the_copies_a_token_made_keeping_the_first() -> None:
    store = Store.open(":memory:")
    store.touch_chat(1, type="private", title="c", now=T0)
    for hour, token in enumerate(("aaa", "bbb", "ccc")):
        posting = Posting(url=f"https://x.test/xf-{token}/opp/101-engineer", title=token)
        store.ingest("s", [posting], now=T0 + timedelta(hours=hour))
        store.enqueue([PendingDelivery(1, posting.id)], now=T0)
    store.mark_sent([1], now=T0)  # chat 1 got the first copy; the two others wait, pending
    identity = Identity(scope="s", id_pattern=re.compile(r"/opp/(\d+)"))
    again = Posting(url="https://x.test/xf-ddd/opp/101-engineer", title="ddd")
    result = store.ingest("s", [again], identity=identity, now=T0 + timedelta(hours=5))
    assert (result.seen, result.new) == (1, ())
    rows = store.db.execute("SELECT id, title, first_seen, last_seen FROM postings").fetchall()
    pid = identity.posting_id(again.url)
    assert rows == [(pid, "aaa", T0.isoformat(), (T0 + timedelta(hours=5)).isoformat())]
    deliveries = store.db.execute("SELECT chat_id, posting_id, status FROM deliveries").fetchall()
    assert deliveries == [(1, pid, "sent")]
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_merged_postings_button_names_the_job_it_joined_never_a_later_posting() -> None:
    """Bug: buttons named postings by rowid; a merge freed the last rowids, and the next postings
    stored took them, so an old Not for me button named another job."""
    store = Store.open(":memory:")
    copies = [Posting(url=f"https://x.test/xf-{t}/opp/101-engineer", title=t) for t in "abc"]
    for hour, posting in enumerate(copies):
        store.ingest("s", [posting], now=T0 + timedelta(hours=hour))
    refs = [store.posting_ref(p.id) for p in copies]
    identity = Identity(scope="s", id_pattern=re.compile(r"/opp/(\d+)"))
    merged = Posting(url="https://x.test/xf-d/opp/101-engineer", title="d")
    store.ingest("s", [merged], identity=identity, now=T0 + timedelta(hours=5))
    later = [Posting(url=f"https://x.test/xf-e/opp/{n}-designer", title="e") for n in (7, 8)]
    store.ingest("s", later, identity=identity, now=T0 + timedelta(hours=6))
    job = identity.posting_id(merged.url)
    assert [store.posting_of_ref(ref) for ref in refs if ref is not None] == [job] * 3
    later_refs = {store.posting_ref(identity.posting_id(p.url)) for p in later}
    assert later_refs.isdisjoint(refs)
    assert store.posting_ref(job) == refs[0]  # the job keeps its first number
    assert store.posting_ref("not stored") is None
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_buttons_sent_before_posting_refs_keep_naming_their_postings(tmp_path: Path) -> None:
    """m_posting_refs seeds the numbers with the rowids the buttons already sent carry."""
    from sqlite_utils import Database

    from bot.store import migrations

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m_posting_refs")
    old = Store(db)
    postings = [Posting(url=f"https://x.test/jobs/{n}", title=f"job {n}") for n in (1, 2, 3)]
    old.ingest("s", postings, now=T0)
    rowids = dict(db.execute("SELECT id, rowid FROM postings").fetchall())
    db.close()
    store = Store.open(path)
    assert {p.id: store.posting_ref(p.id) for p in postings} == rowids
    assert all(store.posting_of_ref(ref) == pid for pid, ref in rowids.items())
    fresh = Posting(url="https://x.test/jobs/4", title="job 4")
    store.ingest("s", [fresh], now=T0 + timedelta(hours=1))
    assert store.posting_ref(fresh.id) == max(rowids.values()) + 1
