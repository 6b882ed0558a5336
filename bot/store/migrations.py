"""The schema as sqlite-utils migrations, applied in order by `open_database`, and
`rekey`, which m003 and a changed source identity share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database, Migrations

from bot.facets.filters import facts_of
from bot.models import URL_IDENTITY, Identity, canonical_url
from bot.store.facts import FACT_COLUMNS, facts_row

migrations = Migrations("jobhound")


@migrations()
def m001_postings(db: Database) -> None:
    db.table("postings").create(
        {
            "id": str,
            "url": str,
            "source": str,
            "title": str,
            "company": str,
            "location": str,
            "remote": int,
            "tags": str,
            "posted_at": str,
            "salary": str,
            "description": str,
            "apply_url": str,
            "first_seen": str,
            "last_seen": str,
        },
        pk="id",
        not_null={"url", "source", "title", "first_seen", "last_seen"},
    )
    db.table("postings").create_index(["first_seen"])
    db.table("postings").create_index(["source", "last_seen"])
    db.table("sources").create(
        {
            "name": str,
            "baseline_at": str,
            "last_run_at": str,
            "last_success_at": str,
            "last_error": str,
            "last_error_at": str,
            "consecutive_failures": int,
            "last_count": int,
            "last_new": int,
        },
        pk="name",
        defaults={"consecutive_failures": 0},
    )
    db.table("http_cache").create(
        {"url": str, "etag": str, "last_modified": str, "updated_at": str}, pk="url"
    )


@migrations()
def m002_chats_and_outbox(db: Database) -> None:
    db.table("chats").create(
        {
            "id": int,
            "type": str,
            "title": str,
            "active": int,
            "paused": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        defaults={"active": 1, "paused": 0},
    )
    db.table("subscriptions").create(
        {"id": int, "chat_id": int, "query": str, "created_at": str},
        pk="id",
        foreign_keys=[("chat_id", "chats", "id")],
    )
    db.table("subscriptions").create_index(["chat_id"])
    db.table("deliveries").create(
        {
            "id": int,
            "chat_id": int,
            "posting_id": str,
            "subscription_ids": str,
            "terms": str,
            "status": str,
            "created_at": str,
            "attempts": int,
            "next_attempt_at": str,
            "sent_at": str,
            "last_error": str,
            # Alerts this chat did not get this cycle because of the per-cycle cap.
            "overflow": int,
        },
        pk="id",
        defaults={"status": "pending", "attempts": 0, "overflow": 0},
        foreign_keys=[("posting_id", "postings", "id")],
    )
    # The outbox's guarantee: one delivery per (chat, posting), whatever retries happen.
    db.table("deliveries").create_index(["chat_id", "posting_id"], unique=True)
    db.table("deliveries").create_index(["status", "next_attempt_at"])


@migrations()
def m003_canonical_ids(db: Database) -> None:
    """Ids recomputed with today's canonical URL (RFC 3986 normalisation, session ids removed);
    rows that now name one posting are merged. `sources.identity` records the identity rules
    each source's ids were made with, so a changed `url_ignore`/`id_pattern` re-keys too."""
    db.table("sources").add_column("identity", str)
    rows = db.execute("SELECT rowid, id, url, first_seen, last_seen FROM postings").fetchall()
    rekey(db, rows, URL_IDENTITY)


@migrations()
def m004_compact_outbox(db: Database) -> None:
    """One plain row per delivery: the JSON lists of subscription ids and matched terms give
    way to the one subscription (the chat's lowest-numbered match) that caused it; the matched
    terms are computed when the message is built. Rows keep their id and status, so pending
    ones are delivered exactly once."""
    db.table("deliveries").add_column("subscription_id", int)
    db.execute(
        "UPDATE deliveries SET subscription_id = json_extract(subscription_ids, '$[0]') "
        "WHERE json_valid(subscription_ids)"
    )
    db.table("deliveries").transform(drop={"subscription_ids", "terms"})


