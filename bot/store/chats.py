"""Chats and their subscriptions (saved queries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.base import Repository, _from_iso, _guarded, _iso, now_utc


@dataclass(frozen=True)
class Chat:
    """A Telegram chat the bot serves."""

    id: int
    type: str
    title: str
    active: bool
    paused: bool
    # Issue 13's settings as stored (`bot.timing.ChatTiming.from_columns` reads them).
    tz: str | None = None
    quiet: str | None = None
    cap: int | None = None


@dataclass(frozen=True)
class Subscription:
    """One saved query of one chat."""

    id: int
    chat_id: int
    query: str
    created_at: datetime
    # `str(bot.timing.Mode)`: "instant", "daily 09:00", "weekly mon 09:00".
    mode: str = "instant"


@_guarded
class Chats(Repository):
    """The chats the bot serves and their saved queries."""

    def touch_chat(
        self, chat_id: int, *, type: str, title: str, now: datetime | None = None
    ) -> Chat:
        """Record a chat that wrote to the bot; a chat marked inactive becomes active again."""
        stamp = _iso(now or now_utc())
        self.db.execute(
            "INSERT INTO chats (id, type, title, active, paused, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, 0, ?, ?) ON CONFLICT(id) DO UPDATE SET type = excluded.type, "
            "title = excluded.title, active = 1, updated_at = excluded.updated_at",
            [chat_id, type, title[:200], stamp, stamp],
        )
        chat = self.get_chat(chat_id)
        assert chat is not None
        return chat

    def get_chat(self, chat_id: int) -> Chat | None:
        row = self.db.execute(_CHAT_BY_ID, [chat_id]).fetchone()
        return None if row is None else _chat(row)

    def set_timing(
        self, chat_id: int, *, tz: str | None, quiet: str | None, cap: int | None
    ) -> None:
        """Store a chat's time zone, quiet hours and daily cap (each None: the default)."""
        self.db.execute(
            "UPDATE chats SET tz = ?, quiet = ?, cap = ? WHERE id = ?", [tz, quiet, cap, chat_id]
        )

    def set_mode(self, chat_id: int, sub_id: int, mode: str) -> bool:
        """Set a subscription's mode (`str(Mode)`); False when the chat has no such one."""
        cursor = self.db.execute(
            "UPDATE subscriptions SET mode = ? WHERE id = ? AND chat_id = ?",
            [mode, sub_id, chat_id],
        )
        return cursor.rowcount > 0

    def set_paused(self, chat_id: int, paused: bool) -> None:
        self.db.execute("UPDATE chats SET paused = ? WHERE id = ?", [int(paused), chat_id])

    def set_active(self, chat_id: int, active: bool) -> None:
        self.db.execute("UPDATE chats SET active = ? WHERE id = ?", [int(active), chat_id])

    def migrate_chat(self, old_id: int, new_id: int, *, now: datetime | None = None) -> None:
        """A group became a supergroup: its subscriptions, pending alerts, mute list and Not for
        me answers move to `new_id`."""
        stamp = _iso(now or now_utc())
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO chats (id, type, title, active, paused, created_at, updated_at, "
                "tz, quiet, cap) SELECT ?, 'supergroup', title, 1, paused, created_at, ?, "
                "tz, quiet, cap FROM chats WHERE id = ? "
                "ON CONFLICT(id) DO UPDATE SET active = 1, updated_at = excluded.updated_at",
                [new_id, stamp, old_id],
            )
            self.db.execute(
                "UPDATE subscriptions SET chat_id = ? WHERE chat_id = ?", [new_id, old_id]
            )
            self.db.execute(
                "UPDATE OR IGNORE deliveries SET chat_id = ? "
                "WHERE chat_id = ? AND status = 'pending'",
                [new_id, old_id],
            )
            self.db.execute(
                "UPDATE deliveries SET status = 'dropped', last_error = 'chat migrated' "
                "WHERE chat_id = ? AND status = 'pending'",
                [old_id],
            )
            # Its mute list and Not for me answers follow (those already there win).
            for table in ("mutes", "feedback"):
                self.db.execute(
                    f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?",  # noqa: S608
                    [new_id, old_id],
                )
                self.db.execute(f"DELETE FROM {table} WHERE chat_id = ?", [old_id])  # noqa: S608
            self.db.execute("UPDATE chats SET active = 0 WHERE id = ?", [old_id])

    def add_subscription(
        self, chat_id: int, query: str, *, now: datetime | None = None, mode: str = "instant"
    ) -> Subscription:
        """Save a query for a chat (the chat must be known: see touch_chat)."""
        created = now or now_utc()
        cursor = self.db.execute(
            "INSERT INTO subscriptions (chat_id, query, created_at, mode) VALUES (?, ?, ?, ?)",
            [chat_id, query, _iso(created), mode],
        )
        assert cursor.lastrowid is not None
        stamp = _from_iso(_iso(created)) or created
        return Subscription(cursor.lastrowid, chat_id, query, stamp, mode)

    def subscriptions(self, chat_id: int) -> list[Subscription]:
        """A chat's subscriptions, oldest first."""
        cursor = self.db.execute(
            "SELECT id, chat_id, query, created_at, mode FROM subscriptions "
            "WHERE chat_id = ? ORDER BY id",
            [chat_id],
        )
        return [_subscription(row) for row in cursor.fetchall()]

    def subscriptions_all(self) -> list[Subscription]:
        """Every chat's subscriptions (the match index is built from these)."""
        cursor = self.db.execute(
            "SELECT id, chat_id, query, created_at, mode FROM subscriptions ORDER BY id"
        )
        return [_subscription(row) for row in cursor.fetchall()]

    def chat_counts(self) -> tuple[int, int, int]:
        """(chats, active and unpaused chats, subscriptions) stored: /stats and the gauges."""
        row = self.db.execute(
            "SELECT (SELECT count(*) FROM chats), "
            "(SELECT count(*) FROM chats WHERE active = 1 AND paused = 0), "
            "(SELECT count(*) FROM subscriptions)"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def chats(self, ids: Sequence[int]) -> list[Chat]:
        """The chats with these ids (unknown ids are left out)."""
        sql = f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id IN ({{marks}})"  # noqa: S608
        return [_chat(row) for row in self._in(sql, [], ids)]

    def plain_chats(self, ids: Sequence[int]) -> set[int]:
        """Of these chats, those alerts go to at once: active, not paused, without quiet hours
        or a daily cap (the ids only: an ingest asks about thousands of chats a scrape)."""
        sql = (
            "SELECT id FROM chats WHERE id IN ({marks}) AND active = 1 AND paused = 0 "
            "AND quiet IS NULL AND cap IS NULL"
        )
        return {row[0] for row in self._in(sql, [], ids)}

    def remove_subscriptions(self, chat_id: int, ids: Sequence[int] | None = None) -> list[int]:
        """Remove some (or, ids None, all) of a chat's subscriptions; returns the removed ids."""
        mine = [s.id for s in self.subscriptions(chat_id)]
        doomed = mine if ids is None else [i for i in ids if i in set(mine)]
        self._in(
            "DELETE FROM subscriptions WHERE chat_id = ? AND id IN ({marks})", [chat_id], doomed
        )
        return doomed


_CHAT_COLUMNS = "id, type, title, active, paused, tz, quiet, cap"
_CHAT_BY_ID = f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?"  # noqa: S608 - constants only


def _chat(row: Sequence[Any]) -> Chat:
    return Chat(
        id=row[0],
        type=row[1] or "",
        title=row[2] or "",
        active=bool(row[3]),
        paused=bool(row[4]),
        tz=row[5],
        quiet=row[6],
        cap=row[7],
    )


def _subscription(row: Sequence[Any]) -> Subscription:
    created = _from_iso(row[3])
    assert created is not None
    return Subscription(
        id=row[0], chat_id=row[1], query=row[2], created_at=created, mode=row[4] or "instant"
    )
