"""One daemon per database: an OS file lock beside it.

Two daemons on one database both poll Telegram (409 Conflict) and race each other's outbox. The
`run` and `once` commands take an exclusive `flock(2)` on `<db>.lock` before opening the store and
hold it until they exit; the kernel drops it with the process however it ends (SIGKILL, a crash),
so a stale lock file never blocks a restart. The file holds the holder's pid, named by the
refusal. `flock` locks are advisory and per open file: a reader such as `latest` does not take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from bot.errors import StoreError, StoreInUseError


def lock_path(database: Path) -> Path:
    """The lock file of the database at `database`: the same path with `.lock` appended."""
    return database.with_name(database.name + ".lock")


class DatabaseLock:
    """An exclusive, non-blocking OS lock on `<database>.lock`; use as a context manager."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = lock_path(database)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `StoreInUseError` naming the holder's pid at once (no wait).

        Raises `StoreError` when the lock file cannot be created (a read-only folder).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot create the lock file {self.path}: {exc.strerror}",
                path=str(self.database),
                remedy="make the database's folder writable",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "pid unknown"
            raise StoreInUseError(
                f"in use by another jobhound ({who}, holding {self.path})",
                path=str(self.database),
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: deleting it would race a starting daemon)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text else None
    return None
