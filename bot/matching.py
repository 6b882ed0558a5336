"""Match postings against many subscriptions at once, through an index of their queries.

Subscriptions with the same query share one entry. Each query is expanded into conjunctions
(`(a OR b) c -d` → `a c -d`, `b c -d`), and each conjunction is filed in a trie under the
*keys* every match must have, rarest first. Keys are what `Document.keys` holds (`rust`,
`title:rust`) plus, for prefix terms, `rust*` or `title:eng*`, which a document has when one of
its words starts with the prefix (looked up once per word and remembered). A document walks
only the branches whose keys it has, by set intersection. At the end of a path:

- a query that is exactly those keys matches: its subscriptions are appended in one
  `list.extend` of a tuple kept per node;
- one that also excludes keys is appended the same way unless the document has one of them;
  the node keeps those queries grouped by what they exclude, so a document with an excluded
  key gets the slices between the spans that key vetoes (in a batch: once for all such
  documents);
- an OR's conjunctions are first made exclusive, when extra exclusions can say so (`a OR b` →
  `a`, `b -a`), so that no query is reached twice;
- anything else (a phrase's word order, a NOT over a group, an OR too big to expand) is
  checked there with the query's compiled closure, once per document; closures are shared by
  equal conditions and evaluated once per document (a phrase is the rest of many queries), a
  phrase of any field as the phrase in each field that has its words.

`match_many` walks the trie once for a whole batch, carrying the set of documents at each node.
Which key is rarest comes from `TermStats` built from sample documents (say, the stored
postings); without a sample a rough guess is used. That choice only changes the speed: the
results are exactly those of the naive loop over every subscription (`naive_match`).
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import NamedTuple

from bot.query import (
    FIELDS,
    PREFIXES,
    And,
    Document,
    Matcher,
    Node,
    Not,
    Or,
    Query,
    Term,
    compile_node,
)
from bot.query import term_key as _key

# Without statistics: a rough share of postings containing a word, by field.
_GUESS = {"": 0.05, "title": 0.01, "company": 0.002, "location": 0.01, "tag": 0.02}
_PREFIX_GUESS = 4.0  # a prefix stands for several words
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
        self.filed: list[_Filing] = []


class _Check(NamedTuple):
    """A query reached at a trie node, with what is left to check."""

    group: _Group
    excluded: frozenset[str]
    rest: Matcher  # shared by every check of the same node: evaluated once per document
    dedupe: bool  # the query is filed more than once (an OR): count it once
    source: Node | None = None  # what `rest` evaluates (None: the whole query, or nothing)


class _Filing(NamedTuple):
    kind: str  # "direct", "vetoable" (both place subscriptions) or "check"
    path: tuple[str, ...]
    excluded: frozenset[str] = frozenset()
    check: _Check | None = None


class _Node:
    """A trie node: the keys on the path from the root are the keys a document must have."""

    __slots__ = (
        "checks",
        "children",
        "direct",
        "direct_tuple",
        "excluded",
        "spans",
        "veto",
        "veto_keys",
        "vetoable",
        "vetoable_tuple",
    )

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.direct: dict[int, Match] = {}  # queries that are exactly these keys
        self.vetoable: dict[int, Match] = {}  # these keys, and none of some others:
        self.excluded: dict[int, frozenset[str]] = {}  # sub_id -> the keys it excludes
        self.veto: dict[str, set[int]] = {}  # an excluded key -> the sub_ids it vetoes
        self.veto_keys: frozenset[str] = frozenset()
        # the matches as tuples, rebuilt when they change: appended 3x faster than dict values
        self.direct_tuple: tuple[Match, ...] | None = ()
        self.vetoable_tuple: tuple[Match, ...] | None = ()
        self.checks: list[_Check] = []
        # vetoable_tuple holds the matches grouped by what they exclude, one span per group;
        # an excluded key -> the (start, end) spans it vetoes, in order
        self.spans: dict[str, tuple[tuple[int, int], ...]] = {}

    def empty(self) -> bool:
        return not (self.children or self.direct or self.vetoable or self.checks)

    def direct_matches(self) -> tuple[Match, ...]:
        if self.direct_tuple is None:
            self.direct_tuple = _fresh(self.direct.values())
        return self.direct_tuple

    def vetoable_matches(self) -> tuple[Match, ...]:
        if self.vetoable_tuple is None:
            groups: dict[frozenset[str], list[Match]] = {}
            for sub_id, match in self.vetoable.items():
                groups.setdefault(self.excluded[sub_id], []).append(match)
            ordered: list[Match] = []
            spans: dict[str, list[tuple[int, int]]] = {}
            for excluded, matches in groups.items():
                span = (len(ordered), len(ordered) + len(matches))
                for key in excluded:
                    spans.setdefault(key, []).append(span)
                ordered.extend(matches)
            self.vetoable_tuple = _fresh(ordered)
            self.spans = {key: tuple(found) for key, found in spans.items()}
        return self.vetoable_tuple

    def add_unvetoed(self, found: list[Match], present: frozenset[str]) -> None:
        """Append the vetoable matches none of the `present` excluded keys vetoes: the slices
        between the vetoed spans."""
        matches = self.vetoable_matches()
        if len(present) == 1:
            (key,) = present
            vetoed: Iterable[tuple[int, int]] = self.spans[key]
        else:
            vetoed = sorted({span for key in present for span in self.spans[key]})
        start = 0
        for begin, end in vetoed:
            if begin > start:
                found.extend(matches[start:begin])
            start = end
        if start < len(matches):
            found.extend(matches[start:] if start else matches)


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
            buckets, used, name, hits = self.buckets, self.used, self.field, self.hits
            for word in new:
                sizes = buckets.get(word[:_HEAD])
                if sizes is not None:
                    hit = tuple(
                        _key(word[:n] + "*", name)
                        for n in sizes
                        if n <= len(word) and word[:n] in used
                    )
                    if hit:
                        memo[word] = hit
                        hits.add(word)
                        continue
                memo[word] = ()
        found = words & self.hits
        return set().union(*map(memo.__getitem__, found)) if found else set()


class MatchIndex:
    """Subscriptions indexed by their queries' keys; `match` equals the naive loop."""

    def __init__(
        self, items: Iterable[tuple[int, int, Query]] = (), *, stats: TermStats | None = None
    ) -> None:
        self.stats = stats or TermStats()
        self._subs: dict[int, _Group] = {}
        self._groups: dict[Node, _Group] = {}
        self._root = _Node()
        self._universe: Counter[str] = Counter()  # keys on trie paths or vetoing
        self._prefixes: dict[str, _Prefixes] = {}  # field ("" = any) -> prefixes in use
        self._unanchored: dict[_Group, None] = {}
        self._matchers: dict[Node, tuple[Matcher, int]] = {}  # node -> its closure, users
        for sub_id, chat_id, query in items:
            self.add(sub_id, chat_id, query)
        self._seal(self._root)

    def _seal(self, node: _Node) -> None:
        """Build every node's tuples now rather than during the first match."""
        stack = [node]
        while stack:
            node = stack.pop()
            node.direct_matches()
            node.vetoable_matches()
            stack.extend(node.children.values())

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
        match = Match(sub_id, chat_id)
        group.matches[sub_id] = match
        self._subs[sub_id] = group
        for filing in group.filed:
            node = self._node(filing.path)
            if filing.kind == "direct":
                node.direct[sub_id] = match
                node.direct_tuple = None
            elif filing.kind == "vetoable":
                node.vetoable[sub_id] = match
                node.excluded[sub_id] = filing.excluded
                node.vetoable_tuple = None
                for key in filing.excluded:
                    if key not in node.veto:
                        node.veto[key] = set()
                        self._use(key, 1)
                    node.veto[key].add(sub_id)
                node.veto_keys = frozenset(node.veto)

    def remove(self, sub_id: int) -> bool:
        """Drop one subscription; False when it was not indexed."""
        group = self._subs.pop(sub_id, None)
        if group is None:
            return False
        del group.matches[sub_id]
        for filing in group.filed:
            node = self._node(filing.path)
            if filing.kind == "direct":
                del node.direct[sub_id]
                node.direct_tuple = None
            elif filing.kind == "vetoable":
                del node.vetoable[sub_id]
                del node.excluded[sub_id]
                node.vetoable_tuple = None
                for key in filing.excluded:
                    node.veto[key].discard(sub_id)
                    if not node.veto[key]:
                        del node.veto[key]
                        self._use(key, -1)
                node.veto_keys = frozenset(node.veto)
        if not group.matches:
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
        size = len(keys)
        found: list[Match] = []
        checks: list[_Check] = []
        stack = [self._root]
        while stack:
            children = stack.pop().children
            # iterate the smaller side, in C: a node's few children or the document's keys
            hits = keys.intersection(children) if len(children) < size else children.keys() & keys
            for key in hits:
                node = children[key]
                if node.direct:
                    found.extend(node.direct_matches())
                if node.vetoable:
                    if node.veto_keys.isdisjoint(keys):
                        found.extend(node.vetoable_matches())
                    else:
                        node.add_unvetoed(found, node.veto_keys.intersection(keys))
                if node.checks:
                    checks.extend(node.checks)
                if node.children:
                    stack.append(node)
        return self._finish(doc, keys, found, checks)

    def match_many(self, docs: Iterable[Document]) -> list[list[Match]]:
        """`match` for each document of a batch, in order; faster than one `match` at a time.

        The trie is walked once for the batch, carrying the set of documents at each node, so
        each node's matches are appended to all its documents while they are in the CPU cache.
        """
        batch = list(docs)
        if len(batch) < 8:
            return [self.match(doc) for doc in batch]
        # a batch allocates millions of objects, none of them cyclic garbage: without the
        # cyclic GC's passes over them (restored after, if it was on)
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._match_batch(batch)
        finally:
            if collecting:
                gc.enable()

    def _match_batch(self, batch: list[Document]) -> list[list[Match]]:
        # `keys`, less the keys no query looks at (the prefix keys are all looked at)
        universe = frozenset(self._universe)
        prefixes = list(self._prefixes.items())
        all_keys: list[frozenset[str]] = []
        for doc in batch:
            keys = doc.keys & universe
            if prefixes:
                fields = doc.fields
                keys = keys.union(
                    *[p.present(fields[name] if name else doc.words) for name, p in prefixes]
                )
            all_keys.append(keys)
        collect: defaultdict[str, set[int]] = defaultdict(set)  # key -> the documents with it
        for i, keys in enumerate(all_keys):
            _run(map(set.add, map(collect.__getitem__, keys), repeat(i)))
        having = dict(collect)
        found: list[list[Match]] = [[] for _ in batch]
        checks: list[list[_Check]] = [[] for _ in batch]
        extend = list.extend
        stack: list[tuple[_Node, set[int] | None]] = [(self._root, None)]
        while stack:
            parent, here = stack.pop()
            children = parent.children
            for key in children.keys() & having.keys():  # iterates the smaller, in C
                node = children[key]
                docs_here = having[key] if here is None else here & having[key]
                if not docs_here:
                    continue
                if node.direct:
                    _run(
                        map(
                            extend, map(found.__getitem__, docs_here), repeat(node.direct_matches())
                        )
                    )
                if node.vetoable:
                    spoilt: set[int] = set()  # documents with a key some query excludes
                    twice: set[int] = set()  # ... with several such keys
                    by_key: list[tuple[str, set[int]]] = []
                    for excluded in node.veto_keys:
                        if excluded in having:
                            hit = docs_here & having[excluded]
                            if hit:
                                if not spoilt.isdisjoint(hit):
                                    twice |= spoilt & hit
                                spoilt |= hit
                                by_key.append((excluded, hit))
                    clean = docs_here - spoilt if spoilt else docs_here
                    matches = node.vetoable_matches()
                    _run(map(extend, map(found.__getitem__, clean), repeat(matches)))
                    for excluded, hit in by_key:  # the same matches for all these documents
                        if twice:
                            hit -= twice
                        if hit:
                            left: list[Match] = []
                            node.add_unvetoed(left, frozenset((excluded,)))
                            _run(map(extend, map(found.__getitem__, hit), repeat(left)))
                    if twice:  # grouped by the excluded keys they have: often the same
                        several: dict[frozenset[str], list[int]] = {}
                        veto_keys = node.veto_keys
                        for i in twice:
                            several.setdefault(veto_keys.intersection(all_keys[i]), []).append(i)
                        for present, ids in several.items():
                            if len(ids) == 1:
                                node.add_unvetoed(found[ids[0]], present)
                            else:
                                left = []
                                node.add_unvetoed(left, present)
                                _run(map(extend, map(found.__getitem__, ids), repeat(left)))
                if node.checks:
                    _run(map(extend, map(checks.__getitem__, docs_here), repeat(node.checks)))
                if node.children:
                    stack.append((node, docs_here))
        return [self._finish(doc, all_keys[i], found[i], checks[i]) for i, doc in enumerate(batch)]

    def match_chats(self, doc: Document) -> dict[int, list[int]]:
        """The matching subscriptions grouped by chat: chat_id -> sorted sub_ids."""
        chats: dict[int, list[int]] = {}
        for sub_id, chat_id in self.match(doc):
            chats.setdefault(chat_id, []).append(sub_id)
        for sub_ids in chats.values():
            sub_ids.sort()
        return chats

    def _finish(
        self, doc: Document, keys: frozenset[str], found: list[Match], checks: list[_Check]
    ) -> list[Match]:
        """The closures: the part of matching done per document."""
        if checks:
            passed: set[_Group] = set()
            known: dict[Matcher, bool] = {}  # a phrase is often the rest of several queries
            for group, excluded, rest, dedupe, _ in checks:
                if dedupe and group in passed:
                    continue
                if excluded and not excluded.isdisjoint(keys):
                    continue
                ok = known.get(rest)
                if ok is None:
                    ok = known[rest] = rest(doc)
                if ok:
                    if dedupe:
                        passed.add(group)
                    else:
                        found.extend(group.matches.values())
            for group in passed:
                found.extend(group.matches.values())
        for group in self._unanchored:
            if group.query.matches(doc):
                found.extend(group.matches.values())
        return found

    # --- filing ------------------------------------------------------------------------------

    def _file(self, group: _Group) -> None:
        root = group.query.root
        conjunctions = _conjunctions(root)
        if conjunctions is None:
            self._file_by_cover(group)
            return
        disjoint = _disjoint(conjunctions)
        if disjoint is not None:  # no closure, and no query reached twice
            for c in disjoint:
                path = tuple(sorted(c.required, key=self._rarity))
                self._node(path, create=True)
                # the subscriptions themselves are placed by `add`
                kind = "vetoable" if c.excluded else "direct"
                group.filed.append(_Filing(kind, path, c.excluded))
            return
        dedupe = len(conjunctions) > 1
        for c in conjunctions:
            path = tuple(sorted(c.required, key=self._rarity))
            source = _all(c.rest) if c.rest else None
            rest = self._matcher(source, 1) if source is not None else _always
            check = _Check(group, c.excluded, rest, dedupe, source)
            self._node(path, create=True).checks.append(check)
            for key in c.excluded:  # so that prefix keys among them are computed
                self._use(key, 1)
            group.filed.append(_Filing("check", path, c.excluded, check))

    def _file_by_cover(self, group: _Group) -> None:
        cover = _cover(group.query.root)
        if cover is None:  # parse_query refuses these; kept for queries built by hand
            self._unanchored[group] = None
            return
        check = _Check(group, frozenset(), group.query.matches, True)
        for options in cover:
            key = min(options, key=self._rarity)
            self._node((key,), create=True).checks.append(check)
            group.filed.append(_Filing("check", (key,), check=check))

    def _unfile(self, group: _Group) -> None:
        self._unanchored.pop(group, None)
        for filing in group.filed:
            if filing.kind == "check":
                check = _only(filing.check)
                self._node(filing.path).checks.remove(check)
                if check.source is not None:
                    self._matcher(check.source, -1)
                for key in filing.excluded:
                    self._use(key, -1)
            self._prune(filing.path)

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
            child = node.children.get(key)
            if child is None:
                if not create:
                    raise KeyError(key)
                child = node.children[key] = _Node()
                self._use(key, 1)
            node = child
        return node

    def _prune(self, path: Sequence[str]) -> None:
        nodes = [self._root]
        for key in path:
            child = nodes[-1].children.get(key)
            if child is None:  # pruned already, by another filing of the same path
                return
            nodes.append(child)
        for depth in range(len(path), 0, -1):
            if not nodes[depth].empty():
                break
            del nodes[depth - 1].children[path[depth - 1]]
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


def naive_match(subs: Iterable[tuple[int, int, Query]], doc: Document) -> list[Match]:
    """The reference: every subscription evaluated against the document, by sub_id."""
    return sorted(Match(s, c) for s, c, q in subs if q.matches(doc))


def _fresh(matches: Iterable[Match]) -> tuple[Match, ...]:
    """Copies allocated side by side: appending them touches a few cache lines, not many."""
    return tuple(Match(m.sub_id, m.chat_id) for m in matches)


def _run(calls: Iterator[object]) -> None:
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
        return frozenset({_key(term.words[0] + "*", term.field)})
    return frozenset(_key(w, term.field) for w in term.words)


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
    if isinstance(node, Not):
        return None
    covers = [_cover(child) for child in node.children]
    if isinstance(node, And):
        usable = [c for c in covers if c is not None]
        return min(usable, key=len) if usable else None
    if any(c is None for c in covers):
        return None
    return [keys for c in covers if c is not None for keys in c]
