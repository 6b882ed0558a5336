"""A chat's answers to its alerts: muted companies (Mute company) and Not for me reasons."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.store.base import Repository, _guarded, _iso, now_utc

# Why a posting was not for a chat: the code in callback_data -> the words shown and counted.
REASONS = {
    "s": "wrong seniority",
    "l": "wrong location",
    "k": "wrong stack",
    "a": "already seen",
}


def company_key(name: str) -> str:
    """How company names are compared: case and surrounding spaces ignored."""
    return " ".join(name.casefold().split())


# A company name or posting title as shown is cut to this many characters (a board may send
# thousands; the mute answer quotes a name twice and must stay under Telegram's 4,096).
SHOWN_CHARS = 100


def shown_name(name: str) -> str:
    """A company name or posting title as shown: its own spelling, runs of spaces made one, at
    most `SHOWN_CHARS` characters (a longer one ends with "…")."""
    shown = " ".join(name.split())
    return shown if len(shown) <= SHOWN_CHARS else shown[: SHOWN_CHARS - 1] + "…"


@_guarded
class Feedback(Repository):
    """`companies` (each name once, with the small id a button's callback_data carries),
    each chat's mute list, and the Not for me answers."""

    def company_ids(self, names: Iterable[str]) -> dict[str, int]:
        """The id of each non-empty company name, adding the names not known yet (spelled as
        the first posting that named them spelled them)."""
        found: dict[str, int] = {}
        for name in dict.fromkeys(n for n in names if n.strip()):
            key = company_key(name)
            self.db.execute(
                "INSERT INTO companies (name, shown) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                [key, shown_name(name)],
            )
            row = self.db.execute("SELECT id FROM companies WHERE name = ?", [key]).fetchone()
            found[name] = int(row[0])
        return found

    def mute(self, chat_id: int, company_id: int, *, now: datetime | None = None) -> str | None:
        """Add a company (by id) to the chat's mute list; its name as shown, or None for no such
        id."""
        row = self.db.execute(
            "SELECT coalesce(shown, name) FROM companies WHERE id = ?", [company_id]
        ).fetchone()
        if row is None:
            return None
        self.db.execute(
            "INSERT INTO mutes (chat_id, company_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [chat_id, company_id, _iso(now or now_utc())],
        )
        return str(row[0])

    def unmute(self, chat_id: int, company: str | int) -> str | None:
        """Remove a company (by id, or by name in any case, as compared or as shown: what
        /list quotes) from the chat's mute list; its name as shown, or None when the chat had
        not muted it."""
        params: dict[str, str | int]
        if isinstance(company, int):
            match, params = "c.id = :id", {"id": company}
        else:
            match = "(c.name = :key OR c.shown = :shown)"
            params = {"key": company_key(company), "shown": shown_name(company)}
        row = self.db.execute(
            "SELECT c.id, coalesce(c.shown, c.name) FROM mutes m "  # noqa: S608
            f"JOIN companies c ON c.id = m.company_id WHERE m.chat_id = :chat AND {match}",
            {"chat": chat_id, **params},
        ).fetchone()
        if row is None:
            return None
        self.db.execute("DELETE FROM mutes WHERE chat_id = ? AND company_id = ?", [chat_id, row[0]])
        return str(row[1])

    def muted(self, chat_id: int) -> list[str]:
        """The chat's muted companies (compared as `company_key`), alphabetically."""
        return self._muted(chat_id, "c.name")

    def muted_shown(self, chat_id: int) -> list[str]:
        """The chat's muted companies as postings spelled them, alphabetically (for /list)."""
        return self._muted(chat_id, "coalesce(c.shown, c.name)")

    def _muted(self, chat_id: int, column: str) -> list[str]:
        rows = self.db.execute(
            f"SELECT {column} FROM mutes m JOIN companies c ON c.id = m.company_id "  # noqa: S608 - our two column expressions
            "WHERE m.chat_id = ? ORDER BY c.name",
            [chat_id],
        )
        return [str(row[0]) for row in rows]

    def mutes(self) -> dict[int, frozenset[str]]:
        """Every chat's muted companies (as `company_key`), for chats that muted any: one
        query for an ingest, however many chats its postings match."""
        found: dict[int, set[str]] = {}
        rows = self.db.execute(
            "SELECT m.chat_id, c.name FROM mutes m JOIN companies c ON c.id = m.company_id"
        )
        for chat_id, name in rows:
            found.setdefault(int(chat_id), set()).add(str(name))
        return {chat_id: frozenset(names) for chat_id, names in found.items()}

    def record_feedback(
        self, chat_id: int, posting_id: str, reason: str, *, now: datetime | None = None
    ) -> None:
        """Record (or change) why a posting was not for a chat; `reason` is a REASONS key."""
        self.db.execute(
            "INSERT INTO feedback (chat_id, posting_id, reason, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(chat_id, posting_id) DO UPDATE SET reason = excluded.reason, "
            "created_at = excluded.created_at",
            [chat_id, posting_id, REASONS[reason], _iso(now or now_utc())],
        )

    def feedback_counts(self) -> dict[str, int]:
        """How many Not for me answers each reason got, most first."""
        rows = self.db.execute(
            "SELECT reason, count(*) FROM feedback GROUP BY reason ORDER BY 2 DESC, 1"
        )
        return {str(reason): int(count) for reason, count in rows}

    def posting_ref(self, posting_id: str) -> int | None:
        """The small number a button names a stored posting by (`posting_refs`: given when it
        was stored, never to another posting); None for a posting not stored."""
        row = self.db.execute(
            "SELECT min(ref) FROM posting_refs WHERE posting_id = ?", [posting_id]
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def posting_heading(self, posting_id: str) -> str | None:
        """A stored posting as a question names it: "Rust Engineer at Acme" (the title alone
        when no company is known), or None."""
        row = self.db.execute(
            "SELECT title, company FROM postings WHERE id = ?", [posting_id]
        ).fetchone()
        if row is None:
            return None
        title, company = shown_name(str(row[0])), shown_name(str(row[1] or ""))
        return f"{title} at {company}" if company else title

    def posting_of_ref(self, ref: int) -> str | None:
        """The id of the stored posting a button's number names (a merged posting's: the job
        it joined), or None."""
        row = self.db.execute(
            "SELECT p.id FROM posting_refs r JOIN postings p ON p.id = r.posting_id "
            "WHERE r.ref = ?",
            [ref],
        ).fetchone()
        return None if row is None else str(row[0])
