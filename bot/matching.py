"""Match postings against many subscriptions at once, through an index of their queries.

The idea: a query can only match a document that has all of some set of *keys* (`rust`,
`title:rust`, `eng*`, a facet condition such as `remote:eu`), so each query is filed in a trie
under those keys, rarest first, and a document walks only the branches whose keys it has.
Three parts, top to bottom in this file:

1. **Planning** (`plan_filings`, pure): a query is expanded into conjunctions
   (`(a OR b) c -d` → `a c -d`, `b c -d`); an OR's conjunctions are made exclusive when extra
   exclusions can say so (`a OR b` → `a`, `b -a`), so no query is reached twice. Each becomes a
   `_Filing`: *direct* (exactly those keys), *vetoable* (those keys and none of a few others),
   or *check* (a compiled closure decides what keys cannot: a phrase's word order, a NOT over a
   group, an OR too big to expand; closures are shared by equal conditions and evaluated once
   per document). A facet condition of the query's top-level AND is a key like a word
   (`facet_key`): under three-valued logic each must pass on its own.
2. **The trie** (`_Node`): each node holds the queries filed at its path, and owns a `_View`
   of them: one flat tuple of their subscriptions that a document's result list is extended
   with in one call (grouped by what they exclude, so a document with an excluded key gets the
   slices between the spans it vetoes), its checks and its children. Subscriptions with the
   same query share one `_Group`; keys are interned, key sets stored as small tuples, empty
   containers not allocated: under 1 KB per subscription at 100,000
   (benchmarks/bench_matching.py).
3. **The walk** (`MatchIndex._walk`): a document follows the children named by its keys (set
   intersection in C), in one loop that reads each node's view in one unpacking.

A document's keys are `Document.keys` plus the prefix keys (`rust*`, `title:eng*`) of the
prefixes in use it has a word for (`_Prefixes`, looked up once per word and remembered) and the
keys of the facet conditions in use it passes (each tested once per document). Which key is
rarest comes from `TermStats` built from sample documents (`Subscriptions` uses the stored
postings); without a sample a rough guess is used. That choice only changes the speed: the
results are exactly those of the naive loop over every subscription (`naive_match`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
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
_FACET_SHARE = 0.5  # a facet condition's share of postings, for the order of a path's keys
# An AND of ORs expands into at most this many conjunctions; a bigger OR is checked instead.
MAX_CONJUNCTIONS = 16
_HEAD = 2  # prefixes are bucketed by their first letters; parse_query wants at least 2
_MEMO_WORDS = 200_000  # words remembered per field by the prefix lookup


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


class _View(NamedTuple):
    """What a document reaching a node gets from it, read by the walk in one unpacking.

    The matches decided by keys alone (direct ones, then vetoable ones grouped by what they
    exclude, one span per group): a document with none of the `vetoes` gets the whole tuple in
    one `list.extend`, one with some gets the slices between the spans they veto."""

    matches: tuple[Match, ...]
    vetoes: frozenset[str] | None  # the excluded keys of the vetoable matches; None: none
    spans: dict[str, tuple[tuple[int, int], ...]]  # an excluded key -> the spans it vetoes
    checks: list[_Check] | None  # the queries a closure decides here
    children: dict[str, _Node] | None

    @classmethod
    def build(cls, node: _Node) -> _View:
        groups: dict[tuple[str, ...], list[Match]] = {}
        for group in node.direct or ():
            groups.setdefault((), []).extend(group.matches.values())
        for excluded, group in node.vetoable or ():
            groups.setdefault(excluded, []).extend(group.matches.values())
        ordered: list[Match] = []
        spans: dict[str, list[tuple[int, int]]] = {}
        for excluded, matches in groups.items():
            span = (len(ordered), len(ordered) + len(matches))
            for key in excluded:
                spans.setdefault(key, []).append(span)
            ordered.extend(matches)
        return cls(
            tuple(ordered),
            frozenset(spans) if spans else None,
            {key: tuple(found) for key, found in spans.items()},
            node.checks,
            node.children,
        )

    def extend_unvetoed(
        self, keys: frozenset[str], extend: Callable[[Iterable[Match]], None]
    ) -> None:
        """Extend with the matches that none of the `keys` vetoes: the slices between the
        spans they veto (usually one or two of a node's spans)."""
        assert self.vetoes is not None
        spans, matches, start = self.spans, self.matches, 0
        for begin, end in sorted(
            chain.from_iterable(map(spans.__getitem__, self.vetoes.intersection(keys)))
        ):
            if begin > start:
                extend(matches[start:begin])
            start = max(start, end)
        extend(matches[start:])


class _Node:
    """A trie node: the keys on the path from the root are the keys a document must have.

    The node owns its `_View` (its matches as one flat tuple, appended to a document's list in
    one `list.extend`), built when first read; whatever changes what is filed here or its
    children goes through its methods, which drop it.
    """

    __slots__ = ("_view", "checks", "children", "direct", "vetoable")

    def __init__(self) -> None:
        self.children: dict[str, _Node] | None = None
        self.direct: list[_Group] | None = None  # queries that are exactly these keys
        # ... these keys and none of some others
        self.vetoable: list[tuple[tuple[str, ...], _Group]] | None = None
        self.checks: list[_Check] | None = None  # ... these keys and a closure
        self._view: _View | None = None

    def child(self, key: str) -> _Node | None:
        return self.children.get(key) if self.children else None

    def add_child(self, key: str) -> _Node:
        if self.children is None:
            self.children = {}
            self.changed()
        node = self.children[key] = _Node()
        return node

    def drop_child(self, key: str) -> None:
        assert self.children is not None
        del self.children[key]
        if not self.children:
            self.children = None
            self.changed()

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
        """What is filed here, its subscriptions or its children changed: rebuild the view
        when read."""
        self._view = None

    def view(self) -> _View:
        """What a document reaching this node gets from it (built once per change)."""
        if self._view is None:
            self._view = _View.build(self)
        return self._view


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
        self._facets: dict[str, Matcher] = {}  # facet key in use -> whether a document has it
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
        """The document's keys, with the prefix keys (`eng*`) of the prefixes in use and the
        keys of the facet conditions in use that it passes (each condition tested once)."""
        extra = [
            prefixes.present(doc.fields[name] if name else doc.words)
            for name, prefixes in self._prefixes.items()
        ]
        if self._facets:
            extra.append({key for key, passes in self._facets.items() if passes(doc)})
        return doc.keys.union(*extra) if extra else doc.keys

    def match(self, doc: Document) -> list[Match]:
        """The subscriptions whose query matches the document, in no particular order."""
        keys = self.keys(doc)
        found: list[Match] = []
        checks: list[_Check] = []
        self._walk(keys, found, checks)
        return self._finish(doc, keys, found, checks)

    def match_many(self, docs: Iterable[Document]) -> list[list[Match]]:
        """`match` for each document, in order."""
        return [self.match(doc) for doc in docs]

    def match_chats(self, doc: Document) -> dict[int, list[int]]:
        """The matching subscriptions grouped by chat: chat_id -> sorted sub_ids."""
        chats: dict[int, list[int]] = {}
        for sub_id, chat_id in self.match(doc):
            chats.setdefault(chat_id, []).append(sub_id)
        for sub_ids in chats.values():
            sub_ids.sort()
        return chats

    # --- the trie walk -----------------------------------------------------------------------

    def _walk(self, keys: frozenset[str], found: list[Match], checks: list[_Check]) -> None:
        """Follow the children named by `keys` from the root, adding to `found` and `checks`
        what each node reached decides (a document there has all its path's keys).

        One loop with no call per node but a view's first build: this loop is most of the
        time matching takes, so each node reached is read in one unpacking of its `_View`.
        """
        size = len(keys)
        extend, add_checks = found.extend, checks.extend
        stack = [self._root.children] if self._root.children else []
        while stack:
            children = stack.pop()
            # iterate the smaller side, in C: the node's children or the document's keys
            for key in (
                keys.intersection(children) if len(children) < size else children.keys() & keys
            ):
                node = children[key]
                view = node._view or node.view()
                matches, vetoes, _, node_checks, grandchildren = view
                if vetoes is None or keys.isdisjoint(vetoes):
                    extend(matches)
                else:
                    view.extend_unvetoed(keys, extend)
                if node_checks:
                    add_checks(node_checks)
                if grandchildren:
                    stack.append(grandchildren)

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
        for condition in facet_conditions(group.query.root):  # `_use` drops them when unused
            self._facets.setdefault(facet_key(condition), compile_node(condition))
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
        group.filed = ()  # a check refers back to its group: no cycle is left for the collector

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
        # a facet condition passes for most postings (an unstated fact passes): filed last
        return (_FACET_SHARE if key in self._facets else self.stats.share(key)), key

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
            self._facets.pop(key, None)
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
    A facet condition (`remote:eu`, `-seniority:intern`) is a key of its own (`facet_key`),
    which a document has when the condition passes: it is required like a word.
    """
    words, facets = _facet_split(group.query.root)
    conjunctions = _conjunctions(words, frozenset(map(facet_key, facets)))
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


def facet_conditions(root: Node) -> tuple[Node, ...]:
    """The facet conditions of a query: each child of its top-level AND holding a facet term
    (the query itself when it is not an AND but holds one)."""
    return _facet_split(root)[1]


def facet_key(condition: Node) -> str:
    """The key a document has when the facet condition passes (three-valued: passes unless
    False, so a fact not stated passes). Starts with a space, which no word has; the repr
    tells any two different conditions apart."""
    return intern(" " + repr(condition))


def _facet_split(root: Node) -> tuple[Node | None, tuple[Node, ...]]:
    """(the query without its facet conditions or None, the facet conditions).

    Under Kleene's logic an AND passes unless a child is False: a word child must be True,
    a facet condition not False, each on its own; so each condition is a key of its own."""
    if not has_facets(root):
        return root, ()
    children = root.children if isinstance(root, And) else (root,)
    words = tuple(c for c in children if not has_facets(c))
    return (_all(words) if words else None), tuple(c for c in children if has_facets(c))


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


def _always(doc: Document) -> bool:
    return True


def _only(check: _Check | None) -> _Check:
    assert check is not None
    return check


class _Conjunction(NamedTuple):
    required: frozenset[str]  # keys every match has
    excluded: frozenset[str]  # keys no match has
    rest: tuple[Node, ...]  # what else to check (ANDed)


def _conjunctions(root: Node | None, facets: frozenset[str]) -> list[_Conjunction] | None:
    """The query as an OR of conjunctions to file, each also requiring the `facets` keys; None
    when one has no key to file under."""
    expanded = _expand(root) if root is not None else [_Conjunction(frozenset(), frozenset(), ())]
    found = []
    for required, excluded, rest in expanded:
        required |= facets
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
    assert isinstance(node, And)  # facet conditions are keys (`_facet_split`), never expanded
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
