"""The data commands of issue 14 through `main` as a script calls them: `latest --json` (every
stored field, streamed, no cap on -n, `--source`), `backup` while a scrape writes, `check --db`,
`export` -> `import` into an empty database."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import Posting
from bot.store import Store
from tests.conftest import ROOT
from tests.test_backup import scrape_writer, seeded

OLD_CAP = 100  # `latest -n` stopped at 100 before it streamed

CONFIG = """
[storage]
path = "{db}"

[[sources]]
name = "seeds"
kind = "markdown"
url = "{seeds}"

[[sources]]
name = "acme"
kind = "markdown"
url = "{seeds}"
"""


def config(tmp_path: Path, db: Path) -> str:
    path = tmp_path / f"{db.stem}.toml"
    path.write_text(CONFIG.format(db=db, seeds=ROOT / "seeds"))
    return str(path)


def fill(db: Path, count: int) -> None:
    """`count` postings of source "acme" with every field set, and 5 of "seeds"."""
    store = Store.open(db)
    try:
        start = datetime(2026, 11, 1, tzinfo=UTC)
        postings = [
            Posting(
                title=f"Engineer {i} <R&D>",
                url=f"https://acme.test/jobs/{i}?utm_source=x",
                company="Acme & Co",
                location="Berlin, DE",
                remote=i % 2 == 0,
                tags=("rust", f"t{i}"),
                posted_at=start + timedelta(hours=i),
                salary="€80k–€100k",
                description=f"Line one\n\nLine «{i}»",
            )
            for i in range(count)
        ]
        store.ingest("acme", postings)
        store.ingest("seeds", postings[:5])
    finally:
        store.close()


def rows(db: Path) -> dict[str, dict[str, object]]:
    with sqlite3.connect(db) as conn:
        cursor = conn.execute("SELECT * FROM postings")
        names = [c[0] for c in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}


def test_latest_json_round_trips_every_stored_field_without_a_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "a.db"
    fill(db, OLD_CAP + 50)
    assert main(["latest", "--json", "-n", "1000", "--config", config(tmp_path, db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    stored = rows(db)
    assert len(lines) == len(stored) == OLD_CAP + 50  # one object per stored posting
    for line in lines:
        got = json.loads(line)
        # Back to the stored form: tags as their JSON text, remote as 0/1.
        got["tags"] = json.dumps(got["tags"], ensure_ascii=False)
        got["remote"] = int(got["remote"])
        assert got == stored[got["id"]]


def test_latest_by_source_and_query_newest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "a.db"
    fill(db, 20)
    path = config(tmp_path, db)
    assert main(["latest", "--json", "-n", "3", "--source", "acme", "--config", path]) == 0
    got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [g["source"] for g in got] == ["acme"] * 3
    assert main(["latest", "--source", "nope", "--config", path]) == 2
    assert "no source named 'nope'" in capsys.readouterr().err
    assert main(["latest", "-n", "2", "--config", path, "t7 OR t13"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert all("Engineer" in line for line in out)


def test_backup_while_a_scrape_writes_and_check_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "live.db"
    Store.open(db).close()
    started, stop = threading.Event(), threading.Event()
    writer = threading.Thread(target=scrape_writer, args=(db, started, stop))
    writer.start()
    try:
        assert started.wait(10)
        assert main(["backup", str(tmp_path / "copy.db"), "--config", config(tmp_path, db)]) == 0
    finally:
        stop.set()
        writer.join(10)
    assert "copied to" in capsys.readouterr().out
    copy = tmp_path / "copy.db"
    assert main(["check", "--db", "--config", config(tmp_path, copy)]) == 0
    assert "integrity check ok" in capsys.readouterr().out
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert main(["backup", str(copy), "--config", config(tmp_path, db)]) == 2  # never overwrites
    assert "exists" in capsys.readouterr().err
    # Damage (tests/test_backup.py damages pages): the check says so and exits 1.
    copy.write_bytes(b"this is not a database, just text" * 100)
    assert main(["check", "--db", "--config", config(tmp_path, copy)]) == 1
    assert "file is not a database" in capsys.readouterr().out


def test_export_then_import_gives_equal_chats_and_subscriptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old.db"
    seeded(source).close()
    dump = tmp_path / "subs.json"
    assert main(["export", str(dump), "--config", config(tmp_path, source)]) == 0
    fresh = tmp_path / "new.db"
    assert main(["import", str(dump), "--config", config(tmp_path, fresh)]) == 0
    capsys.readouterr()
    assert main(["export", "--config", config(tmp_path, fresh)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(dump.read_text())
    # A second import would duplicate them: refused, nothing written.
    assert main(["import", str(dump), "--config", config(tmp_path, fresh)]) == 2
    assert "import only into an empty database" in capsys.readouterr().err


def test_data_commands_answer_a_missing_directory_or_an_empty_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regressions a tester found: `export` into a missing directory ended in a traceback,
    `backup` there said only "unable to open database file", and `check --db` passed an
    empty file that every other command refuses."""
    db = tmp_path / "live.db"
    seeded(db).close()
    nowhere = tmp_path / "no" / "such"
    assert main(["export", str(nowhere / "x.json"), "--config", config(tmp_path, db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jobhound: export: cannot write")
    assert len(err.splitlines()) == 1
    assert main(["backup", str(nowhere / "x.db"), "--config", config(tmp_path, db)]) == 2
    err = capsys.readouterr().err
    assert f"no directory {nowhere}" in err
    assert len(err.splitlines()) == 1

    empty = tmp_path / "empty.db"
    empty.touch()
    assert main(["backup", str(tmp_path / "copy.db"), "--config", config(tmp_path, empty)]) == 1
    assert "the file is empty (0 bytes)" in capsys.readouterr().err
    assert not (tmp_path / "copy.db").exists()
    assert main(["check", "--db", "--config", config(tmp_path, empty)]) == 1
    out = capsys.readouterr().out
    assert "the file is empty (0 bytes)" in out
    assert "restore a backup" in out
