"""The chat front under hostile input, a busy chat and a failing Bot API (issue 9, items 4-6
and the polling part of 10), through python-telegram-bot over real HTTP to the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Chat, Update

from bot import subscriptions
from bot.daemon import run_daemon
from bot.deliver import Limits
from bot.errors import QueryError
from bot.models import StoredPosting
from bot.query import Document, parse_query
from bot.sources.markdown import read_folder
from bot.store import Store
from bot.subscriptions import Subscriptions
from bot.telegram.app import PerChatProcessor, telegram_front
from tests.conftest import ROOT
from tests.fake_telegram import FakeTelegram, Fault
from tests.fetchkit import within
from tests.test_telegram_commands import BOT_NAME, OTHER, USER, Env, make_settings, one

NGINX_404 = b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
HTML_200 = b"<!doctype html><html><body>Captive portal: please log in</body></html>"


class Records(logging.Handler):
    """Every log record of every logger, from every thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def above(self, level: int) -> list[str]:
        return [
            f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records if r.levelno > level
        ]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def open_store(path: Path) -> Store:
    store = Store.open(path)
    store.ingest("seeds", read_folder(ROOT / "seeds").postings)
    return store


@contextlib.asynccontextmanager
async def front_env(
    tg: FakeTelegram,
    tmp: Path,
    *,
    limits: Limits | None = None,
    poll_options: dict[str, Any] | None = None,
) -> AsyncIterator[Env]:
    tg.add_private_chat(USER, "Ada")
    tg.add_private_chat(OTHER, "Bob")
    settings_ = make_settings(tg, tmp)
    store = open_store(settings_.storage.path)
    subs = Subscriptions(store)
    stop = asyncio.Event()
    limits = limits or Limits(private=100, private_period=1.0)
    try:
        async with telegram_front(
            settings_, store, subs, stop, limits=limits, poll_options=poll_options
        ) as front:
            yield Env(tg, store, subs, front, settings_)
    finally:
        store.close()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        async with front_env(tg, tmp_path) as env:
            yield env


# -- item 4: every input gets an answer ------------------------------------------------------


async def test_non_ascii_digits_are_answered_not_raised(env: Env, records: Records) -> None:
    """Regression: `/latest ²`, `/unsubscribe ¹²³` raised ValueError (str.isdigit takes ²)."""
    assert "between 1 and 20" in (await one(env, USER, "/latest ²")).text
    assert "between 1 and 20" in (await one(env, USER, "/latest ٣")).text
    assert "between 1 and 20" in (await one(env, USER, "/latest 99999999999999999999999")).text
    assert "between 1 and 20" in (await one(env, USER, "/latest -1")).text  # not a query "-1"
    assert (await one(env, USER, "/unsubscribe ¹²³")).text.startswith("Usage: /unsubscribe")
    huge = "/unsubscribe 99999999999999999999999"  # past SQLite's 64-bit integers
    assert (await one(env, USER, huge)).text.startswith("Usage: /unsubscribe")
    assert records.above(logging.WARNING) == []


async def test_non_ascii_digit_callback_is_answered(env: Env, records: Records) -> None:
    """Regression: the callback `unsub:²` raised ValueError; unknown data was never answered."""
    listing = await one(env, USER, "/help")
    for data in ("unsub:²", "unsub:", "unsub:-1", "frobnicate", "unsub:99999999999999999999999"):
        query_id = env.tg.press_button(USER, USER, listing.message_id, data, check=False)
        answer = await env.tg.wait_for_async(functools.partial(env.tg.callback_answer, query_id))
        assert answer["text"] == "This button has expired."
    assert records.above(logging.WARNING) == []


async def test_stale_unsubscribe_button_is_answered(env: Env) -> None:
    await one(env, USER, "/subscribe rust")
    listing = await one(env, USER, "/list")
    sub_id = env.store.subscriptions(USER)[0].id
    await one(env, USER, f"/unsubscribe {sub_id}")
    query_id = env.tg.press_button(USER, USER, listing.message_id, f"unsub:{sub_id}")
    answer = await env.tg.wait_for_async(lambda: env.tg.callback_answer(query_id))
    assert answer["text"] == "Already removed."


