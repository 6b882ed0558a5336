"""Detail requests for new postings only, shared by the kinds whose list lacks descriptions.

A board's list names every posting; one more request per posting fills what the list lacks
(Workday, BambooHR, Workable and SmartRecruiters descriptions). Only postings the store has not
seen are asked for, once: a stored posting is never re-fetched. Requests go through the shared
Fetcher, so the host's politeness (concurrency, spacing, robots.txt) paces them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.errors import FetchError, ParseError
from bot.models import Identity, Posting
from bot.sources.base import SourceContext

# New postings detailed per run; the rest wait for the next run (the result is incomplete, so
# the first-run baseline stays open and nothing floods). 100 details at the default 1 s per
# host is under two minutes per board.
DEFAULT_MAX_DETAILS = 100

Detail = Callable[[Posting], Awaitable[Posting]]


@dataclass(frozen=True)
class Filled:
    """The list's postings with the new ones detailed, what failed, and whether all fitted."""

    postings: tuple[Posting, ...]
    warnings: tuple[str, ...]
    complete: bool


async def fill_new(
    ctx: SourceContext,
    postings: Sequence[Posting],
    detail: Detail,
    *,
    identity: Identity,
    limit: int,
) -> Filled:
    """Run `detail` on the postings not stored yet (under `identity`), at most `limit` of them.

    Stored postings pass through as the list gave them (the store keeps their first version
    anyway). A detail that fails (FetchError or ParseError) keeps the posting as the list gave
    it, with one warning. New postings beyond `limit` are left out of this run and the result
    is marked incomplete: they are detailed on a later run instead of being stored bare.
    """
    known = ctx.known_urls([p.url for p in postings], identity) if postings else set()
    # One detail per URL, even when a board lists a posting twice (on two pages).
    new = list({p.url: p for p in postings if p.url not in known}.values())
    todo, waiting = new[:limit], {p.url for p in new[limit:]}
    outcomes = await asyncio.gather(*(_attempt(detail, p) for p in todo))
    filled = {p.url: after for p, after in zip(todo, outcomes, strict=True)}
    warnings = [after for after in outcomes if isinstance(after, str)]
    kept: list[Posting] = []
    for posting in postings:
        if posting.url in waiting:
            continue
        after = filled.get(posting.url, posting)
        kept.append(after if isinstance(after, Posting) else posting)
    return Filled(tuple(kept), tuple(warnings), complete=not waiting)


async def _attempt(detail: Detail, posting: Posting) -> Posting | str:
    try:
        return await detail(posting)
    except (FetchError, ParseError) as exc:
        return f"detail <{exc.url or posting.url}>: {exc.detail}"
