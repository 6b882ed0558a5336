"""The command line's data commands (issue 14): `backup PATH`, `check --db`, `latest` for
scripts (streamed, `--json`, `--source`), `export` and `import` of chats and subscriptions.

Each returns the process exit status and prints through the given `say` (which redacts the
token); the database comes from `storage.path` (or JOBHOUND_DB). They read the database next
to a running daemon (WAL lets readers and the writer proceed); `import` writes, so it takes
the daemon's lock and refuses while one runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bot.backup import ImportRefused, backup, export_subscriptions, import_subscriptions
from bot.backup import integrity_check as sqlite_integrity_check
from bot.deliver.console import posting_date, posting_line
from bot.errors import QueryError
from bot.lock import DatabaseLock
from bot.models import StoredPosting
from bot.query import Document, Query, parse_query
from bot.settings import Settings
from bot.store import Postings, Store
from bot.text import counted

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
Say = Callable[[str], None]


def run_backup(settings: Settings, dest: str, say: Say) -> int:
    """`backup PATH`: a consistent copy of the database into the new file PATH, online."""
    try:
        copy = backup(settings.storage.path, dest)
    except (FileExistsError, FileNotFoundError) as exc:
        print(f"jobhound: backup: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (sqlite3.Error, OSError) as exc:
        print(f"jobhound: backup of {settings.storage.path} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    say(f"backup: {settings.storage.path} copied to {copy} ({copy.stat().st_size} bytes)")
    return EXIT_OK


def run_integrity_check(settings: Settings, say: Say) -> int:
    """`check --db`: SQLite's integrity check; 0 when sound, 1 listing the problems."""
    path = settings.storage.path
    try:
        problems = sqlite_integrity_check(path)
    except FileNotFoundError as exc:
        print(f"jobhound: check --db: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not problems:
        say(f"{path}: integrity check ok")
        return EXIT_OK
    say(f"{path}: integrity check found {len(problems)} problem(s); restore a backup:")
    for problem in problems[:100]:
        say(f"  {problem}")
    return EXIT_FAILED


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored posting's row as `latest --json` prints it: every column under its own name,
    `tags` as a list and `remote` as a boolean (the rest as stored: ISO 8601 UTC times)."""
    out = dict(row)
    if isinstance(out.get("tags"), str):
        out["tags"] = json.loads(out["tags"] or "[]")
    if "remote" in out and out["remote"] is not None:
        out["remote"] = bool(out["remote"])
    return out


def run_latest(
    settings: Settings,
    count: int | None,
    query_text: str,
    *,
    source: str | None,
    as_json: bool,
    say: Say,
    closed: bool = False,
    out: TextIO | None = None,
) -> int:
    """`latest [-n N] [--source NAME] [--json] [--all] [QUERY]`: the newest stored jobs, newest
    first, streamed (no cap on N; None: all): one line per job (its group's canonical posting,
    with "also on"), open ones unless `closed`. `--json`: every stored posting, one object a
    line with every stored column (`json_row`)."""
    problem = _latest_usage(settings, count, source)
    if problem:
        print(f"jobhound: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        query = parse_query(query_text) if query_text.strip() else None
    except QueryError as exc:
        print(f"jobhound: bad query: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not settings.storage.path.exists():
        if not as_json:
            say(f"No postings stored yet ({settings.storage.path} is missing): try `make run`.")
        return EXIT_OK
    stream = out or sys.stdout
    store = Store.open(settings.storage.path)
    printed = 0
    try:
        for row, posting in _matching(store, query, source, count, every=as_json, closed=closed):
            if as_json:
                stream.write(json.dumps(json_row(row), ensure_ascii=False) + "\n")
            else:
                (shown,) = store.with_groups([posting])
                say(f"{posting_date(shown)}  {posting_line(shown)}")
            printed += 1
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        if stream is sys.stdout:
            # Python would report the pipe again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        store.close()
    if not printed and not as_json:
        say("No stored posting matches." if query or source else "No postings stored yet.")
    return EXIT_OK


def _latest_usage(settings: Settings, count: int | None, source: str | None) -> str | None:
    if count is not None and count < 1:
        return "-n must be 1 or more"
    if source is not None and source not in {s.name for s in settings.sources}:
        return f"no source named {source!r} in {settings.path}"
    return None


def _matching(
    store: Postings,
    query: Query | None,
    source: str | None,
    count: int | None,
    *,
    every: bool,
    closed: bool,
) -> Iterator[tuple[dict[str, Any], StoredPosting]]:
    """The first `count` (None: all) stored postings of `source` that `query` matches: `every`
    stored posting as its whole row, else one per job (open ones unless `closed`)."""
    if every:
        rows: Iterator[tuple[dict[str, Any], StoredPosting]] = store.iter_rows(source=source)
    else:
        rows = (({}, p) for p in store.iter_postings(closed=closed))
    found = 0
    for row, posting in rows:
        if count is not None and found >= count:
            return
        if source is not None and posting.source != source:
            continue
        if query is None or query.matches(Document.from_posting(posting)):
            found += 1
            yield row, posting


def run_export(settings: Settings, dest: str | None, say: Say) -> int:
    """`export [PATH]`: chats (with their settings), subscriptions (with their modes) and
    mute lists as JSON, to PATH (a new file) or stdout."""
    if not settings.storage.path.exists():
        print(f"jobhound: export: no database at {settings.storage.path}", file=sys.stderr)
        return EXIT_USAGE
    store = Store.open(settings.storage.path)
    try:
        data = export_subscriptions(store.db)
    finally:
        store.close()
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if dest is None or dest == "-":
        sys.stdout.write(text)
        return EXIT_OK
    try:
        with Path(dest).open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        print(f"jobhound: export: {dest} exists; choose a new file", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # no such directory, no permission, a full disk
        print(f"jobhound: export: cannot write {dest}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    say(
        f"export: {counted(len(data['chats']), 'chat')}, "
        f"{counted(len(data['subscriptions']), 'subscription')}, "
        f"{counted(len(data['mutes']), 'muted company', 'muted companies')} to {dest}"
    )
    return EXIT_OK


def run_import(settings: Settings, source: str, say: Say) -> int:
    """`import PATH`: an `export` file into the (new or empty) database at storage.path; the
    daemon's lock is taken, so it refuses while a daemon uses that database."""
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"jobhound: import: cannot read {source}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    lock = DatabaseLock(settings.storage.path)
    lock.acquire()  # StoreInUseError (exit 2 in cli) while a daemon runs
    try:
        store = Store.open(settings.storage.path, check_writable=True)
        try:
            imported = import_subscriptions(store.db, data)
        except ImportRefused as exc:
            print(f"jobhound: import refused: {exc}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            store.close()
    finally:
        lock.release()
    say(
        f"import: {counted(imported.chats, 'chat')}, "
        f"{counted(imported.subscriptions, 'subscription')}, "
        f"{counted(imported.mutes, 'muted company', 'muted companies')} "
        f"into {settings.storage.path}"
    )
    return EXIT_OK