@pytest.mark.parametrize(
    "query",
    ["(" * 244 + "rust" + ")" * 244, "-(" * 195 + "rust" + ")" * 195, "-" * 973 + "rust"],
    ids=["244 parentheses", "195 -(", "973 -"],
)
async def test_deeply_nested_query_is_refused_with_the_bound(
    env: Env, records: Records, query: str
) -> None:
    """Regression: these raised RecursionError and logged ~3,000 traceback lines per message."""
    reply = await one(env, USER, f"/subscribe {query}")
    assert reply.text.startswith("Cannot use that query:")
    assert "more than 20 deep" in reply.text
    assert env.store.subscriptions(USER) == []
    assert records.above(logging.WARNING) == []


# -- item 4: arbitrary input through every handler --------------------------------------------

COMMAND_NAMES = (
    *("start", "help", "subscribe", "sub", "list", "unsubscribe", "unsub", "latest"),
    *("pause", "resume", "sources", "stats", "frobnicate"),
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
NUMBERISH = st.text(st.sampled_from("0123456789²¹٣٤-#+ "), min_size=1, max_size=25)
NESTED = st.integers(0, 300).flatmap(
    lambda n: st.sampled_from(["(", "-(", "-", "NOT "]).map(lambda p: p * n + "rust")
)
MESSAGES = st.one_of(
    TEXT,
    st.tuples(st.sampled_from(COMMAND_NAMES), st.one_of(TEXT, NUMBERISH, NESTED)).map(
        lambda c: f"/{c[0]} {c[1]}"
    ),
    st.tuples(st.sampled_from(COMMAND_NAMES), NUMBERISH, TEXT).map(
        lambda c: f"/{c[0]} {c[1]} {c[2]}"
    ),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=990, max_size=1100),
).filter(lambda text: text.strip() != "")
# In a group, a command for another bot (or an unknown one not addressed to us) is a
# documented silence; these are all ours, written by an administrator or a plain member.
GROUP_COMMANDS = st.tuples(
    st.sampled_from([c for c in COMMAND_NAMES if c != "frobnicate"]),
    st.sampled_from(["", f"@{BOT_NAME}"]),
    st.one_of(TEXT, NUMBERISH, NESTED),
).map(lambda c: f"/{c[0]}{c[1]} {c[2]}")
CALLBACK_DATA = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=32),
    NUMBERISH.map(lambda n: f"unsub:{n}"),
)


class BotThread:
    """The front running in its own thread and event loop, so that hypothesis drives it from
    a plain synchronous test (one server and one bot for every example)."""

    def __init__(self, tg: FakeTelegram, tmp: Path) -> None:
        self.tg, self.tmp = tg, tmp
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="bot", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 (the thread's fault, reported by the test)
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        async with front_env(self.tg, self.tmp):
            self.ready.set()
            await self.stop.wait()

    def __enter__(self) -> BotThread:
        self.thread.start()
        assert self.ready.wait(30), self.error
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)
        assert not self.thread.is_alive()


def test_arbitrary_messages_and_buttons_get_one_answer_and_no_error(
    tmp_path: Path, records: Records
) -> None:
    """Every text and every callback data: one reply (or an answered callback), no log line
    above WARNING. Each example writes from a fresh private chat, so the per-chat rate limit
    (whose later refusals are a documented silence) never applies."""
    chats = iter(range(10_000_000, 20_000_000))
    written: list[int] = []
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg, BotThread(tg, tmp_path):

        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(text=MESSAGES)
        def message_is_answered(text: str) -> None:
            chat = next(chats)
            written.append(chat)
            tg.send_user_message(chat, chat, text)
            tg.wait_for(lambda: tg.sent_messages(chat), timeout=15)

        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(text=GROUP_COMMANDS, by_admin=st.booleans())
        def group_command_is_answered(text: str, by_admin: bool) -> None:
            admin, member = next(chats), next(chats)
            group = tg.add_group(-admin, f"Group {admin}", admins=[admin], members=[member])
            written.append(group)
            tg.send_user_message(group, admin if by_admin else member, text)
            tg.wait_for(lambda: tg.sent_messages(group), timeout=15)

        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(data=CALLBACK_DATA, in_group=st.booleans())
        def button_is_answered(data: str, in_group: bool) -> None:
            chat = next(chats)
            if in_group:  # pressed by a member who is no administrator
                chat = tg.add_group(-chat, f"Group {chat}", admins=[USER], members=[chat])
            tg.send_user_message(chat, abs(chat), "/list")
            (listing,) = tg.wait_for(lambda: tg.sent_messages(chat), timeout=15)
            query_id = tg.press_button(chat, abs(chat), listing.message_id, data, check=False)
            tg.wait_for(lambda: tg.callback_answer(query_id), timeout=15)

        message_is_answered()
        group_command_is_answered()
        button_is_answered()
        # A second reply to any message would have arrived by the time every later one did.
        tg.send_user_message(USER, USER, "/help")
        tg.wait_for(lambda: tg.sent_messages(USER), timeout=15)
        extra = {c: n for c in written if (n := len(tg.sent_messages(c))) != 1}
        assert extra == {}
    assert records.above(logging.WARNING) == []


