"""`[http] listen` (JOBHOUND_HTTP_LISTEN wins) and `[logging] format = "json"`, whose lines
never carry the token in any spelling."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from bot.config import parse_settings
from bot.errors import ConfigError
from bot.logs import setup_logging
from bot.sources.registry import KINDS

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def settings(raw: dict[str, object], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_settings(raw, path=Path("jobhound.toml"), kinds=KINDS, env=env or {})


def test_http_listen_is_off_unless_set_and_the_environment_wins() -> None:
    assert settings({}).http.listen is None
    assert settings({"http": {"listen": "127.0.0.1:9464"}}).http.listen == ("127.0.0.1", 9464)
    env = {"JOBHOUND_HTTP_LISTEN": "[::1]:9100"}
    assert settings({"http": {"listen": "127.0.0.1:9464"}}, env).http.listen == ("::1", 9100)


@pytest.mark.parametrize("value", ["9464", "localhost:", "host:99999"])
def test_a_bad_listen_address_names_the_key_and_the_form(value: str) -> None:
    with pytest.raises(ConfigError, match=r"jobhound.toml: http.listen: .*HOST:PORT"):
        settings({"http": {"listen": value}})


def test_logging_format_is_text_or_json() -> None:
    assert settings({}).logging.format == "text"
    assert settings({"logging": {"format": "json"}}).logging.format == "json"
    with pytest.raises(ConfigError, match=r"logging.format: 'xml' is not one of text, json"):
        settings({"logging": {"format": "xml"}})


def test_json_log_lines_are_objects_without_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(logging.INFO, (TOKEN,), "json")
        log = logging.getLogger("bot.test")
        log.info("wwr: 12 postings, 1 new, 0 closed in %.2fs", 0.5)
        log.warning("GET https://api.telegram.org/bot%s/getMe failed", TOKEN)
        encoded = TOKEN.replace(":", "%3A")
        try:
            raise RuntimeError(f"request to /bot{encoded}/sendMessage")
        except RuntimeError:
            log.exception("send crashed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["level"] for e in entries] == ["INFO", "WARNING", "ERROR"]
    assert entries[0]["message"] == "wwr: 12 postings, 1 new, 0 closed in 0.50s"
    assert entries[0]["logger"] == "bot.test"
    assert entries[0]["time"].endswith("+00:00")
    text = stream.getvalue()
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text
    assert "RuntimeError" in text
