"""Issue 12 through the store: one alert per real job (groups), per-city copies, reposts,
closing by absence and by `valid_through`, reopening, dropped pending alerts, the migration."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.deliver.console import posting_line
from bot.deliver.format import AlertItem, render_item
from bot.models import Posting, StoredPosting
from bot.sameness import Sameness
from bot.sources.lever import parse_api
from bot.sources.markdown import read_folder
from bot.store import PendingDelivery, Store, migrations
from tests.test_sameness import MUST_MERGE, MUST_NOT_MERGE

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CHAT = 7


def everyone(postings: Sequence[StoredPosting]) -> Iterable[PendingDelivery]:
    """A matcher for one chat subscribed to everything."""
    return [PendingDelivery(CHAT, p.id, 1) for p in postings]


def store_with_chat() -> Store:
    store = Store.open(":memory:")
    store.touch_chat(CHAT, type="private", title="t", now=T0)
    return store


def baseline(store: Store, *sources: str) -> None:
    """Close each source's no-alert baseline with a posting of its own."""
    for source in sources:
        store.ingest(
            source,
            [Posting(f"https://{source}.test/base", f"Baseline {source}", company=source)],
            now=T0,
        )


def alerted(store: Store) -> list[str]:
    rows = store.db.execute("SELECT posting_id FROM deliveries ORDER BY id").fetchall()
    return [row[0] for row in rows]


def job(n: int, **changes: object) -> Posting:
    fields: dict[str, object] = {
        "url": f"https://board.test/jobs/{n}",
        "title": f"Engineer {n}",
        "company": "Acme",
        "location": "Berlin",
    }
    fields.update(changes)
    return Posting(**fields)  # type: ignore[arg-type]


# --- grouping -----------------------------------------------------------------------------------


def _lever_answer(seeds: Sequence[Posting]) -> str:
    """Binance's own Lever board (API shape, ../shared/fixtures/FORMATS.md) holding the seeds'
    jobs, each under a Lever UUID of its own (seed 001 came from that board: its own URL)."""
    items = [
        {
            "id": f"{n:08d}-61c5-4285-b111-9558666d8be5",
            "text": seed.title,
            "hostedUrl": _lever_url(seed, n),
            "applyUrl": _lever_url(seed, n) + "/apply",
            "categories": {"location": seed.location, "commitment": "Full-time"},
            "descriptionPlain": seed.description,
            "createdAt": 1714000000000,
        }
        for n, seed in enumerate(seeds)
    ]
    return json.dumps(items)


def _lever_url(seed: Posting, n: int) -> str:
    if seed.url.startswith("https://jobs.lever.co/"):
        return seed.url
    return f"https://jobs.lever.co/binance/{n:08d}-61c5-4285-b111-9558666d8be5"


def test_five_seeds_and_binance_lever_board_give_one_alert_per_job_with_both_links() -> None:
    """Issue 12's "done means": Binance's jobs on remotewlb.com and on its Lever board."""
    seeds = list(read_folder(ROOT / "seeds").postings)
    assert len(seeds) == 5
    lever = parse_api(_lever_answer(seeds), company="Binance")
    store = store_with_chat()
    baseline(store, "seeds", "binance")
    first = store.ingest("seeds", seeds, now=T0 + timedelta(hours=1), matcher=everyone)
    second = store.ingest("binance", lever, now=T0 + timedelta(hours=2), matcher=everyone)
    # Seed 001 is the Lever board's own posting (one URL): seen, not new.
    assert (len(first.alerted), second.alerted, len(second.new), second.seen) == (5, (), 4, 5)
    assert len(alerted(store)) == 5
    shown = store.latest(20)
    binance = [p for p in shown if p.company == "Binance"]
    assert len(binance) == 5
    for posting in binance:  # the canonical member is the company's own board
        assert posting.url.startswith("https://jobs.lever.co/binance/")
        if posting.title != "Blockchain Infra Developer":
            assert [u.split("/")[2] for u in posting.also_on] == ["www.remotewlb.com"]
            assert "also on: remotewlb.com" in posting_line(posting)
    # The alert (sent after the Lever copy arrived) names the other board.
    (pending,) = store.get_postings([alerted(store)[0]]).values()
    html, plain = render_item(AlertItem(1, pending))
    assert "also on: jobs.lever.co" in plain
    assert "also on: jobs.lever.co" in html


