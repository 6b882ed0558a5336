"""Which postings are the same job (issue 12): keys for the group index and the pairwise test.

Pure: strings, datetimes and posting-like dataclasses in; keys, booleans and labels out. The
store (later) looks candidates up by `group_key` inside the scrape's transaction and asks
`compare` about each candidate; the alert formatter uses `also_on`, `location_list` and
`repost_label`.

False merges are worse than misses, so every rule leans towards "different":
- the company keys and the title keys must be equal (seniority is kept: "Senior Backend
  Engineer" is not "Backend Engineer"; levels such as "II" are kept);
- two postings that carry ids of the same ATS (two Lever UUIDs) and differ are two postings;
- onsite postings in places that do not agree are different jobs across boards; from one board
  (or both remote) they are one job offered in several cities (`Sameness.OTHER_CITY`), which the
  group holds with its places listed (issue 12: "one job in 30 cities, one alert");
- where both postings have descriptions, their rapidfuzz token-set ratio must reach
  `DESCRIPTION_THRESHOLD`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from rapidfuzz import fuzz

from bot.query import fold

# A closed group that gets a new member within this window is a repost, not a new job (issue 12).
REPOST_WINDOW = timedelta(days=180)
# rapidfuzz token-set ratio (0-100) from which two descriptions count as the same text.
# Measured on the corpus (benchmarks/bench_sameness_threshold.py; remotewlb excerpts of ~1,000
# characters): of 950 same-company pairs with equal title keys, 37 score below 90, and those are
# sibling jobs under a generic title (Raft's two "Senior Software Engineer" texts: 82; Devoteam's
# two "Summer Job Dating" texts: 55); lowering to 80 admits only about a quarter of them. Pairs
# with other titles score anywhere (median 83, 3,435 of 7,708 at 90 or more: the company's
# boilerplate), so descriptions only confirm; the keys decide.
DESCRIPTION_THRESHOLD = 90.0
# Descriptions are compared on their first characters: enough for the text that differs between
# two jobs, and it bounds the cost of one comparison (rapidfuzz is O(n*m) on long strings).
DESCRIPTION_CHARS = 4000


class PostingLike(Protocol):
    """What the pairwise test reads: a `Posting` or a `StoredPosting`."""

    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def company(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def remote(self) -> bool: ...
    @property
    def description(self) -> str: ...
    @property
    def apply_url(self) -> str: ...


class SeenMember(Protocol):
    """What the canonical-member choice reads: a `StoredPosting` (or any url + first_seen)."""

    @property
    def url(self) -> str: ...
    @property
    def first_seen(self) -> datetime: ...


# ---------------------------------------------------------------------------------------------
# Company key

# Legal-form suffixes, folded and without dots, as sequences of words. Longest first so that
# "pty ltd" goes before "ltd". Sources: the forms named in issue 12 plus the common forms of the
# countries in the corpus (ISO 20275 lists them all; these cover what boards show).
_LEGAL_FORMS = sorted(
    (
        tuple(form.split())
        for form in (
            "inc",
            "incorporated",
            "ltd",
            "limited",
            "llc",
            "llp",
            "lp",
            "plc",
            "corp",
            "corporation",
            "co",
            "company",
            "gmbh",
            "gmbh co kg",
            "co kg",
            "kg",
            "ag",
            "se",
            "bv",
            "nv",
            "sa",
            "sas",
            "sarl",
            "srl",
            "spa",
            "sl",
            "ab",
            "as",
            "asa",
            "oy",
            "oyj",
            "aps",
            "pty",
            "pty ltd",
            "pvt ltd",
            "private limited",
            "pte ltd",
            "sp z o o",
            "kk",
            "ltda",
            "sa de cv",
        )
    ),
    key=len,
    reverse=True,
)
_WORD = re.compile(r"[^\W_]+(?:[+#]+)?")


def company_key(name: str) -> str:
    """The company as the group index knows it: `"The Acme Corp., Inc."` → `"acme"`.

    Case and accents folded (`bot.query.fold`), punctuation dropped ("B.V." = "BV"), legal-form
    suffixes (Inc, Ltd, LLC, GmbH, AG, B.V., S.A., SAS, Pty Ltd, Co., Corp, PLC, ...) removed
    from the end, repeatedly ("Acme Holdings Co., Ltd." → "acme holdings"), and a leading "The".
    A name that is only a legal form or "The" keeps its words. Empty in, empty out.
    """
    folded = fold(name).replace("&", " and ").replace("'", "").replace("’", "")
    words = _WORD.findall(folded)
    # "B.V." and "S.A." arrive as single letters: join runs of one-letter words ("s a" → "sa")
    # so that the forms match, but never the whole name ("A B" stays two words).
    joined: list[str] = []
    for word in words:
        if len(word) == 1 and len(words) > 2 and joined and len(joined[-1]) <= 2:
            joined[-1] += word
            continue
        joined.append(word)
    words = joined
    stripped = True
    while stripped and len(words) > 1:
        stripped = False
        for form in _LEGAL_FORMS:
            if len(words) > len(form) and tuple(words[-len(form) :]) == form:
                words = words[: -len(form)]
                stripped = True
                break
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


# ---------------------------------------------------------------------------------------------
# Title key

# Seniority and level spellings, folded, mapped to one word. The word is kept in the key.
_SENIORITY = {
    "sr": "senior",
    "snr": "senior",
    "senior": "senior",
    "jr": "junior",
    "jnr": "junior",
    "junior": "junior",
    "mid": "mid",
    "midlevel": "mid",
    "intermediate": "mid",
    "principal": "principal",
    "prin": "principal",
    "staff": "staff",
    "lead": "lead",
    "head": "head",
    "assoc": "associate",
    "associate": "associate",
    "mgr": "manager",
    "eng": "engineer",
    "engr": "engineer",
    "dev": "developer",
}
# Gender markers German, French and Polish boards append: "(m/w/d)", "(h/f)", "(m/f/x)".
_GENDER = re.compile(
    r"\(\s*(?:[mwfdhxai]\s*[/|,*]\s*)+[mwfdhxai]\s*\)|\b(?:[mwfdhx]/){1,3}[mwfdhx]\b",
    re.IGNORECASE,
)
# A bracketed tail or a dashed/piped tail that names a place, a workplace type or a team. Only
# these are removed: "Backend Engineer - Payments" and "Engineer (Go)" keep their tails.
_PLACE_WORDS = (
    r"remote|hybrid|on-?site|onsite|wfh|worldwide|anywhere|global|emea|apac|latam|amer|americas"
    r"|europe|eu|uk|us|usa|u\.s\.|canada|asia|africa|home[- ]based|only|ok|first|friendly|based"
)
# The last bracketed group of a title; removed when `_is_place` says it names a place or team.
_BRACKET_TAIL = re.compile(r"\s*(?:\(([^()]*)\)|\[([^\[\]]*)\])\s*$")
_DASH_TAIL = re.compile(r"\s+(?:[-–—|·@]|\bat\b)\s+([^-–—|·@]+)$", re.IGNORECASE)
_TEAM_TAIL = re.compile(r"\b(?:team|squad|tribe|department)$", re.IGNORECASE)


def _is_place(text: str, places: Iterable[str]) -> bool:
    """True when `text` (a title's tail) is a place or workplace word, or one of `places`."""
    folded = fold(text).strip(" .,")
    if not folded:
        return False
    if re.fullmatch(rf"(?:(?:{_PLACE_WORDS})(?:[\s,/&+:-]+|$))+", folded):
        return True
    if _TEAM_TAIL.search(folded):
        return True
    parts = {part for place in places for parts in _places(place)[1] for part in parts}
    tail_parts = {_PLACE_ALIASES.get(part.strip(), part.strip()) for part in folded.split(",")}
    tail_parts.discard("")
    return bool(tail_parts) and tail_parts <= parts


def title_key(title: str, location: str = "") -> str:
    """The job title as the group index knows it: `"Sr. Backend Engineer (Remote)"` →
    `"senior backend engineer"`.

    Case, accents and punctuation folded (words as `bot.query.tokenize` sees them would split
    "C++"; here `+` and `#` stay on their word). Seniority spellings unified but kept
    ("Sr."/"Snr" → "senior", "Jr." → "junior"), so "Senior Backend" ≠ "Backend"; levels and
    roman numerals ("II", "L5") kept. Removed: gender markers ("(m/w/d)"), and tails that name a
    place, a workplace type or a team: "(Remote)", "[EMEA]", "- Berlin", "| Platform team", and
    any dashed tail equal to a part of `location` (the posting's own location).
    """
    text = _GENDER.sub(" ", title).strip()
    places = [location] if location else []
    for _ in range(4):  # a title may stack tails: "Engineer - Berlin (Remote)"
        before = text
        bracket = _BRACKET_TAIL.search(text)
        if bracket and _is_place(bracket.group(1) or bracket.group(2) or "", places):
            text = text[: bracket.start()].strip()
        found = _DASH_TAIL.search(text)
        if found and _is_place(found.group(1), places):
            text = text[: found.start()].strip()
        if text == before or not text:
            break
    if not text:
        text = title
    words = [_SENIORITY.get(word, word) for word in _WORD.findall(fold(text))]
    return " ".join(words)


def group_key(posting: PostingLike) -> str:
    """The index key of a posting's group: `company_key` + `"\\n"` + `title_key`.

    Empty when either key is empty: such a posting is grouped only through a shared ATS id
    (an empty company would put every "Software Engineer" without a company in one bucket,
    and `compare` never merges on an empty company key anyway).
    """
    company = company_key(posting.company)
    title = title_key(posting.title, posting.location)
    if not company or not title:
        return ""
    return f"{company}\n{title}"


# ---------------------------------------------------------------------------------------------
# ATS ids

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Each pattern finds the id a posting carries on one ATS, wherever the URL puts it (an
# aggregator's link may wrap the ATS URL in a query parameter, percent-encoded). Sources:
# ../shared/fixtures/FORMATS.md and the fixtures named there.
_ATS_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # jobs.lever.co/<site>/<uuid>, jobs.eu.lever.co, api.lever.co/v0/postings/<site>/<uuid>
    ("lever", re.compile(rf"lever\.co/(?:v0/postings/)?[\w.-]+/({_UUID})", re.IGNORECASE)),
    # boards / job-boards.greenhouse.io/<token>/jobs/<id>, the API, and `gh_jid=<id>` on a
    # company's own careers page (Greenhouse's embed).
    (
        "greenhouse",
        re.compile(r"greenhouse\.io/(?:v1/boards/)?[\w.-]+/jobs/(\d+)", re.IGNORECASE),
    ),
    ("greenhouse", re.compile(r"[?&]gh_jid=(\d+)", re.IGNORECASE)),
    # jobs.ashbyhq.com/<board>/<uuid>
    ("ashby", re.compile(rf"ashbyhq\.com/[^/?#]+/({_UUID})", re.IGNORECASE)),
    # apply.workable.com/<account>/j/<SHORTCODE> and apply.workable.com/j/<SHORTCODE>
    ("workable", re.compile(r"workable\.com/(?:[\w.-]+/)?j/([0-9A-F]{10})\b", re.IGNORECASE)),
    # jobs.smartrecruiters.com/<Company>/<id>-<slug>, api.../postings/<id>
    (
        "smartrecruiters",
        re.compile(r"smartrecruiters\.com/(?:[\w.-]+/)*?(\d{12,})(?:-|/|$|\?)", re.IGNORECASE),
    ),
    # <company>.breezy.hr/p/<12 hex>-<slug>
    ("breezy", re.compile(r"breezy\.hr/p/([0-9a-f]{12})\b", re.IGNORECASE)),
)
# Ids unique only within a tenant: the tenant (the host's first label) is part of the id.
_TENANT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # <tenant>.wd5.myworkdayjobs.com/<site>/job/<place>/<slug>_R-1234 (or _JR2020442)
    (
        "workday",
        re.compile(r"([\w-]+)\.wd\d+\.myworkdayjobs\.com/.*?_((?:J?R)-?\d+)\b", re.IGNORECASE),
    ),
    ("personio", re.compile(r"([\w-]+)\.jobs\.personio\.(?:de|com)/job/(\d+)", re.IGNORECASE)),
    ("bamboohr", re.compile(r"([\w-]+)\.bamboohr\.com/careers/(\d+)", re.IGNORECASE)),
    ("teamtailor", re.compile(r"([\w-]+)\.teamtailor\.com/jobs/(\d+)", re.IGNORECASE)),
    ("recruitee", re.compile(r"([\w-]+)\.recruitee\.com/o/([\w-]+)", re.IGNORECASE)),
)


