"""The subscription filter language: parse a query once, fold each posting once, match both.

Syntax (README "Filter syntax"): words are ANDed; `OR` between terms or parenthesised groups;
`-word` or `NOT word` excludes; `"quoted phrase"` matches consecutive words; `title:`,
`company:`, `location:` and `tag:` restrict a term (or a phrase, or a group) to one field, and no
prefix searches title, company, location, tags and description; a trailing `*` matches a prefix.
Operators are case-insensitive (`or` works too); quote a word to search for it literally.

Words are whole words, accents and case folded, with tech names kept intact: `c++`, `c#`,
`.net` and `node.js` are single words, so `c` never matches `c++` and `java` never matches
`javascript`. A dotted name also yields its parts and its joined form (`node.js` → `node`, `js`,
`.js`, `nodejs`), so `node` and `nodejs` find Node.js postings; a leading-dot word (`.net`) does
not yield `net`.

Chinese, Japanese, Thai, Lao, Khmer and Myanmar are written without spaces between words, so a
run of Latin letters or digits inside them is a word of its own (`高級JAVA工程師` holds `java`,
`精通C#` holds `c#`), and a run of such a script is split into its characters, as Lucene's
standard analyzer does: a term in that script (`工程師`) is the phrase of its characters, found
where it occurs inside one run (never across a space or punctuation between two runs).

Facet terms (`salary>=90k EUR`, `remote:eu`, `seniority>=senior`, `type:contract`, `age<14d`,
`onsite:berlin`; `bot.facets.filters`) test a posting's stored facts rather than its words; a
query holding one is judged three-valued (a fact not stated passes unless the term ends in `!`,
and NOT of unknown stays unknown). They count as terms to look for.

A query that only excludes (`-php`, or `rust OR -php`) is rejected: as a subscription it would
alert about nearly every posting. Everything here is pure: strings and dataclasses in and out.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Protocol, TypeAlias

from bot.errors import QueryError
from bot.facets.filters import (
    FACET_EXAMPLES,
    OPERATORS,
    FacetFilter,
    Facts,
    is_facet,
    parse_facet,
)
from bot.facets.salary import CODES

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 20
# Parentheses and NOTs nested deeper than this are refused: the parser recurses once per level.
MAX_QUERY_DEPTH = 20
# Longer input is refused before parsing; the canonical form of a query within the bounds
# (explicit ANDs, field prefixes repeated) stays well below it.
_RAW_CHARS = 1000
# The searchable fields of a Document; `description` has no prefix (unprefixed terms reach it).
FIELDS = ("title", "company", "location", "tag", "description")
PREFIXES = {"title": "title", "company": "company", "location": "location", "tag": "tag"}
_PREFIX_ALIASES = {**PREFIXES, "tags": "tag"}
_KEYWORDS = frozenset({"or", "and", "not"})
# Phones turn " into typographic quotes; any of them opens or closes a phrase.
_QUOTES = '"“”„'
_STOP = frozenset('()"“”„')

# Combining marks left by NFKD (the accents of `é`, `ü`, `ñ` ...), removed to fold accents.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# Letters NFKD does not decompose but a reader folds anyway.
_LETTERS = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ı": "i", "þ": "th", "æ": "ae", "œ": "oe"}
)
_ANY_LETTER = re.compile("[øđðłħıþæœ]")  # a search in C; `translate` is a lookup per character
# A word: letters/digits, dot-joined runs (node.js, asp.net, 3.5), an optional leading dot
# before a letter (.net), an optional `++` or `#` suffix (c++, c#, f#).
_ASCII_TOKEN = re.compile(r"(?:(?<![\w.])\.(?=[^\W\d_]))?\w+(?:\.\w+)*(?:\+\+|#)?")
# Scripts written without spaces between words (Unicode blocks): Thai, Lao, Myanmar, Khmer,
# CJK radicals, the iteration marks 々〆〇, kana (not the ・ separator), bopomofo, CJK
# ideographs (unified, extension A, compatibility, extensions B-H), half-width katakana.
_SPACELESS = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3005-\u3007\u3040-\u30fa"
    "\u30fc-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f"
)
_SPACELESS_CHAR = re.compile(f"[{_SPACELESS}]")
# Any text: a run of a space-less script, or a word as above made of the other word characters
# (so a Latin run next to CJK ends there, and `.net` keeps its dot after a CJK character).
_TOKEN = re.compile(
    f"[{_SPACELESS}]+"
    f"|(?:(?<![^\\W{_SPACELESS}])(?<!\\.)\\.(?=[^\\W\\d_{_SPACELESS}]))?"
    f"[^\\W{_SPACELESS}]+(?:\\.[^\\W{_SPACELESS}]+)*(?:\\+\\+|#)?"
)
_FIELD_WORD = re.compile(r"([^\W\d_]+):(.*)", re.DOTALL)


def fold(text: str) -> str:
    """Lower-case `text` and strip its accents: `München` → `munchen`, `Straße` → `strasse`."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text).casefold()
    text = _COMBINING.sub("", text)
    return text.translate(_LETTERS) if _ANY_LETTER.search(text) else text


