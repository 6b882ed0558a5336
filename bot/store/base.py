"""What the repositories share: storage faults as `StoreError` (`store_error`, `_guarded`),
the clock, ISO stamps and chunked `IN (...)` queries."""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlite_utils import Database

from bot.errors import (
    StoreBusyError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)
from bot.redact import redact

# How long a write waits for a lock another program holds, blocking the event loop meanwhile.
BUSY_TIMEOUT_MS = 100
# SQLite's default limit on host parameters is 999 on old builds; stay well under it.
_CHUNK = 500


def now_utc() -> datetime:
    """The current time, aware and in UTC (the store's only clock, injectable by argument)."""
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# SQLite's primary result codes (https://sqlite.org/rescode.html) that are storage faults, not
# bugs: the error class and what happened, in the operator's words.
_FAULTS: dict[int, tuple[type[StoreError], str]] = {
    sqlite3.SQLITE_BUSY: (StoreBusyError, "locked by another program"),
    sqlite3.SQLITE_LOCKED: (StoreBusyError, "locked by another connection"),
    sqlite3.SQLITE_FULL: (StoreFullError, "the disk (or the database's size limit) is full"),
    sqlite3.SQLITE_READONLY: (StoreReadOnlyError, "the file cannot be written"),
    sqlite3.SQLITE_PERM: (StoreReadOnlyError, "access denied"),
    sqlite3.SQLITE_CORRUPT: (StoreCorruptError, "the file is damaged"),
    sqlite3.SQLITE_NOTADB: (StoreCorruptError, "the file is not a SQLite database"),
    sqlite3.SQLITE_IOERR: (StoreError, "disk I/O error"),
    sqlite3.SQLITE_CANTOPEN: (StoreError, "the file cannot be opened"),
    sqlite3.SQLITE_NOMEM: (StoreError, "out of memory"),
}


def store_error(exc: sqlite3.Error, path: str) -> StoreError | None:
    """The `StoreError` for a storage fault reported by SQLite, None for anything else (a bug).

    Classified by `sqlite_errorcode` (Python 3.11+), whose low byte is SQLite's primary result
    code; extended codes such as SQLITE_IOERR_WRITE name the detail in the message.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    fault = _FAULTS.get(code & 0xFF) if isinstance(code, int) else None
    if fault is None:
        return None
    kind, what = fault
    name = getattr(exc, "sqlite_errorname", "")
    return kind(f"{what} ({name}: {exc})", path=path)


_T = TypeVar("_T")


def _guarded(cls: type[_T]) -> type[_T]:
    """Every public method of `cls` raises storage faults as `StoreError` (see `store_error`)."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(method):

            @functools.wraps(method)
            def generator(self: Repository, *args: Any, **kwargs: Any) -> Iterator[Any]:
                try:
                    yield from method(self, *args, **kwargs)
                except sqlite3.Error as exc:
                    raise (store_error(exc, self.path) or exc) from None

            return generator

        @functools.wraps(method)
        def call(self: Repository, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                error = store_error(exc, self.path)
                if error is None:
                    raise
                raise error from None

        return call

    for name, member in list(vars(cls).items()):
        # Coroutine methods translate their own faults (see `Store.ingest_async`).
        if (
            not name.startswith("_")
            and inspect.isfunction(member)
            and not inspect.iscoroutinefunction(member)
        ):
            setattr(cls, name, wrap(member))
    return cls


class Repository:
    """What every repository shares: the one `sqlite_utils.Database` of the process, the
    file's path (named in errors) and the secrets redacted from stored error texts."""

    def __init__(self, db: Database, *, path: str = "", secrets: Sequence[str] = ()) -> None:
        self.db = db
        self.path = path
        self.secrets = tuple(secrets)

    def _clean(self, text: str) -> str:
        """An error text as it may be stored: no token in any form, at most 500 characters."""
        return redact(text, self.secrets)[:500]

    def _in(self, sql: str, params: Sequence[Any], ids: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run `sql` (with `{marks}` where the id list goes) over `ids`, chunk by chunk."""
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(ids)):
            query = sql.format(marks=",".join("?" * len(chunk)))
            rows.extend(self.db.execute(query, [*params, *chunk]).fetchall())
        return rows