def ats_ids(url: str) -> set[str]:
    """The ATS ids a URL carries, as `"<ats>:<id>"` strings: `{"lever:9de54dd6-…"}`.

    Finds Lever and Ashby UUIDs, Greenhouse job ids (board URL or `gh_jid=`), Workable
    shortcodes, SmartRecruiters and Breezy ids, and tenant-scoped ids
    (`"workday:nvidia:JR2020442"`, Personio, BambooHR, Teamtailor, Recruitee) anywhere in the
    URL, also percent-encoded inside an aggregator's link. Ids are lower-cased except Workday
    requisition numbers, which are upper-cased. Two postings sharing one id are the same job.
    """
    texts = {url}
    decoded = url
    for _ in range(2):  # a wrapped link may be encoded twice
        decoded = unquote(decoded)
        texts.add(decoded)
    found: set[str] = set()
    for text in texts:
        for ats, pattern in _ATS_PATTERNS:
            for match in pattern.finditer(text):
                found.add(f"{ats}:{match.group(1).lower()}")
        for ats, pattern in _TENANT_PATTERNS:
            for match in pattern.finditer(text):
                ident = match.group(2).upper() if ats == "workday" else match.group(2).lower()
                if ats == "workday" and "-" not in ident:
                    ident = ident.replace("R", "R-", 1) if ident.startswith("R") else ident
                found.add(f"{ats}:{match.group(1).lower()}:{ident}")
    return found


