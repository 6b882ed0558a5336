"""Numbers typed in a chat: ASCII digits within bounds, nothing else."""

from __future__ import annotations

# Subscription ids are SQLite rowids, signed 64-bit (sqlite.org/lang_createtable.html#rowid).
MAX_ID = 2**63 - 1


def ascii_number(text: str, low: int, high: int) -> int | None:
    """`text` as an integer when it is ASCII digits only (no sign, no "²" or "١") and within
    `low`..`high`; None otherwise. `str.isdigit` alone accepts digits `int` refuses."""
    if not text or len(text) > len(str(high)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if low <= number <= high else None
