"""HTTP validators for conditional GETs (RFC 9110, section 13.1)."""

from __future__ import annotations

from bot.store.base import Repository, _guarded, _iso, now_utc


@_guarded
class HttpCache(Repository):
    """ETag and Last-Modified per URL for conditional GETs (`bot.fetch.ValidatorStore`)."""

    def get_validators(self, url: str) -> tuple[str | None, str | None] | None:
        """The ETag and Last-Modified last seen for `url`, if any."""
        row = self.db.execute(
            "SELECT etag, last_modified FROM http_cache WHERE url = ?", [url]
        ).fetchone()
        return (row[0], row[1]) if row else None

    def put_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        """Remember the validators of a 200 answer (or forget them when it had none)."""
        if not etag and not last_modified:
            self.db.execute("DELETE FROM http_cache WHERE url = ?", [url])
        else:
            self.db.execute(
                "INSERT INTO http_cache (url, etag, last_modified, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                [url, etag, last_modified, _iso(now_utc())],
            )