def tokenize(text: str) -> list[str]:
    """The folded words of `text`, in order: `Senior C++/.NET dev` → [senior, c++, .net, dev].

    A run of a space-less script gives one word per character, and an empty word separates two
    such runs that only spaces or punctuation part (`高級JAVA工程師` → [高, 級, java, 工, 程, 師];
    `工程 師` → [工, 程, "", 師]), so that a phrase never spans two runs.
    """
    folded = fold(text)
    if folded.isascii():
        return _ASCII_TOKEN.findall(folded)
    tokens = _TOKEN.findall(folded)
    if not _SPACELESS_CHAR.search(folded):
        return tokens
    words: list[str] = []
    after_run = False
    for token in tokens:
        if _SPACELESS_CHAR.match(token):
            if after_run:
                words.append("")
            words.extend(token)
            after_run = True
        else:
            words.append(token)
            after_run = False
    return words


def _spaceless(word: str) -> bool:
    return len(word) == 1 and _SPACELESS_CHAR.match(word) is not None


def join_words(words: Sequence[str]) -> str:
    """Words back as text: spaces between them, none between two characters of a space-less
    script (`(工, 程, 師)` → `工程師`, `(高, 級, java)` → `高級 java`)."""
    text = words[0] if words else ""
    for before, word in pairwise(words):
        text += word if _spaceless(before) and _spaceless(word) else " " + word
    # folding decomposed kana (ジ → シ + ◌゙); composed again for display, folded the same
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def variants(token: str) -> tuple[str, ...]:
    """The other words a dotted token stands for: `node.js` → (node, js, .js, nodejs)."""
    body = token[1:] if token.startswith(".") else token
    if "." not in body:
        return ()
    parts = [p for p in body.split(".") if p]
    found = [*parts, *("." + p for p in parts[1:])]
    if all(p.isalpha() for p in parts):
        found.append("".join(parts))
    return tuple(found)


def term_key(word: str, field: str | None) -> str:
    """The key of a word in one field (`title:rust`) or in any field (`rust`)."""
    return f"{field}:{word}" if field else word


# --- documents ------------------------------------------------------------------------------