def posting_ats_ids(posting: PostingLike) -> set[str]:
    """`ats_ids` of the posting's URL and apply URL: the keys of the store's ATS-id index."""
    ids = ats_ids(posting.url)
    if posting.apply_url:
        ids |= ats_ids(posting.apply_url)
    return ids


# ---------------------------------------------------------------------------------------------
# Locations

# One location field may list several places ("Berlin; Munich", "Berlin / Munich").
_PLACE_SPLIT = re.compile(r"\s*(?:;|\||/| or | · |\n)\s*")
_REMOTE_WORDS = frozenset(
    {"remote", "anywhere", "worldwide", "work from home", "wfh", "fully remote", "remote first"}
)
_WORKPLACE_WORDS = frozenset({"hybrid", "onsite", "on site", "on-site", "in office", "office"})
# Spellings of one place, folded. Kept short: a miss only costs a duplicate alert.
_PLACE_ALIASES = {
    "usa": "united states",
    "us": "united states",
    "u.s.": "united states",
    "u.s.a.": "united states",
    "united states of america": "united states",
    "uk": "united kingdom",
    "u.k.": "united kingdom",
    "great britain": "united kingdom",
    "nyc": "new york",
    "new york city": "new york",
    "munchen": "munich",
    "wien": "vienna",
    "koln": "cologne",
    "sf": "san francisco",
}


