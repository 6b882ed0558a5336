"""Run a `../shared/field/` case through the real path: served from 127.0.0.1, a config file,
one `once` cycle (the same `run_once` the CLI calls), then read the store.

The cases are copied into `tests/field/<case>/`; each folder's `expected.txt` is the oracle.
`{{BASE}}` (and `@BASE@`) in a served file stands for the server's root URL.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.daemon import run_once
from bot.models import StoredPosting
from bot.pipeline import SourceOutcome
from bot.settings import Settings
from bot.sources.registry import KINDS
from bot.store import Store
from tests.boardserver import BoardServer, Route, serve

FIELD = Path(__file__).resolve().parent / "field"
CONTENT_TYPES = {
    ".rss": "application/xml",
    ".atom": "application/xml",
    ".xml": "application/xml",
    ".html": "text/html",
    ".gz": "application/gzip",
}
# Fast, test-sized fetching: no politeness delay, short timeouts, one quick retry.
FAST_FETCH = """
[fetch]
host_delay = 0
retries = 1
backoff = 0
connect_timeout = 2
read_timeout = 2
total_timeout = 10
"""


def case_dir(case: str) -> Path:
    """The folder of one field case, e.g. `case_dir("03-rss-undefined-html-entity")`."""
    path = FIELD / case
    assert path.is_dir(), f"no field case {case!r} in {FIELD}"
    return path


def substitute(body: bytes, base: str) -> bytes:
    """Replace the `{{BASE}}`/`@BASE@` placeholders with the server's root URL."""
    return body.replace(b"{{BASE}}", base.encode()).replace(b"@BASE@", base.encode())


def serve_file(
    server: BoardServer,
    target: str,
    body: bytes,
    *,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Route:
    """Serve `body` at `target` with the field README's content type (no charset parameter)."""
    suffix = Path(target.split("?")[0]).suffix or ".html"
    all_headers = {"Content-Type": content_type or CONTENT_TYPES.get(suffix, "text/html")}
    all_headers.update(headers or {})
    return server.add(target, body=body, headers=all_headers)


def serve_tree(server: BoardServer, root: Path, base: str) -> None:
    """Serve every file under `root` at its relative path; `dir/index.html` also at `dir/`
    and `dir`."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = "/" + path.relative_to(root).as_posix()
        body = substitute(path.read_bytes(), base)
        serve_file(server, rel, body)
        if path.name == "index.html":  # a folder's page: at `dir/` and at `dir`
            serve_file(server, rel[: -len("index.html")], body)
            serve_file(server, rel[: -len("/index.html")], body)


def gzipped(body: bytes) -> bytes:
    """`body` gzip-compressed (for sitemap shards served as `.xml.gz`)."""
    return gzip.compress(body, mtime=0)


@asynccontextmanager
async def field_site(case: str) -> AsyncIterator[tuple[BoardServer, str]]:
    """Serve `tests/field/<case>/site/` (if any) on 127.0.0.1; yield (server, base URL)."""
    async with serve() as server:
        base = server.url("").rstrip("/")
        site = case_dir(case) / "site"
        if site.is_dir():
            serve_tree(server, site, base)
        yield server, base


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def write_config(
    tmp_path: Path, sources: list[dict[str, Any]], *, extra: str = "", token: str | None = None
) -> Settings:
    """Write a config file with `sources` (one dict per `[[sources]]`) and load it as the CLI does.

    `robots = false` is added to every source unless given; the store lives in `tmp_path`.
    """
    lines = [f'[storage]\npath = "{(tmp_path / "jobhound.db").as_posix()}"', FAST_FETCH, extra]
    for entry in sources:
        entry = {"robots": False, **entry}
        lines.append("[[sources]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
    path = tmp_path / "jobhound.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"TELEGRAM_BOT_TOKEN": token} if token else {}
    return load_settings(kinds=KINDS, path=path, env=env)


async def once(settings: Settings) -> list[SourceOutcome]:
    """One cycle over every enabled source, exactly as `python main.py once` runs it."""
    return await run_once(settings)


def stored(settings: Settings) -> list[StoredPosting]:
    """Every stored posting, newest first (each member of a group, closed ones too; `shown`
    gives what `latest` lists)."""
    store = Store.open(settings.storage.path)
    try:
        return list(store.iter_postings(closed=True, members=True))
    finally:
        store.close()


def shown(settings: Settings, *, closed: bool = False) -> list[StoredPosting]:
    """What `latest` (`--all` with `closed`) lists: one posting per job, newest first."""
    store = Store.open(settings.storage.path)
    try:
        return list(store.latest(limit=10_000, closed=closed))
    finally:
        store.close()
