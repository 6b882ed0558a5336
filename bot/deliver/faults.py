"""What a Telegram error means for delivery, decided in this one place.

python-telegram-bot raises `Forbidden` (403: the bot was blocked, kicked, or the user
deactivated) and `BadRequest` (400) with Telegram's description as the message. A 400 whose
description is "Bad Request: chat not found", "Bad Request: user not found" or
"Bad Request: PEER_ID_INVALID" means the chat is gone for the bot, like a 403; Telegram gives
no error code to tell these from other 400s, so they are told apart by text here and nowhere
else (https://core.telegram.org/bots/api#making-requests, `description`).
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

# Lower-cased fragments of the 400 descriptions that mean "this chat is gone for the bot".
_GONE_DESCRIPTIONS = ("chat not found", "user not found", "peer_id_invalid")


def chat_gone(exc: TelegramError) -> bool:
    """True when `exc` says the bot can no longer write to the chat (403, or a 400 naming a
    chat or user that does not exist for the bot): alerts stop until someone writes to it."""
    if isinstance(exc, Forbidden):
        return True
    if isinstance(exc, BadRequest):
        text = exc.message.lower()
        return any(fragment in text for fragment in _GONE_DESCRIPTIONS)
    return False


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait after a 429 (`retry_after`, an int or a timedelta
    depending on python-telegram-bot's settings; its deprecation warning is silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
