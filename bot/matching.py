"""Match postings against many subscriptions at once, through an index of their queries.

The idea: a query can only match a document that has all of some set of *keys* (`rust`,
`title:rust`, `eng*`), so each query is filed in a trie under those keys, rarest first, and a
document walks only the branches whose keys it has. Three parts, top to bottom in this file:

1. **Planning** (`plan_filings`, pure): a query is expanded into conjunctions
   (`(a OR b) c -d` → `a c -d`, `b c -d`); an OR's conjunctions are made exclusive when extra
   exclusions can say so (`a OR b` → `a`, `b -a`), so no query is reached twice. Each becomes a
   `_Filing`: *direct* (exactly those keys), *vetoable* (those keys and none of a few others),
   or *check* (a compiled closure decides what keys cannot: a phrase's word order, a NOT over a
   group, an OR too big to expand; closures are shared by equal conditions and evaluated once
   per document).
2. **The trie** (`_Node`): each node holds the queries filed at its path, and owns the flat
   tuples of their subscriptions that a document's result list is extended with in one call
   (vetoable ones grouped by what they exclude, so a document with an excluded key gets the
   slices between the spans it vetoes). Subscriptions with the same query share one `_Group`;
   keys are interned, key sets stored as small tuples, empty containers not allocated: about
   0.8 KB per subscription at 100,000 (benchmarks/bench_matching.py).
3. **The walk** (`MatchIndex._walk`, `_walk_batch`): one document follows the children named by
   its keys (set intersection in C); a batch walks once, carrying at each node the set of its
   documents that reach it, so each tuple is appended to all of them at once.

Keys are what `Document.keys` holds plus, for prefix terms, `rust*` or `title:eng*`, which a
document has when one of its words starts with the prefix (`_Prefixes`, looked up once per word
and remembered). Which key is rarest comes from `TermStats` built from sample documents (say,
the stored postings); without a sample a rough guess is used. That choice only changes the
speed: the results are exactly those of the naive loop over every subscription (`naive_match`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from sys import intern
from typing import NamedTuple

from bot.query import (
    FIELDS,
    PREFIXES,
    And,
    Document,
    Facet,
    Matcher,
    Node,
    Not,
    Or,
    Query,
    Term,
    compile_node,
    has_facets,
)
from bot.query import term_key as _key

# Without statistics: a rough share of postings containing a word, by field.
_GUESS = {"": 0.05, "title": 0.01, "company": 0.002, "location": 0.01, "tag": 0.02}
_PREFIX_GUESS = 4.0  # a prefix stands for several words
# An AND of ORs expands into at most this many conjunctions; a bigger OR is checked instead.
MAX_CONJUNCTIONS = 16
_HEAD = 2  # prefixes are bucketed by their first letters; parse_query wants at least 2
_MEMO_WORDS = 200_000  # words remembered per field by the prefix lookup
# Fewer documents are walked one by one, in `match`'s order: carrying sets of documents down
# the trie only pays from about this many (bench_matching.py, 100,000 subscriptions: 0.75 vs
# 0.68 ms per posting at 50, 0.56 vs 0.63 at 100).
_SMALL_BATCH = 64


class Match(NamedTuple):
    """One subscription matched by a document."""

    sub_id: int
    chat_id: int


@dataclass(frozen=True, slots=True)
class TermStats:
    """How many sample documents contain each key (`rust`, `title:rust`)."""

    size: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    vocabulary: tuple[str, ...] = ()

    @classmethod
    def from_documents(cls, docs: Iterable[Document]) -> TermStats:
        """Count document frequencies in `docs`."""
        counts: Counter[str] = Counter()
        size = 0
        for doc in docs:
            size += 1
            counts.update(doc.keys)
        return cls(size, dict(counts), tuple(sorted(counts)))

    def share(self, key: str) -> float:
        """The estimated share of documents with the key (`eng*`: with a word starting so)."""
        prefix = key.endswith("*")
        if not self.size:
            name, colon, _ = key.partition(":")
            guess = _GUESS.get(name if colon and name in PREFIXES else "", 0.05)
            return guess * (_PREFIX_GUESS if prefix else 1.0)
        if not prefix:
            return (self.counts.get(key, 0) + 0.5) / self.size
        stem, total = key[:-1], 0
        i = bisect_left(self.vocabulary, stem)
        for word in self.vocabulary[i : i + 500]:  # enough to rank; a longer run is "common"
            if not word.startswith(stem):
                break
            total += self.counts.get(word, 0)
        return (total + 0.5) / self.size


class _Group:
    """The subscriptions sharing one query, and where the query is filed."""

    __slots__ = ("filed", "matches", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self.matches: dict[int, Match] = {}  # sub_id -> Match
        self.filed: tuple[_Filing, ...] = ()


class _Check(NamedTuple):
    """A query reached at a trie node, with what is left to check."""

    group: _Group
    excluded: frozenset[str]
    rest: Matcher  # shared by every check of the same node: evaluated once per document
    dedupe: bool  # the query is filed more than once (an OR): count it once
    source: Node | None = None  # what `rest` evaluates (None: the whole query, or nothing)


class _Filing(NamedTuple):
    """Where one conjunction of a query is filed, and how it is decided there."""

    kind: str  # DIRECT, VETOABLE (decided by keys alone) or CHECK (a closure decides)
    path: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    check: _Check | None = None


DIRECT, VETOABLE, CHECK = "direct", "vetoable", "check"


class _Vetoable(NamedTuple):
    """A node's vetoable matches, grouped by what they exclude, one span per group."""

    matches: tuple[Match, ...]
    spans: dict[str, tuple[tuple[int, int], ...]]  # an excluded key -> the spans it vetoes

    @classmethod
    def build(cls, filed: Iterable[tuple[tuple[str, ...], _Group]]) -> _Vetoable:
        groups: dict[tuple[str, ...], list[Match]] = {}
        for excluded, group in filed:
            groups.setdefault(excluded, []).extend(group.matches.values())
        ordered: list[Match] = []
        spans: dict[str, list[tuple[int, int]]] = {}
        for excluded, matches in groups.items():
            span = (len(ordered), len(ordered) + len(matches))
            for key in excluded:
                spans.setdefault(key, []).append(span)
            ordered.extend(matches)
        return cls(tuple(ordered), {key: tuple(found) for key, found in spans.items()})

    def unvetoed(self, present: Collection[str]) -> list[Match]:
        """The matches none of the `present` excluded keys vetoes: the slices between the
        vetoed spans."""
        vetoed = sorted({span for key in present for span in self.spans[key]})
        left: list[Match] = []
        start = 0
        for begin, end in vetoed:
            if begin > start:
                left.extend(self.matches[start:begin])
            start = max(start, end)
        left.extend(self.matches[start:])
        return left


