"""The bot token is nowhere (issue 9, item 7): not in logs, stored errors or any output of ours,
in any spelling (raw, `%3A`-encoded, the secret half alone), whatever the source of the text."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import quote

import pytest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.cli import main
from bot.config import load_settings
from bot.daemon import run_once
from bot.deliver import Sender
from bot.logs import redact, setup_logging
from bot.models import Posting
from bot.sources.registry import KINDS
from bot.store import PendingDelivery, Store
from tests.boardserver import serve
from tests.fake_telegram import FakeTelegram, Fault
from tests.fetchkit import within

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
SECRET = TOKEN.split(":")[1]
ENCODED = quote(TOKEN, safe="")  # 123456789%3AAAHdq…, as httpx writes it in a query string
SPELLINGS = {
    "raw": TOKEN,
    "percent-encoded": ENCODED,
    "lower-case escape": ENCODED.replace("%3A", "%3a"),
    "encoded twice": quote(ENCODED, safe=""),
    "json escape": TOKEN.replace(":", "\\u003a"),
    "secret half alone": SECRET,
}
ADA = 1001


def leaked(text: str) -> bool:
    return SECRET in text or TOKEN in text


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_the_known_token_is_redacted(spelling: str) -> None:
    text = redact(f"GET https://api.example/x?token={spelling}&y=1 failed", (TOKEN,))
    assert text == "GET https://api.example/x?token=[REDACTED]&y=1 failed"


@pytest.mark.parametrize("spelling", [TOKEN, ENCODED, ENCODED.lower()[:12] + ENCODED[12:]])
def test_an_unknown_token_is_redacted_by_its_shape(spelling: str) -> None:
    # A token pasted into the config, or another bot's, is not in the secrets we know.
    assert redact(f"url https://x/?t={spelling}") == "url https://x/?t=[REDACTED]"
    assert redact(f"https://x/bot{spelling}/getMe") == "https://x/bot[REDACTED]/getMe"


def test_ordinary_text_is_left_alone() -> None:
    text = "chat 123456: Forbidden: bot was blocked by the user (12:30)"
    assert redact(text, (TOKEN,)) == text


def test_log_lines_and_tracebacks_carry_no_spelling_of_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging(logging.INFO, (TOKEN,))
    log = logging.getLogger("bot.test_redaction")
    for spelling in SPELLINGS.values():
        log.warning("GET /getUpdates?offset=1&t=%s failed", spelling)
    try:
        raise RuntimeError(f"boom at https://x/bot{ENCODED}/getMe and key {SECRET}")
    except RuntimeError:
        log.exception("crash")
    err = capsys.readouterr().err
    assert not leaked(err)
    assert "%3A" not in err
    assert err.count("[REDACTED]") == len(SPELLINGS) + 2
    assert "Traceback" in err


def test_stored_errors_are_redacted_whatever_their_source() -> None:
    store = Store.open(":memory:", secrets=(TOKEN,))
    store.record_failure("board", f"board <https://x/?key={SECRET}>: HTTP 500")
    store.ingest("board", [Posting(url="https://jobs.example/1", title="Job")])
    store.touch_chat(ADA, type="private", title="ada")
    store.enqueue([PendingDelivery(ADA, Posting(url="https://jobs.example/1", title="J").id)])
    (delivery,) = store.pending_for_chat(ADA)
    store.defer([delivery.id], store.next_due_at(), f"NetworkError: /bot{ENCODED}/sendMessage")  # type: ignore[arg-type]
    row = store.db.execute("SELECT last_error FROM deliveries").fetchone()
    assert row[0] == "NetworkError: /bot[REDACTED]/sendMessage"
    store.mark_dropped([delivery.id], f"Forbidden: {TOKEN}")
    row = store.db.execute("SELECT last_error FROM deliveries").fetchone()
    health = store.health("board")
    assert row[0] == "Forbidden: [REDACTED]"
    assert health is not None
    assert health.last_error == "board <https://x/?key=[REDACTED]>: HTTP 500"


async def test_a_telegram_error_quoting_the_token_is_stored_and_logged_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Regression: the token reached deliveries.last_error raw, and WARNING lines %3A-encoded."""
    setup_logging(logging.INFO, (TOKEN,))
    store = Store.open(":memory:", secrets=(TOKEN,))
    posting = Posting(url="https://jobs.example/1", title="Python developer")
    store.ingest("board", [posting])
    store.touch_chat(ADA, type="private", title="ada")
    store.enqueue([PendingDelivery(ADA, posting.id, 1)])
    with FakeTelegram(token=TOKEN) as tg:
        tg.add_private_chat(ADA, "ada")
        # A proxy's error page echoing the request, as proxies do.
        tg.fail_next(
            "sendMessage", Fault.error(502, f"Bad Gateway: upstream /bot{ENCODED}/sendMessage")
        )
        request = HTTPXRequest(httpx_kwargs={"verify": False})
        async with ExtBot(TOKEN, base_url=tg.base_url, request=request) as bot:
            await within(Sender(store, bot).deliver_chat(ADA))
    (last_error,) = store.db.execute("SELECT last_error FROM deliveries").fetchone()
    assert last_error == "NetworkError: Bad Gateway: upstream /bot[REDACTED]/sendMessage"
    err = capsys.readouterr().err
    assert "sending failed" in err
    assert "/bot[REDACTED]/sendMessage" in err
    assert not leaked(err)
    assert "%3A" not in err


