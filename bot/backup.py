"""Data safety: an online copy of the database, its integrity check, and the chats (with their
settings), subscriptions and mute lists as JSON (export, and import into an empty database).

`backup` uses SQLite's online backup API (https://www.sqlite.org/backup.html) through Python's
`sqlite3.Connection.backup`: it copies every page in one step, inside one read transaction,
so the copy is the database as of one moment even while the daemon writes (in WAL mode the
writer is not blocked meanwhile).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlite_utils import Database

from bot.errors import QueryError
from bot.query import parse_query
from bot.store.feedback import Feedback
from bot.subscriptions import MAX_PER_CHAT
from bot.text import counted
from bot.timing import ChatTiming, Mode, zone

EXPORT_FORMAT = "jobhound-subscriptions"
# Version 2 carries each chat's settings (time zone, quiet hours, daily cap), each
# subscription's mode (instant or a digest) and the mute lists; version 1 (before them) is
# still read, its chats and subscriptions getting the defaults (UTC, none, instant).
EXPORT_VERSION = 2
READS_VERSIONS = (1, 2)
# The columns as the migrations leave them (bot/store/migrations.py); import checks rows
# against these.
CHAT_COLUMNS: dict[str, type] = {
    "id": int,
    "type": str,
    "title": str,
    "active": int,
    "paused": int,
    "created_at": str,
    "updated_at": str,
    "tz": str,
    "quiet": str,
    "cap": int,
}
SUBSCRIPTION_COLUMNS: dict[str, type] = {
    "id": int,
    "chat_id": int,
    "query": str,
    "created_at": str,
    "mode": str,
}
TABLES = {"chats": CHAT_COLUMNS, "subscriptions": SUBSCRIPTION_COLUMNS}
# What version 1 had of them.
_V1_COLUMNS = {
    "chats": {"id", "type", "title", "active", "paused", "created_at", "updated_at"},
    "subscriptions": {"id", "chat_id", "query", "created_at"},
}
# A chat's mute list, one row per company (its name as postings spelled it).
MUTE_COLUMNS: dict[str, type] = {"chat_id": int, "company": str, "created_at": str}


class ImportRefused(ValueError):
    """The export cannot be imported here; the message says why and what to do."""


def backup(db_path: Path | str, dest: Path | str) -> Path:
    """Copy the database at `db_path` to the new file `dest`, consistently, while other
    connections may write; returns `dest`. The copy is written beside `dest` and renamed into
    place, so `dest` never holds half a copy. Raises FileExistsError if `dest` exists,
    FileNotFoundError if `db_path` or `dest`'s directory does not, sqlite3.Error if SQLite
    cannot read it."""
    source_path, dest_path = Path(db_path), Path(dest)
    if not source_path.is_file():
        raise FileNotFoundError(f"no database at {source_path}")
    if source_path.stat().st_size == 0:  # SQLite would copy it as a new, empty database
        raise sqlite3.DatabaseError("the file is empty (0 bytes), not a jobhound database")
    if dest_path.exists():
        raise FileExistsError(f"{dest_path} exists; choose a new file for the backup")
    if not dest_path.parent.is_dir():
        raise FileNotFoundError(f"no directory {dest_path.parent} for the backup")
    partial = dest_path.with_name(dest_path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            _connect_readonly(source_path) as source,
            contextlib.closing(sqlite3.connect(partial)) as target,
        ):
            # pages=-1: every page in one step, so one read transaction (one snapshot) covers
            # the whole copy; a stepwise copy restarts whenever another connection writes.
            source.backup(target, pages=-1)
            # A single self-contained file: the copy should not need a -wal beside it.
            target.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, dest_path)
    finally:
        partial.unlink(missing_ok=True)
    return dest_path


def integrity_check(db_path: Path | str) -> list[str]:
    """SQLite's `PRAGMA integrity_check` on the file at `db_path`, read-only: the problems it
    reports, an empty list when the database is sound; damage that stops the check, or a file
    that is no database (an empty file too: SQLite would read it as a new database), is its
    one problem. Raises FileNotFoundError when there is no file."""
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"no database at {path}")
    if path.stat().st_size == 0:
        return ["the file is empty (0 bytes), not a jobhound database"]
    with _connect_readonly(path) as db:
        try:
            rows = [str(row[0]) for row in db.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            # Damage bad enough to stop the check (or no database at all) is its finding.
            return [str(exc)]
    return [] if rows == ["ok"] else rows


def export_subscriptions(db: Database) -> dict[str, Any]:
    """The chats, subscriptions and mute lists as a JSON-ready dict: {"format", "version",
    "chats": [row…], "subscriptions": [row…], "mutes": [row…]}, rows ordered by id (mutes by
    chat and company). Feedback answers are not exported: they are about stored postings."""
    data: dict[str, Any] = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION}
    for table, columns in TABLES.items():
        names = ", ".join(columns)
        # Table and column names are our constants, never input.
        cursor = db.execute(f"SELECT {names} FROM {table} ORDER BY id")  # noqa: S608
        data[table] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    cursor = db.execute(
        "SELECT m.chat_id, coalesce(c.shown, c.name), m.created_at FROM mutes m "
        "JOIN companies c ON c.id = m.company_id ORDER BY m.chat_id, c.name"
    )
    data["mutes"] = [dict(zip(MUTE_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
    return data


class Imported(NamedTuple):
    """How many rows an import inserted."""

    chats: int
    subscriptions: int
    mutes: int


def import_subscriptions(db: Database, data: dict[str, Any]) -> Imported:
    """Insert an `export_subscriptions` dict (version 1 or 2) into `db` (migrated, with no
    chats or subscriptions yet) in one transaction; returns what it inserted.
    Raises ImportRefused naming the problem: not an export, another version, a row with an
    unknown or missing column or a wrong type, a subscription or mute of an unknown chat, a
    setting, query or mode the daemon cannot read, too many subscriptions for a chat, or a
    database that already has chats or subscriptions."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ImportRefused(f'not a jobhound export (expected "format": "{EXPORT_FORMAT}")')
    version = data.get("version")
    if version not in READS_VERSIONS:
        raise ImportRefused(
            f"export version {version!r}; this jobhound reads versions "
            f"{', '.join(map(str, READS_VERSIONS))}"
        )
    rows = {
        table: _rows(data, table, columns, _V1_COLUMNS[table] if version == 1 else None)
        for table, columns in TABLES.items()
    }
    mutes = _rows(data, "mutes", MUTE_COLUMNS, key=None) if version != 1 else []
    _check_references(rows["chats"], rows["subscriptions"], mutes)
    _check_settings(rows["chats"], rows["subscriptions"])
    with db.conn:
        _refuse_unless_empty(db)
        for table, columns in TABLES.items():
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            db.conn.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
                [tuple(row.get(name) for name in columns) for row in rows[table]],
            )
        feedback = Feedback(db)  # the mute list as the bot writes it, in this transaction
        for row in mutes:
            company = row["company"]
            when = datetime.fromisoformat(row["created_at"]) if row["created_at"] else None
            feedback.mute(row["chat_id"], feedback.company_ids([company])[company], now=when)
    return Imported(len(rows["chats"]), len(rows["subscriptions"]), len(mutes))