class _Node:
    """A trie node: the keys on the path from the root are the keys a document must have.

    The node owns the caches of its matches as flat tuples (appended to a document's list in
    one `list.extend`); whatever changes what is filed here goes through its methods, which
    drop them.
    """

    __slots__ = ("_direct", "_vetoable", "checks", "children", "direct", "vetoable")

    def __init__(self) -> None:
        self.children: dict[str, _Node] | None = None
        self.direct: list[_Group] | None = None  # queries that are exactly these keys
        # ... these keys and none of some others
        self.vetoable: list[tuple[tuple[str, ...], _Group]] | None = None
        self.checks: list[_Check] | None = None  # ... these keys and a closure
        self._direct: tuple[Match, ...] | None = None
        self._vetoable: _Vetoable | None = None

    def child(self, key: str) -> _Node | None:
        return self.children.get(key) if self.children else None

    def add_child(self, key: str) -> _Node:
        if self.children is None:
            self.children = {}
        node = self.children[key] = _Node()
        return node

    def drop_child(self, key: str) -> None:
        assert self.children is not None
        del self.children[key]
        if not self.children:
            self.children = None

    def empty(self) -> bool:
        return not (self.children or self.direct or self.vetoable or self.checks)

    def file(self, filing: _Filing, group: _Group) -> None:
        """Place one conjunction of `group`'s query here."""
        if filing.kind == DIRECT:
            self.direct = self.direct or []
            self.direct.append(group)
        elif filing.kind == VETOABLE:
            self.vetoable = self.vetoable or []
            self.vetoable.append((filing.excluded, group))
        else:
            self.checks = self.checks or []
            self.checks.append(_only(filing.check))
        self.changed()

    def unfile(self, filing: _Filing, group: _Group) -> None:
        """Remove what `file` placed."""
        if filing.kind == DIRECT:
            self.direct = [g for g in self.direct or () if g is not group] or None
        elif filing.kind == VETOABLE:
            self.vetoable = [(e, g) for e, g in self.vetoable or () if g is not group] or None
        else:
            self.checks = [c for c in self.checks or () if c is not filing.check] or None
        self.changed()

    def changed(self) -> None:
        """Something filed here gained or lost a subscription: rebuild the tuples when used."""
        self._direct = None
        self._vetoable = None

    def direct_matches(self) -> tuple[Match, ...]:
        if self._direct is None:
            self._direct = tuple(m for g in self.direct or () for m in g.matches.values())
        return self._direct

    def vetoable_matches(self) -> _Vetoable:
        if self._vetoable is None:
            self._vetoable = _Vetoable.build(self.vetoable or ())
        return self._vetoable

    def collect(self, keys: frozenset[str], found: list[Match], checks: list[_Check]) -> None:
        """Add what this node decides for one document with `keys` (it has the path's keys)."""
        if self.direct:
            found.extend(self.direct_matches())
        if self.vetoable:
            vetoable = self.vetoable_matches()
            present = keys.intersection(vetoable.spans)
            found.extend(vetoable.unvetoed(present) if present else vetoable.matches)
        if self.checks:
            checks.extend(self.checks)

    def collect_batch(self, batch: _Batch, docs: set[int]) -> None:
        """`collect` for the batch's documents `docs` (which have the path's keys): each tuple
        is appended to all of them at once, while it is in the CPU cache."""
        if self.direct:
            batch.extend(docs, self.direct_matches())
        if self.vetoable:
            vetoable = self.vetoable_matches()
            spoilt: set[int] = set()  # the documents with a key some query here excludes
            for key in vetoable.spans.keys() & batch.having.keys():
                spoilt.update(docs & batch.having[key])
            batch.extend(docs - spoilt if spoilt else docs, vetoable.matches)
            by_present: dict[frozenset[str], list[int]] = {}  # grouped: usually a few groups
            for i in spoilt:
                by_present.setdefault(batch.keys[i].intersection(vetoable.spans), []).append(i)
            for present, ids in by_present.items():
                batch.extend(ids, vetoable.unvetoed(present))
        if self.checks:
            _each(map(list.extend, map(batch.checks.__getitem__, docs), repeat(self.checks)))