def _places(location: str) -> tuple[bool, list[frozenset[str]]]:
    """`(remote, places)`: each place a set of folded parts ("Berlin, Germany" → {berlin,
    germany}); workplace words dropped, "remote" and its synonyms noted."""
    remote = False
    places: list[frozenset[str]] = []
    for segment in _PLACE_SPLIT.split(fold(location)):
        parts: set[str] = set()
        for raw in re.split(r"\s*,\s*|\s+-\s+|\s+–\s+|\(|\)", segment):
            part = raw.strip(" .()[]")
            if not part:
                continue
            if part in _REMOTE_WORDS or part.startswith("remote "):
                remote = True
                rest = part.removeprefix("remote").strip(" -–:")
                if rest and rest not in _REMOTE_WORDS:
                    parts.add(_PLACE_ALIASES.get(rest, rest))
                continue
            if part in _WORKPLACE_WORDS:
                continue
            parts.add(_PLACE_ALIASES.get(part, part))
        if parts:
            places.append(frozenset(parts))
    return remote, places


def locations_compatible(a: str, b: str, *, remote_a: bool = False, remote_b: bool = False) -> bool:
    """True when two location fields can describe one job.

    Compatible: either field names no place; both remote (the field says "Remote"/"Anywhere"/…
    or the posting's `remote` flag is set); or one place of `a` and one of `b` agree, meaning
    the parts of one are contained in the other's ("Berlin" ~ "Berlin, Germany", "Germany" ~
    "Berlin, Germany", but "Berlin, Germany" ≁ "Munich, Germany"). Folded, with a few aliases
    ("USA" = "United States", "München" = "Munich").
    """
    remote_in_a, places_a = _places(a)
    remote_in_b, places_b = _places(b)
    if (remote_a or remote_in_a) and (remote_b or remote_in_b):
        return True
    return _places_agree(places_a, places_b)


