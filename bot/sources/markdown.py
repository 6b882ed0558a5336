"""The `markdown` kind: a folder of postings in the RemoteWLB markdown or front-matter format.

RemoteWLB (`../shared/corpus/README.md`)::

    # [Job Title](https://www.remotewlb.com/apply/<slug>)
    ### Company Name
    #### `💰 salary` `🌎 location` `❤️ benefit`
    <description markdown>

Front matter (seed 001): a YAML header with title, companyName, url/applyUrl, location,
timestamp (epoch ms) and hashtags, then the description.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from markdown_it import MarkdownIt

from bot.errors import ParseError
from bot.facets.salary import salary_from_remotewlb
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext
from bot.text import EXCERPT_CHARS, clean_line, html_to_text, repair

if TYPE_CHECKING:
    from bot.settings import SourceSettings

log = logging.getLogger(__name__)

SUFFIXES = frozenset({".md", ".markdown", ".txt"})
MAX_FILE_BYTES = 2 * 1024 * 1024
# Enough markdown to fill a description excerpt several times over.
RENDER_CHARS = 2 * EXCERPT_CHARS
_TITLE = re.compile(r"^#\s+\[(?P<title>.+)\]\((?P<url>[^)\s]+)\)\s*$")
# Real postings sometimes carry an empty company line (`###  `): still the company line.
_COMPANY = re.compile(r"^###(?!#)\s*(?P<company>.*?)\s*$")
_BADGES = re.compile(r"^####(?P<badges>.*)$")
_BADGE = re.compile(r"`([^`]*)`")
_APPLY = re.compile(r"^##\s+CLICK TO \[APPLY\]\((?P<url>[^)\s]+)\)", re.IGNORECASE)
_MONTH_DIR = re.compile(r"^\d{4}-\d{2}$")
_REMOTE = re.compile(r"\b(remote|anywhere|worldwide|telecommute)\b", re.IGNORECASE)
_md = MarkdownIt("commonmark")


def parse_markdown(text: str, *, origin: str = "", tags: tuple[str, ...] = ()) -> Posting:
    """Parse one posting file; ParseError names what is missing (only a title and a URL are
    required: company, badges, location and date may all be absent)."""
    text = text.lstrip("\ufeff")
    if text.startswith("---"):
        return _parse_front_matter(text, origin=origin, tags=tags)
    return _parse_remotewlb(text, origin=origin, tags=tags)


def _parse_remotewlb(text: str, *, origin: str, tags: tuple[str, ...]) -> Posting:
    lines = [line.rstrip() for line in text.splitlines()]
    header = [i for i, line in enumerate(lines[:20]) if line.strip()][:3]
    for i in header:  # the badges' emoji are often mojibake (`ðŸŒŽ`): repair before matching
        lines[i] = repair(lines[i])
    title_match = _TITLE.match(lines[header[0]].strip()) if header else None
    if title_match is None:
        raise ParseError(f"{origin}: no '# [Title](url)' line at the top")
    company: str | None = None
    salary = location = ""
    body_start = header[0] + 1
    for i in header[1:]:
        line = lines[i].strip()
        if company is None and (m := _COMPANY.match(line)):
            company = clean_line(m.group("company"))
            body_start = i + 1
        elif m := _BADGES.match(line):
            salary, location = _badges(m.group("badges"))
            body_start = i + 1
            break
        else:
            break
    apply_url = title_match.group("url")
    body: list[str] = []
    for line in lines[body_start:]:
        if m := _APPLY.match(line.strip()):
            apply_url = m.group("url")
            continue
        body.append(line)
    location = clean_line(location)
    return Posting(
        url=title_match.group("url"),
        title=clean_line(title_match.group("title")),
        company=company or "",
        location=location,
        remote=bool(_REMOTE.search(location)),
        tags=tags,
        salary=clean_line(salary),
        description=_plain(body),
        apply_url=apply_url,
        extra=common.facts_extra(salary_from_remotewlb(salary)) if salary else {},
    )


def _badges(line: str) -> tuple[str, str]:
    salary = location = ""
    for badge in _BADGE.findall(line):
        badge = badge.strip()
        if badge.startswith("💰"):
            salary = badge.removeprefix("💰").strip()
        elif badge.startswith("🌎"):
            location = badge.removeprefix("🌎").strip()
    return salary, location


def _parse_front_matter(text: str, *, origin: str, tags: tuple[str, ...]) -> Posting:
    _, _, rest = text.partition("---")
    header, sep, body = rest.partition("\n---")
    if not sep:
        raise ParseError(f"{origin}: front matter is not closed by '---'")
    try:
        meta: Any = yaml.safe_load(repair(header))
    except yaml.YAMLError as exc:
        raise ParseError(
            f"{origin}: front matter is not valid YAML ({exc.__class__.__name__})"
        ) from None
    if not isinstance(meta, dict):
        raise ParseError(f"{origin}: front matter is not a mapping")
    title = clean_line(str(meta.get("title") or ""))
    url = str(meta.get("url") or meta.get("applyUrl") or "").strip()
    company = clean_line(str(meta.get("companyName") or meta.get("company") or ""))
    missing = [name for name, value in (("title", title), ("url", url)) if not value]
    if missing:
        raise ParseError(f"{origin}: front matter lacks {', '.join(missing)}")
    hashtags = str(meta.get("hashtags") or "")
    found = tuple(t.strip().lstrip("#") for t in hashtags.split(",") if t.strip().lstrip("#"))
    location = clean_line(str(meta.get("location") or ""))
    return Posting(
        url=url,
        title=title,
        company=company,
        location=location,
        remote=bool(_REMOTE.search(location)),
        tags=tuple(dict.fromkeys(tags + found)),
        posted_at=_timestamp(meta.get("timestamp")),
        salary=clean_line(str(meta.get("salary") or "")),
        description=_plain(body.removeprefix("\n").splitlines()),
        apply_url=str(meta.get("applyUrl") or url).strip(),
    )


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _plain(lines: list[str]) -> str:
    """A plain-text excerpt of markdown; only the head is rendered, the rest is never shown."""
    head: list[str] = []
    size = 0
    for line in lines:
        head.append(line)
        size += len(line) + 1
        if size > RENDER_CHARS and not line.strip():
            break
    return html_to_text(_md.render("\n".join(head)), limit=EXCERPT_CHARS)


def tags_from_path(relative: Path) -> tuple[str, ...]:
    """The folder a posting is filed under, month folders skipped: `Java/2024-05/x.md` → ("Java",).

    Only the nearest such folder: those above it (`remotewlb/Java/…`) name the collection, not
    the posting.
    """
    for part in reversed(relative.parent.parts):
        if not _MONTH_DIR.match(part):
            return (part,)
    return ()


def read_folder(root: Path) -> ScrapeResult:
    """Parse every posting file under `root`; unreadable files become warnings, not failures."""
    if not root.exists():
        raise ParseError(f"folder {root} does not exist")
    files = (
        [root]
        if root.is_file()
        else sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    )
    postings: list[Posting] = []
    warnings: list[str] = []
    for path in files:
        relative = path.relative_to(root) if path != root else Path(path.name)
        if relative.name.lower() == "readme.md" and relative.parent == Path("."):
            continue
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ParseError(f"{relative}: larger than {MAX_FILE_BYTES} bytes")
            raw = path.read_bytes().decode("utf-8", errors="replace")
            postings.append(
                parse_markdown(raw, origin=str(relative), tags=tags_from_path(relative))
            )
        except ParseError as exc:
            warnings.append(str(exc))
        except OSError as exc:
            warnings.append(f"{relative}: cannot read ({exc.strerror})")
    if files and not postings:
        raise ParseError(
            f"no posting could be read from {len(files)} files under {root}: {warnings[0]}"
        )
    return ScrapeResult(postings=tuple(postings), warnings=tuple(warnings))


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """Read the source's folder (relative paths are taken from the context's base folder)."""
    root = Path(source.url).expanduser()
    if not root.is_absolute():
        root = ctx.base_dir / root
    try:
        return await asyncio.to_thread(read_folder, root)
    except ParseError as exc:
        raise ParseError(exc.detail, source=source.name, url=str(root)) from None