class _Batch:
    """The documents of one `match_many` call, numbered, and what each has found so far."""

    __slots__ = ("checks", "found", "having", "keys")

    def __init__(self, keys: list[frozenset[str]]) -> None:
        self.keys = keys  # per document: the keys queries look at
        having: defaultdict[str, set[int]] = defaultdict(set)  # key -> the documents with it
        for i, doc_keys in enumerate(keys):
            _each(map(set.add, map(having.__getitem__, doc_keys), repeat(i)))
        self.having = dict(having)
        self.found: list[list[Match]] = [[] for _ in keys]
        self.checks: list[list[_Check]] = [[] for _ in keys]

    def extend(self, docs: Iterable[int], matches: Sequence[Match]) -> None:
        """Append `matches` to each of the documents' lists (the loop runs in C)."""
        _each(map(list.extend, map(self.found.__getitem__, docs), repeat(matches)))


class _Prefixes:
    """The prefixes in use for one field ("" = any), and which words start with them."""

    __slots__ = ("buckets", "field", "hits", "memo", "used")

    def __init__(self, field: str) -> None:
        self.field = field
        self.used: set[str] = set()
        self.buckets: dict[str, tuple[int, ...]] = {}  # first letters -> prefix lengths
        # word -> the keys of its prefixes (`eng*`); () for a word starting with none of them
        self.memo: dict[str, tuple[str, ...]] = {}
        self.hits: set[str] = set()  # the memo's words with some, as a set: intersected in C

    def change(self, prefix: str, used: bool) -> None:
        if used:
            self.used.add(prefix)
        else:
            self.used.discard(prefix)
        lengths: dict[str, set[int]] = {}
        for known in self.used:
            lengths.setdefault(known[:_HEAD], set()).add(len(known))
        self.buckets = {head: tuple(sorted(sizes)) for head, sizes in lengths.items()}
        self.memo.clear()
        self.hits.clear()

    def present(self, words: frozenset[str]) -> set[str]:
        """The prefix keys (`eng*`, `title:eng*`) of the prefixes some of the words start with."""
        memo = self.memo
        new = words.difference(memo)  # in C, as are the intersection and union below
        if new:
            if len(memo) + len(new) > _MEMO_WORDS:
                memo.clear()
                self.hits.clear()
            for word in new:
                hit = self._prefix_keys(word)
                memo[word] = hit
                if hit:
                    self.hits.add(word)
        found = words & self.hits
        return set().union(*map(memo.__getitem__, found)) if found else set()

    def _prefix_keys(self, word: str) -> tuple[str, ...]:
        sizes = self.buckets.get(word[:_HEAD], ())
        used, name = self.used, self.field
        return tuple(
            _key(word[:n] + "*", name) for n in sizes if n <= len(word) and word[:n] in used
        )