# -- item 5: one chat cannot freeze the others ------------------------------------------------


async def test_a_long_scan_does_not_hold_up_another_chat(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: `/latest zzzqqq` scanned on the event loop and froze every chat for 8-9 s.
    Here the scan is held mid-way: another chat is answered while it is still running."""
    started, release = threading.Event(), threading.Event()

    class HeldDocument(Document):
        @classmethod
        def from_posting(cls, posting: StoredPosting, now: datetime | None = None) -> Document:  # type: ignore[override]
            started.set()
            assert release.wait(20), "the test never released the scan"
            return Document.from_posting(posting, now)

    monkeypatch.setattr(subscriptions, "Document", HeldDocument)
    try:
        env.tg.send_user_message(USER, USER, "/latest zzzqqq")
        assert await within(asyncio.to_thread(started.wait, 10), 15)
        reply = await within(one(env, OTHER, "/help", user=OTHER), 15)
        assert "/subscribe" in reply.text
        assert env.tg.sent_messages(USER) == []  # the scan is still running
    finally:
        release.set()
    (answer,) = await env.tg.wait_for_async(lambda: env.tg.sent_messages(USER))
    assert "No stored posting matches" in answer.text


async def test_a_flooding_chat_does_not_delay_another(tmp_path: Path) -> None:
    """Regression: 20 /help in a second from one chat delayed another chat's answer by 12 s
    (its replies, paced at Telegram's 1 message/s per chat, held every worker)."""
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        async with front_env(tg, tmp_path, limits=Limits()) as env:
            for _ in range(20):
                tg.send_user_message(USER, USER, "/help")
            await tg.wait_for_async(lambda: tg.sent_messages(USER))
            reply = await within(one(env, OTHER, "/help", user=OTHER), 15)
            assert "/subscribe" in reply.text
            # The flood's replies leave at 1/s: most are still queued behind their own chat.
            assert len(tg.sent_messages(USER)) < 10


async def test_per_chat_processor_orders_within_a_chat_and_not_across() -> None:
    processor = PerChatProcessor()
    order: list[str] = []
    first_may_end = asyncio.Event()

    async def work(name: str, wait: asyncio.Event | None = None) -> None:
        order.append(f"{name} start")
        if wait is not None:
            await wait.wait()
        order.append(f"{name} end")

    a1 = asyncio.create_task(processor.process_update(_chat_update(1), work("a1", first_may_end)))
    a2 = asyncio.create_task(processor.process_update(_chat_update(1), work("a2")))
    b1 = asyncio.create_task(processor.process_update(_chat_update(2), work("b1")))
    await within(b1, 5)
    assert order == ["a1 start", "b1 start", "b1 end"]  # b1 ran while a1 was still busy
    first_may_end.set()
    await within(asyncio.gather(a1, a2), 5)
    assert order[3:] == ["a1 end", "a2 start", "a2 end"]


def _chat_update(chat_id: int) -> Update:
    from datetime import UTC, datetime

    from telegram import Message

    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(chat_id, message=Message(chat_id, datetime.now(UTC), chat, text="/help"))


async def test_per_chat_processor_drops_a_flood_past_its_queue() -> None:
    processor = PerChatProcessor(max_waiting=3)
    hold = asyncio.Event()
    ran: list[int] = []

    async def work(i: int) -> None:
        await hold.wait()
        ran.append(i)

    tasks = [
        asyncio.create_task(processor.process_update(_chat_update(7), work(i))) for i in range(10)
    ]
    await asyncio.sleep(0)
    hold.set()
    await within(asyncio.gather(*tasks), 5)
    assert ran == [0, 1, 2]
    assert processor.dropped == 7


# -- item 6 and 10: polling never dies, and stops at once -------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(401, "Unauthorized"),
        Fault(kind="raw", status=404, body=NGINX_404),
        Fault(kind="raw", status=200, body=HTML_200),
        Fault.server_error(502),
        Fault.error(409, "Conflict: terminated by other getUpdates request"),
        Fault(kind="raw", status=200, body=b'{"ok": true, "result": "<html>"}'),
        Fault(kind="raw", status=200, body=b'{"ok": true, "result": [{"update_id": "x"}]}'),
        Fault(kind="raw", status=200, body=b'{"ok":true,"result":[{"update_id":5,"message":{}}]}'),
    ],
    ids=["401", "html 404", "html 200", "html 502", "409", "json str", "json id", "json msg"],
)
async def test_polling_recovers_after_failures(
    tmp_path: Path, records: Records, fault: Fault
) -> None:
    """Regression: one 401 or a proxy's 404 page on getUpdates stopped polling for good, and an
    HTML 200 at start-up exited with a traceback. Here the first three polls fail (from
    start-up on), then the API heals and a command is answered."""
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        tg.fail_next("getUpdates", fault, times=3)
        options = {"first_backoff": 0.01, "max_backoff": 0.05}
        async with front_env(tg, tmp_path, poll_options=options) as env:
            reply = await within(one(env, USER, "/help"), 15)
            assert "/subscribe" in reply.text
            assert env.front.poller.failures == 0
            assert env.front.poller.healthy
    failures = [r for r in records.records if "polling Telegram failed" in r.getMessage()]
    assert len(failures) == 3
    assert all(r.levelno == logging.WARNING for r in failures)
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in failures)
    assert [r for r in records.records if "polling Telegram works again" in r.getMessage()]
    assert records.above(logging.WARNING) == []


