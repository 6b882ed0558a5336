"""Backups while a scrape writes, the integrity check, and export -> import of chats and
subscriptions."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.backup import (
    ImportRefused,
    backup,
    export_subscriptions,
    import_subscriptions,
    integrity_check,
)
from bot.store import Store

BATCH = 25
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def count(path: Path, table: str = "postings") -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def scrape_writer(path: Path, started: threading.Event, stop: threading.Event) -> None:
    """Stores postings in transactions of BATCH rows, as a scrape does, until told to stop."""
    db = sqlite3.connect(path, timeout=10)
    batch = 0
    try:
        while not stop.is_set():
            rows = [
                (f"p{batch}-{i}", f"https://jobs.example/{batch}/{i}", "feed", f"Job {i}", "x", "x")
                for i in range(BATCH)
            ]
            with db:
                db.executemany(
                    "INSERT INTO postings (id, url, source, title, first_seen, last_seen) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
            batch += 1
            if batch == 20:
                started.set()
    finally:
        db.close()


def test_backup_while_a_scrape_writes_is_consistent(tmp_path: Path) -> None:
    live = tmp_path / "jobhound.db"
    Store.open(live).close()
    started, stop = threading.Event(), threading.Event()
    writer = threading.Thread(target=scrape_writer, args=(live, started, stop))
    writer.start()
    try:
        assert started.wait(30)
        before = count(live)
        (tmp_path / "backup").mkdir()
        copy = backup(live, tmp_path / "backup" / "copy.db")
        # The writer is still going: a backup that blocked it would see no progress.
        progress_from = count(live)
        assert _waits_for_growth(live, progress_from)
    finally:
        stop.set()
        writer.join(30)
    after = count(live)
    assert integrity_check(copy) == []
    copied = count(copy)
    assert before <= copied <= after
    assert copied % BATCH == 0  # whole transactions only: one snapshot, no half batch
    assert not (tmp_path / "backup" / "copy.db.partial").exists()
    assert not Path(f"{copy}-wal").exists() or Path(f"{copy}-wal").stat().st_size == 0
    reopened = Store.open(copy)  # a usable jobhound database
    reopened.close()


def _waits_for_growth(path: Path, start: int) -> bool:
    for _ in range(2000):
        if count(path) > start:
            return True
        threading.Event().wait(0.005)
    return False


def test_backup_refuses_to_overwrite_and_needs_a_source(tmp_path: Path) -> None:
    live = tmp_path / "jobhound.db"
    Store.open(live).close()
    existing = tmp_path / "old.db"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="choose a new file"):
        backup(live, existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(FileNotFoundError):
        backup(tmp_path / "missing.db", tmp_path / "x.db")


def test_integrity_check_reports_damage(tmp_path: Path) -> None:
    path = tmp_path / "jobhound.db"
    store = Store.open(path)
    store.db.conn.executemany(
        "INSERT INTO postings (id, url, source, title, first_seen, last_seen) "
        "VALUES (?, ?, 'feed', 'Job', 'x', 'x')",
        [(f"p{i}", f"https://jobs.example/{i}" + "x" * 200) for i in range(2000)],
    )
    store.db.conn.commit()
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    assert integrity_check(path) == []
    # Overwrite one index's root page after its type byte: the table stays, the index is junk.
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'idx_postings_first_seen'"
        ).fetchone()[0]
    data = bytearray(path.read_bytes())
    offset = (root - 1) * page_size
    data[offset + 1 : offset + page_size] = b"\xff" * (page_size - 1)
    path.write_bytes(bytes(data))
    problems = integrity_check(path)
    assert problems
    assert all(isinstance(p, str) for p in problems)
    assert any("idx_postings_first_seen" in p or "malformed" in p for p in problems)

    path.write_bytes(b"this is not a database, just text" * 100)
    assert integrity_check(path) == ["file is not a database"]


def seeded(path: Path | str) -> Store:
    store = Store.open(path)
    store.touch_chat(1001, type="private", title="Ada", now=NOW)
    store.touch_chat(-100500, type="supergroup", title="Jobs «Berlin» 🚀", now=NOW)
    store.add_subscription(1001, "python AND remote", now=NOW)
    store.add_subscription(1001, 'title:"data engineer" -senior', now=NOW)
    store.add_subscription(-100500, "rust OR go", now=NOW)
    store.add_subscription(-100500, "kotlin", now=NOW, mode="daily 09:00")
    store.db.execute("UPDATE chats SET paused = 1 WHERE id = -100500")
    store.db.execute(
        "UPDATE chats SET tz = 'Europe/Berlin', quiet = '22:00-07:00', cap = 5 WHERE id = 1001"
    )
    ids = store.company_ids(["  ACME  Corp", "Initech"])
    store.mute(1001, ids["  ACME  Corp"], now=NOW)
    store.mute(-100500, ids["Initech"], now=NOW)
    store.db.conn.commit()
    return store


def test_export_then_import_gives_equal_chats_and_subscriptions(tmp_path: Path) -> None:
    source = seeded(tmp_path / "a.db")
    exported = export_subscriptions(source.db)
    text = json.dumps(exported, ensure_ascii=False)
    assert [c["id"] for c in exported["chats"]] == [-100500, 1001]
    assert exported["chats"][0]["paused"] == 1
    assert exported["chats"][1]["tz"] == "Europe/Berlin"
    assert len(exported["subscriptions"]) == 4
    assert exported["mutes"] == [
        {"chat_id": -100500, "company": "Initech", "created_at": NOW.isoformat()},
        {"chat_id": 1001, "company": "ACME Corp", "created_at": NOW.isoformat()},
    ]

    target = Store.open(tmp_path / "b.db")
    assert import_subscriptions(target.db, json.loads(text)) == (2, 4, 2)
    assert export_subscriptions(target.db) == exported
    for chat_id in (1001, -100500):
        assert target.subscriptions(chat_id) == source.subscriptions(chat_id)
        assert target.get_chat(chat_id) == source.get_chat(chat_id)
        assert target.muted(chat_id) == source.muted(chat_id)
    assert target.mutes() == source.mutes()
    source.close()
    target.close()


def test_a_version_1_export_imports_with_default_settings(tmp_path: Path) -> None:
    """Regression: an export written before the chats' settings, modes and mutes existed."""
    data = export_subscriptions(seeded(tmp_path / "a.db").db)
    data["version"] = 1
    del data["mutes"]
    for chat in data["chats"]:
        for name in ("tz", "quiet", "cap"):
            del chat[name]
    for sub in data["subscriptions"]:
        del sub["mode"]
    target = Store.open(tmp_path / "b.db")
    assert import_subscriptions(target.db, data) == (2, 4, 0)
    ada = target.get_chat(1001)
    assert ada is not None
    assert (ada.tz, ada.quiet, ada.cap) == (None, None, None)
    assert [s.mode for s in target.subscriptions(-100500)] == ["instant", "instant"]
    assert target.mutes() == {}
    target.close()