class MatchIndex:
    """Subscriptions indexed by their queries' keys; `match` equals the naive loop."""

    def __init__(
        self, items: Iterable[tuple[int, int, Query]] = (), *, stats: TermStats | None = None
    ) -> None:
        self.stats = stats or TermStats()
        self._subs: dict[int, _Group] = {}
        self._groups: dict[Node, _Group] = {}
        self._root = _Node()
        self._universe: Counter[str] = Counter()  # keys on trie paths or excluded
        self._prefixes: dict[str, _Prefixes] = {}  # field ("" = any) -> prefixes in use
        self._unanchored: dict[_Group, None] = {}
        self._matchers: dict[Node, tuple[Matcher, int]] = {}  # node -> its closure, users
        for sub_id, chat_id, query in items:
            self.add(sub_id, chat_id, query)

    def __len__(self) -> int:
        return len(self._subs)

    def __contains__(self, sub_id: object) -> bool:
        return sub_id in self._subs

    def __iter__(self) -> Iterator[tuple[int, int, Query]]:
        for sub_id, group in self._subs.items():
            yield sub_id, group.matches[sub_id].chat_id, group.query

    @property
    def distinct_queries(self) -> int:
        """How many different queries the subscriptions hold."""
        return len(self._groups)

    def add(self, sub_id: int, chat_id: int, query: Query) -> None:
        """Index one subscription (replacing any with the same id)."""
        self.remove(sub_id)
        group = self._groups.get(query.root)
        if group is None:
            group = self._groups[query.root] = _Group(query)
            self._file(group)
        group.matches[sub_id] = Match(sub_id, chat_id)
        self._subs[sub_id] = group
        self._changed(group)

    def remove(self, sub_id: int) -> bool:
        """Drop one subscription; False when it was not indexed."""
        group = self._subs.pop(sub_id, None)
        if group is None:
            return False
        del group.matches[sub_id]
        if group.matches:
            self._changed(group)
        else:
            del self._groups[group.query.root]
            self._unfile(group)
        return True

    def keys(self, doc: Document) -> frozenset[str]:
        """The document's keys, with the prefix keys (`eng*`) of the prefixes in use."""
        extra = [
            prefixes.present(doc.fields[name] if name else doc.words)
            for name, prefixes in self._prefixes.items()
        ]
        return doc.keys.union(*extra) if extra else doc.keys

    def match(self, doc: Document) -> list[Match]:
        """The subscriptions whose query matches the document, in no particular order."""
        keys = self.keys(doc)
        found: list[Match] = []
        checks: list[_Check] = []
        for node in self._walk(keys):
            node.collect(keys, found, checks)
        return self._finish(doc, keys, found, checks)

    def match_many(self, docs: Iterable[Document]) -> list[list[Match]]:
        """`match` for each document of a batch, in order; faster than one `match` at a time.

        The trie is walked once for the batch, carrying the set of documents at each node, so
        each node's matches are appended to all its documents while they are in the CPU cache.
        """
        batch = list(docs)
        if len(batch) < _SMALL_BATCH:
            return [self.match(doc) for doc in batch]
        universe = frozenset(self._universe)  # keys no query looks at are left out
        run = _Batch([self.keys(doc) & universe for doc in batch])
        for node, docs_here in self._walk_batch(run.having):
            node.collect_batch(run, docs_here)
        return [
            self._finish(doc, run.keys[i], run.found[i], run.checks[i])
            for i, doc in enumerate(batch)
        ]

    def match_chats(self, doc: Document) -> dict[int, list[int]]:
        """The matching subscriptions grouped by chat: chat_id -> sorted sub_ids."""
        chats: dict[int, list[int]] = {}
        for sub_id, chat_id in self.match(doc):
            chats.setdefault(chat_id, []).append(sub_id)
        for sub_ids in chats.values():
            sub_ids.sort()
        return chats

    # --- the trie walk -----------------------------------------------------------------------

    def _walk(self, keys: frozenset[str]) -> Iterator[_Node]:
        """The nodes whose path is made of `keys`: only the branches the document has."""
        size = len(keys)
        stack = [self._root]
        while stack:
            children = stack.pop().children
            if not children:
                continue
            # iterate the smaller side, in C: a node's few children or the document's keys
            hits = keys.intersection(children) if len(children) < size else children.keys() & keys
            for key in hits:
                node = children[key]
                yield node
                if node.children:
                    stack.append(node)

    def _walk_batch(self, having: dict[str, set[int]]) -> Iterator[tuple[_Node, set[int]]]:
        """`_walk` for a batch: each node reached, with the documents that reach it."""
        stack: list[tuple[_Node, set[int] | None]] = [(self._root, None)]
        while stack:
            parent, here = stack.pop()
            children = parent.children
            if not children:
                continue
            for key in children.keys() & having.keys():  # iterates the smaller, in C
                docs = having[key] if here is None else here & having[key]
                if docs:
                    node = children[key]
                    yield node, docs
                    if node.children:
                        stack.append((node, docs))

    def _finish(
        self, doc: Document, keys: frozenset[str], found: list[Match], checks: list[_Check]
    ) -> list[Match]:
        """Add what the closures decide: the part of matching done per document."""
        for group in _passing(doc, keys, checks):
            found.extend(group.matches.values())
        for group in self._unanchored:
            if group.query.matches(doc):
                found.extend(group.matches.values())
        return found

    # --- filing ------------------------------------------------------------------------------

    def _file(self, group: _Group) -> None:
        """File a new query where documents will reach it (`plan_filings`)."""
        group.filed = tuple(plan_filings(group, self._rarity, self._matcher))
        if not group.filed:
            self._unanchored[group] = None
        for filing in group.filed:
            self._node(filing.path, create=True).file(filing, group)
            for key in filing.excluded:  # so that documents' prefix keys among them are made
                self._use(key, 1)

    def _unfile(self, group: _Group) -> None:
        self._unanchored.pop(group, None)
        for filing in group.filed:
            self._node(filing.path).unfile(filing, group)
            check = filing.check
            if check is not None and check.source is not None:
                self._matcher(check.source, -1)
            for key in filing.excluded:
                self._use(key, -1)
            self._prune(filing.path)

    def _changed(self, group: _Group) -> None:
        """Tell the nodes holding the group's matches as tuples that its members changed."""
        for filing in group.filed:
            if filing.kind != CHECK:
                self._node(filing.path).changed()

    def _matcher(self, node: Node, delta: int) -> Matcher:
        """The closure evaluating `node`, one per distinct node in use; counted in or out."""
        matcher, users = self._matchers.get(node) or (_compile(node), 0)
        if users + delta > 0:
            self._matchers[node] = (matcher, users + delta)
        else:
            del self._matchers[node]
        return matcher

    def _rarity(self, key: str) -> tuple[float, str]:
        return self.stats.share(key), key

    def _node(self, path: Sequence[str], create: bool = False) -> _Node:
        node = self._root
        for key in path:
            child = node.child(key)
            if child is None:
                if not create:
                    raise KeyError(key)
                child = node.add_child(key)
                self._use(key, 1)
            node = child
        return node

    def _prune(self, path: Sequence[str]) -> None:
        nodes = [self._root]
        for key in path:
            child = nodes[-1].child(key)
            if child is None:  # pruned already, by another filing of the same path
                return
            nodes.append(child)
        for depth in range(len(path), 0, -1):
            if not nodes[depth].empty():
                break
            nodes[depth - 1].drop_child(path[depth - 1])
            self._use(path[depth - 1], -1)

    def _use(self, key: str, delta: int) -> None:
        """Count a key in or out of the universe; prefix keys also in or out of the lookup."""
        count = self._universe[key] + delta
        if count > 0:
            self._universe[key] = count
        else:
            del self._universe[key]
        if key.endswith("*") and (count == 1 if delta > 0 else count == 0):
            name, colon, word = key.partition(":")
            name, word = (name, word) if colon else ("", key)
            prefixes = self._prefixes.setdefault(name, _Prefixes(name))
            prefixes.change(word[:-1], delta > 0)
            if not prefixes.used:
                del self._prefixes[name]