async def test_polling_backoff_is_capped_and_doubling() -> None:
    from bot.telegram.app import Poller

    poller = Poller(None)  # type: ignore[arg-type]
    assert [poller.backoff(n) for n in (1, 2, 3, 6, 7, 8, 100)] == [1, 2, 4, 32, 60, 60, 60]


async def test_stop_while_polling_backs_off_is_prompt(tmp_path: Path) -> None:
    """Regression: SIGTERM took 31 s while polling backed off. With a 10-minute backoff
    pending, stopping still ends the front within the daemon's 10 s bound."""
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        tg.inject(Fault.server_error(502), method="getUpdates", times=None)
        options = {"first_backoff": 600.0, "max_backoff": 600.0}
        loop = asyncio.get_running_loop()

        async def run() -> float:
            async with front_env(tg, tmp_path, poll_options=options) as env:
                await tg.wait_for_async(lambda: env.front.poller.failures >= 1)
                began = loop.time()
            return loop.time() - began

        assert await within(run(), 30) < 10


async def test_stop_with_a_flood_queued_is_prompt(tmp_path: Path) -> None:
    """A chat's backlog of replies (paced 1/s by Telegram's limit) is dropped at shutdown
    instead of being worked off first."""
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        loop = asyncio.get_running_loop()
        async with front_env(tg, tmp_path, limits=Limits()) as env:
            for _ in range(20):
                tg.send_user_message(USER, USER, "/help")
            await tg.wait_for_async(lambda: env.tg.sent_messages(USER))
            began = loop.time()
        assert loop.time() - began < 10
        assert len(tg.sent_messages(USER)) < 10  # the backlog was dropped, not worked off