def _places_agree(places_a: Sequence[frozenset[str]], places_b: Sequence[frozenset[str]]) -> bool:
    """True when either names no place or one place of each agrees (one's parts ⊆ the other's)."""
    if not places_a or not places_b:
        return True
    return any(pa <= pb or pb <= pa for pa in places_a for pb in places_b)


def descriptions_similar(a: str, b: str) -> bool:
    """True when two descriptions are the same text (rapidfuzz `token_set_ratio` ≥
    `DESCRIPTION_THRESHOLD` on their first `DESCRIPTION_CHARS` characters, case-folded).

    Only meaningful when both are non-empty; `compare` does not call it otherwise.
    """
    score = fuzz.token_set_ratio(
        fold(a[:DESCRIPTION_CHARS]),
        fold(b[:DESCRIPTION_CHARS]),
        score_cutoff=DESCRIPTION_THRESHOLD,
    )
    return score >= DESCRIPTION_THRESHOLD


# ---------------------------------------------------------------------------------------------
# The pairwise test


class Sameness(enum.Enum):
    """How two postings relate; the group holds SAME_JOB and OTHER_CITY members alike."""

    DIFFERENT = "different"
    # One job under two URLs (two boards, a re-listing, or one ATS id shared).
    SAME_JOB = "same job"
    # One job that one board lists once per city: grouped, and the alert lists the places.
    OTHER_CITY = "other city"


def host(url: str) -> str:
    """The URL's host, lower case, without a leading `www.` (`""` when there is none)."""
    name = (urlsplit(url.strip()).hostname or "").lower()
    return name.removeprefix("www.")