@migrations()
def m_timing_columns(db: Database) -> None:
    """Issue 13: a chat's time zone, quiet hours and daily cap (NULL: UTC, off, off); a
    subscription's mode (NULL: instant); and each delivery's due time (`due_at`, UTC ISO, the
    time its mode, quiet hours or the cap chose; `next_attempt_at` starts equal and only moves
    later, on retries), whether it goes without a sound (`silent`) and why it waits (`held`:
    now, quiet, digest, cap). Existing rows are instant alerts due when they were."""
    chats = db.table("chats")
    chats.add_column("tz", str)
    chats.add_column("quiet", str)
    chats.add_column("cap", int)
    db.table("subscriptions").add_column("mode", str)
    deliveries = db.table("deliveries")
    deliveries.add_column("due_at", str)
    deliveries.add_column("silent", int, not_null_default=0)
    deliveries.add_column("held", str, not_null_default="now")
    db.execute("UPDATE deliveries SET due_at = coalesce(next_attempt_at, created_at)")
    # No index on due_at: the sender selects by (status, next_attempt_at), which m002 indexes
    # and which starts at due_at; another index would only slow the ingest's inserts.


@migrations()
def m_facets(db: Database) -> None:
    """The facts of each posting as columns (salary, remote scope, seniority, employment type,
    valid_through; see `bot.store.facts`), computed for the rows stored before from their
    stored text (the structured data they came with was not kept), in batches."""
    table = db.table("postings")
    for name, kind in FACT_COLUMNS.items():
        table.add_column(name, kind)
    table.create_index(["salary_currency", "salary_yearly_max"])
    cursor = db.execute(
        "SELECT rowid, title, location, remote, salary, description, posted_at, first_seen "
        "FROM postings"
    )
    while rows := cursor.fetchmany(500):
        updates = []
        for rowid, title, location, remote, salary, description, posted_at, first_seen in rows:
            facts = facts_of(
                title=title or "",
                location=location or "",
                remote=bool(remote),
                salary=salary or "",
                description=description or "",
                posted_at=_moment(posted_at),
                first_seen=_moment(first_seen),
            )
            updates.append([*facts_row(facts).values(), rowid])
        sets = ", ".join(f"{name} = ?" for name in FACT_COLUMNS)
        db.conn.executemany(f"UPDATE postings SET {sets} WHERE rowid = ?", updates)  # noqa: S608


@migrations()
def m_facets_feedback(db: Database) -> None:
    """Mute company and Not for me: `companies` names each muted company once (its id goes in
    the button's callback_data, which Telegram caps at 64 bytes); `mutes` is each chat's mute
    list; `feedback` records why a posting was not for a chat."""
    db.table("companies").create({"id": int, "name": str}, pk="id", not_null={"name"})
    db.table("companies").create_index(["name"], unique=True)
    db.table("mutes").create(
        {"chat_id": int, "company_id": int, "created_at": str},
        pk=("chat_id", "company_id"),
        foreign_keys=[("chat_id", "chats", "id"), ("company_id", "companies", "id")],
    )
    db.table("feedback").create(
        {"id": int, "chat_id": int, "posting_id": str, "reason": str, "created_at": str},
        pk="id",
    )
    db.table("feedback").create_index(["chat_id", "posting_id"], unique=True)


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# A (chat, posting) alert kept when merged postings both had one: the one the chat got.
_STATUS_RANK = {"sent": 0, "capped": 1, "pending": 2}


def rekey(db: Database, rows: Sequence[Sequence[Any]], identity: Identity) -> int:
    """Give `rows` (rowid, id, url, first_seen, last_seen) of postings the id `identity` gives
    their URL, merging rows that now share an id (with each other or with a stored row): the
    earliest `first_seen` is kept with the latest `last_seen`, and each chat keeps one delivery
    (the sent one if any). Runs in the caller's transaction; alerts nobody. Returns the number
    of rows merged away."""
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for rowid, old_id, url, first_seen, last_seen in rows:
        new_id = identity.posting_id(url)
        groups.setdefault(new_id, []).append((first_seen, rowid, old_id, last_seen, url))
    members = {row[1] for rows_ in groups.values() for row in rows_}
    # Stored rows outside `rows` that already hold one of the new ids join their group.
    for new_id in [g for g, rs in groups.items() if any(r[2] != g for r in rs)]:
        held = db.execute(
            "SELECT first_seen, rowid, id, last_seen, url FROM postings WHERE id = ?", [new_id]
        ).fetchone()
        if held is not None and held[1] not in members:
            groups[new_id].append(tuple(held))
    changed = {g: sorted(rs) for g, rs in groups.items() if len(rs) > 1 or rs[0][2] != g}
    if not changed:
        return 0
    # Parent keys change under their deliveries: foreign keys are checked at commit.
    db.execute("PRAGMA defer_foreign_keys = ON")
    merged = 0
    refs = "posting_refs" in db.table_names()  # m003 re-keys before the table exists
    for new_id, group in changed.items():
        survivor, losers = group[0], group[1:]
        old_ids = [row[2] for row in group]
        _merge_deliveries(db, old_ids, new_id)
        if refs:  # a merged posting's buttons name the job it joined
            _repoint_refs(db, old_ids, new_id)
        for loser in losers:
            db.execute("DELETE FROM postings WHERE rowid = ?", [loser[1]])
        merged += len(losers)
        # A temporary id first: the new id may still be held by a row of another group.
        db.execute(
            "UPDATE postings SET id = ?, url = ?, last_seen = ? WHERE rowid = ?",
            [
                f"rekey {new_id}",
                canonical_url(survivor[4]),
                max(row[3] for row in group),
                survivor[1],
            ],
        )
    _drop_temporary_ids(db, refs)
    return merged


