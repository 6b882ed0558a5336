"""Delivery through the outbox: python-telegram-bot with the FloodLimiter, against the fake Bot API.

Each Telegram fault of issue 5 is injected by the fake server and its outcome checked in the
store and in what the chats received; then the no-flood rules (baseline, subscription cut-off,
outage, per-cycle cap, one alert per posting per chat, one message per cycle).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.deliver import FloodLimiter, Limits, Sender, split_plain
from bot.deliver.format import utf16_len
from bot.models import Posting, canonical_url
from bot.query import Document, parse_query
from bot.sameness import group_key
from bot.sources.markdown import read_folder
from bot.store import IngestResult, PendingDelivery, Store, now_utc
from bot.subscriptions import Subscriptions
from bot.timing import Mode
from tests.conftest import SHARED
from tests.fake_telegram import ChatMessage, FakeTelegram, Fault

pytestmark = pytest.mark.filterwarnings(
    # PTB 22 itself reads RetryAfter.retry_after while building the exception.
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

ADA, BOB, CY, DEE = 1001, 1002, 1003, 1004
GROUP, SUPERGROUP = -4001, -1004001
SOURCE = "remotewlb"


@pytest.fixture(scope="module")
def corpus() -> list[Posting]:
    folder = SHARED / "corpus" / "remotewlb" / "Python"
    if not folder.is_dir():
        pytest.skip("../shared/corpus is not present beside the repository")
    return list(read_folder(folder).postings)


def matching(query: str, postings: Sequence[Posting]) -> list[Posting]:
    parsed = parse_query(query)
    return [p for p in postings if parsed.matches(Document.from_posting(p))]


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:  # Telegram's default flood limits, 429 past them
        for user in (ADA, BOB, CY, DEE):
            server.add_private_chat(user, f"user{user}")
        server.add_group(GROUP, "Rustaceans", admins=[ADA])
        yield server


def make_bot(
    tg: FakeTelegram, limits: Limits | None = None, read_timeout: float = 5.0
) -> ExtBot[Any]:
    # Plain HTTP to 127.0.0.1: skipping the CA bundle load makes each Bot ~70 ms cheaper.
    def request() -> HTTPXRequest:
        return HTTPXRequest(read_timeout=read_timeout, httpx_kwargs={"verify": False})

    return ExtBot(
        tg.token,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=request(),
        get_updates_request=request(),
        rate_limiter=FloodLimiter(limits),
    )


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[ExtBot[None]]:
    # A faster per-chat spacing than Telegram's 1/s (the fake still allows 3 per 3 s): a retry
    # right after a refused request need not wait a second. The 429 tests use the real limits.
    async with make_bot(tg, Limits(private_period=0.25)) as client:
        yield client


@dataclass
class World:
    """An in-memory store whose source has its baseline, and the chats' subscriptions."""

    store: Store
    subs: Subscriptions
    corpus: list[Posting]

    def chat(self, chat_id: int, *queries: str, kind: str = "private") -> None:
        self.store.touch_chat(chat_id, type=kind, title=f"chat {chat_id}")
        for query in queries:
            self.subs.add(chat_id, query)

    def scrape(self, postings: Sequence[Posting]) -> IngestResult:
        return self.store.ingest(SOURCE, postings, matcher=self.subs.matcher)

    def queue(self, chat_id: int, postings: Sequence[Posting], kind: str = "private") -> None:
        """Pending deliveries as matching writes them (for fault tests that skip matching)."""
        self.store.touch_chat(chat_id, type=kind, title=f"chat {chat_id}")
        self.store.ingest(SOURCE, postings)
        self.store.enqueue(PendingDelivery(chat_id, p.id, 1) for p in postings)
        self.store.db.conn.commit()

    def rows(self, chat_id: int | None = None) -> list[tuple[Any, ...]]:
        """(chat_id, posting_id, status, attempts) of every delivery, in queue order."""
        sql = "SELECT chat_id, posting_id, status, attempts FROM deliveries"
        if chat_id is None:
            return self.store.db.execute(sql + " ORDER BY id").fetchall()
        return self.store.db.execute(sql + " WHERE chat_id = ? ORDER BY id", [chat_id]).fetchall()