# --- planning: where a query is filed (pure) ----------------------------------------------------


def plan_filings(
    group: _Group,
    rarity: Callable[[str], tuple[float, str]],
    matcher: Callable[[Node, int], Matcher],
) -> list[_Filing]:
    """Where to file `group`'s query: its conjunctions, each under its keys rarest first.

    Keys alone decide a query whose conjunctions `_disjoint` can make exclusive; otherwise
    each conjunction is a check (its closure from `matcher`, shared); a query with a conjunction
    that has no key is checked under a cover of its terms; [] when not even that exists.
    Facet terms stay out of the trie (`_facet_filings`): the words are filed as usual and the
    facets checked on the candidates; a query with no word to file under (`remote:eu`) is in
    the always-candidate bucket ([]).
    """
    if has_facets(group.query.root):
        return _facet_filings(group, rarity, matcher)
    conjunctions = _conjunctions(group.query.root)
    if conjunctions is None:
        return _cover_filings(group, rarity)
    disjoint = _disjoint(conjunctions)
    if disjoint is not None:  # no closure, and no query reached twice
        return [
            _Filing(
                VETOABLE if c.excluded else DIRECT, _path(c.required, rarity), _tuple(c.excluded)
            )
            for c in disjoint
        ]
    filings = []
    dedupe = len(conjunctions) > 1
    for c in conjunctions:
        source = _all(c.rest) if c.rest else None
        rest = matcher(source, 1) if source is not None else _always
        check = _Check(group, c.excluded, rest, dedupe, source)
        filings.append(_Filing(CHECK, _path(c.required, rarity), _tuple(c.excluded), check))
    return filings


