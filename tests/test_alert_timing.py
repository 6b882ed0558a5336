"""Issue 13 end to end with an injected clock: matching writes each alert's due time into the
outbox, and the sender (python-telegram-bot against the fake Bot API) sends what is due:
instant, daily and weekly modes, quiet hours (held, silent), the daily cap, both DST edges,
a restart after a missed due time, and a SIGKILL while digests go out."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.ext import ExtBot

from bot.deliver import Limits, Sender
from bot.models import Posting, canonical_url, posting_id
from bot.sameness import group_key
from bot.sources.markdown import read_folder
from bot.store import PendingDelivery, Store
from bot.subscriptions import Subscriptions
from bot.timing import Mode
from tests.conftest import SHARED
from tests.fake_telegram import ChatMessage, FakeTelegram, RateLimits
from tests.test_delivery import make_bot, matching
from tests.test_sigkill import start, wait_until

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

ADA = 1001
SOURCE = "board"


@dataclass
class Clock:
    """The one clock of matching and sending: moves only when a test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def corpus() -> list[Posting]:
    folder = SHARED / "corpus" / "remotewlb" / "Python"
    if not folder.is_dir():
        pytest.skip("../shared/corpus is not present beside the repository")
    return list(read_folder(folder).postings)


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        server.add_private_chat(ADA, "Ada")
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[ExtBot[None]]:
    async with make_bot(tg, Limits(private_period=0.25)) as client:
        yield client


@dataclass
class World:
    store: Store
    subs: Subscriptions
    clock: Clock
    fresh: list[Posting]
    used: int = 0
    sent: list[ChatMessage] = field(default_factory=list)

    def scrape(self, count: int = 1) -> list[Posting]:
        """`count` new matching postings, stored and matched at the clock's time."""
        postings = self.fresh[self.used : self.used + count]
        self.used += count
        self.store.ingest(SOURCE, postings, matcher=self.subs.matcher, now=self.clock())
        return postings

    def at(self, text: str) -> None:
        self.clock.now = datetime.fromisoformat(text).astimezone(UTC)

    def due(self) -> list[tuple[str, str, int, str]]:
        """(posting id, due_at, silent, held) of pending rows, in queue order."""
        return self.store.db.execute(
            "SELECT posting_id, due_at, silent, held FROM deliveries "
            "WHERE status = 'pending' ORDER BY id"
        ).fetchall()


def world_at(corpus: list[Posting], start: str, store: Store | None = None) -> World:
    store = store or Store.open(":memory:")
    clock = Clock(datetime.fromisoformat(start).astimezone(UTC))
    store.ingest(SOURCE, corpus[:50], now=clock())  # the baseline
    store.touch_chat(ADA, type="private", title="Ada")
    return World(store, Subscriptions(store, clock=clock), clock, distinct_jobs(corpus))


def distinct_jobs(corpus: list[Posting]) -> list[Posting]:
    """Corpus postings matching "python" after the baseline, each a job of its own (the corpus
    lists some jobs twice or once per city: those alert once, issue 12)."""
    keys = {group_key(p) for p in corpus[:50]}
    found = []
    for posting in matching("python", corpus[50:]):
        key = group_key(posting)
        if key not in keys:
            keys.add(key)
            found.append(posting)
    return found


async def deliver(world: World, tg: FakeTelegram, bot: ExtBot[None]) -> list[ChatMessage]:
    """Send what is due at the clock's time; the messages this sent."""
    before = len(tg.sent_messages(ADA))
    await Sender(world.store, bot, clock=world.clock).drain(timeout=20)
    return tg.sent_messages(ADA)[before:]


def announced(message: ChatMessage) -> list[str]:
    links = [e["url"] for e in message.entities if e.get("type") == "text_link"]
    return [posting_id(canonical_url(url)) for url in links if "Apply" not in url]


def settings(
    world: World, *, tz: str | None = None, quiet: str | None = None, cap: int | None = None
) -> None:
    world.store.set_timing(ADA, tz=tz, quiet=quiet, cap=cap)


# -- modes ------------------------------------------------------------------------------------