def test_import_only_into_an_empty_database(tmp_path: Path) -> None:
    store = seeded(tmp_path / "a.db")
    data = export_subscriptions(store.db)
    with pytest.raises(ImportRefused, match="already has 2 chats; import only into an empty"):
        import_subscriptions(store.db, data)
    store.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="something"), "not a jobhound export"),
        (lambda d: d.update(version=3), "export version 3; this jobhound reads versions 1, 2"),
        (lambda d: d["chats"][0].update(admin=True), r"unknown or missing columns \['admin'\]"),
        (lambda d: d["chats"][0].update(id="1001"), r"chats\[0\]\.id must be int"),
        (lambda d: d["subscriptions"][0].update(chat_id=7), "belongs to chat 7"),
        (lambda d: d["subscriptions"].append(dict(d["subscriptions"][0])), "duplicate id"),
        (lambda d: d["mutes"][0].update(chat_id=7), r"mutes\[0\] belongs to chat 7"),
        (lambda d: d["mutes"][0].update(company=" "), r"mutes\[0\]\.company is empty"),
        (lambda d: d["mutes"][0].pop("created_at"), r"missing columns \['created_at'\]"),
        (lambda d: d["mutes"][0].update(created_at="yesterday"), r"mutes\[0\]\.created_at is not"),
        (lambda d: d["chats"][1].update(cap="5"), r"chats\[1\]\.cap must be int"),
        (lambda d: d["chats"][1].update(tz="Mars/Olympus"), r"chats\[1\]: .*Mars/Olympus"),
        (lambda d: d["chats"][1].update(quiet="late"), r"chats\[1\]: "),
        (lambda d: d["subscriptions"][0].update(query="((("), r"subscriptions\[0\]: "),
        (lambda d: d["subscriptions"][0].update(mode="sometimes"), r"subscriptions\[0\]: "),
        (
            lambda d: d["subscriptions"].extend(
                dict(d["subscriptions"][0], id=100 + n) for n in range(50)
            ),
            "more than 50 subscriptions",
        ),
    ],
)
def test_import_refuses_a_bad_export_and_writes_nothing(tmp_path, change, message) -> None:
    data = export_subscriptions(seeded(tmp_path / "a.db").db)
    change(data)
    target = Store.open(tmp_path / "b.db")
    with pytest.raises(ImportRefused, match=message):
        import_subscriptions(target.db, data)
    assert count(tmp_path / "b.db", "chats") == 0
    target.close()