def _facet_filings(
    group: _Group,
    rarity: Callable[[str], tuple[float, str]],
    matcher: Callable[[Node, int], Matcher],
) -> list[_Filing]:
    """A query with facet terms: an AND's word part is planned as any query, each of its
    conjunctions a check of what it leaves plus the facet children (judged three-valued, so a
    fact not stated passes); any other shape is checked whole under a cover of its words."""
    root = group.query.root
    words = [c for c in root.children if not has_facets(c)] if isinstance(root, And) else []
    conjunctions = _conjunctions(_all(tuple(words))) if words else None
    if conjunctions is None:
        return _cover_filings(group, rarity)
    assert isinstance(root, And)
    facets = tuple(c for c in root.children if has_facets(c))
    dedupe = len(conjunctions) > 1
    filings = []
    for c in conjunctions:
        source = _all(c.rest + facets)
        check = _Check(group, c.excluded, matcher(source, 1), dedupe, source)
        filings.append(_Filing(CHECK, _path(c.required, rarity), _tuple(c.excluded), check))
    return filings


def _cover_filings(group: _Group, rarity: Callable[[str], tuple[float, str]]) -> list[_Filing]:
    cover = _cover(group.query.root)
    if cover is None:  # parse_query refuses these; kept for queries built by hand
        return []
    check = _Check(group, frozenset(), group.query.matches, True)
    return [_Filing(CHECK, (min(options, key=rarity),), check=check) for options in cover]