def _repoint_refs(db: Database, old_ids: Sequence[str], new_id: str) -> None:
    marks = ",".join("?" * len(old_ids))
    db.execute(
        f"UPDATE posting_refs SET posting_id = ? WHERE posting_id IN ({marks})",  # noqa: S608
        [f"rekey {new_id}", *old_ids],
    )


def _drop_temporary_ids(db: Database, refs: bool) -> None:
    """`rekey {id}` -> `{id}` wherever a re-key wrote a temporary posting id."""
    renamed = [("postings", "id"), ("deliveries", "posting_id")]
    for table, column in renamed + ([("posting_refs", "posting_id")] if refs else []):
        db.execute(
            f"UPDATE {table} SET {column} = substr({column}, 7) "  # noqa: S608 - our names
            f"WHERE {column} LIKE 'rekey %'"
        )


def _merge_deliveries(db: Database, old_ids: Sequence[str], new_id: str) -> None:
    marks = ",".join("?" * len(old_ids))
    rows = db.execute(
        f"SELECT id, chat_id, status FROM deliveries WHERE posting_id IN ({marks})",  # noqa: S608
        list(old_ids),
    ).fetchall()
    keep: dict[int, tuple[int, int]] = {}
    for delivery_id, chat_id, status in rows:
        rank = (_STATUS_RANK.get(status, 3), delivery_id)
        if chat_id not in keep or rank < keep[chat_id]:
            keep[chat_id] = rank
    kept = {rank[1] for rank in keep.values()}
    for delivery_id, _, _ in rows:
        if delivery_id not in kept:
            db.execute("DELETE FROM deliveries WHERE id = ?", [delivery_id])
    for delivery_id in kept:  # a temporary id, as the postings': another group may hold new_id
        db.execute(
            "UPDATE deliveries SET posting_id = ? WHERE id = ?", [f"rekey {new_id}", delivery_id]
        )


@migrations()
def m014_source_operations(db: Database) -> None:
    """Issue 14: a source an admin paused (`/pausesource`) stays paused across restarts, and
    the breakage alert's state (what kind of problem since when, when the admins were last
    told) survives a restart, so the once-an-hour cap holds."""
    table = db.table("sources")
    table.add_column("paused", int, not_null_default=0)
    table.add_column("problem_kind", str)
    table.add_column("problem_since", str)
    table.add_column("alerted_at", str)


@migrations()
def m_groups(db: Database) -> None:
    """Issue 12: postings that are one job share a group (`groups`, one canonical member,
    indexed by `group_key`; `ats_ids` maps an ATS id to its group); postings get `closed_at`
    (closed by absence or past `valid_through`), `missed` (complete scrapes in a row without
    them) and `times` (the job's nth posting when it alerted as a repost). Stored postings are
    grouped once, in first-seen order, without alerting anybody."""
    from bot.store.groups import Grouper, read_postings, write_groups

    db.table("groups").create(
        {
            "id": str,
            "group_key": str,
            "canonical_id": str,
            "first_seen": str,
            "closed_at": str,
            "times": int,
        },
        pk="id",
        defaults={"times": 1},
    )
    db.table("groups").create_index(["group_key"])
    db.table("ats_ids").create({"ats_id": str, "group_id": str}, pk="ats_id")
    postings = db.table("postings")
    for column, kind in (
        ("group_id", str),
        ("group_key", str),
        ("closed_at", str),
        ("missed", int),
        ("times", int),
    ):
        postings.add_column(column, kind)
    db.execute("UPDATE postings SET missed = 0, times = 1")
    postings.create_index(["group_id"])
    postings.create_index(["group_key"])
    postings.create_index(["valid_through"])  # the column came with m_facets
    ids = [row[0] for row in db.execute("SELECT id FROM postings ORDER BY first_seen, rowid")]
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        stored = read_postings(db, chunk)
        grouper = Grouper(db, datetime.now(UTC))
        for pid in chunk:
            placement = grouper.place(stored[pid])
            db.execute(
                "UPDATE postings SET group_id = ?, group_key = ? WHERE id = ?",
                [placement.group_id, placement.group_key, pid],
            )
        write_groups(db, grouper)


