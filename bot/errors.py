"""The exception tree of jobhound, caught by class and never by message.

JobhoundError
├── ConfigError        the config file or environment is wrong; start-up stops (exit 2)
├── SourceError        one source failed this run; the others go on
│   ├── FetchError     the board could not be read (network, HTTP status, robots.txt)
│   │   ├── BodyTooLarge   the answer is over the size cap (`fetch.max_bytes`), sent or decoded
│   │   ├── RefusedFetch   the origin policy refuses the target (an internal address); never retried
│   │   └── RobotsDisallowed   the board's robots.txt disallows the URL
│   └── ParseError     the board answered with something we cannot read
├── StoreError         the database refused an operation; says what, and what to do about it
│   ├── StoreBusyError       another program holds the database's write lock
│   ├── StoreFullError       the disk (or the database's page limit) is full
│   ├── StoreReadOnlyError   the file cannot be written
│   ├── StoreCorruptError    not a database, damaged, or an empty file we did not create
│   └── StoreInUseError      another jobhound holds `<db>.lock`: only one per database
├── DeliveryDeferred   the Bot API could not be reached; queued alerts wait for the next run
└── QueryError         a subscription query does not parse; its message is shown to the user
    └── LimitError     a bound on subscriptions was reached (per chat, in all); says which
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.redact import redact


class JobhoundError(Exception):
    """Base class of every error jobhound raises on purpose."""


class ConfigError(JobhoundError):
    """The configuration is invalid: names the file, the key path and what is wrong."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        # A token pasted into another key (api_url, a source url) must not be printed back.
        message = redact(message)
        self.key = key
        self.detail = message
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class SourceError(JobhoundError):
    """One source failed this run; carries the source name and the URL involved."""

    def __init__(self, message: str, *, source: str = "", url: str = "") -> None:
        self.source = source
        self.url = url
        self.detail = message
        super().__init__(message)

    def __str__(self) -> str:
        where = " ".join(part for part in (self.source, self.url and f"<{self.url}>") if part)
        return f"{where}: {self.detail}" if where else self.detail


class FetchError(SourceError):
    """The board could not be read: network fault, bad HTTP status, size cap, robots.txt."""

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        url: str = "",
        status: int | None = None,
        retryable: bool = False,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message, source=source, url=url)
        self.status = status
        self.retryable = retryable
        # An HTTP error answer's headers and first bytes: what `bot.breakage.classify` reads
        # to tell a bot-protection block from a plain 404.
        self.headers: Mapping[str, str] = headers or {}
        self.body = body


class BodyTooLarge(FetchError):
    """An answer longer than the cap once decoded (`fetch.max_bytes`, or robots.txt's own)."""


class RefusedFetch(FetchError):
    """A target the origin policy refuses: an internal address, or another port of a configured
    host, that is not the origin of a configured source. Never retried."""


class RobotsDisallowed(FetchError):
    """The board's robots.txt disallows the URL (or cannot be read): nothing was asked."""


class ParseError(SourceError):
    """The board answered with a body we cannot read (invalid JSON, a layout we do not know)."""


class StoreError(JobhoundError):
    """The database refused an operation: `what` happened to the file at `path`, and `remedy`
    for the operator. The caller says what happens next (retry next run, exit with status 2).
    """

    remedy = "check the disk and the file's permissions"

    def __init__(self, what: str, *, path: str = "", remedy: str | None = None) -> None:
        if remedy is not None:
            self.remedy = remedy
        super().__init__(f"database {path}: {what}" if path else f"database: {what}")


class StoreBusyError(StoreError):
    """Another program (a sqlite3 shell, a backup) holds the write lock: retrying can succeed."""

    remedy = "close the program holding it"


class StoreFullError(StoreError):
    """SQLITE_FULL: the disk, or the database's page limit, is full."""

    remedy = "free disk space"


class StoreReadOnlyError(StoreError):
    """SQLITE_READONLY: the file, its folder or the file system cannot be written."""

    remedy = "make the file and its folder writable"


class StoreCorruptError(StoreError):
    """SQLITE_CORRUPT/SQLITE_NOTADB, or an existing zero-byte file: the data is not readable."""

    remedy = "restore a backup"


class StoreInUseError(StoreError):
    """Another jobhound process holds the database's lock file (one daemon per database)."""

    remedy = "stop the other jobhound first"


class DeliveryDeferred(JobhoundError):
    """The Bot API could not be reached this cycle; the queued alerts wait for the next one."""


class QueryError(JobhoundError):
    """A subscription query that does not parse; the message is meant for the user."""


class LimitError(QueryError):
    """A bound on subscriptions was reached; the message says which."""