@pytest.fixture
def world(corpus: list[Posting]) -> Iterator[World]:
    store = Store.open(":memory:")
    store.ingest(SOURCE, corpus[:100])  # the first scrape: the baseline
    yield World(store, Subscriptions(store), corpus)
    store.close()


def fresh(world: World, count: int, query: str = "python") -> list[Posting]:
    """`count` corpus postings matching `query` that the store has not seen yet, each a job of
    its own (the corpus lists some jobs twice or once per city: those alert once, issue 12)."""
    keys = {group_key(p) for p in world.corpus[:100]}
    found = []
    for p in matching(query, world.corpus[100:]):
        key = group_key(p)
        if key not in keys and not world.store.get_postings([p.id]):
            keys.add(key)
            found.append(p)
    assert len(found) >= count
    return found[:count]


def posting_ids(message: ChatMessage) -> list[str]:
    """The postings a message announces, by their title links (HTML) or URL lines (plain)."""
    from bot.models import posting_id

    links = [e["url"] for e in message.entities if e.get("type") == "text_link"]
    if not links:
        links = [line for line in message.text.splitlines() if line.startswith("http")]
    return [posting_id(canonical_url(url)) for url in links]


@contextlib.asynccontextmanager
async def running(sender: Sender) -> AsyncIterator[Sender]:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        yield sender
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


# ---- the happy path ----------------------------------------------------------------------------


