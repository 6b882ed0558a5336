"""The exception tree of jobhound, caught by class and never by message.

JobhoundError
├── ConfigError        the config file or environment is wrong; start-up stops (exit 2)
├── SourceError        one source failed this run; the others go on
│   ├── FetchError     the board could not be read (network, HTTP status, size, robots.txt)
│   └── ParseError     the board answered with something we cannot read
├── StoreError         the database refused an operation
└── QueryError         a subscription query does not parse; its message is shown to the user
"""

from __future__ import annotations


class JobhoundError(Exception):
    """Base class of every error jobhound raises on purpose."""


class ConfigError(JobhoundError):
    """The configuration is invalid: names the file, the key path and what is wrong."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
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
    ) -> None:
        super().__init__(message, source=source, url=url)
        self.status = status
        self.retryable = retryable


class ParseError(SourceError):
    """The board answered with a body we cannot read (invalid JSON, a layout we do not know)."""


class StoreError(JobhoundError):
    """The database refused an operation."""


class QueryError(JobhoundError):
    """A subscription query that does not parse; the message is meant for the user."""