def test_one_job_in_thirty_cities_is_one_alert_listing_the_places() -> None:
    store = store_with_chat()
    baseline(store, "board")
    cities = ["Berlin", "Munich", *(f"City {n:02d}" for n in range(28))]
    copies = [
        job(n, title="Sales Manager", location=city, description="Sell our things.")
        for n, city in enumerate(cities)
    ]
    result = store.ingest("board", copies, now=T0 + timedelta(hours=1), matcher=everyone)
    assert (len(result.new), len(result.alerted)) == (30, 1)
    assert len(alerted(store)) == 1
    (posting,) = store.get_postings(alerted(store)).values()
    _, plain = render_item(AlertItem(1, posting))
    assert "📍 Berlin, Munich +28" in plain
    assert [p.title for p in store.latest(20)].count("Sales Manager") == 1


def _stored_pair(a: Posting, b: Posting) -> tuple[int, int]:
    """(alerts, groups) after two boards list `a` then `b`."""
    store = store_with_chat()
    baseline(store, "one", "two")
    store.ingest("one", [a], now=T0 + timedelta(hours=1), matcher=everyone)
    store.ingest("two", [b], now=T0 + timedelta(hours=2), matcher=everyone)
    groups = store.db.execute(
        "SELECT count(DISTINCT group_id) FROM postings WHERE url NOT LIKE '%/base'"
    ).fetchone()[0]
    return len(alerted(store)), groups


@pytest.mark.parametrize(
    ("a", "b", "kind"), [row[1:] for row in MUST_MERGE], ids=[row[0] for row in MUST_MERGE]
)
def test_must_merge_pairs_are_one_group_and_one_alert_in_the_store(
    a: Posting, b: Posting, kind: Sameness
) -> None:
    if a.id == b.id:  # one URL: the same posting already
        pytest.skip("one URL")
    assert _stored_pair(a, b) == (1, 1)


@pytest.mark.parametrize(
    ("a", "b"), [row[1:] for row in MUST_NOT_MERGE], ids=[row[0] for row in MUST_NOT_MERGE]
)
def test_must_not_merge_pairs_stay_two_jobs_in_the_store(a: Posting, b: Posting) -> None:
    if a.id == b.id:
        pytest.skip("one URL")
    assert _stored_pair(a, b) == (2, 2)


def test_a_shared_ats_id_groups_at_once_whatever_the_title() -> None:
    """Greenhouse's gh_jid on a company's own page is the board's posting."""
    store = store_with_chat()
    baseline(store, "gh", "site")
    store.ingest(
        "gh",
        [job(1, url="https://boards.greenhouse.io/acme/jobs/4242", title="Data Engineer")],
        now=T0 + timedelta(hours=1),
        matcher=everyone,
    )
    store.ingest(
        "site",
        [job(2, url="https://acme.test/careers?gh_jid=4242", title="Data Engineer (Platform)")],
        now=T0 + timedelta(hours=2),
        matcher=everyone,
    )
    assert len(alerted(store)) == 1


# --- closing by absence, reopening, reposts --------------------------------------------------


def _runs(store: Store, source: str, listings: Sequence[Sequence[Posting]], **kw: object) -> None:
    for day, postings in enumerate(listings, start=1):
        store.ingest(
            source,
            postings,
            now=T0 + timedelta(days=day),
            matcher=everyone,
            **kw,  # type: ignore[arg-type]
        )


def _closed(store: Store) -> dict[str, str | None]:
    rows = store.db.execute("SELECT url, closed_at FROM postings WHERE source = 'b'").fetchall()
    return {url.rsplit("/", 1)[1]: closed for url, closed in rows}