def compare(a: PostingLike, b: PostingLike) -> Sameness:
    """Whether `a` and `b` are one job, one job in another city, or different jobs.

    1. A shared ATS id → SAME_JOB; two different ids of one ATS are two postings on one board:
       OTHER_CITY when keys and descriptions agree and the places do not, else DIFFERENT.
    2. Company keys equal and non-empty, and title keys equal and non-empty; else DIFFERENT.
    3. Where both have descriptions, `descriptions_similar` must hold; else DIFFERENT.
    4. Places that agree (or one field without a place) → SAME_JOB; both remote but naming
       other places, or the same board (host) listing it once per city → OTHER_CITY;
       otherwise (onsite elsewhere, on another board) DIFFERENT.
    """
    ids_a = posting_ats_ids(a)
    ids_b = posting_ats_ids(b)
    if ids_a & ids_b:
        return Sameness.SAME_JOB
    ats_a = {ident.split(":", 1)[0] for ident in ids_a}
    ats_b = {ident.split(":", 1)[0] for ident in ids_b}
    if ats_a & ats_b:
        # Distinct ids on one ATS: distinct postings, which only a per-city listing joins.
        return _city_copy(a, b)
    company = company_key(a.company)
    if not company or company != company_key(b.company):
        return Sameness.DIFFERENT
    title = title_key(a.title, a.location)
    if not title or title != title_key(b.title, b.location):
        return Sameness.DIFFERENT
    if a.description and b.description and not descriptions_similar(a.description, b.description):
        return Sameness.DIFFERENT
    if _places_agree(_places(a.location)[1], _places(b.location)[1]):
        return Sameness.SAME_JOB
    if locations_compatible(a.location, b.location, remote_a=a.remote, remote_b=b.remote):
        # Both remote, but naming other places: the per-city copies of a remote job.
        return Sameness.OTHER_CITY
    if host(a.url) == host(b.url):
        # One board listing one title once per city (issue 12: "30 locations, one alert").
        return Sameness.OTHER_CITY
    return Sameness.DIFFERENT


def _city_copy(a: PostingLike, b: PostingLike) -> Sameness:
    """Two distinct postings of one ATS: one job listed once per city, or different jobs."""
    if (
        company_key(a.company) == company_key(b.company) != ""
        and title_key(a.title, a.location) == title_key(b.title, b.location) != ""
        and not (
            a.description
            and b.description
            and not descriptions_similar(a.description, b.description)
        )
        and not _places_agree(_places(a.location)[1], _places(b.location)[1])
    ):
        return Sameness.OTHER_CITY
    return Sameness.DIFFERENT


def same_job(a: PostingLike, b: PostingLike) -> bool:
    """True when `a` and `b` are one job under two URLs (`compare(a, b) is SAME_JOB`)."""
    return compare(a, b) is Sameness.SAME_JOB


def same_group(a: PostingLike, b: PostingLike) -> bool:
    """True when `b` joins `a`'s group: the same job, or the same job in another city."""
    return compare(a, b) is not Sameness.DIFFERENT


# ---------------------------------------------------------------------------------------------
# Presentation and the canonical member

# Hosts of applicant-tracking systems: a company's own board. Suffix match on the host.
ATS_HOSTS = (
    "lever.co",
    "greenhouse.io",
    "ashbyhq.com",
    "workable.com",
    "smartrecruiters.com",
    "myworkdayjobs.com",
    "recruitee.com",
    "jobs.personio.de",
    "jobs.personio.com",
    "teamtailor.com",
    "bamboohr.com",
    "breezy.hr",
    "jobvite.com",
    "icims.com",
    "zohorecruit.com",
    "zohorecruit.eu",
    "recruiterbox.com",
    "trakstar.com",
    "hrmos.co",
    "join.com",
)
# Hosts of boards that re-list other companies' postings.
AGGREGATOR_HOSTS = (
    "remotewlb.com",
    "remoteok.com",
    "remoteok.io",
    "weworkremotely.com",
    "nodesk.co",
    "remotive.com",
    "himalayas.app",
    "indeed.com",
    "linkedin.com",
    "glassdoor.com",
    "github.com",
    "mynavi.jp",
    "wellfound.com",
    "builtin.com",
)