async def test_a_database_fault_in_a_command_is_one_line_and_an_answer(
    env: Env, records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(chat_id: int) -> list[object]:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(env.store, "subscriptions", locked)
    reply = await one(env, USER, "/list")
    assert reply.text == "Sorry, that failed on our side; please try again in a minute."
    (line,) = records.above(logging.WARNING)
    assert "database is locked" in line
    assert "\n" not in line
    assert all(r.exc_info is None for r in records.records if r.levelno > logging.WARNING)


@pytest.mark.parametrize("method", ["getMe", "deleteWebhook"])
async def test_an_html_200_at_start_up_is_retried(
    tmp_path: Path, records: Records, method: str
) -> None:
    """Regression: an HTML 200 (a captive portal, a misrouted proxy) at start-up exited with a
    traceback. getMe is retried as for an unreachable API, polling's set-up as any poll."""
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        tg.fail_next(method, Fault(kind="raw", status=200, body=HTML_200))
        options = {"first_backoff": 0.01}
        async with front_env(tg, tmp_path, poll_options=options) as env:
            reply = await within(one(env, USER, "/help"), 15)
            assert "/subscribe" in reply.text
    warnings = [r for r in records.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Invalid server response" in warnings[0].getMessage()
    assert records.above(logging.WARNING) == []


async def test_daemon_stops_within_10_s_while_polling_backs_off(tmp_path: Path) -> None:
    """Regression: SIGTERM took 31 s while polling backed off (PTB sleeps its backoff out)."""
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        tg.inject(Fault.server_error(502), method="getUpdates", times=None)
        settings_ = make_settings(tg, tmp_path)
        stop = asyncio.Event()
        daemon = asyncio.create_task(run_daemon(settings_, stop))
        failed = lambda: [c for c in tg.calls("getUpdates") if c.http_status == 502]  # noqa: E731
        await tg.wait_for_async(lambda: len(failed()) >= 2, timeout=20)
        loop = asyncio.get_running_loop()
        began = loop.time()
        stop.set()
        await within(daemon, 30)
        assert loop.time() - began < 10


async def test_stop_while_get_me_hangs_is_prompt(tmp_path: Path) -> None:
    """Stopping during start-up, while getMe waits on an unresponsive API, is not held up by
    the request's 20 s read timeout (nor reported as a failure)."""
    with FakeTelegram(rate_limits=None, bot_username=BOT_NAME) as tg:
        tg.fail_next("getMe", Fault.delay(60))
        settings_ = make_settings(tg, tmp_path)
        store = Store.open(settings_.storage.path)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        async def start() -> None:
            async with telegram_front(settings_, store, Subscriptions(store), stop):
                pass

        starting = asyncio.create_task(start())
        await tg.wait_for_async(lambda: tg.calls("getMe"))
        began = loop.time()
        stop.set()
        await within(starting, 15)
        assert loop.time() - began < 5
        assert tg.calls("getUpdates") == []
        store.close()


def test_query_nesting_bound_is_exact() -> None:
    """The parser's depth bound: 20 levels of parentheses and NOTs parse, 21 are refused."""
    assert str(parse_query("(" * 20 + "rust" + ")" * 20)) == "rust"
    assert str(parse_query("-(" * 10 + "rust" + ")" * 10 + " go")) == "rust AND go"
    for deep in ("(" * 21 + "rust" + ")" * 21, "-" * 21 + "rust", "NOT " * 21 + "rust"):
        with pytest.raises(QueryError, match="more than 20 deep"):
            parse_query(deep)


async def test_latest_all_shows_closed_jobs_marked_and_plain_latest_hides_them(env: Env) -> None:
    """Issue 12: /latest hides closed jobs; `/latest all …` shows them marked "closed"."""
    rust = next(p for p in env.store.latest(10) if p.title == "Senior Rust Engineer")
    closed = "2026-01-02T00:00:00+00:00"
    env.store.db.execute("UPDATE postings SET closed_at = ? WHERE id = ?", [closed, rust.id])
    env.store.db.execute("UPDATE groups SET closed_at = ? WHERE id = ?", [closed, rust.id])
    env.store.db.conn.commit()
    assert "Rust" not in (await one(env, USER, "/latest 20")).text
    reply = (await one(env, USER, "/latest all rust")).text
    assert "Senior Rust Engineer" in reply
    assert "\nclosed\n" in reply
