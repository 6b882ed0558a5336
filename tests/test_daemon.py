"""The daemon and the one-shot commands, run as a newcomer would: on the seeds, in console mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ROOT

CONFIG = """
[storage]
path = "{db}"

[[sources]]
name = "seeds"
kind = "markdown"
url = "{seeds}"
schedule = "*/10 * * * *"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "jobhound.toml"
    path.write_text(CONFIG.format(db=tmp_path / "data" / "jobhound.db", seeds=ROOT / "seeds"))
    return path


def _daemon(config: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "run", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not printed within {timeout}s; got {lines}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_daemon_prints_the_seeds_summary_and_stops_cleanly(config: Path, signum: int) -> None:
    proc = _daemon(config)
    try:
        lines = _wait_for_line(proc, "seeds: 5 postings stored")
        assert lines == ["seeds: 5 postings stored"]  # a first run never floods
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=15)
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "console mode" in err
    assert "TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err
    assert "stopped" in err


def test_restart_stores_nothing_new(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["once", "--config", str(config)]) == 0
    assert "seeds: 5 postings stored" in capsys.readouterr().out
    assert main(["once", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "seeds: 5 postings, 0 new" in out
    assert "postings stored" not in out


def test_latest_lists_seed_postings(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["once", "--config", str(config)])
    capsys.readouterr()
    assert main(["latest", "--config", str(config), "-n", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert all(" — Binance — " in line for line in lines)


def test_latest_with_a_query(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["once", "--config", str(config)])
    capsys.readouterr()
    assert main(["latest", "--config", str(config), "rust"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "Senior Rust Engineer" in out[0]
    assert main(["latest", "--config", str(config), "(rust"]) == 2
    assert "bad query" in capsys.readouterr().err


def test_once_fails_only_when_every_source_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.toml"
    path.write_text(CONFIG.format(db=tmp_path / "db.sqlite", seeds=tmp_path / "missing"))
    assert main(["once", "--config", str(path)]) == 1
    assert "FAILED" in capsys.readouterr().out
