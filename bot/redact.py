"""The one redaction function: bot tokens out of every text we print, log or store.

A leaf module (standard library only), so `errors`, `logs`, `store` and the command line can all
use it without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MARKER = "[REDACTED]"
# The colon between a token's bot id and its secret as text reaches us: raw; percent-encoded
# (httpx encodes it so in query strings, `%3A`), twice percent-encoded (a URL inside a query),
# and JSON's \u escape.
_COLON = r"(?::|%3[aA]|%253[aA]|\\u003[aA])"
# Bot tokens are "<bot id>:<secret>" (https://core.telegram.org/bots/api#authorizing-your-bot);
# in a URL path any length is one, alone we need the usual length (35) to tell one from text.
_TOKEN_IN_URL = re.compile(rf"/bot\d+{_COLON}[A-Za-z0-9_-]+")
_TOKEN = re.compile(rf"(?<!\d)\d{{5,}}{_COLON}[A-Za-z0-9_-]{{30,}}")
# The secret half alone is redacted only when known and long enough not to be ordinary text.
MIN_SECRET_CHARS = 16


def _forms(secret: str) -> list[str]:
    """Every spelling of `secret` we redact, longest first."""
    forms = {secret}
    bot_id, colon, half = secret.partition(":")
    if colon:
        forms.update(
            f"{bot_id}{sep}{half}" for sep in ("%3A", "%3a", "%253A", "%253a", "\\u003a", "\\u003A")
        )
        if len(half) >= MIN_SECRET_CHARS:
            forms.add(half)
    return sorted(forms, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every bot token replaced by "[REDACTED]": the known `secrets` in any spelling
    (raw, percent-encoded once or twice, JSON-escaped, the secret half alone) and anything shaped
    like a token (`/bot<id>:<secret>` in a URL, `<id>:<35 characters>` elsewhere).

    The one redaction function: logs, stored errors, config errors and command-line output all
    pass through it.
    """
    for secret in secrets:
        if secret:
            for form in _forms(secret):
                text = text.replace(form, MARKER)
    text = _TOKEN_IN_URL.sub(f"/bot{MARKER}", text)
    return _TOKEN.sub(MARKER, text)