def _check_references(
    chats: list[dict[str, Any]], subscriptions: list[dict[str, Any]], mutes: list[dict[str, Any]]
) -> None:
    """Refuse a subscription or mute of a chat the export does not have, or a mute without a
    name or with a date that is not ISO 8601."""
    chat_ids = {row["id"] for row in chats}
    for table, rows in (("subscriptions", subscriptions), ("mutes", mutes)):
        for index, row in enumerate(rows):
            if row["chat_id"] not in chat_ids:
                raise ImportRefused(
                    f"{table}[{index}] belongs to chat {row['chat_id']}, which is not in the export"
                )
    for index, row in enumerate(mutes):
        if not row["company"] or not row["company"].strip():
            raise ImportRefused(f"mutes[{index}].company is empty")
        try:
            datetime.fromisoformat(row["created_at"] or "2000-01-01")
        except ValueError:
            raise ImportRefused(f"mutes[{index}].created_at is not an ISO date") from None


def _check_settings(chats: list[dict[str, Any]], subscriptions: list[dict[str, Any]]) -> None:
    """Refuse what the daemon would not accept from a chat: a time zone, quiet hours or cap
    it cannot read, a query that does not parse, a mode it does not know, more subscriptions
    than a chat may have (`MAX_PER_CHAT`). Each such row would otherwise be skipped with a
    warning at every start, and its chat would never hear why."""
    for index, chat in enumerate(chats):
        try:
            timing = ChatTiming.from_columns(chat.get("tz"), chat.get("quiet"), chat.get("cap"))
            zone(timing.tz)
        except ValueError as exc:
            raise ImportRefused(f"chats[{index}]: {exc}") from None
    per_chat: Counter[int] = Counter()
    for index, sub in enumerate(subscriptions):
        try:
            parse_query(sub["query"] or "")
            if sub.get("mode") is not None:
                Mode.parse(sub["mode"])
        except (QueryError, ValueError) as exc:
            raise ImportRefused(f"subscriptions[{index}]: {exc}") from None
        per_chat[sub["chat_id"]] += 1
        if per_chat[sub["chat_id"]] > MAX_PER_CHAT:
            raise ImportRefused(
                f"chat {sub['chat_id']} has more than {MAX_PER_CHAT} subscriptions, "
                "the most a chat may have"
            )


def _refuse_unless_empty(db: Database) -> None:
    for table in TABLES:
        if not db[table].exists():
            raise ImportRefused(f"the database has no {table} table: open it with jobhound")
        count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        if count:
            raise ImportRefused(
                f"the database already has {counted(count, table[:-1])}; import only into an empty "
                "database (a new storage.path)"
            )


def _rows(
    data: dict[str, Any],
    table: str,
    columns: dict[str, type],
    present: set[str] | None = None,
    *,
    key: str | None = "id",
) -> list[dict[str, Any]]:
    """`data[table]` checked: each row an object with exactly the `present` columns (all of
    `columns` by default), each value of its column's type or null, `key` unique."""
    rows = data.get(table)
    if not isinstance(rows, list):
        raise ImportRefused(f'"{table}" must be a list of rows')
    expected = set(columns) if present is None else present
    seen: set[Any] = set()
    for index, row in enumerate(rows):
        where = f"{table}[{index}]"
        if not isinstance(row, dict):
            raise ImportRefused(f"{where} is not an object")
        if set(row) != expected:
            wrong = sorted(set(row) ^ expected)
            raise ImportRefused(f"{where}: unknown or missing columns {wrong}")
        for name in expected:
            value, kind = row[name], columns[name]
            # bool is an int in Python, but not a value these columns hold.
            if value is not None and (type(value) is not kind):
                raise ImportRefused(f"{where}.{name} must be {kind.__name__}, not {value!r}")
        if key is not None:
            if row[key] is None or row[key] in seen:
                raise ImportRefused(f"{where}: missing or duplicate {key} {row[key]!r}")
            seen.add(row[key])
    return rows


@contextlib.contextmanager
def _connect_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        yield db
    finally:
        db.close()