async def test_alert_goes_out_as_html_with_its_button_and_is_marked_sent(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    (posting,) = fresh(world, 1)
    world.queue(ADA, [posting])
    await Sender(world.store, bot).drain()
    (message,) = tg.sent_messages(ADA)
    assert message.parse_mode == "HTML"
    assert message.link_preview_disabled
    assert posting_ids(message) == [posting.id]
    # the Apply link, then (issue 11) Mute company and Not for me
    assert [b.get("url") for b in message.buttons][:1] == [posting.apply_url]
    assert [b["url"] for b in message.buttons if "url" in b] == [posting.apply_url]
    assert world.rows() == [(ADA, posting.id, "sent", 0)]
    assert tg.count_429 == 0


# ---- 429: the whole sender waits, the same message is retried ----------------------------------


async def test_429_pauses_every_send_for_retry_after_then_retries_the_same_message(
    tg: FakeTelegram, world: World
) -> None:
    first, *others = fresh(world, 3)
    world.queue(ADA, [first])
    tg.fail_next("sendMessage", Fault.retry_after(2))
    async with make_bot(tg) as bot, running(Sender(world.store, bot)) as sender:
        (refused,) = await tg.wait_for_async(
            lambda: [c for c in tg.calls("sendMessage") if c.http_status == 429]
        )
        # Alerts for other chats queued during the pause wait for it too.
        world.queue(BOB, [others[0]])
        world.queue(CY, [others[1]])
        sender.wake()
        await tg.wait_for_async(lambda: all(tg.sent_messages(c) for c in (ADA, BOB, CY)))
    later = [c for c in tg.calls("sendMessage") if c.at > refused.at]
    assert len(later) == 3
    assert all(c.ok for c in later)
    assert min(c.at for c in later) - refused.at >= 2.0 - 0.05
    (retried,) = [c for c in later if c.chat_id == ADA]
    assert retried.params["text"] == refused.params["text"]  # the same message, not a new one
    assert tg.count_429 == 1
    assert {row[2] for row in world.rows()} == {"sent"}


async def test_sends_queued_during_a_429_pause_do_not_burst_into_more_429s(
    tg: FakeTelegram, world: World
) -> None:
    # Regression: slots taken while paused were all spent the instant the pause ended.
    chats = list(range(50_001, 50_071))
    for chat_id, posting in zip(chats, world.corpus[100:170], strict=True):
        world.queue(chat_id, [posting])
    tg.fail_next("sendMessage", Fault.retry_after(2))
    async with make_bot(tg) as bot:
        await Sender(world.store, bot).drain(timeout=30)
    assert {m.chat_id for m in tg.sent_messages()} == set(chats)
    assert tg.count_429 == 1


async def test_429_beyond_the_limiters_retries_defers_the_delivery(
    tg: FakeTelegram, world: World
) -> None:
    (posting,) = fresh(world, 1)
    world.queue(ADA, [posting])
    tg.fail_next("sendMessage", Fault.retry_after(7))
    async with make_bot(tg, Limits(max_retries=0)) as bot:
        sender = Sender(world.store, bot)
        await sender.deliver_chat(ADA)
    assert world.rows() == [(ADA, posting.id, "pending", 1)]
    due = world.store.next_due_at()
    assert due is not None
    assert due >= now_utc() + timedelta(seconds=5)
    assert tg.sent_messages(ADA) == []


async def test_a_restarted_sender_first_waits_out_the_window_the_killed_one_may_have_used(
    tg: FakeTelegram, world: World
) -> None:
    # Regression: restarted within a second of a SIGKILL, a fresh limiter sent 30 messages into
    # the window the killed process had just filled (6-9 429s in the SIGKILL test).
    earlier, later = fresh(world, 2)
    world.queue(ADA, [earlier])
    world.store.mark_sent([d.id for d in world.store.pending_for_chat(ADA)])  # by "the old one"
    world.queue(BOB, [later])
    async with make_bot(tg) as bot:
        started = time.monotonic()
        await Sender(world.store, bot).drain()
    (call,) = tg.calls("sendMessage")
    assert call.ok
    assert call.at - started >= 1.0


# ---- network errors, timeouts, 5xx: pending, retried with backoff ------------------------------


@pytest.mark.parametrize(
    "fault",
    [Fault.server_error(502), Fault.error(500, "Internal Server Error"), Fault.disconnect()],
    ids=["502-html", "500-json", "dropped-connection"],
)
async def test_network_errors_and_5xx_keep_the_delivery_pending_with_backoff(
    tg: FakeTelegram, bot: ExtBot[None], world: World, fault: Fault
) -> None:
    (posting,) = fresh(world, 1)
    world.queue(ADA, [posting])
    tg.fail_next("sendMessage", fault)
    sender = Sender(world.store, bot)
    await sender.deliver_chat(ADA)
    assert world.rows() == [(ADA, posting.id, "pending", 1)]
    due = world.store.next_due_at()
    assert due is not None
    assert due > now_utc()
    assert world.store.due_chats() == []

    world.store.db.execute("UPDATE deliveries SET next_attempt_at = ?", ["2000-01-01T00:00:00"])
    await sender.deliver_chat(ADA)
    assert world.rows() == [(ADA, posting.id, "sent", 1)]
    assert [posting_ids(m) for m in tg.sent_messages(ADA)] == [[posting.id]]


async def test_repeated_failures_back_off_exponentially_until_delivered(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    (posting,) = fresh(world, 1)
    world.queue(ADA, [posting])
    tg.fail_next("sendMessage", Fault.server_error(503), times=2)
    async with running(Sender(world.store, bot, retry_base=0.05)):
        await tg.wait_for_async(lambda: tg.sent_messages(ADA), timeout=20)
    assert [c.http_status for c in tg.calls("sendMessage")] == [503, 503, 200]
    await tg.wait_for_async(lambda: world.rows() == [(ADA, posting.id, "sent", 2)], timeout=5)


async def test_a_timeout_leaves_the_delivery_pending_and_the_retry_delivers_it(
    tg: FakeTelegram, world: World
) -> None:
    (posting,) = fresh(world, 1)
    world.queue(ADA, [posting])
    tg.fail_next("sendMessage", Fault.delay(1.5))
    async with make_bot(tg, read_timeout=0.3) as bot:
        sender = Sender(world.store, bot)
        await sender.deliver_chat(ADA)
        assert world.rows() == [(ADA, posting.id, "pending", 1)]
        # The server went on with the request the client gave up on: the in-flight duplicate.
        await tg.wait_for_async(lambda: tg.sent_messages(ADA), timeout=10)
        world.store.db.execute("UPDATE deliveries SET next_attempt_at = '2000-01-01T00:00:00'")
        await sender.deliver_chat(ADA)
    assert world.rows() == [(ADA, posting.id, "sent", 1)]
    assert [posting_ids(m) for m in tg.sent_messages(ADA)] == [[posting.id]] * 2


# ---- chats that are gone: inactive, subscriptions kept, back when the user writes --------------


@pytest.mark.parametrize(
    ("chat_id", "fault"),
    [
        (ADA, Fault.blocked()),
        (ADA, Fault.deactivated()),
        (ADA, Fault.chat_not_found()),
        (GROUP, Fault.kicked()),
    ],
    ids=["blocked", "deactivated", "chat-not-found", "kicked-from-group"],
)
async def test_unreachable_chat_goes_inactive_keeps_its_subscriptions_and_comes_back(
    tg: FakeTelegram, bot: ExtBot[None], world: World, chat_id: int, fault: Fault
) -> None:
    kind = "private" if chat_id > 0 else "group"
    world.chat(chat_id, "python", "python remote", kind=kind)
    world.chat(BOB, "python")
    subscriptions = world.store.subscriptions(chat_id)
    result = world.scrape(fresh(world, 2))
    assert result.deliveries == 4
    tg.fail_chat(chat_id, fault)

    await Sender(world.store, bot).drain()
    chat = world.store.get_chat(chat_id)
    assert chat is not None
    assert not chat.active
    assert [row[2] for row in world.rows(chat_id)] == ["dropped", "dropped"]
    assert world.store.subscriptions(chat_id) == subscriptions
    assert [row[2] for row in world.rows(BOB)] == ["sent", "sent"]  # the others are not held up
    assert len(tg.calls("sendMessage", chat_id=chat_id)) == 1  # no hammering a dead chat

    # While inactive, new postings queue nothing for it.
    assert world.scrape(fresh(world, 1)).deliveries == 1

    # The user unblocks the bot and writes to it: alerts resume.
    tg.clear_faults(chat_id)
    world.store.touch_chat(chat_id, type=kind, title="back")
    (posting,) = fresh(world, 1)
    assert world.scrape([posting]).deliveries == 2
    await Sender(world.store, bot).drain()
    assert [posting_ids(m) for m in tg.sent_messages(chat_id)] == [[posting.id]]


# ---- a group upgraded to a supergroup ----------------------------------------------------------


async def test_migrated_group_moves_subscriptions_and_pending_alerts_to_the_supergroup(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    world.chat(GROUP, "python", kind="group")
    subscriptions = [s.query for s in world.store.subscriptions(GROUP)]
    first = fresh(world, 2)
    world.scrape(first)
    tg.migrate_group(GROUP, SUPERGROUP)
    migrated: list[tuple[int, int]] = []

    def on_migrate(old: int, new: int) -> None:
        migrated.append((old, new))
        world.subs.migrate_chat(old, new)

    await Sender(world.store, bot, on_migrate=on_migrate).drain()
    assert migrated == [(GROUP, SUPERGROUP)]
    (message,) = tg.sent_messages(SUPERGROUP)
    assert sorted(posting_ids(message)) == sorted(p.id for p in first)
    assert [s.query for s in world.store.subscriptions(SUPERGROUP)] == subscriptions
    assert world.store.subscriptions(GROUP) == []
    assert [row[:3] for row in world.rows()] == [(SUPERGROUP, p.id, "sent") for p in first]
    old = world.store.get_chat(GROUP)
    assert old is not None
    assert not old.active

    # The index follows the chat as a rebuild from the store would.
    rebuilt = Subscriptions(world.store)
    assert sorted((s, c) for s, c, _ in world.subs.index) == sorted(
        (s, c) for s, c, _ in rebuilt.index
    )
    assert {s: world.subs.mode(s) for s, _, _ in rebuilt.index} == {
        s: rebuilt.mode(s) for s, _, _ in rebuilt.index
    }
    # Later postings go to the supergroup (the index re-filed the group's subscriptions).
    (later,) = fresh(world, 1)
    assert world.scrape([later]).deliveries == 1
    await Sender(world.store, bot).drain()
    assert [posting_ids(m) for m in tg.sent_messages(SUPERGROUP)][-1] == [later.id]


def test_migrate_chat_refiles_only_that_chats_subscriptions_as_a_rebuild_would() -> None:
    """Regression: a migration rebuilt the whole index on the event loop (seconds at 100,000
    subscriptions); now the group's subscriptions are re-filed, modes and digests with them."""
    store = Store.open(":memory:")
    for chat_id in (GROUP, 77):
        store.touch_chat(chat_id, type="group", title="t")
    subs = Subscriptions(store)
    subs.add(GROUP, "python")
    daily = subs.add(GROUP, "rust -go", Mode.parse("daily 09:00")).subscription
    other = subs.add(77, "python").subscription
    store.mute(GROUP, store.company_ids(["Acme"])["Acme"])
    store.migrate_chat(GROUP, SUPERGROUP)
    # Regression (tester): the mute list stayed with the old group id.
    assert (store.muted(SUPERGROUP), store.muted(GROUP)) == (["acme"], [])

    assert subs.migrate_chat(GROUP, SUPERGROUP) == 2

    rebuilt = Subscriptions(store)
    assert sorted((s, c) for s, c, _ in subs.index) == sorted((s, c) for s, c, _ in rebuilt.index)
    assert subs.mode(daily.id) == rebuilt.mode(daily.id) == Mode.parse("daily 09:00")
    assert subs._digest_chats == rebuilt._digest_chats == {SUPERGROUP}
    doc = Document.from_fields(title="Python and Rust engineer")
    assert sorted(subs.index.match(doc)) == sorted(rebuilt.index.match(doc))
    assert {m.chat_id for m in subs.index.match(doc)} == {SUPERGROUP, other.chat_id}


# ---- malformed messages: sent as plain text, logged with the posting ids -----------------------


@pytest.mark.parametrize(
    "description",
    [
        'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 12',
        "Bad Request: message is too long",
    ],
)
async def test_malformed_alert_is_resent_as_plain_text_and_logged_with_posting_ids(
    tg: FakeTelegram,
    bot: ExtBot[None],
    world: World,
    caplog: pytest.LogCaptureFixture,
    description: str,
) -> None:
    postings = fresh(world, 2)
    world.queue(ADA, postings)
    tg.fail_next("sendMessage", Fault.error(400, description))
    with caplog.at_level(logging.WARNING, logger="bot.deliver"):
        await Sender(world.store, bot).drain()
    (message,) = tg.sent_messages(ADA)
    assert message.parse_mode is None
    assert message.entities == []
    assert message.buttons == []
    assert posting_ids(message) == [p.id for p in postings]
    assert "2 new postings" in message.text
    assert "<b>" not in message.text
    assert [row[2] for row in world.rows()] == ["sent", "sent"]
    (record,) = [r for r in caplog.records if "plain text" in r.getMessage()]
    assert all(p.id in record.getMessage() for p in postings)
    assert description.removeprefix("Bad Request: ").lower() in record.getMessage().lower()


async def test_a_button_url_telegram_refuses_no_longer_drops_the_batch(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    # Regression: any 400 other than "can't parse entities"/"too long" dropped every alert in
    # the message; a single apply link on an intranet host took the whole batch with it.
    good = fresh(world, 1)[0]
    odd = Posting(
        url="https://boards.example.org/jobs/42",
        title="Python developer",
        apply_url="http://careers-portal/apply/42",  # no dot in the host: "Wrong HTTP URL"
    )
    world.queue(ADA, [good, odd])
    await Sender(world.store, bot).drain()
    (message,) = tg.sent_messages(ADA)
    assert posting_ids(message) == [good.id, odd.id]
    assert [row[2] for row in world.rows()] == ["sent", "sent"]


def test_plain_text_is_split_between_alerts_under_telegrams_limit() -> None:
    blocks = [f"{i}. 🔔 Senior engineer {i}\n" + "x" * 900 for i in range(10)]
    text = "\n\n".join(blocks)
    parts = split_plain(text)
    assert len(parts) > 2
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == text
    (long,) = [("🙂" * 5000)]
    pieces = split_plain(long)
    assert "".join(pieces) == long
    assert all(utf16_len(p) <= 4096 for p in pieces)


# ---- one slow or failing chat never holds up the others ----------------------------------------


async def test_a_slow_chat_does_not_hold_up_the_others(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    slow, *others = fresh(world, 4)
    world.queue(ADA, [slow])  # queued first: its send starts first
    for chat_id, posting in zip((BOB, CY, DEE), others, strict=True):
        world.queue(chat_id, [posting])
    tg.fail_chat(ADA, Fault.delay(8), times=1)
    async with running(Sender(world.store, bot, stop_grace=0.1)):
        await tg.wait_for_async(lambda: all(tg.sent_messages(c) for c in (BOB, CY, DEE)))
        (call,) = tg.calls("sendMessage", chat_id=ADA)
        assert call.http_status is None  # still waiting on Telegram
    assert [row[2] for row in world.rows(ADA)] == ["pending"]
    assert [row[2] for chat in (BOB, CY, DEE) for row in world.rows(chat)] == ["sent"] * 3


# ---- no floods -----------------------------------------------------------------------------


async def test_first_scrape_of_a_source_is_a_baseline_without_alerts(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    world.chat(ADA, "python")
    result = world.store.ingest("newboard", world.corpus[100:200], matcher=world.subs.matcher)
    assert result.baseline
    assert len(result.new) == 100
    assert result.deliveries == 0
    assert world.store.pending_count() == 0
    await Sender(world.store, bot).drain()
    assert tg.calls("sendMessage") == []


async def test_a_new_subscription_only_hears_of_postings_first_seen_after_it(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    before = fresh(world, 3)
    world.scrape(before)  # seen before anyone subscribed
    world.chat(ADA, "python")
    after = fresh(world, 2)
    result = world.scrape([*world.corpus[:100], *before, *after])
    assert result.deliveries == 2
    await Sender(world.store, bot).drain()
    (message,) = tg.sent_messages(ADA)
    assert sorted(posting_ids(message)) == sorted(p.id for p in after)


async def test_a_source_back_from_an_outage_alerts_only_postings_not_stored_before(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    world.chat(ADA, "python")
    for _ in range(12):  # down for hours
        world.store.record_failure(SOURCE, "502 Bad Gateway")
    known = matching("python", world.corpus[:100])
    assert known
    new = fresh(world, 2)
    result = world.scrape([*world.corpus[:100], *new])  # everything it lists, old and new
    assert len(result.new) == 2
    assert result.deliveries == 2
    await Sender(world.store, bot).drain()
    (message,) = tg.sent_messages(ADA)
    assert sorted(posting_ids(message)) == sorted(p.id for p in new)


async def test_the_per_cycle_cap_sends_twenty_and_says_how_many_more(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    world.chat(ADA, "python")
    new = fresh(world, 25)
    world.scrape(new)
    assert world.store.pending_count() == 20
    await Sender(world.store, bot).drain()
    messages = tg.sent_messages(ADA)
    announced = [pid for m in messages for pid in posting_ids(m)]
    assert announced == [p.id for p in new[:20]]
    text = "\n".join(m.text for m in messages)
    assert text.count("…and 5 more, see /latest") == 1
    assert messages[-1].text.rstrip().endswith("…and 5 more, see /latest")
    assert [row[2] for row in world.rows(ADA)] == ["sent"] * 20 + ["capped"] * 5
    assert world.store.pending_count() == 0  # the held-back five are never sent later


async def test_several_matching_subscriptions_make_one_alert_per_posting(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    world.chat(ADA, "python", "python remote", "remote")
    world.chat(BOB, "python")
    (posting,) = fresh(world, 1, "python remote")
    assert world.scrape([posting]).deliveries == 2
    await Sender(world.store, bot).drain()
    for chat_id in (ADA, BOB):
        (message,) = tg.sent_messages(chat_id)
        assert posting_ids(message) == [posting.id]
    assert tg.count_429 == 0


async def test_several_postings_for_a_chat_in_one_cycle_make_one_message(
    tg: FakeTelegram, bot: ExtBot[None], world: World
) -> None:
    world.chat(ADA, "python")
    new = fresh(world, 4)
    world.scrape(new)
    await Sender(world.store, bot).drain()
    (message,) = tg.sent_messages(ADA)
    assert message.text.startswith("🔔 4 new postings")
    assert posting_ids(message) == [p.id for p in new]
    assert len([b for b in message.buttons if "url" in b]) == 4  # one Apply link each
