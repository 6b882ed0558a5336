"""The fake Bot API server, driven by python-telegram-bot's real Bot over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import logging
import threading
import urllib.request
import warnings
from collections.abc import AsyncIterator, Iterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.fake_telegram import FakeTelegram, Fault, RateLimits, Window, parse_html

pytestmark = pytest.mark.filterwarnings(
    # PTB 22 itself reads RetryAfter.retry_after while building the exception.
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

USER = 1001
GROUP = -4001


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(rate_limits=None) as server:
        server.add_private_chat(USER, "Ada", "ada")
        server.add_group(GROUP, "Rustaceans", admins=[USER, 1002], members=[1003])
        yield server


def _request() -> HTTPXRequest:
    # Plain HTTP to 127.0.0.1: skipping the CA bundle load makes each Bot ~70 ms cheaper.
    return HTTPXRequest(httpx_kwargs={"verify": False})


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    client = Bot(
        tg.token,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=_request(),
        get_updates_request=_request(),
    )
    async with client:
        yield client


def _seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _retry_after(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int becomes a timedelta
        warnings.simplefilter("ignore")
        return _seconds(error.retry_after)


# ---- accepted messages and what is recorded ------------------------------------------------


async def test_message_is_accepted_and_recorded(tg: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Apply", url="https://jobs.example.com/1?a=1&b=2")],
            [InlineKeyboardButton("Unsubscribe", callback_data="unsub:7")],
        ]
    )
    sent = await bot.send_message(
        USER,
        '<b><a href="https://jobs.example.com/1">'
        "R&amp;D &lt;Lead&gt; &amp; &quot;Ops&quot;</a></b>",
        parse_mode="HTML",
        reply_markup=markup,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert sent.message_id == 1
    assert sent.text == 'R&D <Lead> & "Ops"'
    assert {e.type for e in sent.entities} == {"bold", "text_link"}
    assert sent.reply_markup == markup

    (stored,) = tg.sent_messages(USER)
    assert stored.text == 'R&D <Lead> & "Ops"'
    assert stored.source.startswith("<b><a href=")
    assert stored.parse_mode == "HTML"
    assert stored.link_preview_disabled
    assert [b.get("callback_data") for b in stored.buttons] == [None, "unsub:7"]

    (call,) = tg.calls("sendMessage")
    assert call.ok
    assert call.chat_id == USER
    assert call.at > 0
    assert call.params["reply_markup"]["inline_keyboard"][1][0]["callback_data"] == "unsub:7"
    assert call.params["link_preview_options"] == {"is_disabled": True}
    assert [c.method for c in tg.calls()] == ["getMe", "sendMessage"]


async def test_message_ids_count_per_chat(tg: FakeTelegram, bot: Bot) -> None:
    ids = [(await bot.send_message(chat, "x")).message_id for chat in (USER, GROUP, USER)]
    assert ids == [1, 1, 2]
    assert [m.chat_id for m in tg.sent_messages()] == [USER, GROUP, USER]


async def test_length_is_counted_after_parsing_in_utf16_units(bot: Bot) -> None:
    await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER, "&amp;" * 4096, parse_mode="HTML")
    await bot.send_message(USER, "😀" * 2048)  # 2 UTF-16 code units each
    for text in ("x" * 4097, "😀" * 2049):
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(USER, text)
    for text in ("", "  \n ", "<b> </b>"):
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(USER, text, parse_mode="HTML")


async def test_more_than_100_formatting_entities_are_refused(tg: FakeTelegram, bot: Bot) -> None:
    """Telegram ignores every entity after the 100th; the fake refuses such a message."""
    await bot.send_message(USER, " ".join(["<b>x</b>"] * 50 + ["<i>y</i>"] * 50), parse_mode="HTML")
    await bot.send_message(USER, '<b><a href="https://x.test/">x</a></b> ' * 50, parse_mode="HTML")
    nested = '<b><a href="https://x.test/"><u>x</u></a></b> ' * 33 + "<i>z</i> <s>w</s>"
    with pytest.raises(BadRequest, match=r"(?i)too many formatting entities: 101 > 100"):
        await bot.send_message(USER, nested, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)too many formatting entities"):
        await bot.send_message(USER, "<u>x</u> " * 101, parse_mode="HTML")
    assert len(tg.sent_messages(USER)) == 2


# ---- HTML validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>bold", 'can\'t find end tag corresponding to start tag "b"'),
        ("salary < 100k", 'unsupported start tag "" at byte offset 7'),
        ("<foo@bar.com>", 'unsupported start tag "foo@bar.com" at byte offset 0'),
        ("<b>x</i>", 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'tag "span" must have class "tg-spoiler"'),
        ("<a href=https://x.com>x</a>", "unexpected end of name token"),
        ("<b", "unclosed start tag at byte offset 0"),
        ("R&D", 'unescaped "&" at byte offset 1'),
        ("&nbsp;", 'unescaped "&" at byte offset 0'),
        ("é <br>", 'unsupported start tag "br" at byte offset 3'),
    ],
)
async def test_bad_html_is_refused_like_telegram(bot: Bot, text: str, expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, text, parse_mode="HTML")
    # PTB strips "Bad Request: " and capitalizes the rest.
    assert caught.value.message.lower().startswith("can't parse entities: ")
    assert expected.lower() in caught.value.message.lower()


async def test_every_allowed_tag_is_accepted(tg: FakeTelegram, bot: Bot) -> None:
    text = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        '<strike>k</strike><del>d</del><span class="tg-spoiler">p</span><tg-spoiler>q</tg-spoiler>'
        '<a href="https://x.com">a</a><code>c</code>'
        '<pre><code class="language-python">print(1)</code></pre>'
        "<blockquote>q</blockquote><blockquote expandable>e</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> &#65;&#x42;'
    )
    sent = await bot.send_message(USER, text, parse_mode="HTML")
    assert sent.text == "bsieunskdpqacprint(1)qe👍 AB"
    types = [e.type for e in sent.entities]
    assert types.count("bold") == 2
    assert "spoiler" in types
    assert "text_link" in types
    assert "expandable_blockquote" in types
    assert "custom_emoji" in types
    (pre,) = [e for e in sent.entities if e.type == "pre"]
    assert pre.language == "python"
    assert tg.sent_messages(USER)[0].text == sent.text


def test_parser_matches_tdlib_offsets_and_lenient_mode() -> None:
    assert parse_html("a &lt;b&gt; &#128512;").text == "a <b> 😀"
    assert parse_html("R&D", strict=False).text == "R&D"  # what the real server does
    parsed = parse_html("😀 <b>x</b>")
    assert parsed.entities == [{"type": "bold", "offset": 3, "length": 1}]


# ---- inline keyboards ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("button", "expected"),
    [
        (InlineKeyboardButton("x", callback_data="x" * 65), "button_data_invalid"),
        (InlineKeyboardButton("x", callback_data="é" * 33), "button_data_invalid"),
        (InlineKeyboardButton("x", url="http://localhost:8080/"), "wrong http url"),
        (InlineKeyboardButton("x", url="not-a-url"), "wrong http url"),
        (InlineKeyboardButton("x", url="javascript:alert(1)"), "unsupported url protocol"),
    ],
)
async def test_bad_buttons_are_refused(
    tg: FakeTelegram, bot: Bot, button: InlineKeyboardButton, expected: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, "x", reply_markup=InlineKeyboardMarkup([[button]]))
    assert expected in caught.value.message.lower()
    assert tg.sent_messages() == []


async def test_good_buttons_are_accepted(bot: Bot) -> None:
    buttons = [
        InlineKeyboardButton("a", callback_data="x" * 64),
        InlineKeyboardButton("b", url="https://example.com/jobs?q=a&b=c"),
        InlineKeyboardButton("c", url="tg://resolve?domain=jobhound"),
    ]
    await bot.send_message(USER, "x", reply_markup=InlineKeyboardMarkup([buttons]))


# ---- editing -------------------------------------------------------------------------------


async def test_edits_are_recorded_and_unchanged_edits_refused(tg: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Undo", callback_data="undo")]])
    sent = await bot.send_message(USER, "one", reply_markup=markup)
    await bot.edit_message_text("<i>two</i>", USER, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<i>two</i>", USER, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.edit_message_text("<i>three", USER, sent.message_id, parse_mode="HTML")
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, 99)

    (stored,) = tg.sent_messages(USER)
    assert (stored.text, stored.edits, stored.buttons) == (
        "two",
        ["one"],
        markup.to_dict()["inline_keyboard"][0],
    )


# ---- faults --------------------------------------------------------------------------------


async def test_injected_client_errors_become_ptb_exceptions(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_chat(USER, Fault.blocked())
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(USER, "typing")
    await bot.send_message(GROUP, "other chats are unaffected")

    tg.clear_faults(USER)
    tg.fail_next("sendMessage", Fault.deactivated())
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_message(USER, "x")

    tg.fail_next("sendMessage", Fault.chat_not_found())
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(USER, "x")

    tg.fail_next("sendMessage", Fault.retry_after(7), times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "x")
        assert _retry_after(caught.value) == 7
    await bot.send_message(USER, "accepted once the injected faults are used up")
    assert tg.count_429 == 2
    assert [m.text for m in tg.sent_messages()] == [
        "other chats are unaffected",
        "accepted once the injected faults are used up",
    ]


async def test_a_user_writing_again_lifts_the_block(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_chat(USER, Fault.blocked())
    with pytest.raises(Forbidden):
        await bot.send_message(USER, "x")
    tg.send_user_message(USER, USER, "/start")
    await bot.send_message(USER, "welcome back")


async def test_migrated_group_raises_chat_migrated(tg: FakeTelegram, bot: Bot) -> None:
    tg.migrate_group(GROUP, -1009001)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP, "x")
    assert caught.value.new_chat_id == -1009001
    await bot.send_message(-1009001, "moved")
    member = await bot.get_chat_member(-1009001, USER)
    assert member.status == "creator"


async def test_strict_chats_answer_chat_not_found(tg: FakeTelegram, bot: Bot) -> None:
    tg.strict_chats = True
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(555, "x")
    tg.strict_chats = False
    await bot.send_message(555, "lenient mode invents the chat")


@pytest.mark.parametrize(("status", "phrase"), [(502, "Bad Gateway"), (500, "Internal Server")])
async def test_html_5xx_is_a_network_error_and_ptb_logs_a_traceback(
    tg: FakeTelegram, bot: Bot, caplog: pytest.LogCaptureFixture, status: int, phrase: str
) -> None:
    tg.fail_next("sendMessage", Fault.server_error(status))
    with caplog.at_level(logging.ERROR), pytest.raises(NetworkError) as caught:
        await bot.send_message(USER, "x")
    assert f"{phrase}" in str(caught.value)
    assert "Parsing the server response" in str(caught.value)
    (record,) = [r for r in caplog.records if r.name == "telegram.request.BaseRequest"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.getMessage().startswith("Can not load invalid JSON data")
    assert tg.calls("sendMessage")[0].http_status == status


async def test_slow_answer_times_out_but_still_delivers(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", Fault.delay(1.0))
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "slow", read_timeout=0.2)
    # The server went on: the message arrives although the client gave up (retry => duplicate).
    await tg.wait_for_async(lambda: tg.sent_messages(USER), timeout=10)


async def test_dropped_connection_is_a_network_error(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", Fault.disconnect())
    with pytest.raises(NetworkError, match="RemoteProtocolError"):
        await bot.send_message(USER, "lost")
    assert tg.sent_messages() == []

    tg.fail_next("sendMessage", Fault.disconnect(after_processing=True))
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "in flight")
    assert [m.text for m in tg.sent_messages()] == ["in flight"]
    assert tg.calls("sendMessage")[-1].http_status == 0


async def test_server_down_then_back(tg: FakeTelegram, bot: Bot) -> None:
    tg.stop()
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")
    tg.start()
    sent = await bot.send_message(USER, "back")
    assert sent.message_id == 1


async def test_wrong_token_and_unknown_method(tg: FakeTelegram, bot: Bot) -> None:
    other = Bot("987654:WrongTokenWrongToken", base_url=tg.base_url)
    with pytest.raises(InvalidToken):
        await other.initialize()
    assert tg.calls("getMe")[-1].http_status == 401
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": USER})
    assert tg.calls("sendTelepathy")[0].http_status == 404


# ---- rate limits ---------------------------------------------------------------------------


async def test_flood_limits_answer_429_after_a_burst(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_rate_limits(
        RateLimits(overall=Window(7, 30.0), private=Window(3, 30.0), group=Window(2, 30.0))
    )
    for _ in range(3):
        await bot.send_message(USER, "burst")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "one too many")
    assert 1 <= _retry_after(caught.value) <= 30

    await bot.send_message(GROUP, "g1")
    await bot.send_message(GROUP, "g2")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "g3")

    await bot.send_message(2001, "other private chats still have room")
    await bot.send_message(2002, "overall 7 reached here")
    with pytest.raises(RetryAfter):
        await bot.send_message(2003, "overall limit")
    assert tg.count_429 == 3
    last = tg.calls("sendMessage")[-1]
    assert last.http_status == 429
    assert last.description == "Too Many Requests: retry after 30"


async def test_rate_limit_window_frees_up(bot: Bot, tg: FakeTelegram) -> None:
    tg.set_rate_limits(RateLimits(private=Window(1, 0.3), slack=0.0))
    await bot.send_message(USER, "first")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER, "too soon")
    await asyncio.sleep(0.4)
    await bot.send_message(USER, "later")


# ---- updates from simulated users ----------------------------------------------------------


async def test_get_updates_delivers_a_group_command(tg: FakeTelegram, bot: Bot) -> None:
    tg.send_user_message(GROUP, 1003, "/start@JobhoundTestBot rust remote")
    (update,) = await bot.get_updates(timeout=5)
    message = update.message
    assert message is not None
    assert message.chat.type == "group"
    assert message.from_user
    assert message.from_user.id == 1003
    (entity,) = message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 22)
    assert message.parse_entity(entity) == "/start@JobhoundTestBot"
    # Confirming with offset removes it.
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert tg.pending_updates() == []


async def test_long_poll_returns_early_when_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    tg.max_poll_timeout = 20.0
    timer = threading.Timer(0.2, tg.send_user_message, args=(USER, USER, "/help"))
    timer.start()
    try:
        updates = await asyncio.wait_for(bot.get_updates(timeout=20), timeout=10)
    finally:
        timer.cancel()
    assert updates[0].message
    assert updates[0].message.text == "/help"


async def test_a_second_poller_ends_the_first_with_conflict(tg: FakeTelegram, bot: Bot) -> None:
    tg.max_poll_timeout = 10.0
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await tg.wait_for_async(lambda: tg.calls("getUpdates"))
    # A second instance of the bot (PTB itself never polls twice at once).
    async with Bot(tg.token, base_url=tg.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, timeout=10)


async def test_callback_query_round_trip(tg: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Unsubscribe", callback_data="unsub:3")]])
    sent = await bot.send_message(USER, "Your subscriptions", reply_markup=markup)
    query_id = tg.press_button(USER, USER, sent.message_id, "unsub:3")
    with pytest.raises(ValueError, match="no button"):
        tg.press_button(USER, USER, sent.message_id, "forged")

    (update,) = await bot.get_updates(timeout=5)
    query = update.callback_query
    assert query is not None
    assert query.id == query_id
    assert query.data == "unsub:3"
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    await bot.answer_callback_query(query.id, text="Removed")
    assert tg.callback_answer(query_id) == {"callback_query_id": query_id, "text": "Removed"}
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)


async def test_chat_members_and_commands(tg: FakeTelegram, bot: Bot) -> None:
    assert (await bot.get_chat_member(GROUP, USER)).status == "creator"
    assert (await bot.get_chat_member(GROUP, 1002)).status == "administrator"
    assert (await bot.get_chat_member(GROUP, 1003)).status == "member"
    assert (await bot.get_chat_member(GROUP, 9999)).status == "left"
    admins = await bot.get_chat_administrators(GROUP)
    assert [a.user.id for a in admins] == [USER, 1002]
    chat = await bot.get_chat(GROUP)
    assert (chat.type, chat.title) == ("group", "Rustaceans")

    await bot.set_my_commands([("start", "What the bot does"), ("latest", "Newest postings")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "latest"]
    assert tg.commands()[1] == {"command": "latest", "description": "Newest postings"}
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Bad-Name", "x")])
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.send_chat_action(GROUP, "typing")
    assert await bot.close()
    assert await bot.log_out()


def test_sync_clients_with_a_json_body(tg: FakeTelegram) -> None:
    request = urllib.request.Request(
        f"{tg.url}/bot{tg.token}/SENDMESSAGE",  # method names are case-insensitive
        data=json.dumps({"chat_id": str(USER), "text": "from a thread"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    threading.Thread(target=lambda: urllib.request.urlopen(request, timeout=10).read()).start()
    (message,) = tg.wait_for(lambda: tg.sent_messages(USER), timeout=10)
    assert message.text == "from a thread"


# ---- a PTB Application against the fake ----------------------------------------------------


async def test_application_answers_a_command_in_a_group(tg: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "<b>Hello</b>", parse_mode="HTML")

    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        tg.send_user_message(GROUP, 1003, "/start@JobhoundTestBot")
        tg.send_user_message(GROUP, 1003, "/start@SomeOtherBot")  # not for us: ignored
        (reply,) = await tg.wait_for_async(lambda: tg.sent_messages(GROUP), timeout=10)
        await app.updater.stop()
        await app.stop()
    assert reply.text == "Hello"
    assert len(tg.sent_messages(GROUP)) == 1
