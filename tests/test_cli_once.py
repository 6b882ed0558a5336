"""`once` in Telegram mode when the alerts cannot be sent: the sources still report, one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ROOT
from tests.fake_telegram import FakeTelegram

WRONG = "987654321:" + "x" * 35
CONFIG = """
[telegram]
api_url = "{api}"

[storage]
path = "{db}"

[[sources]]
name = "seeds"
kind = "markdown"
url = "{seeds}"
"""


def _config(tmp_path: Path, api: str) -> Path:
    path = tmp_path / "j.toml"
    path.write_text(CONFIG.format(api=api, db=tmp_path / "db.sqlite", seeds=ROOT / "seeds"))
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _token_forms(token: str) -> list[str]:
    bot_id, _, secret = token.partition(":")
    return [token, secret, f"{bot_id}%3A{secret}", f"{bot_id}%253A{secret}"]


def _assert_one_line_no_token(err: str, out: str) -> None:
    assert "Traceback" not in err
    for form in _token_forms(WRONG):
        assert form not in out + err
    # the pipeline's INFO progress lines aside, the fault is one line and nothing else complains
    ours = [line for line in err.splitlines() if line.strip() and " INFO " not in line]
    assert len(ours) == 1, ours


def test_once_with_a_rejected_token_reports_sources_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: `once` crashed at `async with app:` printing the full token, with no source summary."""
    with FakeTelegram(rate_limits=None) as tg:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", WRONG)
        assert main(["once", "--config", str(_config(tmp_path, tg.url))]) == 2
    captured = capsys.readouterr()
    assert "seeds: 5 postings, 5 new" in captured.out
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in captured.err
    assert "stay queued for the next run" in captured.err
    _assert_one_line_no_token(captured.err, captured.out)


def test_once_with_an_unreachable_api_keeps_alerts_queued_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: `once` with an unreachable api_url crashed with a traceback instead of one line."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", WRONG)
    api = f"http://127.0.0.1:{_closed_port()}"
    assert main(["once", "--config", str(_config(tmp_path, api))]) == 1
    captured = capsys.readouterr()
    assert "seeds: 5 postings, 5 new" in captured.out
    assert "cannot reach the Telegram Bot API" in captured.err
    assert "the alerts stay queued for the next run" in captured.err
    _assert_one_line_no_token(captured.err, captured.out)


def test_an_unexpected_error_is_printed_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: an exception escaping a CLI command printed its text (and the token) unredacted."""
    import bot.daemon

    async def broken(settings: object) -> None:
        raise RuntimeError(f"boom at https://api.telegram.org/bot{WRONG}/getMe ({WRONG})")

    monkeypatch.setattr(bot.daemon, "once_report", broken)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", WRONG)
    assert main(["once", "--config", str(_config(tmp_path, "http://127.0.0.1:9"))]) == 1
    captured = capsys.readouterr()
    assert "failed unexpectedly" in captured.err
    assert "RuntimeError: boom" in captured.err
    for form in _token_forms(WRONG):
        assert form not in captured.out + captured.err
