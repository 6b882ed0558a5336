"""Logging for operators: one line per expected fault, the bot token never shown."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.errors import StoreError
from bot.redact import redact

__all__ = ["ExpectedFaultFilter", "JsonFormatter", "RedactingFilter", "redact", "setup_logging"]

MAX_FAULT_CHARS = 300


class RedactingFilter(logging.Filter):
    """Renders each record once and strips tokens from the message and its traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            safe = redact(formatted, self.secrets)
            if safe != formatted:
                record.msg = f"{record.getMessage()}\n{safe}"
                record.args = None
                record.exc_info = None
                record.exc_text = None
        return True


class ExpectedFaultFilter(logging.Filter):
    """Libraries log tracebacks for faults we expect (python-telegram-bot does for a 502 page):
    shorten those to one line naming the fault. Tracebacks of anything else stay: they are bugs.
    """

    def __init__(
        self, expected: tuple[type[BaseException], ...], prefixes: tuple[str, ...]
    ) -> None:
        super().__init__()
        self.expected = expected
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes) or not record.exc_info:
            return True
        error = record.exc_info[1]
        if isinstance(error, self.expected):
            # Some carry the whole answer (an nginx error page): keep the line short.
            text = " ".join(f"{record.getMessage()} ({error.__class__.__name__}: {error})".split())
            record.msg = text if len(text) <= MAX_FAULT_CHARS else text[:MAX_FAULT_CHARS] + "…"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class JsonFormatter(logging.Formatter):
    """`[logging] format = "json"`: one JSON object a line for log shippers, with "time" (ISO
    8601, UTC), "level", "logger", "message" and, for a traceback, "exception"; every value is
    redacted again here, so no spelling of the token leaves through a field."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage(), self.secrets),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), self.secrets)
        return json.dumps(entry, ensure_ascii=False)


def _telegram_faults() -> tuple[type[BaseException], ...]:
    from telegram.error import NetworkError, RetryAfter, TimedOut

    # JSONDecodeError: python-telegram-bot logs one with a traceback (logger
    # telegram.request.BaseRequest) when Telegram's proxy answers a 5xx HTML page.
    return (NetworkError, TimedOut, RetryAfter, json.JSONDecodeError)


def setup_logging(
    level: int = logging.INFO, secrets: Iterable[str] = (), fmt: str = "text"
) -> None:
    """The one logging configuration, called by the entry point; `secrets` (the bot token) are
    redacted from every record, as is anything shaped like a bot token. `fmt` "json" writes
    one JSON object a line (`JsonFormatter`), "text" a line for people."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(ExpectedFaultFilter(_telegram_faults(), ("telegram",)))
    # A storage fault is one line wherever it is logged (a command handler's error hook too).
    handler.addFilter(ExpectedFaultFilter((StoreError,), ("",)))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram URLs carry the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
