"""conftest's gate: under xdist, a test marked `alone` runs while no other test runs."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import _room


def _can_lock(path: Path, kind: int) -> bool:
    """Whether a lock of `kind` on `path` would be granted now (asked without waiting)."""
    with path.open("ab") as probe:
        try:
            fcntl.flock(probe, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True


def test_other_tests_share_the_room_and_an_alone_test_keeps_them_out(tmp_path: Path) -> None:
    with _room(tmp_path, exclusive=False):
        assert _can_lock(tmp_path / "alone.room", fcntl.LOCK_SH)
        assert not _can_lock(tmp_path / "alone.room", fcntl.LOCK_EX)
    with _room(tmp_path, exclusive=True):
        assert not _can_lock(tmp_path / "alone.room", fcntl.LOCK_SH)
    assert _can_lock(tmp_path / "alone.room", fcntl.LOCK_EX)


def test_a_waiting_alone_test_enters_before_tests_that_come_after_it(tmp_path: Path) -> None:
    """flock alone would let tests that start later take the room shared ahead of it."""
    entered = threading.Event()

    def alone() -> None:
        with _room(tmp_path, exclusive=True):
            entered.set()

    with _room(tmp_path, exclusive=False):
        waiter = threading.Thread(target=alone)
        waiter.start()
        for _ in range(200):  # until the alone test waits at the room, holding the gate
            if not _can_lock(tmp_path / "alone.gate", fcntl.LOCK_EX):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the alone test never took the gate")
        assert not entered.is_set()
    assert entered.wait(10)
    waiter.join(10)
    assert not waiter.is_alive()