def _path(keys: frozenset[str], rarity: Callable[[str], tuple[float, str]]) -> tuple[str, ...]:
    """The trie path of a conjunction's keys: rarest first, so few documents go deep."""
    return tuple(sorted(keys, key=rarity))


def _tuple(keys: frozenset[str]) -> tuple[str, ...]:
    """A small key set as stored in the index: a sorted tuple is a quarter of a frozenset."""
    return tuple(sorted(keys))


def naive_match(subs: Iterable[tuple[int, int, Query]], doc: Document) -> list[Match]:
    """The reference: every subscription evaluated against the document, by sub_id."""
    return sorted(Match(s, c) for s, c, q in subs if q.matches(doc))


def _passing(doc: Document, keys: frozenset[str], checks: list[_Check]) -> Iterator[_Group]:
    """The groups whose checks reached by a document with `keys` pass, each group once."""
    passed: set[_Group] = set()  # of the queries filed more than once (an OR)
    known: dict[Matcher, bool] = {}  # a phrase is often the rest of several queries
    for group, excluded, rest, dedupe, _ in checks:
        if (dedupe and group in passed) or (excluded and not excluded.isdisjoint(keys)):
            continue
        ok = known.get(rest)
        if ok is None:
            ok = known[rest] = rest(doc)
        if ok and dedupe:
            passed.add(group)
        elif ok:
            yield group
    yield from passed


def _each(calls: Iterator[object]) -> None:
    """Make the calls of a `map`: a loop in C, for the hot loops over a batch's documents."""
    deque(calls, maxlen=0)


def _always(doc: Document) -> bool:
    return True


def _only(check: _Check | None) -> _Check:
    assert check is not None
    return check


class _Conjunction(NamedTuple):
    required: frozenset[str]  # keys every match has
    excluded: frozenset[str]  # keys no match has
    rest: tuple[Node, ...]  # what else to check (ANDed)


def _conjunctions(root: Node) -> list[_Conjunction] | None:
    """The query as an OR of conjunctions to file; None when one has no key to file under."""
    found = []
    for required, excluded, rest in _expand(root):
        if not required:
            return None
        if required.isdisjoint(excluded):  # else it can never match
            found.append(_Conjunction(required, excluded, rest))
    return list(dict.fromkeys(found)) or None


