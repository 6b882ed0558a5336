"""Shared fixtures. No test may reach the internet: any socket to a non-loopback address fails.

`make test` runs the suite on pytest-xdist workers (markers in pyproject.toml): a test marked
`alone` (one that counts wall-clock arrivals, such as Telegram's flood limits across a daemon
restart) runs while no other test does, so the other workers' CPU load cannot become its timing
fault; tests marked `long_wait` start first.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _allowed(address: Any) -> bool:
    if not isinstance(address, tuple):  # unix sockets
        return True
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _allowed(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _allowed(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("JOBHOUND_CONFIG", raising=False)
    monkeypatch.delenv("JOBHOUND_DB", raising=False)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Tests that run the CLI configure logging; give every test the set-up it started with."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long_wait` go first (stable otherwise): a worker starts each of those
    long sleeps at once, so they overlap the rest of the run instead of ending it."""
    items.sort(key=lambda item: item.get_closest_marker("long_wait") is None)


@contextlib.contextmanager
def _room(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """A readers-writer lock across the xdist workers of one run, on two files in `folder`.

    Every test holds the room shared; an `alone` test holds it exclusively. The gate makes a
    waiting `alone` test first in line: while it waits, no other test enters (flock alone
    lets new shared holders in ahead of a waiting exclusive one).
    """
    with (folder / "alone.gate").open("ab") as gate, (folder / "alone.room").open("ab") as room:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _alone(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Under xdist, an `alone` test waits for the running tests to end and holds the others off."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    # xdist's workers have their base temp folders in one parent: the run's shared folder.
    shared = tmp_path_factory.getbasetemp().parent
    with _room(shared, exclusive=request.node.get_closest_marker("alone") is not None):
        yield


@pytest.fixture
def seeds_dir() -> Path:
    return ROOT / "seeds"


@pytest.fixture
def corpus_dir() -> Path:
    path = SHARED / "corpus"
    if not path.is_dir():
        pytest.skip("../shared/corpus is not present beside the repository")
    return path