CONFIG = """
[telegram]
api_url = "{api_url}"

[storage]
path = "{db}"

[fetch]
host_delay = 0
retries = 0
connect_timeout = 2
read_timeout = 2

[[sources]]
name = "board"
kind = "remoteok"
url = "{url}"
robots = false
"""


async def test_a_source_url_holding_the_token_leaks_into_no_health_record_log_or_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    async with serve() as board:
        board.add("/api", status=500, body=b"down")
        with FakeTelegram(token=TOKEN) as tg:
            config = tmp_path / "jobhound.toml"
            db = tmp_path / "jobhound.db"
            url = board.url(f"/api?key={SECRET}&bot={ENCODED}")
            config.write_text(CONFIG.format(api_url=tg.url, db=db, url=url))
            status = await within(asyncio.to_thread(main, ["once", "--config", str(config)]))
    assert status == 1  # the only source failed
    out, err = capsys.readouterr()
    assert "board: FAILED" in out
    assert "[REDACTED]" in out
    assert not leaked(out + err)
    assert "%3A" not in out + err
    store = Store.open(db)
    health = store.health("board")
    store.close()
    assert health is not None
    assert health.last_error is not None
    assert "key=[REDACTED]&bot=[REDACTED]" in health.last_error


async def test_a_token_pasted_into_a_source_url_is_stored_redacted_without_a_token_set(
    tmp_path: Path,
) -> None:
    # Console mode knows no token: one pasted whole into a source url is found by its shape.
    async with serve() as board:
        board.add("/api", status=500, body=b"down")
        config = tmp_path / "jobhound.toml"
        db = tmp_path / "j.db"
        url = board.url(f"/api?key={ENCODED}")
        config.write_text(CONFIG.format(api_url="https://api.telegram.org", db=db, url=url))
        (outcome,) = await within(run_once(load_settings(kinds=KINDS, path=config, env={})))
    assert not outcome.ok
    store = Store.open(db)
    health = store.health("board")
    store.close()
    assert health is not None
    assert health.last_error is not None
    assert "key=[REDACTED]>" in health.last_error
    assert not leaked(health.last_error)


@pytest.mark.parametrize(
    ("key", "value"),
    [("api_url", TOKEN), ("api_url", f"api.telegram.org/bot{TOKEN}"), ("url", ENCODED)],
)
def test_a_config_error_does_not_print_a_token_pasted_into_another_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: str
) -> None:
    config = tmp_path / "jobhound.toml"
    fields = {"api_url": "https://api.telegram.org", "db": tmp_path / "j.db", "url": "x"}
    fields[key] = value
    config.write_text(CONFIG.format(**fields))
    assert main(["check", "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "config error" in err
    assert "[REDACTED]" in err
    assert not leaked(out + err)
    assert "%3A" not in err


def test_a_config_error_does_not_print_the_secret_half_of_the_env_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    config = tmp_path / "jobhound.toml"
    config.write_text(CONFIG.format(api_url=SECRET, db=tmp_path / "j.db", url="https://x/"))
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "telegram.api_url" in err
    assert "[REDACTED]" in err
    assert not leaked(err)


def test_check_lists_a_source_url_holding_the_token_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "jobhound.toml"
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    config.write_text(CONFIG.format(api_url="https://api.telegram.org", db="j.db", url=url))
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "https://api.telegram.org/bot[REDACTED]/getUpdates" in out
    assert not leaked(out)


async def test_sources_command_shows_the_stored_error_redacted(tmp_path: Path) -> None:
    from bot.subscriptions import Subscriptions
    from bot.telegram.app import telegram_front
    from tests.test_telegram_commands import USER, make_settings

    with FakeTelegram(rate_limits=None) as tg:
        tg.add_private_chat(USER, "Ada")
        settings = make_settings(tg, tmp_path)
        assert settings.telegram.token == tg.token
        store = Store.open(":memory:", secrets=(tg.token,))
        secret = tg.token.split(":")[1]
        store.record_failure("seeds", f"seeds <https://x/jobs?key={secret}>: HTTP 500")
        stop = asyncio.Event()
        async with telegram_front(settings, store, Subscriptions(store), stop):
            tg.send_user_message(USER, USER, "/sources")
            (reply,) = await tg.wait_for_async(lambda: tg.sent_messages(USER))
        store.close()
    assert "key=[REDACTED]" in reply.text
    assert secret not in reply.text