def test_absent_from_two_complete_runs_closes_and_reappearing_reopens() -> None:
    store = store_with_chat()
    a, b = job(1), job(2)
    _runs(store, "b", [[a, b], [a], [a]], closes=True)
    closed = _closed(store)
    assert closed == {"1": None, "2": (T0 + timedelta(days=3)).isoformat()}
    assert [p.title for p in store.latest(10)] == ["Engineer 1"]
    assert {p.title: bool(p.closed_at) for p in store.latest(10, closed=True)} == {
        "Engineer 1": False,
        "Engineer 2": True,
    }
    store.ingest("b", [a, b], now=T0 + timedelta(days=4), closes=True)
    assert _closed(store) == {"1": None, "2": None}
    assert len(alerted(store)) == 0  # a known posting coming back is not a new job


def test_partial_or_feed_runs_never_close_and_a_failing_run_does_not_count() -> None:
    store = store_with_chat()
    a, b = job(1), job(2)
    # complete, partial (closes=False: a feed, a capped crawl, a run with unreadable items)
    _runs(store, "b", [[a, b], [a], [a]], closes=False)
    assert _closed(store) == {"1": None, "2": None}
    # One complete miss, then a failing run (no ingest at all), then a complete listing
    # showing it again: the miss count starts over.
    store.ingest("b", [a], now=T0 + timedelta(days=5), closes=True)
    store.ingest("b", [a, b], now=T0 + timedelta(days=7), closes=True)
    store.ingest("b", [a], now=T0 + timedelta(days=8), closes=True)
    assert _closed(store) == {"1": None, "2": None}
    store.ingest("b", [a], now=T0 + timedelta(days=9), closes=True)
    assert _closed(store)["2"] == (T0 + timedelta(days=9)).isoformat()


def test_a_closed_job_posted_again_within_180_days_alerts_as_a_repost() -> None:
    store = store_with_chat()
    old = job(1, title="Platform Engineer")
    _runs(store, "b", [[old, job(2)], [job(2)], [job(2)]], closes=True)
    assert _closed(store)["1"] is not None
    again = job(3, title="Platform Engineer")  # new URL, same job
    when = T0 + timedelta(days=95)
    result = store.ingest("b", [job(2), again], now=when, matcher=everyone, closes=True)
    assert [p.id for p in result.alerted] == [again.id]
    (shown,) = store.get_postings([again.id]).values()
    assert shown.repost == "reposted · first seen 94 days ago · 2nd time"
    _, plain = render_item(AlertItem(1, shown))
    assert "reposted · first seen 94 days ago · 2nd time" in plain
    # Closed again, posted a third time.
    _runs_from(store, when, [[job(2)], [job(2)]])
    third = job(4, title="Platform Engineer")
    store.ingest("b", [job(2), third], now=when + timedelta(days=10), matcher=everyone)
    (shown,) = store.get_postings([third.id]).values()
    assert shown.repost.endswith("· 3rd time")


def _runs_from(store: Store, start: datetime, listings: Sequence[Sequence[Posting]]) -> None:
    for day, postings in enumerate(listings, start=1):
        store.ingest("b", postings, now=start + timedelta(days=day), closes=True)


def test_a_job_closed_more_than_180_days_ago_is_a_new_job() -> None:
    store = store_with_chat()
    _runs(
        store, "b", [[job(1, title="Platform Engineer"), job(2)], [job(2)], [job(2)]], closes=True
    )
    again = job(3, title="Platform Engineer")
    store.ingest("b", [job(2), again], now=T0 + timedelta(days=200), matcher=everyone)
    (shown,) = store.get_postings([again.id]).values()
    assert shown.repost == ""
    assert again.id in alerted(store)


def test_valid_through_closes_on_that_date() -> None:
    store = store_with_chat()
    expiring = job(1, extra={"valid_through": "2026-03-10"})
    store.ingest("b", [expiring, job(2)], now=T0)
    assert _closed(store) == {"1": None, "2": None}
    store.ingest("b", [expiring, job(2)], now=T0 + timedelta(days=12))
    assert _closed(store) == {"1": "2026-03-10T00:00:00+00:00", "2": None}


