"""Groups of postings that are one job (issue 12): where a new posting goes, in the scrape's plan.

A group is one job under every URL it was seen at (other boards, one board's per-city copies,
reposts). `Grouper.place` decides, for each new posting in first-seen order, which group it
joins, from two indexed lookups (`ats_ids.ats_id`, `groups.group_key`) plus the groups this
plan founded already; the pairwise test is `bot.sameness.compare` against the group's canonical
member only, so the cost per new posting does not grow with the store. It only reads: the
caller writes each posting's group columns with `Grouper.group_row` and `Grouper.ats_rows` as
that posting's placement left them (the ingest, posting by posting), or `Grouper.group_rows`
and `Grouper.ats_rows` whole (the migration).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.models import StoredPosting
from bot.sameness import (
    Sameness,
    canonical_member,
    compare,
    group_key,
    is_repost,
    posting_ats_ids,
)
from bot.store.base import _from_iso, _iso

# Candidate groups read per group key: a key shared by more groups than this (a company's many
# "Software Engineer" jobs in several cities) is compared with its newest ones only.
CANDIDATES = 50


@dataclass
class Group:
    """One group as the plan knows it: read from the store or founded by this plan."""

    id: str
    key: str
    canonical: StoredPosting
    first_seen: datetime
    closed_at: datetime | None
    times: int
    founded: bool = False
    changed: bool = False


@dataclass(frozen=True)
class Placement:
    """Where one new posting went: its group, whether it alerts, and the repost count
    (`times` >= 2 on a repost: the job's nth posting)."""

    group_id: str
    group_key: str
    alerts: bool
    times: int


@dataclass
class Grouper:
    """Places new postings into groups against committed state plus its own decisions."""

    db: Database
    now: datetime
    groups: dict[str, Group] = field(default_factory=dict)
    by_key: dict[str, list[str]] = field(default_factory=dict)
    by_ats: dict[str, str] = field(default_factory=dict)
    new_ats: dict[str, str] = field(default_factory=dict)
    # After `prefetch`: every group `place` may need is read; `place` reads nothing more.
    offline: bool = False

    def prefetch(self, postings: Sequence[StoredPosting]) -> None:
        """Read, with indexed lookups, every group `place` may need for `postings` (their ATS
        ids' groups, the `CANDIDATES` newest groups of each group key, their canonical
        members). Afterwards `place` touches no database, so it may run in a worker thread
        while the event loop goes on (the connection belongs to the loop's thread)."""
        ids: set[str] = set()
        keys: set[str] = set()
        for posting in postings:
            ids |= posting_ats_ids(posting)
            if key := group_key(posting):
                keys.add(key)
        wanted: set[str] = set()
        ordered = sorted(ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for ident, gid in self.db.execute(
                f"SELECT ats_id, group_id FROM ats_ids WHERE ats_id IN ({marks})",  # noqa: S608
                chunk,
            ):
                self.by_ats[ident] = gid
                wanted.add(gid)
        for key in sorted(keys - set(self.by_key)):
            rows = self.db.execute(
                "SELECT id FROM groups WHERE group_key = ? ORDER BY first_seen DESC LIMIT ?",
                [key, CANDIDATES],
            ).fetchall()
            self.by_key[key] = [row[0] for row in rows]
            wanted.update(self.by_key[key])
        for gid in sorted(wanted):
            self._group(gid)
        self.offline = True

    def place(self, posting: StoredPosting) -> Placement:
        """The group `posting` (not stored yet) joins or founds. A shared ATS id joins at once;
        else the groups under its `group_key` whose canonical member `compare` finds the same
        job (or the same job in another city). Joining an open group: no alert; a group closed
        within `REPOST_WINDOW`: reopened, alerts again as a repost; otherwise a new group."""
        key = group_key(posting)
        ids = posting_ats_ids(posting)
        found = self._by_ats(ids) or self._by_key(key, posting)
        if found is not None and found.closed_at is not None:
            if is_repost(found.closed_at, self.now):
                found.closed_at = None
                found.times += 1
                found.changed = True
                self._join(found, posting, ids)
                return Placement(found.id, found.key, alerts=True, times=found.times)
            found = None
        if found is not None:
            self._join(found, posting, ids)
            return Placement(found.id, found.key, alerts=False, times=1)
        group = Group(
            posting.id, key, posting, posting.first_seen, None, 1, founded=True, changed=True
        )
        self.groups[group.id] = group
        if key:
            self.by_key.setdefault(key, []).insert(0, group.id)
        self._note_ats(group, ids)
        return Placement(group.id, key, alerts=True, times=1)

    def _join(self, group: Group, posting: StoredPosting, ids: set[str]) -> None:
        best = canonical_member([group.canonical, posting])
        if best is not group.canonical:
            group.canonical = best
            group.changed = True
        self._note_ats(group, ids)

    def _note_ats(self, group: Group, ids: set[str]) -> None:
        for ident in ids:
            if ident not in self.by_ats:
                self.by_ats[ident] = group.id
                self.new_ats[ident] = group.id

    def _by_ats(self, ids: set[str]) -> Group | None:
        if not ids:
            return None
        for ident in sorted(ids):
            if ident in self.by_ats:
                return self._group(self.by_ats[ident])
        if self.offline:
            return None
        marks = ",".join("?" * len(ids))
        row = self.db.execute(
            f"SELECT group_id FROM ats_ids WHERE ats_id IN ({marks}) LIMIT 1",  # noqa: S608
            sorted(ids),
        ).fetchone()
        return self._group(row[0]) if row else None

    def _by_key(self, key: str, posting: StoredPosting) -> Group | None:
        if not key:
            return None
        if key not in self.by_key and not self.offline:
            rows = self.db.execute(
                "SELECT id FROM groups WHERE group_key = ? ORDER BY first_seen DESC LIMIT ?",
                [key, CANDIDATES],
            ).fetchall()
            self.by_key[key] = [row[0] for row in rows]
        for gid in self.by_key.get(key, [])[:CANDIDATES]:
            group = self._group(gid)
            if group is not None and compare(group.canonical, posting) is not Sameness.DIFFERENT:
                return group
        return None

    def _group(self, gid: str) -> Group | None:
        if gid in self.groups:
            return self.groups[gid]
        if self.offline:
            return None
        row = self.db.execute(
            "SELECT id, group_key, canonical_id, first_seen, closed_at, times FROM groups "
            "WHERE id = ?",
            [gid],
        ).fetchone()
        if row is None:
            return None
        canonical = read_postings(self.db, [row[2]]).get(row[2])
        if canonical is None:
            return None
        first_seen = _from_iso(row[3]) or canonical.first_seen
        group = Group(row[0], row[1] or "", canonical, first_seen, _from_iso(row[4]), row[5] or 1)
        self.groups[gid] = group
        return group

    def group_rows(self) -> list[dict[str, Any]]:
        """The `groups` rows this plan founded or changed (upserted by id)."""
        return [row for gid in self.groups if (row := self.group_row(gid)) is not None]

    def group_row(self, gid: str) -> dict[str, Any] | None:
        """The `groups` row of `gid` as the placements so far left it (a copy: later ones do
        not change it); None when this plan has not founded or changed it."""
        g = self.groups.get(gid)
        if g is None or not g.changed:
            return None
        return {
            "id": g.id,
            "group_key": g.key,
            "canonical_id": g.canonical.id,
            "first_seen": _iso(g.first_seen),
            "closed_at": _iso(g.closed_at),
            "times": g.times,
        }

    def ats_rows(self, start: int = 0) -> list[dict[str, str]]:
        """The `ats_ids` rows this plan adds, in the order placing noted them, from the
        `start`th on (`len(new_ats)` before a placement: the rows that placement added)."""
        return [
            {"ats_id": ident, "group_id": gid}
            for ident, gid in itertools.islice(self.new_ats.items(), start, None)
        ]


def write_groups(db: Database, grouper: Grouper) -> None:
    """Write the plan's groups and ATS ids (in the caller's transaction)."""
    rows = grouper.group_rows()
    if rows:
        db.table("groups").upsert_all(rows, pk="id")
    ats = grouper.ats_rows()
    if ats:
        for chunk_start in range(0, len(ats), 500):
            chunk = ats[chunk_start : chunk_start + 500]
            db.table("ats_ids").insert_all(chunk, pk="ats_id", ignore=True)


POSTING_NAMES = (
    *("id", "url", "source", "title", "company", "location", "remote", "tags", "posted_at"),
    *("salary", "description", "apply_url", "first_seen", "last_seen"),
)


def read_postings(db: Database, ids: Sequence[str]) -> dict[str, StoredPosting]:
    """Stored postings by id (bare: no group fields)."""
    found: dict[str, StoredPosting] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT {', '.join(POSTING_NAMES)} FROM postings WHERE id IN ({marks})",  # noqa: S608
            chunk,
        )
        for row in rows:
            posting = stored_posting(dict(zip(POSTING_NAMES, row, strict=True)))
            found[posting.id] = posting
    return found


def recompute_closed(db: Database, group_ids: Sequence[str]) -> None:
    """A group is closed when every member is (at its latest member's `closed_at`); open
    otherwise. Runs in the caller's transaction."""
    for start in range(0, len(group_ids), 500):
        chunk = list(group_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        db.execute(
            "UPDATE groups SET closed_at = (SELECT CASE WHEN count(*) = count(p.closed_at) "  # noqa: S608
            "THEN max(p.closed_at) END FROM postings p WHERE p.group_id = groups.id) "
            f"WHERE id IN ({marks})",
            chunk,
        )


def stored_posting(row: dict[str, Any]) -> StoredPosting:
    """A `StoredPosting` from a `postings` row (as a dict of `POSTING_NAMES`)."""
    first_seen = _from_iso(row["first_seen"])
    last_seen = _from_iso(row["last_seen"])
    assert first_seen is not None
    assert last_seen is not None
    return StoredPosting(
        id=row["id"],
        url=row["url"],
        source=row["source"],
        title=row["title"],
        company=row["company"] or "",
        location=row["location"] or "",
        remote=bool(row["remote"]),
        tags=tuple(json.loads(row["tags"] or "[]")),
        posted_at=_from_iso(row["posted_at"]),
        salary=row["salary"] or "",
        description=row["description"] or "",
        apply_url=row["apply_url"] or row["url"],
        first_seen=first_seen,
        last_seen=last_seen,
    )