def _host_matches(name: str, suffixes: Sequence[str]) -> bool:
    return any(name == suffix or name.endswith("." + suffix) for suffix in suffixes)


def host_kind(url: str) -> str:
    """`"ats"` (an ATS host, or a URL carrying an ATS id such as `gh_jid`), `"aggregator"`
    (a board re-listing others' jobs) or `"other"` (most likely a company's own site)."""
    name = host(url)
    if _host_matches(name, ATS_HOSTS):
        return "ats"
    if _host_matches(name, AGGREGATOR_HOSTS):
        return "aggregator"
    if ats_ids(url):
        return "ats"
    return "other"


_HOST_RANK = {"ats": 0, "other": 1, "aggregator": 2}
M = TypeVar("M", bound=SeenMember)


def canonical_member(members: Sequence[M]) -> M:
    """The member a group is shown as: the company's own board (an ATS, then any non-aggregator
    host) over an aggregator, then the earliest `first_seen`, then the URL (stable).

    Raises ValueError on an empty sequence.
    """
    if not members:
        raise ValueError("a group has at least one member")
    return min(members, key=lambda m: (_HOST_RANK[host_kind(m.url)], m.first_seen, m.url))


ALSO_ON_HOSTS = 5


def also_on(hosts: Iterable[str]) -> str:
    """`"also on: remotewlb.com, jobs.lever.co"` for the other members' hosts (or URLs).

    Hosts are de-duplicated in order, `www.` dropped, at most `ALSO_ON_HOSTS` named and the rest
    counted (`"… +3"`). Empty string when there is none. Not escaped: the caller escapes it
    with the rest of the message.
    """
    names = list(
        dict.fromkeys(host(h) if "/" in h else h.lower().removeprefix("www.") for h in hosts)
    )
    names = [name for name in names if name]
    if not names:
        return ""
    shown = ", ".join(names[:ALSO_ON_HOSTS])
    rest = len(names) - ALSO_ON_HOSTS
    return f"also on: {shown}" + (f" +{rest}" if rest > 0 else "")


def location_list(locations: Iterable[str], shown: int = 2) -> str:
    """`"Berlin, Munich +28"`: the first `shown` distinct locations and how many more.

    Distinct after folding (`"Berlin"` and `"berlin"` are one); empty strings skipped; the
    first spelling kept. Empty string when there is none.
    """
    seen: dict[str, str] = {}
    for location in locations:
        text = location.strip()
        if text and fold(text) not in seen:
            seen[fold(text)] = text
    names = list(seen.values())
    if not names:
        return ""
    head = ", ".join(names[:shown])
    rest = len(names) - shown
    return f"{head} +{rest}" if rest > 0 else head


def ordinal(n: int) -> str:
    """`1st`, `2nd`, `3rd`, `4th`, `11th`, `12th`, `13th`, `21st`, `112th`."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def repost_label(first_seen: datetime, now: datetime, times: int) -> str:
    """`"reposted · first seen 94 days ago · 3rd time"`.

    `first_seen` and `now` are aware datetimes (or both naive); whole days, floored; `times`
    counts postings of the job including this one (2 for the first repost). Raises ValueError
    when `times` < 2 or `now` is before `first_seen`.
    """
    if times < 2:
        raise ValueError(f"a repost is at least the 2nd time, got times={times}")
    if now < first_seen:
        raise ValueError("now is before first_seen")
    days = (now - first_seen).days
    ago = "today" if days == 0 else ("1 day ago" if days == 1 else f"{days} days ago")
    return f"reposted · first seen {ago} · {ordinal(times)} time"


def is_repost(closed_at: datetime | None, now: datetime) -> bool:
    """True when a group closed at `closed_at` and seen again at `now` counts as a repost
    (closed, and within `REPOST_WINDOW`, 180 days); an open group's new member is not one."""
    return closed_at is not None and timedelta(0) <= now - closed_at <= REPOST_WINDOW
