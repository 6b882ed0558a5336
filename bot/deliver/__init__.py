"""Delivery: what leaves jobhound for a chat or the console.

`sender` works the outbox within Telegram's limits (`flood`), `format` renders alerts (also
for /latest), `plain` splits the plain-text fallback, `faults` says what a Telegram error means,
`console` prints alerts when no bot token is set.
"""

from __future__ import annotations

from bot.deliver.flood import FloodLimiter, Limits, SlidingWindow
from bot.deliver.plain import split_plain
from bot.deliver.sender import BACKOFF_CAP_SECONDS, Sender, backoff_seconds

__all__ = [
    "BACKOFF_CAP_SECONDS",
    "FloodLimiter",
    "Limits",
    "Sender",
    "SlidingWindow",
    "backoff_seconds",
    "split_plain",
]