def test_a_pending_alert_for_a_posting_closed_before_sending_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    from bot.deliver.sender import Sender

    store = store_with_chat()
    baseline(store, "b")
    store.ingest("b", [job(1), job(2)], now=T0 + timedelta(days=1), matcher=everyone)
    assert len(alerted(store)) == 2
    _runs_from(store, T0 + timedelta(days=1), [[job(2)], [job(2)]])
    sender = Sender(store, bot=None)  # type: ignore[arg-type]
    caplog.set_level("INFO")

    async def deliver() -> None:
        # Only job 1's delivery is due to be dropped; job 2's needs the (absent) bot.
        store.db.execute("DELETE FROM deliveries WHERE posting_id = ?", [job(2).id])
        await asyncio.wait_for(sender.deliver_chat(CHAT), 10)

    asyncio.run(deliver())
    row = store.db.execute(
        "SELECT status, last_error FROM deliveries WHERE posting_id = ?", [job(1).id]
    ).fetchone()
    assert tuple(row) == ("dropped", "closed")
    assert sender.closed_dropped == 1
    assert "1 pending alert(s) dropped: posting closed before sending" in caplog.text


# --- the migration ---------------------------------------------------------------------------


def test_existing_databases_are_grouped_once_at_start_up_without_alerting(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m_groups")
    copies = [
        job(1, url="https://remotewlb.test/a", title="Senior Rust Engineer", company="Binance"),
        job(
            2,
            url="https://jobs.lever.co/binance/9de54dd6-61c5-4285-b111-9558666d8be5",
            title="Sr. Rust Engineer",
            company="Binance, Inc.",
        ),
        job(3, title="Backend Engineer"),
    ]
    for n, p in enumerate(copies):
        seen = (T0 + timedelta(days=n)).isoformat()
        db.table("postings").insert(
            {
                "id": p.id,
                "url": p.url,
                "source": "old",
                "title": p.title,
                "company": p.company,
                "location": p.location,
                "remote": 0,
                "tags": "[]",
                "first_seen": seen,
                "last_seen": seen,
            }
        )
    db.close()
    store = Store.open(path)
    groups = store.db.execute("SELECT id, canonical_id FROM groups ORDER BY first_seen").fetchall()
    assert [tuple(g) for g in groups] == [
        (copies[0].id, copies[1].id),
        (copies[2].id, copies[2].id),
    ]
    assert store.db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
    assert [p.title for p in store.latest(10)] == ["Backend Engineer", "Sr. Rust Engineer"]
    store.close()


# --- field case 06 without url_ignore / id_pattern -------------------------------------------


def test_a_changed_link_of_a_listed_posting_keeps_it_seen_not_new() -> None:
    store = store_with_chat()
    first = [job(1, url="https://b.test/xf-aa/opp/101"), job(2, url="https://b.test/xf-aa/opp/102")]
    store.ingest("b", first, now=T0, closes=True)
    second = [dataclasses.replace(p, url=p.url.replace("xf-aa", "xf-bb")) for p in first]
    result = store.ingest("b", second, now=T0 + timedelta(days=1), matcher=everyone, closes=True)
    assert (result.seen, len(result.new), result.relinked) == (2, 0, 2)
    # A feed (no `closes`) lists recent items only: a new link there is a new posting.
    third = [dataclasses.replace(p, url=p.url.replace("xf-aa", "xf-cc")) for p in first]
    assert len(store.ingest("b", third, now=T0 + timedelta(days=2)).new) == 2
    store.db.execute("DELETE FROM postings WHERE url LIKE '%xf-cc%'")
    rows = store.db.execute("SELECT id, url, first_seen FROM postings ORDER BY url").fetchall()
    assert [tuple(r) for r in rows] == [
        (first[0].id, second[0].canonical_url, T0.isoformat()),
        (first[1].id, second[1].canonical_url, T0.isoformat()),
    ]


# --- through the pipeline: each kind declares whether absence closes ------------------------

BOARD = """<ul>{items}</ul>"""
FEED = (
    """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>"""
)


def _html(ids: Sequence[int]) -> bytes:
    items = "".join(
        f'<li class="job"><a href="/jobs/{n}">Engineer {n}</a>'
        '<span class="where">Berlin</span></li>'
        for n in ids
    )
    return BOARD.format(items=items).encode()


def _rss(base: str, ids: Sequence[int]) -> bytes:
    items = "".join(
        f"<item><title>Engineer {n}</title><link>{base}/feed/{n}</link></item>" for n in ids
    )
    return FEED.format(items=items).encode()


async def test_complete_html_board_closes_a_missing_job_a_feed_and_a_broken_run_never_do(
    tmp_path: Path,
) -> None:
    from tests.boardserver import serve
    from tests.fetchkit import within
    from tests.fieldkit import once, serve_file, shown, write_config

    async with serve() as server:
        base = server.url("").rstrip("/")
        settings = write_config(
            tmp_path,
            [
                {
                    "name": "board",
                    "kind": "html",
                    "url": f"{base}/jobs",
                    "item": "li.job",
                    "title": "a",
                    "location": ".where",
                    "company_name": "Acme",
                },
                {"name": "feed", "kind": "rss", "url": f"{base}/feed.rss", "company": "Acme"},
            ],
        )

        async def cycle(board: bytes | None, feed: Sequence[int]) -> None:
            if board is None:
                server.add("/jobs", status=500, body=b"down")
            else:
                serve_file(server, "/jobs", board)
            serve_file(server, "/feed.rss", _rss(base, feed))
            await within(once(settings))

        await cycle(_html([1, 2]), [11, 12])
        await cycle(_html([1]), [11])  # one miss each
        await cycle(None, [11])  # the board fails: no miss counted, nothing closed
        await cycle(b"<ul></ul>", [11])  # zero items where there were two: layout changed
        titles = {p.title for p in shown(settings)}
        assert titles == {"Engineer 1", "Engineer 2", "Engineer 11", "Engineer 12"}
        await cycle(_html([1]), [11])  # the second complete miss: closed; the feed never closes
        titles = {p.title for p in shown(settings)}
        assert titles == {"Engineer 1", "Engineer 11", "Engineer 12"}
        closed = {p.title for p in shown(settings, closed=True) if p.closed_at}
        assert closed == {"Engineer 2"}
        await cycle(_html([1, 2]), [11])  # it reappears: open again
        assert "Engineer 2" in {p.title for p in shown(settings)}


async def test_a_jsonld_source_never_closes_the_pages_it_did_not_fetch(tmp_path: Path) -> None:
    """Bug: a jsonld listing fetches only pages not stored yet, so each run that brought a new
    page counted every stored one as missing and closed it after two such runs."""
    from tests.fetchkit import within
    from tests.fieldkit import case_dir, field_site, once, serve_file, shown, write_config

    case = "02-jsonld-html-escaped-wp-job-manager"
    page = (case_dir(case) / "site/job/rd-engineer/index.html").read_bytes()

    def listing(base: str, names: list[str]) -> bytes:
        links = "".join(f'<li><a href="{base}/job/{n}/">{n}</a></li>' for n in names)
        return f"<html><body><ul>{links}</ul></body></html>".encode()

    async with field_site(case) as (server, base):
        for n in (1, 2):  # two more job pages, one posting each
            body = page.replace(b"R&amp;#038;D Engineer", f"Widget Engineer {n}".encode())
            serve_file(server, f"/job/widget-{n}/", body.replace(b"{{BASE}}", base.encode()))
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "jsonld", "url": f"{base}/jobs/"}]
        )
        names = ["events-marketing-coordinator", "rd-engineer", "widget-1", "widget-2"]
        for count in (1, 2, 3, 4):  # each run brings one new page; the others stay listed
            serve_file(server, "/jobs/", listing(base, names[:count]))
            await within(once(settings))
    assert len(shown(settings)) == 4  # every listed job still open
