"""Logs for operators: the token never appears, expected Telegram faults are one line."""

import io
import logging

from telegram.error import NetworkError

from bot.logs import ExpectedFaultFilter, RedactingFilter, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"


def _handler() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ExpectedFaultFilter((NetworkError,), ("telegram",)))
    handler.addFilter(RedactingFilter((TOKEN,)))
    logger = logging.getLogger(f"test.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    return logger, out


def test_token_is_redacted_from_messages_and_tracebacks() -> None:
    logger, out = _handler()
    logger.warning("GET https://api.telegram.org/bot%s/getMe failed", TOKEN)
    try:
        raise RuntimeError(f"boom at /bot{TOKEN}/sendMessage")
    except RuntimeError:
        logger.exception("crash")
    text = out.getvalue()
    assert TOKEN not in text
    assert "AAHdqTcvCH1" not in text
    assert "/bot[REDACTED]/getMe" in text
    assert "Traceback" in text


def test_unknown_token_shapes_are_redacted_too() -> None:
    assert (
        redact("https://x/bot987654:abcdefghijklmnopqrstuvwxyz0123456789/x")
        == "https://x/bot[REDACTED]/x"
    )


def test_expected_telegram_fault_is_one_line() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ExpectedFaultFilter((NetworkError,), ("telegram",)))
    logger = logging.getLogger("telegram.ext.test_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        raise NetworkError("Bad Gateway")
    except NetworkError:
        logger.exception("Error while getting Updates")
    try:
        raise KeyError("bug")
    except KeyError:
        logger.exception("a real bug")
    lines = out.getvalue().splitlines()
    assert lines[0] == "Error while getting Updates (NetworkError: Bad Gateway)"
    assert "Traceback (most recent call last):" in lines  # the bug keeps its traceback
