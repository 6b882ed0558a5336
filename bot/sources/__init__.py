"""The source-kind registry: the `kind` of a `[[sources]]` entry → the parser that reads it.

Adding a board kind is adding one module with a `collect` coroutine and one line below.
"""

from __future__ import annotations

from bot.sources import markdown
from bot.sources.base import SourceContext, SourceKind

KINDS: dict[str, SourceKind] = {
    kind.name: kind for kind in (SourceKind("markdown", markdown.collect, local=True),)
}

__all__ = ["KINDS", "SourceContext", "SourceKind"]