async def test_instant_alert_goes_at_once(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T12:00:00+00:00")
    world.subs.add(ADA, "python")
    (posting,) = world.scrape()
    (message,) = await deliver(world, tg, bot)
    assert announced(message) == [posting.id]
    assert not message.params.get("disable_notification")


async def test_daily_digest_waits_for_its_time_then_lists_newest_first_once(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T12:00:00+00:00")
    settings(world, tz="Europe/Berlin")
    sub = world.subs.add(ADA, "python", Mode.parse("daily 09:00")).subscription
    older = world.scrape(2)
    world.at("2026-03-10T18:00:00+00:00")
    newer = world.scrape(1)
    # 09:00 in Berlin (CET) is 08:00 UTC the next day, for every row.
    assert {row[1] for row in world.due()} == {"2026-03-11T08:00:00+00:00"}
    assert await deliver(world, tg, bot) == []
    world.at("2026-03-11T07:59:59+00:00")
    assert await deliver(world, tg, bot) == []
    world.at("2026-03-11T08:00:00+00:00")
    (digest,) = await deliver(world, tg, bot)
    assert digest.text.startswith("📬 Digest: 3 new postings")
    assert f"#{sub.id} python · daily at 09:00" in digest.text
    shown = announced(digest)
    assert shown[0] == newer[0].id
    assert set(shown[1:]) == {p.id for p in older}
    assert len(digest.buttons) == 3
    assert not digest.params.get("disable_notification")
    world.at("2026-03-11T09:00:00+00:00")
    assert await deliver(world, tg, bot) == []  # never twice
    assert world.due() == []


async def test_weekly_digest_goes_on_its_day(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T12:00:00+00:00")  # a Tuesday
    world.subs.add(ADA, "python", Mode.parse("weekly mon 09:00"))
    world.scrape()
    assert [row[1] for row in world.due()] == ["2026-03-16T09:00:00+00:00"]
    world.at("2026-03-15T09:00:00+00:00")
    assert await deliver(world, tg, bot) == []
    world.at("2026-03-16T09:00:00+00:00")
    (digest,) = await deliver(world, tg, bot)
    assert "weekly on Monday at 09:00" in digest.text


async def test_empty_digest_is_not_sent(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T12:00:00+00:00")
    world.subs.add(ADA, "python", Mode.parse("daily 09:00"))
    world.at("2026-03-11T09:00:00+00:00")
    assert await deliver(world, tg, bot) == []


# -- quiet hours ------------------------------------------------------------------------------


async def test_quiet_hours_hold_instant_alerts_and_deliver_them_as_one_message(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T23:00:00+01:00")
    settings(world, tz="Europe/Berlin", quiet="22:00-08:00")
    world.subs.add(ADA, "python")
    held = world.scrape(2)
    world.at("2026-03-11T03:00:00+01:00")
    held += world.scrape(1)
    assert {(row[1], row[3]) for row in world.due()} == {("2026-03-11T07:00:00+00:00", "quiet")}
    world.at("2026-03-11T07:59:00+01:00")
    assert await deliver(world, tg, bot) == []
    world.at("2026-03-11T08:00:00+01:00")
    (message,) = await deliver(world, tg, bot)
    assert sorted(announced(message)) == sorted(p.id for p in held)
    assert not message.params.get("disable_notification")


async def test_silent_quiet_hours_send_at_once_without_a_sound(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T23:00:00+01:00")
    settings(world, tz="Europe/Berlin", quiet="22:00-08:00 silent")
    world.subs.add(ADA, "python")
    (posting,) = world.scrape()
    (message,) = await deliver(world, tg, bot)
    assert announced(message) == [posting.id]
    assert message.params.get("disable_notification") is True
    world.at("2026-03-11T09:00:00+01:00")
    world.scrape()
    (loud,) = await deliver(world, tg, bot)
    assert not loud.params.get("disable_notification")


# -- the daily cap ----------------------------------------------------------------------------


async def test_cap_holds_alerts_past_it_for_the_next_digest_instead_of_dropping_them(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T10:00:00+00:00")
    settings(world, cap=2)
    world.subs.add(ADA, "python")
    world.subs.add(ADA, "engineer OR developer", Mode.parse("daily 18:00"))
    first = world.scrape(1)
    assert len(await deliver(world, tg, bot)) == 1
    world.at("2026-03-10T11:00:00+00:00")
    rest = world.scrape(3)  # one more fits the cap of 2; two wait for the 18:00 digest
    (message,) = await deliver(world, tg, bot)
    assert announced(message) == [rest[0].id]
    assert [(row[0], row[3]) for row in world.due()] == [(p.id, "cap") for p in rest[1:]]
    assert {row[1] for row in world.due()} == {"2026-03-10T18:00:00+00:00"}
    world.at("2026-03-10T18:00:00+00:00")
    (digest,) = await deliver(world, tg, bot)
    assert {p.id for p in rest[1:]} <= set(announced(digest))
    assert "held by the daily cap" in digest.text
    assert first[0].id not in announced(digest)


async def test_cap_without_a_digest_holds_alerts_until_local_midnight(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T10:00:00+01:00")
    settings(world, tz="Europe/Berlin", cap=1)
    world.subs.add(ADA, "python")
    posted = world.scrape(3)
    assert len(await deliver(world, tg, bot)) == 1
    assert {row[1] for row in world.due()} == {"2026-03-10T23:00:00+00:00"}
    world.at("2026-03-11T00:00:00+01:00")
    (digest,) = await deliver(world, tg, bot)
    assert set(announced(digest)) == {p.id for p in posted[1:]}


# -- daylight saving: neither skipped nor doubled --------------------------------------------


async def test_dst_spring_forward_fires_the_skipped_time_once(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    """Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST; a digest at 02:30 goes at 03:00."""
    world = world_at(corpus, "2026-03-28T12:00:00+00:00")
    settings(world, tz="Europe/Berlin")
    world.subs.add(ADA, "python", Mode.parse("daily 02:30"))
    world.scrape()
    assert [row[1] for row in world.due()] == ["2026-03-29T01:00:00+00:00"]
    sent = await _hourly(world, tg, bot, "2026-03-28T12:00:00+00:00", hours=62, scrape_at=12)
    # One digest a day: the 29th (at the gap's end), the 30th, the 31st (at 00:30 UTC).
    assert len(sent) == 3


async def test_dst_fall_back_fires_the_repeated_time_once(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    """Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, a digest
    at 02:30 goes at the first (00:30 UTC) only, and a posting queued between the two waits
    for the next day."""
    world = world_at(corpus, "2026-10-24T12:00:00+00:00")
    settings(world, tz="Europe/Berlin")
    world.subs.add(ADA, "python", Mode.parse("daily 02:30"))
    world.scrape()
    assert [row[1] for row in world.due()] == ["2026-10-25T00:30:00+00:00"]
    world.at("2026-10-25T00:30:00+00:00")
    assert len(await deliver(world, tg, bot)) == 1
    world.at("2026-10-25T01:00:00+00:00")  # 02:00 CET, between the two 02:30s
    world.scrape()
    assert [row[1] for row in world.due()] == ["2026-10-26T01:30:00+00:00"]
    world.at("2026-10-25T01:30:00+00:00")  # the second 02:30
    assert await deliver(world, tg, bot) == []
    world.at("2026-10-26T01:30:00+00:00")
    assert len(await deliver(world, tg, bot)) == 1


async def _hourly(
    world: World, tg: FakeTelegram, bot: ExtBot[None], start: str, *, hours: int, scrape_at: int
) -> list[ChatMessage]:
    """Walk the clock hour by hour from `start` (after the first scrape), scraping at
    `scrape_at` UTC each day and sending what is due at each step."""
    sent: list[ChatMessage] = []
    begin = datetime.fromisoformat(start)
    for hour in range(1, hours + 1):
        world.clock.now = begin + timedelta(hours=hour)
        if world.clock.now.hour == scrape_at:
            world.scrape()
        if world.store.due_chats(now=world.clock(), limit=1):
            sent += await deliver(world, tg, bot)
    return sent


# -- changes and restarts ---------------------------------------------------------------------


async def test_time_zone_and_mode_changes_reschedule_waiting_alerts(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    world = world_at(corpus, "2026-03-10T12:00:00+00:00")
    sub = world.subs.add(ADA, "python", Mode.parse("daily 09:00")).subscription
    world.scrape()
    assert [row[1] for row in world.due()] == ["2026-03-11T09:00:00+00:00"]
    settings(world, tz="America/New_York")
    world.subs.reschedule(ADA)
    # 08:00 in New York (EDT since 8 March): the digest now goes at 09:00 there today.
    assert [row[1] for row in world.due()] == ["2026-03-10T13:00:00+00:00"]
    assert world.subs.set_mode(ADA, sub.id, Mode())
    assert [row[1:] for row in world.due()] == [("2026-03-10T12:00:00+00:00", 0, "now")]
    assert len(await deliver(world, tg, bot)) == 1


async def test_restart_after_a_missed_due_time_sends_the_digest_once(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None], tmp_path: Path
) -> None:
    path = tmp_path / "jobhound.db"
    world = world_at(corpus, "2026-03-10T12:00:00+00:00", Store.open(path))
    world.subs.add(ADA, "python", Mode.parse("daily 09:00"))
    posted = world.scrape(2)
    world.store.close()  # the daemon is down at 09:00 the next day
    clock = Clock(datetime(2026, 3, 11, 15, 0, tzinfo=UTC))
    for _ in range(2):  # back at 15:00, then restarted once more
        store = Store.open(path)
        before = len(tg.sent_messages(ADA))
        await Sender(store, bot, clock=clock).drain(timeout=20)
        store.close()
        clock.now += timedelta(minutes=5)
    (digest,) = tg.sent_messages(ADA)
    assert before == 1
    assert set(announced(digest)) == {p.id for p in posted}


# -- SIGKILL while digests go out -------------------------------------------------------------

CHATS = list(range(400_001, 400_151))


@pytest.mark.alone  # no 429 at Telegram's flood limits: arrival times must not bunch under load
def test_sigkill_during_digests_loses_nothing(tmp_path: Path) -> None:
    """150 chats' daily digests (two postings each) due in the past; the daemon is killed with
    SIGKILL after a third went out and restarted: every posting arrives, only messages in
    flight at the kill twice, no 429."""
    from tests.test_sigkill import CONFIG, CORPUS

    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present beside the repository")
    with FakeTelegram(rate_limits=RateLimits()) as tg:
        board = tmp_path / "board"
        board.mkdir()
        files = sorted(CORPUS.rglob("*.md"))
        for source in files[:3]:
            (board / source.name).write_bytes(source.read_bytes())
        db = tmp_path / "data" / "jobhound.db"
        store = Store.open(db)
        store.ingest("board", read_folder(board).postings)
        archive = read_folder(CORPUS).postings
        store.ingest("archive", archive)
        due = datetime.now(UTC) - timedelta(hours=1)
        wanted: dict[int, set[str]] = {}
        rows: list[PendingDelivery] = []
        for n, chat_id in enumerate(CHATS):
            store.touch_chat(chat_id, type="private", title=f"user {chat_id}")
            sub = store.add_subscription(chat_id, "python", mode="daily 09:00")
            picks = [archive[(2 * n + k) % len(archive)] for k in range(2)]
            wanted[chat_id] = {p.id for p in picks}
            rows += [
                PendingDelivery(chat_id, p.id, sub.id, due_at=due, held="digest") for p in picks
            ]
        store.enqueue(rows)
        store.close()
        config = tmp_path / "jobhound.toml"
        config.write_text(CONFIG.format(api_url=tg.url, db=db, board=board))
        log = tmp_path / "daemon.log"

        first = start(config, tg.token, log)
        try:
            wait_until(lambda: len(tg.sent_messages()) >= len(CHATS) // 3, first, log, 60)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        at_kill = len(tg.sent_messages())
        assert at_kill < len(CHATS), "the kill must land mid-delivery"

        def everything_arrived() -> bool:
            got: dict[int, set[str]] = {chat: set() for chat in CHATS}
            for message in tg.sent_messages():
                got.setdefault(message.chat_id, set()).update(announced(message))
            return got == wanted

        second = start(config, tg.token, log)
        try:
            wait_until(everything_arrived, second, log, 60)
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=15)
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
        per_chat = Counter(m.chat_id for m in tg.sent_messages())
        assert set(per_chat) == set(CHATS)
        assert max(per_chat.values()) <= 2
        twice = [chat for chat, count in per_chat.items() if count > 1]
        assert len(twice) <= 32  # the sender's concurrency: messages in flight at the kill
        assert all(m.text.startswith("📬 Digest: 2 new postings") for m in tg.sent_messages())
        assert tg.count_429 == 0
        assert "Traceback" not in log.read_text()


async def test_internal_error_defers_only_the_due_rows_not_a_future_digest(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    """Bug: a failed attempt deferred every pending row 5 minutes, bringing tomorrow's digest
    forward to now + 5 minutes."""
    world = world_at(corpus, "2026-03-10T12:00:00+00:00")
    world.subs.add(ADA, "python")
    world.subs.add(ADA, "engineer OR developer OR python", Mode.parse("daily 09:00"))
    world.scrape(1)
    with world.store.db.conn:
        world.store.db.execute(
            "UPDATE deliveries SET held = 'digest', due_at = ?, next_attempt_at = ?",
            ["2026-03-11T09:00:00+00:00", "2026-03-11T09:00:00+00:00"],
        )
    world.scrape(1)  # an instant row due now

    def broken(_chat: int, _postings: object) -> dict[str, tuple[str, ...]]:
        raise RuntimeError("a bug while building the message")

    sender = Sender(world.store, bot, clock=world.clock, matched_terms=broken)
    await sender.drain(timeout=5)
    rows = world.store.db.execute(
        "SELECT held, next_attempt_at FROM deliveries ORDER BY id"
    ).fetchall()
    assert rows == [("digest", "2026-03-11T09:00:00+00:00"), ("now", "2026-03-10T12:05:00+00:00")]


async def test_a_digest_larger_than_a_batch_is_one_digest(
    corpus: list[Posting], tg: FakeTelegram, bot: ExtBot[None]
) -> None:
    """A digest of more rows than the sender reads a pass went out as several digests, each
    counting only its own batch."""
    world = world_at(corpus, "2026-03-10T12:00:00+00:00")
    world.subs.add(ADA, "python", Mode.parse("daily 09:00"))
    posted = world.scrape(30)
    world.at("2026-03-11T09:00:00+00:00")
    await Sender(world.store, bot, clock=world.clock, batch_limit=20).drain(timeout=20)
    sent = tg.sent_messages(ADA)
    assert all(m.text.startswith("📬 Digest: 30 new postings") for m in sent)
    assert sorted(i for m in sent for i in announced(m)) == sorted(p.id for p in posted)
