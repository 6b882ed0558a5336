"""The source-kind registry (`KINDS`): a `[[sources]]` entry's `kind` → the parser that reads it.

Adding a board kind is adding one module with a `collect` coroutine and one line below. The
entry point imports this module and passes `KINDS` to `parse_settings` and `Pipeline`; nothing
else imports it, so importing one parser loads one kind.
"""

from __future__ import annotations

from bot.sources import (
    ashby,
    bamboohr,
    breezy,
    greenhouse,
    html,
    jsonld,
    lever,
    markdown,
    personio,
    recruitee,
    remoteok,
    rss,
    smartrecruiters,
    teamtailor,
    workable,
    workday,
)
from bot.sources.base import SourceKind

KINDS: dict[str, SourceKind] = {
    kind.name: kind
    for kind in (
        SourceKind("markdown", markdown.collect, local=True, lists_all=False),
        lever.KIND,
        lever.HTML_KIND,
        greenhouse.KIND,
        greenhouse.HTML_KIND,
        ashby.KIND,
        jsonld.KIND,
        rss.KIND,
        remoteok.KIND,
        workable.KIND,
        smartrecruiters.KIND,
        recruitee.KIND,
        workday.KIND,
        personio.KIND,
        teamtailor.KIND,
        bamboohr.KIND,
        breezy.KIND,
        html.KIND,
    )
}

__all__ = ["KINDS"]