class PostingLike(Protocol):
    """What a Document is built from: a Posting or a StoredPosting."""

    @property
    def title(self) -> str: ...
    @property
    def company(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def remote(self) -> bool: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def description(self) -> str: ...


def _field_words(tokens: Sequence[str]) -> frozenset[str]:
    words = set(tokens)
    words.discard("")  # the separator between two runs of a space-less script
    for token in _dotted(tokens):
        words.update(variants(token))
    return frozenset(words)


def _dotted(tokens: Sequence[str]) -> list[str]:
    """The tokens with a dot after their first character (`node.js`, not `.net`)."""
    if "." not in "".join(tokens):  # one C call: most fields have no dotted token
        return []
    return [t for t in set(tokens) if "." in t[1:]]


@dataclass(frozen=True, slots=True, eq=False)
class Document:
    """A posting folded for matching: built once per posting, reused for every query."""

    words: frozenset[str]
    """Every word of every field, dotted names' variants included."""
    fields: dict[str, frozenset[str]]
    """The words of each field in FIELDS."""
    sequences: dict[str, tuple[str, ...]]
    """Each field's words in order, for phrases; tags are separated by an empty word."""
    keys: frozenset[str]
    """`words` plus `field:word` for each prefixable field: what MatchIndex looks up."""
    dotted: frozenset[str] = frozenset()
    """The fields with a dotted token (`node.js`), where a phrase may hide inside one."""
    facts: Facts = field(default_factory=Facts)
    """The posting's facts (salary, remote scope, ...), tested by facet terms."""
    now: datetime | None = None
    """The time `age<14d` is measured at; None: the posting's first_seen (new postings)."""
    _cache: dict[tuple[str, str | None], object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_fields(
        cls,
        *,
        title: str = "",
        company: str = "",
        location: str = "",
        tags: Iterable[str] = (),
        description: str = "",
        remote: bool = False,
        facts: Facts | None = None,
        now: datetime | None = None,
    ) -> Document:
        """Fold and tokenise each field once; `facts` and `now` are kept for facet terms."""
        tag_sequence: list[str] = []
        for tag in tags:
            if tag_sequence:
                tag_sequence.append("")  # so no phrase spans two tags
            tag_sequence.extend(tokenize(tag))
        sequences = {
            "title": tuple(tokenize(title)),
            "company": tuple(tokenize(company)),
            "location": tuple(tokenize(location)),
            "tag": tuple(tag_sequence),
            "description": tuple(tokenize(description)),
        }
        fields = {name: _field_words(seq) for name, seq in sequences.items()}
        fields["tag"] = fields["tag"] - {""}
        if remote and "remote" not in fields["location"]:
            # the board said remote without saying it in the location: `location:remote` works
            fields["location"] = fields["location"] | {"remote"}
        words = frozenset().union(*fields.values())
        keys = words.union([f"{name}:{w}" for name in PREFIXES for w in fields[name]])  # term_key
        dotted = frozenset(name for name, seq in sequences.items() if _dotted(seq))
        return cls(words, fields, sequences, keys, dotted, facts or Facts(), now)

    @classmethod
    def from_posting(cls, posting: PostingLike, now: datetime | None = None) -> Document:
        """The Document of a Posting or StoredPosting (with its `facts` when it has them);
        `now` is when facet terms such as `age<14d` are judged (None: its first_seen)."""
        return cls.from_fields(
            title=posting.title,
            company=posting.company,
            location=posting.location,
            tags=posting.tags,
            description=posting.description,
            remote=posting.remote,
            facts=getattr(posting, "facts", None),
            now=now,
        )

    @property
    def facts_time(self) -> datetime:
        """The instant facet terms are judged at: `now`, else first_seen, else posted_at."""
        found = self.now or self.facts.first_seen or self.facts.posted_at
        return found or datetime.min.replace(tzinfo=UTC)  # only when no date is known at all

    def has_prefix(self, prefix: str, field: str | None = None) -> bool:
        """Whether a word of the field (of any field when None) starts with `prefix`."""
        key = ("sorted", field)
        ordered = self._cache.get(key)
        if ordered is None:
            ordered = sorted(self.words if field is None else self.fields[field])
            self._cache[key] = ordered
        assert isinstance(ordered, list)
        i = bisect_left(ordered, prefix)
        return i < len(ordered) and ordered[i].startswith(prefix)

    def has_phrase(self, words: Sequence[str], field: str | None = None) -> bool:
        """Whether `words` occur consecutively in the field (in one field when None)."""
        for name in FIELDS if field is None else (field,):
            # Most fields lack one of the words: a set test rules them out before any scan.
            if not self.fields[name].issuperset(words):
                continue
            if self._scan(self.sequences[name], words):
                return True
            # a phrase word may be part of a dotted token (`vue developer` in `Vue.js developer`)
            if name in self.dotted and self._dotted_phrase(name, words):
                return True
        return False

    @staticmethod
    def _scan(sequence: tuple[str, ...], words: Sequence[str]) -> bool:
        first, tail = words[0], tuple(words[1:])
        start = 0
        with suppress(ValueError):  # scanned in C, until index() finds no more
            while True:
                start = sequence.index(first, start) + 1
                if sequence[start : start + len(tail)] == tail:
                    return True
        return False

    def _dotted_phrase(self, name: str, words: Sequence[str]) -> bool:
        """Whether `words` occur consecutively with some of them standing for a dotted
        token's variant (`vue` for `vue.js`); called once `_scan` found no plain occurrence,
        so only the spans over a dotted token are tried."""
        key = ("dotted", name)
        dotted = self._cache.get(key)
        sequence = self.sequences[name]
        if dotted is None:
            dotted = self._cache[key] = _dotted_variants(sequence)
        assert isinstance(dotted, dict)
        size = len(words)
        tried: set[int] = set()
        for position in dotted:
            for start in range(
                max(0, position - size + 1), min(position, len(sequence) - size) + 1
            ):
                if start in tried:
                    continue
                tried.add(start)
                for offset, word in enumerate(words, start=start):
                    if sequence[offset] != word and word not in dotted.get(offset, ()):
                        break
                else:
                    return True
        return False


def _dotted_variants(sequence: Sequence[str]) -> dict[int, frozenset[str]]:
    """The positions of the dotted tokens, and the words each stands for besides itself."""
    return {
        i: frozenset(variants(token))
        for i, token in enumerate(sequence)
        if "." in token and "." in token[1:]
    }


# --- the query tree -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """A word, a prefix (`engineer*`) or a phrase (several words), in one field or any."""

    words: tuple[str, ...]
    field: str | None = None
    prefix: bool = False

    @property
    def is_word(self) -> bool:
        """A single whole word: matched by set membership alone."""
        return len(self.words) == 1 and not self.prefix

    def matches(self, doc: Document) -> bool:
        """Whether the document has this word, prefix or phrase (in the term's field)."""
        if self.prefix:
            return doc.has_prefix(self.words[0], self.field)
        if len(self.words) == 1:
            return self.words[0] in (doc.words if self.field is None else doc.fields[self.field])
        return doc.has_phrase(self.words, self.field)

    def text(self) -> str:
        """The term without its field: `rust`, `engineer*`, `"site reliability"`."""
        if self.prefix:
            return self.words[0] + "*"
        text = join_words(self.words)
        if " " in text or text in _KEYWORDS:
            return '"' + text + '"'
        return text

    def __str__(self) -> str:
        return f"{self.field}:{self.text()}" if self.field else self.text()


@dataclass(frozen=True, slots=True)
class Facet:
    """A facet term (`salary>=90k EUR`, `remote:eu`): tests the posting's facts, not its words.

    Three-valued: True, False, or None when the posting does not state the fact (which passes
    unless the term ends in `!`); `NOT` of None stays None, so `-seniority:intern` lets
    postings of unknown seniority through."""

    filter: FacetFilter

    def test(self, doc: Document) -> bool | None:
        """True/False, or None when the posting does not state the fact."""
        return self.filter.matches(doc.facts, doc.facts_time)

    def __str__(self) -> str:
        f = self.filter
        op = "" if f.op == ":" else f.op
        if f.facet == "salary":
            value = f"{f.amount:g}" if f.amount < 1000 else f"{f.amount / 1000:g}k"
            value += f" {f.currency}" if f.currency else ""
        else:
            value = f.value.replace(" ", "-")  # onsite:sao-paulo is folded to "sao paulo"
        return f"{f.facet}{op or ':'}{value}{'!' if f.required else ''}"


@dataclass(frozen=True, slots=True)
class Not:
    """Matches when its child does not."""

    child: Node

    def __str__(self) -> str:
        return "NOT " + _wrap(self.child, (And, Or))


@dataclass(frozen=True, slots=True)
class And:
    """Matches when every child does."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(c, (Or,)) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    """Matches when any child does."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(c, (And, Not)) for c in self.children)


Node: TypeAlias = Term | Facet | Not | And | Or
Matcher: TypeAlias = Callable[[Document], bool]


def _wrap(node: Node, kinds: tuple[type, ...]) -> str:
    return f"({node})" if isinstance(node, kinds) else str(node)


def compile_node(node: Node) -> Matcher:
    """A closure that evaluates `node`; single words become C-level set operations.

    A node holding facet terms is judged three-valued (`_judge`): it passes unless False."""
    if has_facets(node):
        return lambda doc: _judge(node, doc) is not False
    if isinstance(node, Term):
        if node.is_word:
            word, name = node.words[0], node.field
            if name is None:
                return lambda doc: word in doc.words
            return lambda doc: word in doc.fields[name]
        return node.matches
    if isinstance(node, Not):
        inner = compile_node(node.child)
        return lambda doc: not inner(doc)
    if isinstance(node, And):
        return _compile_all(node.children)
    assert isinstance(node, Or)  # a Facet went to _judge above
    return _compile_any(node.children)


def has_facets(node: Node) -> bool:
    """Whether a facet term occurs anywhere in `node`."""
    if isinstance(node, Facet):
        return True
    if isinstance(node, Term):
        return False
    if isinstance(node, Not):
        return has_facets(node.child)
    return any(has_facets(child) for child in node.children)


def _judge(node: Node, doc: Document) -> bool | None:
    """Kleene's three-valued logic: None (a fact not stated) stays None through NOT, loses to
    False in an AND and to True in an OR."""
    if isinstance(node, Term):
        return node.matches(doc)
    if isinstance(node, Facet):
        return node.test(doc)
    if isinstance(node, Not):
        inner = _judge(node.child, doc)
        return None if inner is None else not inner
    decisive = isinstance(node, Or)  # True decides an OR, False an AND
    unknown = False
    for child in node.children:
        value = _judge(child, doc)
        if value is decisive:
            return decisive
        unknown = unknown or value is None
    return None if unknown else not decisive


def facets_of(node: Node) -> list[FacetFilter]:
    """The facet filters of a query, in query order (under a NOT too)."""
    return [facet for facet, _ in signed_facets(node)]


def signed_facets(node: Node, negated: bool = False) -> Iterator[tuple[FacetFilter, bool]]:
    """Each facet filter of a query, in query order, and whether it sits under an odd number
    of NOTs (`-seniority:intern` excludes what `seniority:intern` asks for)."""
    if isinstance(node, Facet):
        yield node.filter, negated
    elif isinstance(node, Not):
        yield from signed_facets(node.child, not negated)
    elif not isinstance(node, Term):
        for child in node.children:
            yield from signed_facets(child, negated)


def _compile_all(children: Sequence[Node]) -> Matcher:
    """An AND: its words and excluded words tested as sets, the rest as closures."""
    need, avoid, rest = _split_words(children)
    need_any, avoid_any = need.pop(None, frozenset()), avoid.pop(None, frozenset())
    need_fields, avoid_fields = _named(need), _named(avoid)
    others = tuple(compile_node(c) for c in rest)

    def all_of(doc: Document) -> bool:
        words = doc.words
        if not need_any.issubset(words) or not avoid_any.isdisjoint(words):
            return False
        for name, wanted in need_fields:
            if not wanted.issubset(doc.fields[name]):
                return False
        for name, unwanted in avoid_fields:
            if not unwanted.isdisjoint(doc.fields[name]):
                return False
        return all(check(doc) for check in others)

    return all_of


def _compile_any(children: Sequence[Node]) -> Matcher:
    """An OR: its words tested as sets, the rest as closures."""
    any_words: dict[str | None, set[str]] = {}
    rest = []
    for child in children:
        if isinstance(child, Term) and child.is_word:
            any_words.setdefault(child.field, set()).add(child.words[0])
        else:
            rest.append(child)
    plain = frozenset(any_words.pop(None, ()))
    by_field = _named({name: frozenset(words) for name, words in any_words.items()})
    alternatives = tuple(compile_node(c) for c in rest)

    def any_of(doc: Document) -> bool:
        if not plain.isdisjoint(doc.words):
            return True
        for name, wanted in by_field:
            if not wanted.isdisjoint(doc.fields[name]):
                return True
        return any(check(doc) for check in alternatives)

    return any_of


def _named(
    by_field: dict[str | None, frozenset[str]],
) -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple((name, words) for name, words in by_field.items() if name is not None)


def _split_words(
    children: Sequence[Node],
) -> tuple[dict[str | None, frozenset[str]], dict[str | None, frozenset[str]], list[Node]]:
    """Split an AND's children into required words, excluded words (per field) and the rest."""
    need: dict[str | None, set[str]] = {}
    avoid: dict[str | None, set[str]] = {}
    rest: list[Node] = []
    for child in children:
        if isinstance(child, Term) and child.is_word:
            need.setdefault(child.field, set()).add(child.words[0])
        elif isinstance(child, Not) and isinstance(child.child, Term) and child.child.is_word:
            avoid.setdefault(child.child.field, set()).add(child.child.words[0])
        else:
            rest.append(child)
    return (
        {k: frozenset(v) for k, v in need.items()},
        {k: frozenset(v) for k, v in avoid.items()},
        rest,
    )


def positive_terms(node: Node) -> list[Term]:
    """The terms a match can be credited to (not under a NOT), in query order."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not | Facet):
        return []
    return [t for child in node.children for t in positive_terms(child)]


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: `matches`, `matched_terms`, and `str()` for the query as understood."""

    root: Node
    # Compiled on first use: the match index decides most queries by keys alone, and 100,000
    # closures kept for nothing are half a million objects for every full garbage collection.
    _match: Matcher | None = field(default=None, init=False, repr=False, compare=False)
    _terms: tuple[Term, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_terms", tuple(dict.fromkeys(positive_terms(self.root))))

    def matches(self, doc: Document) -> bool:
        """Whether the document satisfies the query."""
        match = self._match
        if match is None:  # two threads may both compile it: the same closure either way
            match = compile_node(self.root)
            object.__setattr__(self, "_match", match)
        return match(doc)

    @property
    def terms(self) -> tuple[Term, ...]:
        """The positive terms (not excluded ones), each once, in query order."""
        return self._terms

    @property
    def facets(self) -> tuple[FacetFilter, ...]:
        """The facet filters, each once, in query order."""
        return tuple(dict.fromkeys(facets_of(self.root)))

    def unstated(self, doc: Document) -> tuple[str, ...]:
        """What the posting passed without stating ("salary not stated"), for its alert."""
        notes = (f.unstated(doc.facts, doc.facts_time) for f in self.facets)
        return tuple(dict.fromkeys(note for note in notes if note))

    def matched_terms(self, doc: Document) -> tuple[str, ...]:
        """The positive terms found in the document, without field: (`rust`, `engineer*`)."""
        return tuple(dict.fromkeys(t.text() for t in self._terms if t.matches(doc)))

    def highlight_spans(self, text: str, field: str | None = None) -> list[tuple[int, int]]:
        """(start, end) spans of `text` where the positive terms (for `field`) occur, merged."""
        terms = [t for t in self._terms if field is None or t.field in (None, field)]
        if not terms or not text:
            return []
        found = _folded_tokens(text)
        forms = [{token, *variants(token)} for _, _, token in found]
        spans: list[tuple[int, int]] = []
        for term in terms:
            size = len(term.words)
            for i in range(len(found) - size + 1):
                if term.prefix:
                    hit = any(f.startswith(term.words[0]) for f in forms[i])
                else:
                    hit = all(term.words[k] in forms[i + k] for k in range(size))
                if hit:
                    spans.append((found[i][0], found[i + size - 1][1]))
        return _merged(spans)

    def __str__(self) -> str:
        return str(self.root)


def _folded_tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for each word of `text`, as tokenize() splits it."""
    found: list[tuple[int, int, str]] = []
    for m in _TOKEN.finditer(text):
        if not _SPACELESS_CHAR.match(m.group()):
            found.append((m.start(), m.end(), fold(m.group())))
            continue
        # one word per (folded) character of a space-less script, as tokenize() has it
        for k in range(m.start(), m.end()):
            found.extend((k, k + 1, char) for char in fold(text[k]))
    return found


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching (start, end) spans joined, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# --- the parser -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "OR", "AND", "NOT", "TERM", "FACET", "FIELD"
    pos: int  # 1-based, for messages
    text: str = ""
    term: Term | Facet | None = None
    field: str | None = None


def parse_query(text: str) -> Query:
    """Parse a subscription query; QueryError says in one sentence what is wrong and where.

    The length bound applies to the query written compactly (implicit AND, `-` for NOT), so
    `str(query)`, with its explicit ANDs, always parses back to the same query.
    """
    stripped = text.strip()
    if len(stripped) > _RAW_CHARS:
        raise QueryError(
            f"The query is {len(stripped)} characters long; the limit is {MAX_QUERY_CHARS}."
        )
    query = _parse(stripped)
    size = len(_compact(query.root))
    if size > MAX_QUERY_CHARS:
        raise QueryError(f"The query is {size} characters long; the limit is {MAX_QUERY_CHARS}.")
    return query


def _compact(node: Node) -> str:
    """The query written as briefly as the syntax allows: what the length bound measures."""
    if isinstance(node, Term | Facet):
        return str(node)
    if isinstance(node, Not):
        return "-" + (
            f"({_compact(node.child)})"
            if isinstance(node.child, And | Or)
            else _compact(node.child)
        )
    if isinstance(node, And):
        return " ".join(_compact(c) for c in node.children)
    return " OR ".join(
        f"({_compact(c)})" if isinstance(c, And) else _compact(c) for c in node.children
    )


def _parse(text: str) -> Query:
    if not text.strip():
        raise QueryError("The query is empty; give at least one word, as in: rust remote.")
    tokens = _lex(text)
    count = sum(1 for t in tokens if t.kind in ("TERM", "FACET"))
    if count > MAX_QUERY_TERMS:
        raise QueryError(
            f"The query has {count} terms; the limit is {MAX_QUERY_TERMS} "
            "(a word or a quoted phrase counts as one)."
        )
    root = _simplify(_Parser(tokens).parse())
    if not _has_positive(root):
        if isinstance(root, Not) or (
            isinstance(root, And) and all(isinstance(c, Not) for c in root.children)
        ):
            raise QueryError(
                "The query only excludes words; add a word to look for, as in: python -django."
            )
        raise QueryError(
            "Each alternative joined by OR needs a word to look for; one of them only excludes."
        )
    return Query(root)


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(_Token(c, i + 1))
            i += 1
        elif c in _QUOTES:
            words, end = _phrase(text, i)
            tokens.append(_Token("TERM", i + 1, term=Term(words)))
            i = end
        elif c == "-":
            after = text[i + 1] if i + 1 < n else ""
            if not after or after.isspace() or after == ")":
                raise QueryError(
                    f"The '-' at position {i + 1} must be directly followed by what to exclude, "
                    "as in: -php."
                )
            tokens.append(_Token("NOT", i + 1, text="-"))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _STOP:
                j += 1
            if is_facet(text[i:j]):
                token, i = _facet(text, i, j)
                tokens.append(token)
                continue
            _refuse_facet_without_value(text, i, j)
            m = _FIELD_WORD.fullmatch(text[i:j])
            if m and not m.group(2) and j < n and text[j] in _QUOTES:  # title:"site reliability"
                name = _field_name(m.group(1), i)
                words, j = _phrase(text, j)
                tokens.append(_Token("TERM", i + 1, term=Term(words, name)))
            else:
                tokens.append(_word(text, i, j))
            i = j
    return tokens


_FACET_HEAD = re.compile(rf"({'|'.join(FACET_EXAMPLES)})\s*(?:{OPERATORS})?", re.I)
_OPERATOR = re.compile(rf"\s*(?:{OPERATORS})")


def _refuse_facet_without_value(text: str, i: int, j: int) -> None:
    """A QueryError for a facet name with no value right after it: `onsite:`, `salary>=`, or
    `salary >= 90k` written with spaces (a search for the words would be a surprise)."""
    head = _FACET_HEAD.fullmatch(text[i:j])
    if head is not None and (head.group() != head.group(1) or _OPERATOR.match(text, j)):
        example = FACET_EXAMPLES[head.group(1).lower()]
        raise QueryError(
            f"'{text[i:j]}' at position {i + 1} needs its value right after it, with no space, "
            f"as in: {example}."
        )


_TIME_AFTER = re.compile(r"\s+time(!?)(?=[\s()]|$)", re.I)
_CURRENCY_AFTER = re.compile(r"\s+([A-Za-z]{3}|[$€£])(!?)(?=[\s()]|$)")


def _facet(text: str, i: int, j: int) -> tuple[_Token, int]:
    """The facet term text[i:j] (`salary>=90k`, taking a currency code after it: `90k EUR`)
    and the index after it. A FacetError (a QueryError) says what is wrong with it."""
    word = text[i:j]
    try:
        found = parse_facet(word)
        after = _CURRENCY_AFTER.match(text, j)
        bare = found.facet == "salary" and found.currency is None and not found.required
        if bare and after and (after.group(1).upper() in CODES or after.group(1) in "$€£"):
            word = f"{word} {after.group(1)}{after.group(2)}"
            found, j = parse_facet(word), after.end()
        # "full time" written apart, as people do: one value, not the word "time" too
        time = _TIME_AFTER.match(text, j)
        if found.facet == "type" and re.search(r"(?:full|part)$", word, re.I) and time:
            word, j = f"{word} time{time.group(1)}", time.end()
            found = parse_facet(word)
    except QueryError as exc:
        raise QueryError(f"At position {i + 1}: {str(exc).rstrip('.')}.") from None
    return _Token("FACET", i + 1, text=word, term=Facet(found)), j


def _phrase(text: str, start: int) -> tuple[tuple[str, ...], int]:
    """The words between the quote at `start` and the next quote, and the index after it."""
    end = next((k for k in range(start + 1, len(text)) if text[k] in _QUOTES), -1)
    if end < 0:
        raise QueryError(f"Unclosed quote: the quote at position {start + 1} is never closed.")
    words = tuple(w for w in tokenize(text[start + 1 : end]) if w)
    if not words:
        raise QueryError(
            f"The quotes at position {start + 1} contain no letters or digits to search for."
        )
    return words, end + 1


def _word(text: str, i: int, j: int) -> _Token:
    """One bare word text[i:j]: an operator, a field prefix, or a term."""
    word = text[i:j]
    if word.lower() in _KEYWORDS:
        return _Token(word.upper(), i + 1, text=word)
    m = _FIELD_WORD.fullmatch(word)
    if m is None:
        return _Token("TERM", i + 1, term=_word_term(word, None, i))
    name, rest = m.group(1), m.group(2)
    field_name = _field_name(name, i)
    if rest.startswith("-"):
        raise QueryError(
            f"To exclude in a field, put the '-' before the field name, as in: -{name}:{rest[1:]}."
        )
    if rest:
        return _Token("TERM", i + 1, term=_word_term(rest, field_name, i + len(name) + 1))
    if j < len(text) and text[j] == "(":
        return _Token("FIELD", i + 1, field=field_name)
    raise QueryError(
        f"'{name}:' at position {i + 1} must be directly followed by a word, a quoted phrase "
        f"or a group in parentheses, as in: {name}:rust."
    )


def _field_name(name: str, i: int) -> str:
    found = _PREFIX_ALIASES.get(fold(name))
    if found is None:
        raise QueryError(
            f"Unknown field '{name}:' at position {i + 1}; "
            "the fields are title:, company:, location: and tag:."
        )
    return found


def _word_term(word: str, field_name: str | None, offset: int) -> Term:
    prefix = word.endswith("*")
    core = word[:-1] if prefix else word
    if "*" in core:
        raise QueryError(
            f"The '*' at position {offset + core.index('*') + 1} may only end a word, "
            "as in: engineer*."
        )
    words = tuple(w for w in tokenize(core) if w)
    if not words:
        if prefix and not core:
            raise QueryError(
                f"The '*' at position {offset + 1} must directly follow a word, as in: engineer*."
            )
        raise QueryError(
            f"'{word}' at position {offset + 1} has no letters or digits to search for."
        )
    if prefix and len(words[0]) < 2:
        raise QueryError(
            f"'{word}' at position {offset + 1} is too short: a '*' prefix needs at least "
            "2 letters, as in: engineer*."
        )
    if prefix and len(words) > 1:
        raise QueryError(
            f"'{word}' at position {offset + 1}: a '*' prefix works on a single word, "
            "not on several."
        )
    return Term(words, field_name, prefix)


class _Parser:
    """Recursive descent; OR binds tighter than AND, as in web search (`a OR b c` = `(a OR b) c`):
    all := any (AND? any)*; any := unary (OR unary)*; unary := NOT unary | primary;
    primary := TERM | FIELD? '(' all ')'.

    Each '(' and each NOT is one level of recursion; more than MAX_QUERY_DEPTH levels is a
    QueryError naming the bound, never a RecursionError."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def _deeper(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_QUERY_DEPTH:
            raise QueryError(
                f"The query nests parentheses and NOTs more than {MAX_QUERY_DEPTH} deep "
                f"(at position {token.pos}); the limit is {MAX_QUERY_DEPTH}."
            )

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        node = self.all_of(None)
        extra = self.peek()
        if extra is not None:  # only a ')' stops all_of early
            raise QueryError(
                f"Unbalanced parenthesis: the ')' at position {extra.pos} has no matching '('."
            )
        return node

    def all_of(self, field_name: str | None) -> Node:
        items = [self.any_of(field_name)]
        while (token := self.peek()) is not None and token.kind != ")":
            if token.kind == "AND":
                self.take()
                self._operand_follows(token)
            items.append(self.any_of(field_name))
        return items[0] if len(items) == 1 else And(tuple(items))

    def any_of(self, field_name: str | None) -> Node:
        parts = [self.unary(field_name)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self._operand_follows(token)
            parts.append(self.unary(field_name))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _operand_follows(self, op: _Token) -> None:
        after = self.peek()
        if after is None or after.kind in (")", "OR", "AND"):
            raise QueryError(f"'{op.text}' at position {op.pos} needs a term on both sides.")

    def unary(self, field_name: str | None) -> Node:
        token = self.take()
        if token.kind == "NOT":
            after = self.peek()
            if after is None or after.kind in (")", "OR", "AND"):
                raise QueryError(
                    f"'{token.text}' at position {token.pos} must be followed by a term to "
                    "exclude, as in: python -django."
                )
            self._deeper(token)
            child = self.unary(field_name)
            self.depth -= 1
            return Not(child)
        if token.kind == "FACET":
            assert isinstance(token.term, Facet)
            return token.term
        if token.kind == "TERM":
            assert isinstance(token.term, Term)
            term = token.term
            if term.field is None and field_name is not None:
                term = Term(term.words, field_name, term.prefix)
            return term
        if token.kind == "FIELD":
            return self.group(self.take(), token.field)
        if token.kind == "(":
            return self.group(token, field_name)
        if token.kind == ")":  # only reachable right after '('
            raise QueryError(f"The parentheses before position {token.pos} are empty.")
        raise QueryError(f"'{token.text}' at position {token.pos} needs a term on both sides.")

    def group(self, opening: _Token, field_name: str | None) -> Node:
        after = self.peek()
        if after is None:
            raise QueryError(
                f"Unbalanced parenthesis: the '(' at position {opening.pos} is never closed."
            )
        if after.kind == ")":
            raise QueryError(f"The parentheses at position {opening.pos} are empty.")
        self._deeper(opening)
        node = self.all_of(field_name)
        self.depth -= 1
        if self.peek() is None:
            raise QueryError(
                f"Unbalanced parenthesis: the '(' at position {opening.pos} is never closed."
            )
        self.take()
        return node


def _simplify(node: Node) -> Node:
    """Flatten nested AND/OR, drop duplicate children and double negations."""
    if isinstance(node, Term | Facet):
        return node
    if isinstance(node, Not):
        inner = _simplify(node.child)
        return inner.child if isinstance(inner, Not) else Not(inner)
    kind = type(node)
    children: dict[Node, None] = {}
    for child in node.children:
        simple = _simplify(child)
        for item in simple.children if isinstance(simple, kind) else (simple,):
            children[item] = None
    if len(children) == 1:
        return next(iter(children))
    return kind(tuple(children))


def _has_positive(node: Node) -> bool:
    """Whether every way to match needs some positive term: false for `-php`, `a OR -b`."""
    if isinstance(node, Term | Facet):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_positive(c) for c in node.children)
    return all(_has_positive(c) for c in node.children)
