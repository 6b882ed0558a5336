"""Storing scrapes: dedupe by canonical URL, one transaction per scrape, baseline, health."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Posting
from bot.sources.markdown import read_folder
from bot.store import PendingDelivery, Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:")


def posting(n: int, **fields: object) -> Posting:
    return Posting(url=f"https://jobs.example.com/{n}", title=f"Job {n}", company="Acme", **fields)  # type: ignore[arg-type]


def test_first_scrape_is_a_baseline_and_rescrape_stores_nothing(store: Store) -> None:
    first = store.ingest("board", [posting(1), posting(2)], now=T0)
    assert first.baseline
    assert len(first.new) == 2
    assert first.seen == 2
    again = store.ingest("board", [posting(1), posting(2)], now=T0 + timedelta(hours=1))
    assert not again.baseline
    assert again.new == ()
    assert again.seen == 2
    assert store.count_postings() == 2
    row = store.get_postings([posting(1).id])[posting(1).id]
    assert row.first_seen == T0
    assert row.last_seen == T0 + timedelta(hours=1)


def test_tracking_variants_of_one_url_are_one_posting(store: Store) -> None:
    variants = [
        Posting(url="https://jobs.example.com/1?utm_source=a", title="Job"),
        Posting(url="https://JOBS.example.com/1/#x", title="Job"),
    ]
    result = store.ingest("board", variants, now=T0)
    assert result.seen == 1
    assert len(result.new) == 1
    assert result.new[0].url == "https://jobs.example.com/1"


def test_stored_fields_round_trip(store: Store) -> None:
    original = posting(
        7,
        location="Berlin",
        remote=True,
        tags=("rust", "c++"),
        posted_at=T0 - timedelta(days=2),
        salary="€90k",
        description="Build things.",
        apply_url="https://jobs.example.com/7/apply",
    )
    (stored,) = store.ingest("board", [original], now=T0).new
    assert stored == store.latest(1)[0]
    assert (stored.id, stored.source, stored.title, stored.company) == (
        original.id,
        "board",
        "Job 7",
        "Acme",
    )
    assert (stored.location, stored.remote, stored.tags, stored.salary) == (
        "Berlin",
        True,
        ("rust", "c++"),
        "€90k",
    )
    assert stored.posted_at == T0 - timedelta(days=2)
    assert stored.apply_url == "https://jobs.example.com/7/apply"


def test_new_postings_after_baseline_reach_the_matcher_in_the_same_transaction(
    store: Store,
) -> None:
    store.ingest("board", [posting(1)], now=T0)
    seen: list[object] = []

    def matcher(new):  # type: ignore[no-untyped-def]
        seen.extend(p.id for p in new)
        return [PendingDelivery(chat_id=5, posting_id=p.id, subscription_id=1) for p in new]

    result = store.ingest("board", [posting(1), posting(2)], now=T0, matcher=matcher)
    assert seen == [posting(2).id]
    assert result.deliveries == 1
    # the unique (chat, posting) constraint: queuing the same alert again adds nothing
    assert store.enqueue([PendingDelivery(chat_id=5, posting_id=posting(2).id)]) == 0
    # regression: a lone enqueue once left its implicit transaction open
    assert not store.db.conn.in_transaction


def test_a_failing_matcher_rolls_the_whole_scrape_back(store: Store) -> None:
    store.ingest("board", [posting(1)], now=T0)

    def matcher(new):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.ingest("board", [posting(2)], now=T0, matcher=matcher)
    assert store.count_postings() == 1  # posting 2 will be new again next run, and alerted then


def test_empty_first_answer_sets_no_baseline(store: Store) -> None:
    assert store.ingest("board", [], now=T0).baseline
    assert store.ingest("board", [posting(1)], now=T0).baseline


def test_health_records_streaks(store: Store) -> None:
    assert store.record_failure("board", "timed out", now=T0) == 1
    assert store.record_failure("board", "timed out", now=T0) == 2
    store.record_success("board", count=12, new=3, now=T0 + timedelta(minutes=5))
    health = store.health("board")
    assert health is not None
    assert health.consecutive_failures == 0
    assert health.last_count == 12
    assert health.last_new == 3
    assert health.last_error == "timed out"
    assert health.last_success_at == T0 + timedelta(minutes=5)
    store.record_success("board", count=None, new=0, now=T0)  # unchanged keeps the last count
    assert store.health("board").last_count == 12  # type: ignore[union-attr]


def test_validators(store: Store) -> None:
    assert store.get_validators("https://x.test/a") is None
    store.put_validators("https://x.test/a", '"v1"', "Sat, 01 Nov 2026 10:00:00 GMT")
    assert store.get_validators("https://x.test/a") == ('"v1"', "Sat, 01 Nov 2026 10:00:00 GMT")
    store.put_validators("https://x.test/a", None, None)
    assert store.get_validators("https://x.test/a") is None


def test_restart_rereads_the_same_seeds_and_stores_nothing(tmp_path: Path, seeds_dir: Path) -> None:
    db = tmp_path / "data" / "jobhound.db"
    postings = read_folder(seeds_dir).postings
    first = Store.open(db)
    assert len(first.ingest("seeds", postings).new) == 5
    first.close()
    second = Store.open(db)  # migrations are applied once; reopening keeps everything
    result = second.ingest("seeds", read_folder(seeds_dir).postings)
    assert result.new == ()
    assert not result.baseline
    assert second.count_postings() == 5
    assert second.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second.close()


def test_known_urls(store: Store) -> None:
    store.ingest("board", [posting(1)], now=T0)
    urls = ["https://jobs.example.com/1?utm_source=x", "https://jobs.example.com/2"]
    assert store.known_urls(urls) == {"https://jobs.example.com/1?utm_source=x"}


def test_latest_is_newest_first(store: Store) -> None:
    store.ingest("board", [posting(1)], now=T0)
    store.ingest("board", [posting(2)], now=T0 + timedelta(hours=1))
    assert [p.title for p in store.latest(5)] == ["Job 2", "Job 1"]


def test_baseline_stays_open_while_a_crawl_catches_up(store: Store) -> None:
    assert store.ingest("board", [posting(1)], now=T0, complete=False).baseline
    # the backlog's next page is still baseline: no alerts for postings that are merely old
    assert store.ingest("board", [posting(2)], now=T0, complete=False).baseline
    assert store.ingest("board", [posting(3)], now=T0, complete=True).baseline
    assert not store.ingest("board", [posting(4)], now=T0).baseline


def test_plain_chats_are_the_active_unpaused_ones_without_quiet_hours_or_cap(store: Store) -> None:
    for chat_id in range(1, 6):
        store.touch_chat(chat_id, type="private", title=f"c{chat_id}")
    store.set_paused(2, True)
    store.set_timing(3, tz=None, quiet="22:00-07:00", cap=None)
    store.set_timing(4, tz="Europe/Berlin", quiet=None, cap=5)
    store.db.execute("UPDATE chats SET active = 0 WHERE id = 5")
    assert store.plain_chats([1, 2, 3, 4, 5, 99]) == {1}
    store.set_timing(4, tz="Europe/Berlin", quiet=None, cap=None)  # a time zone alone: plain
    assert store.plain_chats([1, 4]) == {1, 4}


def test_a_company_is_shown_as_first_spelled_and_compared_folded(store: Store) -> None:
    store.touch_chat(1, type="private", title="c")
    ids = store.company_ids(["  Smith  &  Sons ", "SMITH & SONS"])
    assert ids["  Smith  &  Sons "] == ids["SMITH & SONS"]
    assert store.mute(1, ids["SMITH & SONS"]) == "Smith & Sons"
    assert store.muted(1) == ["smith & sons"]  # what alerts are compared with
    assert store.muted_shown(1) == ["Smith & Sons"]
    # A row stored before companies had a spelling shows its compared form.
    store.db.execute("UPDATE companies SET shown = NULL")
    assert store.muted_shown(1) == ["smith & sons"]
    assert store.unmute(1, "smith & SONS") == "smith & sons"


def test_a_very_long_company_is_shown_cut_and_can_be_unmuted_as_shown(store: Store) -> None:
    """Regression (tester): a 4,000-character company made the mute answer (which quotes it
    twice) too long for Telegram, and /unmute refused a name that long."""
    store.touch_chat(1, type="private", title="c")
    name = "Acme " + "x" * 4000
    shown = store.mute(1, store.company_ids([name])[name])
    assert shown is not None
    assert len(shown) == 100
    assert shown.endswith("…")
    assert store.muted_shown(1) == [shown]
    assert store.unmute(1, shown) == shown
    assert store.muted(1) == []
