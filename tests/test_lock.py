"""One daemon per database (issue 9, item 8): an OS lock on `<db>.lock`, released on any exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.errors import StoreInUseError
from bot.lock import DatabaseLock, lock_path
from tests.conftest import ROOT
from tests.test_daemon import CONFIG, _daemon, _wait_for_line


def test_a_second_lock_on_one_database_is_refused_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "data" / "jobhound.db"
    with DatabaseLock(db):
        assert lock_path(db).read_text() == f"{os.getpid()}\n"
        with pytest.raises(StoreInUseError) as refused:
            DatabaseLock(db).acquire()
        assert str(refused.value) == (
            f"database {db}: in use by another jobhound (pid {os.getpid()}, holding {db}.lock)"
        )
    with DatabaseLock(db):  # released on exit: taken again at once
        pass


def test_a_lock_held_by_a_killed_process_is_free_again(tmp_path: Path) -> None:
    db = tmp_path / "jobhound.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from bot.lock import DatabaseLock; "
            "DatabaseLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); "
            "time.sleep(60)",
            str(db),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(StoreInUseError, match=f"pid {holder.pid}"):
            DatabaseLock(db).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
    # The kernel dropped the lock with the process; the stale pid in the file does not matter.
    with DatabaseLock(db):
        pass


def test_a_second_daemon_on_one_database_refuses_to_start(tmp_path: Path) -> None:
    """Regression: two daemons on one database both ran and fought over getUpdates."""
    db = tmp_path / "data" / "jobhound.db"
    config = tmp_path / "jobhound.toml"
    config.write_text(CONFIG.format(db=db, seeds=ROOT / "seeds"))
    first = _daemon(config)
    try:
        _wait_for_line(first, "seeds: 5 postings stored")
        for command in ("run", "once"):
            env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
            started = time.monotonic()
            second = subprocess.run(
                [sys.executable, str(ROOT / "main.py"), command, "--config", str(config)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert second.returncode == 2, second.stderr
            assert time.monotonic() - started < 10
            (line,) = second.stderr.strip().splitlines()
            assert f"database {db}: in use by another jobhound (pid {first.pid}" in line
            assert line.endswith("stop the other jobhound first. Exiting with status 2")
            assert second.stdout == ""
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=15)
        assert first.returncode == 0
        assert "Traceback" not in err
    finally:
        if first.poll() is None:
            first.kill()
