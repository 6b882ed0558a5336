"""The outbox's due times: `bot.timing`'s pure rules applied to one chat's new alerts, and to
its waiting alerts again after its time zone, quiet hours or a subscription's mode changed.

Every alert is a row of the outbox from the moment it is matched (issue 13): a digest's
postings wait there as pending rows due at the digest's time, alerts held by quiet hours are
due when they end, alerts past the daily cap are due with the chat's next digest. The sender
finds what is due with one indexed query, so nothing here schedules a job, and a daemon that
was down at a due time finds the rows still due when it is back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from bot.store import Chat
from bot.timing import (
    INSTANT,
    ChatTiming,
    DailyCap,
    Due,
    Mode,
    due_for,
    local_day_bounds,
    zone,
)

__all__ = ["ChatPlanner", "chat_timing", "parse_mode", "rescheduled"]


def parse_mode(stored: str | None) -> Mode:
    """A subscription's stored mode (NULL or text written by `str(Mode)`); an unreadable one
    (edited by hand) is instant, so alerts still go."""
    try:
        return Mode.parse(stored) if stored else INSTANT
    except ValueError:
        return INSTANT


def chat_timing(chat: Chat | None) -> ChatTiming:
    """A chat's stored settings; unreadable ones (edited by hand) count as the defaults."""
    if chat is None:
        return ChatTiming()
    try:
        timing = ChatTiming.from_columns(chat.tz, chat.quiet, chat.cap)
        zone(timing.tz)
    except ValueError:
        return ChatTiming()
    return timing


class InstantCounts(Protocol):
    """The store as a planner reads it: a chat's instant alerts sent or due in a span
    (`Outbox.instant_count`)."""

    def instant_count(self, chat_id: int, start: datetime, end: datetime) -> int: ...


class ChatPlanner:
    """The due times of one chat's alerts queued in one matching cycle at `now`.

    `sent_today`: the chat's instant alerts sent or due in its local day so far (read only
    when it has a cap); each instant alert planned here counts too. Digest due times are
    computed once per mode (each `due_for` costs ~50 µs)."""

    def __init__(
        self, timing: ChatTiming, now: datetime, *, sent_today: int, digests: Sequence[Mode]
    ) -> None:
        self.timing = timing
        self.now = now
        self.sent_today = sent_today
        self.digests = tuple(digests)
        self._digest_due: dict[Mode, Due] = {}
        self._instant: Due | None = None

    @classmethod
    def for_chat(
        cls, outbox: InstantCounts, chat: Chat, now: datetime, digests: Sequence[Mode]
    ) -> ChatPlanner:
        """A planner for `chat`, its day's count read from the outbox when it has a cap."""
        timing = chat_timing(chat)
        sent = 0
        if timing.cap.limit is not None:
            start, end = local_day_bounds(timing.tz, now)
            sent = outbox.instant_count(chat.id, start, end)
        return cls(timing, now, sent_today=sent, digests=digests)

    def due(self, matched: Iterable[tuple[int, Mode]]) -> tuple[int, Due]:
        """Of the subscriptions (id, mode) one posting matched, the one whose due time is
        soonest (the lowest id on a tie) and that due time."""
        best: tuple[Due, int] | None = None
        for sub_id, mode in matched:
            due = self._due(mode)
            if best is None or (due.at, sub_id) < (best[0].at, best[1]):
                best = (due, sub_id)
        assert best is not None, "a posting matched no subscription"
        due, sub_id = best
        if due.why in ("now", "quiet"):
            self.sent_today += 1
            if self.timing.cap.limit is not None:
                self._instant = None  # the count moved: the next one may be past the cap
        return sub_id, due

    def _due(self, mode: Mode) -> Due:
        if mode.digest:
            if mode not in self._digest_due:
                self._digest_due[mode] = due_for(mode, self.timing, self.now)
            return self._digest_due[mode]
        if self._instant is None:
            self._instant = due_for(
                INSTANT, self.timing, self.now, sent_today=self.sent_today, digests=self.digests
            )
        return self._instant


def rescheduled(
    waiting: Iterable[tuple[int, int | None, str]],
    modes: Mapping[int, Mode],
    timing: ChatTiming,
    now: datetime,
) -> list[tuple[int, datetime, bool, str]]:
    """New (id, due_at, silent, held) for a chat's waiting alerts (id, subscription id, held)
    after its settings or a mode changed at `now`: a digest's postings go with the next digest
    of the subscription's (new) mode, alerts past the cap with the chat's next digest (else at
    local midnight), held instant alerts by today's quiet hours (now, if there are none)."""
    digests = [m for m in modes.values() if m.digest]
    changes: list[tuple[int, datetime, bool, str]] = []
    for row_id, sub_id, held in waiting:
        mode = modes.get(sub_id, INSTANT) if sub_id is not None else INSTANT
        if held == "cap" and not mode.digest:
            # Past the cap stays past the cap: due_for with a cap of one already reached.
            capped = ChatTiming(timing.tz, timing.quiet, DailyCap(1))
            due = due_for(INSTANT, capped, now, sent_today=1, digests=digests)
        else:
            due = due_for(mode, timing, now)
        changes.append((row_id, due.at, due.silent, due.why))
    return changes