def _disjoint(conjunctions: list[_Conjunction]) -> list[_Conjunction] | None:
    """The same OR with conjunctions that never match together (`a OR b` → `a`, `b -a`),
    when extra exclusions can say so; None when one needs a closure or that is not possible."""
    found: list[_Conjunction] = []
    for c in conjunctions:
        if c.rest:
            return None
        excluded = set(c.excluded)
        for before in found:
            if not before.excluded.isdisjoint(c.required) or not before.required.isdisjoint(
                excluded
            ):
                continue  # `before` cannot match where `c` does
            need, avoid = before.required - c.required, before.excluded - excluded
            if avoid or len(need) > 1:
                return None
            if not need:  # `c` only matches where `before` does
                break
            excluded.update(need)  # where `c` matches, `before` does iff it has that key
        else:
            found.append(_Conjunction(c.required, frozenset(excluded), ()))
    return found


def _term_keys(term: Term) -> frozenset[str]:
    if term.prefix:
        return frozenset({intern(_key(term.words[0] + "*", term.field))})
    # interned: the index holds each key once, however many paths and exclusions name it
    return frozenset(intern(_key(w, term.field)) for w in term.words)


def _expand(node: Node) -> list[_Conjunction]:
    """Distribute ANDs over ORs (up to MAX_CONJUNCTIONS); what cannot be filed becomes `rest`."""
    if isinstance(node, Term):
        phrase = (node,) if len(node.words) > 1 else ()  # its keys are there; is the order?
        return [_Conjunction(_term_keys(node), frozenset(), phrase)]
    if isinstance(node, Not):
        inner = node.child
        if isinstance(inner, Term) and len(inner.words) == 1:
            return [_Conjunction(frozenset(), _term_keys(inner), ())]
        return [_Conjunction(frozenset(), frozenset(), (node,))]
    if isinstance(node, Or):
        return [c for child in node.children for c in _expand(child)]
    assert isinstance(node, And)  # plan_filings sends facet queries to _cover_filings
    partials = [_Conjunction(frozenset(), frozenset(), ())]
    for child in node.children:
        expanded = _expand(child)
        if len(partials) * len(expanded) > MAX_CONJUNCTIONS:
            expanded = [_Conjunction(frozenset(), frozenset(), (child,))]
        partials = [
            _Conjunction(a.required | b.required, a.excluded | b.excluded, a.rest + b.rest)
            for a in partials
            for b in expanded
        ]
    return partials


def _compile(node: Node) -> Matcher:
    """`compile_node` of the condition, with a phrase alone checked by one `has_phrase` call."""
    if isinstance(node, Term) and len(node.words) > 1 and not node.prefix:
        words, name, has_phrase = node.words, node.field, Document.has_phrase
        return lambda doc: has_phrase(doc, words, name)
    return compile_node(_per_field(node))


def _per_field(node: Node) -> Node:
    """The same condition with each phrase of any field as an OR of the phrase in each field.

    Equivalent (a phrase matches when its words are consecutive in one field), and cheaper:
    `Document.has_phrase` first checks that the field has the words, so most fields are
    skipped without building their word pairs, and no pairs are built for all fields at once.
    """
    if isinstance(node, Facet):
        return node
    if isinstance(node, Term):
        if node.field is not None or node.prefix or len(node.words) < 2:
            return node
        return Or(tuple(Term(node.words, name) for name in FIELDS))
    if isinstance(node, Not):
        return Not(_per_field(node.child))
    return type(node)(tuple(_per_field(child) for child in node.children))


def _all(nodes: tuple[Node, ...]) -> Node:
    return nodes[0] if len(nodes) == 1 else And(nodes)


def _cover(node: Node) -> list[frozenset[str]] | None:
    """Key sets, one per term, such that every match has a key of one of them (None: none)."""
    if isinstance(node, Term):
        return [_term_keys(node)]
    if isinstance(node, Not | Facet):
        return None
    covers = [_cover(child) for child in node.children]
    if isinstance(node, And):
        usable = [c for c in covers if c is not None]
        return min(usable, key=len) if usable else None
    if any(c is None for c in covers):
        return None
    return [keys for c in covers if c is not None for keys in c]