@migrations()
def m_fanout(db: Database) -> None:
    """Issue 10: the postings whose outbox rows are not all written yet. One posting's ~2,000
    rows took 100-250 ms as one transaction, on the event loop; they are now written in parts,
    the posting's row with the first, and this marker until the last (`Postings._writes`)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS fanout ("
        "posting_id TEXT PRIMARY KEY REFERENCES postings(id), created_at TEXT)"
    )


@migrations()
def m_outbox_posting_first(db: Database) -> None:
    """Issue 10: the outbox's guarantee (one delivery per chat and posting) keyed posting
    first, and the sender's lookups by chat through a slim index of its own. An ingest writes
    a posting's ~2,000 rows (one per chat) in a transaction of a few postings: keyed chat
    first, each row changed a page of its chat's range of the wide (chat, URL) index, read
    back once that index outgrew the page cache and written to the WAL again by every
    transaction; posting first, they are neighbours, and the chat index's entries are a few
    bytes (30 % less time per row at a million rows, one posting per transaction)."""
    db.execute("DROP INDEX IF EXISTS idx_deliveries_chat_id_posting_id")
    db.table("deliveries").create_index(["posting_id", "chat_id"], unique=True)
    db.table("deliveries").create_index(["chat_id"])


@migrations()
def m_outbox_partial_indexes(db: Database) -> None:
    """Issue 10: the outbox's (status, next_attempt_at) index replaced by two partial ones: the
    due times of pending rows, the send times of sent rows. An ingest writes ~2,000 rows per
    new posting, and each row's entry under two text columns cost a fifth of its insert; a
    capped row now takes none, and "when was the last alert sent" reads one entry instead of
    every sent row. The queries name `status = 'pending'` or `status = 'sent'` literally, as
    SQLite requires of a partial index (see `bot.store.outbox`)."""
    db.execute("DROP INDEX IF EXISTS idx_deliveries_status_next_attempt_at")
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_deliveries_pending_due "
        "ON deliveries (next_attempt_at) WHERE status = 'pending'"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_deliveries_sent_at "
        "ON deliveries (sent_at) WHERE status = 'sent'"
    )


@migrations()
def m_company_names_shown(db: Database) -> None:
    """A company's name as a posting spelled it (`companies.shown`), for the mute answers and
    /list; `companies.name` stays the compared form (`company_key`: case and spaces folded).
    Rows stored before show their compared form."""
    db.table("companies").add_column("shown", str)


@migrations()
def m_posting_refs(db: Database) -> None:
    """The small number a Not for me button names a posting by (`posting_refs.ref`). It was the
    posting's rowid, which a re-key that merges postings frees for the next posting stored
    (SQLite gives a new row the largest rowid plus one: sqlite.org/autoinc.html), so an old
    button could name another job. AUTOINCREMENT never hands a number out twice. Seeded with
    the rowids, so the buttons already sent keep naming their postings; a trigger numbers each
    posting stored after, in its ingest's transaction, so that building an alert only reads
    (a migration that rebuilds `postings` must create the trigger again)."""
    db.execute(
        "CREATE TABLE posting_refs "
        "(ref INTEGER PRIMARY KEY AUTOINCREMENT, posting_id TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_posting_refs_posting_id ON posting_refs (posting_id)")
    db.execute("INSERT INTO posting_refs (ref, posting_id) SELECT rowid, id FROM postings")
    db.execute(
        "CREATE TRIGGER postings_numbered AFTER INSERT ON postings "
        "BEGIN INSERT INTO posting_refs (posting_id) VALUES (new.id); END"
    )
