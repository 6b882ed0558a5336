"""Remote scope: whether a posting is onsite, hybrid or remote, and where a remote worker may live.

Regions are ISO 3166-1 alpha-2 country codes (through pycountry) and a small fixed set of region
names (`REGIONS`), with the countries each region holds. `open_to(scope, place)` answers "may
someone living in `place` take it".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

import pycountry


class Mode(StrEnum):
    """Where the work happens."""

    ONSITE = "onsite"
    HYBRID = "hybrid"
    REMOTE = "remote"
    UNKNOWN = "unknown"


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# EU member states since 2020 (europa.eu, "EU countries").
EU = _codes("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE")
# Europe: the EU, the EFTA and UK, and the other states of the Council of Europe's area.
EUROPE = EU | _codes(
    "GB IS LI NO CH AD MC SM VA AL BA ME MK RS XK MD UA BY GE AM AZ TR GI FO IM JE GG"
)
MIDDLE_EAST = _codes("AE BH EG IL IQ IR JO KW LB OM PS QA SA SY YE")
AFRICA = _codes(
    "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG "
    "MW ML MR MU MA MZ NA NE NG RW ST SN SC SL SO ZA SS SD TZ TG TN UG ZM ZW"
)
NORTH_AMERICA = _codes("US CA MX")
# Latin America: Mexico, Central and South America, and the Spanish/Portuguese/French Caribbean.
LATAM = _codes("MX GT BZ SV HN NI CR PA CU DO HT PR CO VE EC PE BO CL AR UY PY BR GY SR")
ASIA = _codes(
    "AF BD BT BN KH CN HK IN ID JP KZ KG LA MO MY MV MN MM NP KP KR PK PH SG LK TW TJ TH TL TM "
    "UZ VN"
)
OCEANIA = _codes("AU NZ FJ PG SB VU WS TO KI FM MH PW NR TV")
# Region name -> member countries (WORLD holds every country: checked by name, not membership).
REGIONS: Mapping[str, frozenset[str]] = {
    "EU": EU,
    "EUROPE": EUROPE,
    "EMEA": EUROPE | MIDDLE_EAST | AFRICA,
    "MIDDLE_EAST": MIDDLE_EAST,
    "AFRICA": AFRICA,
    "NORTH_AMERICA": NORTH_AMERICA,
    "LATAM": LATAM,
    "AMERICAS": NORTH_AMERICA | LATAM,
    "ASIA": ASIA,
    "OCEANIA": OCEANIA,
    "APAC": ASIA | OCEANIA,
}
WORLD = "WORLD"
# How an alert names a region; country codes and EU, EMEA, LATAM, APAC show as they are.
_REGION_LABELS: Mapping[str, str] = {
    WORLD: "anywhere",
    "EUROPE": "Europe",
    "MIDDLE_EAST": "Middle East",
    "AFRICA": "Africa",
    "NORTH_AMERICA": "North America",
    "AMERICAS": "Americas",
    "ASIA": "Asia",
    "OCEANIA": "Oceania",
}
# How postings and users write regions and countries pycountry does not know by that name.
_ALIASES = {
    "world": WORLD,
    "worldwide": WORLD,
    "anywhere": WORLD,
    "anywhere in the world": WORLD,
    "global": WORLD,
    "globally": WORLD,
    "international": WORLD,
    "eu": "EU",
    "european union": "EU",
    "europe": "EUROPE",
    "emea": "EMEA",
    "middle east": "MIDDLE_EAST",
    "africa": "AFRICA",
    "north america": "NORTH_AMERICA",
    "na": "NORTH_AMERICA",
    "latam": "LATAM",
    "latin america": "LATAM",
    "south america": "LATAM",
    "americas": "AMERICAS",
    "asia": "ASIA",
    "oceania": "OCEANIA",
    "apac": "APAC",
    "asia pacific": "APAC",
    "us": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states": "US",
    "united state": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "great britain": "GB",
    "deutschland": "DE",
    "osterreich": "AT",
    "schweiz": "CH",
    "espana": "ES",
    "italia": "IT",
    "polska": "PL",
    "nederland": "NL",
    "brasil": "BR",
    "czech republic": "CZ",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "vietnam": "VN",
    "turkey": "TR",
}
# US state abbreviations: "San Francisco, CA" is California, not Canada.
_US_STATES = _codes(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
_FILLER = _codes(
    "remote remotely only based within in from the fully hybrid onsite on-site office home work "
    "wfh position friendly allowed located living residents resident anywhere- candidates"
)
_REMOTE_WORDS = re.compile(
    r"\b(?:remote|remotely|anywhere|work from home|wfh|home[- ]?office|telecommut\w*"
    r"|distributed)\b",
    re.IGNORECASE,
)
_HYBRID_WORDS = re.compile(r"\bhybrid\b", re.IGNORECASE)
# A way of working the text rules out: "no hybrid", "not remote", "non-remote".
_NEGATED_MODE = re.compile(r"\b(?:no|not|non)[- ]+(?:hybrid|remote|on[- ]?site)\b", re.I)
_ONSITE_WORDS = re.compile(r"\b(?:on[- ]?site|in[- ]office|office[- ]based|in person)\b", re.I)
_SPLIT = re.compile(r"[,;/|()·•:+]|\s[-–—]\s|\band\b|\bor\b|&|\s-(?=\w)|(?<=\w)-\s")


@dataclass(frozen=True, slots=True)
class RemoteScope:
    """`mode` and the `regions` (country codes and `REGIONS` names, `WORLD`) a posting names;
    for a remote posting, where its worker may live; empty when not stated."""

    mode: Mode = Mode.UNKNOWN
    regions: frozenset[str] = field(default_factory=frozenset)
    # places the text rules out ("Remote (EU, excluding Germany)" -> {DE})
    excluded: frozenset[str] = field(default_factory=frozenset)

    def label(self) -> str:
        """A short label for an alert line, regions as people write them: "Remote · EU",
        "Remote · anywhere", "Remote · Europe, GB", "Remote · EU, not DE", "Hybrid", "" when
        unknown."""
        if self.mode is Mode.UNKNOWN:
            return ""
        names = [_REGION_LABELS.get(region, region) for region in sorted(self.regions)]
        names += [f"not {_REGION_LABELS.get(place, place)}" for place in sorted(self.excluded)]
        return " · ".join([self.mode.value.capitalize(), *(", ".join(names) for _ in names[:1])])


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).strip()


@cache
def place_of(name: str) -> str | None:
    """The country code or region name a place name stands for ("Germany", "DE", "deu",
    "Deutschland", "EU", "Anywhere in the World", "LATAM"), else None (a city, a state)."""
    folded = " ".join(_fold(name).replace("_", " ").split()).strip(".")
    if not folded:
        return None
    if folded in _ALIASES or folded.replace(".", "") in _ALIASES:  # "U.S." = "us"
        return _ALIASES.get(folded) or _ALIASES[folded.replace(".", "")]
    if len(folded) == 2:
        code = folded.upper()
        return code if pycountry.countries.get(alpha_2=code) is not None else None
    try:
        country = pycountry.countries.lookup(folded)
    except LookupError:
        return None
    return str(country.alpha_2)


# Countries whose postings name a state or province after the city ("Atlanta, Georgia",
# "Toronto, Ontario", "Sydney, New South Wales").
_STATE_COUNTRIES = {"US": "State", "CA": "Province", "AU": "State"}


@cache
def _state_names() -> Mapping[str, str]:
    return {
        _fold(str(state.name)): str(state.country_code)
        for state in pycountry.subdivisions
        if _STATE_COUNTRIES.get(str(state.country_code)) == state.type
    }


def _piece_place(name: str, after_city: bool) -> str | None:
    if len(name) == 2 and after_city and _fold(name) not in _ALIASES:
        # After a city two letters are a state or province ("Austin, TX", "Bombay, MH",
        # "Toronto, ON"): only a US state says the country.
        return "US" if name.upper() in _US_STATES else None
    if after_city and (country := _state_names().get(_fold(name))) is not None:
        return country
    return place_of(name)


# A negation before a place: the posting is NOT open there ("Remote - not available in
# Germany", "Europe (no UK)", "EU, excluding Germany", "Europe ex. UK"). "no" needs a word after
# it: "Oslo, NO" is Norway.
_NEGATION = re.compile(
    r"\b(?:not|excluding|excludes?|excl\.|except(?:\s+for)?|outside(?:\s+of)?|other\s+than)\b"
    r"|\bno\s+(?=\w)|\bex\.",
    re.IGNORECASE,
)
# A negation holds to the end of its bracket, clause or text: "Europe (no UK), US" is open to
# the US.
_CLAUSE_END = re.compile(r"[)\];|\n]")
# ... or to a piece that states anew: "not available in Germany - Remote US only".
_NEW_STATEMENT = re.compile(r"\b(?:remote|hybrid|on[- ]?site|only)\b", re.IGNORECASE)


def _place_in_piece(piece: str, after_city: bool) -> str | None:
    words = re.split(r"[\s\-–]+", piece)
    while words and _fold(words[0]) in _FILLER | {""}:
        words.pop(0)
    while words and _fold(words[-1]) in _FILLER | {""}:
        words.pop()
    name = " ".join(words)
    place = _piece_place(name, after_city)
    if place is None and len(words) > 1:
        # "remote first in US", "Remote friendly in Germany": the last words name it.
        place = _piece_place(words[-1], False) or _piece_place(" ".join(words[-2:]), True)
    return place


def regions_in(text: str) -> frozenset[str]:
    """Every country or region a location text names as open ("Remote,Berlin, Germany" -> {DE};
    "USA, Canada, Mexico - Remote" -> {US, CA, MX}); two capitals after a city are a US state.
    A place after a negation is left out (`places_in`)."""
    return places_in(text)[0]


def places_in(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the places a location text names as open, those it rules out): a place after a
    negation is ruled out, to the end of its bracket or clause ("Remote (EU, excluding
    Germany)" -> ({EU}, {DE}); "Remote - not available in Germany" -> ({}, {DE}))."""
    found: set[str] = set()
    excluded: set[str] = set()
    index = 0
    for clause in _CLAUSE_END.split(text):
        negated = False
        for piece in (p.strip() for p in _SPLIT.split(clause)):
            after_city = index > 0
            index += 1
            if negated:
                if not _NEW_STATEMENT.search(piece):
                    # "excluding Germany, Austria": the places listed after it too
                    if (place := _place_in_piece(piece, after_city)) is not None:
                        excluded.add(place)
                    continue
                negated = False
            if (negation := _NEGATION.search(piece)) is not None:
                piece, rest = piece[: negation.start()], piece[negation.end() :]
                # "no visa sponsorship, US only" excludes nothing after it.
                if (ruled_out := _place_in_piece(rest, after_city)) is not None:
                    excluded.add(ruled_out)
                negated = ruled_out is not None
            if (place := _place_in_piece(piece, after_city)) is not None:
                found.add(place)
    return frozenset(found), frozenset(excluded)


def scope_from_text(location: str, remote: bool = False, title: str = "") -> RemoteScope:
    """The scope a location (and title) text states, `remote` being a board's own remote flag:
    "Remote (EU only)", "USA Only", "Anywhere in the World", "remote,Asia", "Hybrid, Berlin".
    A hybrid or onsite word wins; else a remote word, the flag or a world-wide place
    ("Worldwide") makes it remote."""
    text = _NEGATED_MODE.sub(" ", f"{location} {title}")  # "Remote EU, no hybrid"
    if _HYBRID_WORDS.search(text):
        mode = Mode.HYBRID
    elif remote or _REMOTE_WORDS.search(text):
        mode = Mode.REMOTE
    elif _ONSITE_WORDS.search(text):
        mode = Mode.ONSITE
    elif re.search(r"\bonly\b", location, re.IGNORECASE) and regions_in(location):
        mode = Mode.REMOTE  # remote boards' region label: "USA Only"
    else:
        mode = Mode.UNKNOWN
    regions, excluded = places_in(location)
    if mode is Mode.REMOTE and re.search(r"\banywhere\b", location, re.I) and not regions:
        regions = frozenset({WORLD})
    if mode is Mode.UNKNOWN and WORLD in regions:
        mode = Mode.REMOTE  # "Worldwide", "Global": no office is open to the whole world
    return RemoteScope(mode, regions, excluded)


def scope_from_workplace_type(workplace_type: str | None, location: str = "") -> RemoteScope:
    """Lever `workplaceType` ("onsite", "hybrid", "remote", "unspecified") or Ashby
    `workplaceType` ("OnSite", "Hybrid", "Remote"), with the location text for the regions."""
    word = _fold(workplace_type or "").replace("-", "").replace("_", "")
    mode = {"onsite": Mode.ONSITE, "hybrid": Mode.HYBRID, "remote": Mode.REMOTE}.get(word)
    text_scope = scope_from_text(location, remote=mode is Mode.REMOTE)
    return RemoteScope(mode or text_scope.mode, text_scope.regions, text_scope.excluded)


def _names(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _names(item)
    elif isinstance(value, Mapping):
        name = value.get("name")
        if isinstance(name, str):
            yield name
        elif isinstance(address := value.get("address"), Mapping):
            yield from _names(address.get("addressCountry"))


# The `jobLocationType` a source records (`Posting.extra["job_location_type"]`) for a JobPosting
# that gives a `jobLocation` and no TELECOMMUTE: Google's JobPosting guide calls `jobLocation` "the
# physical location(s) of the business where the employee will report to work", and remote jobs
# say `jobLocationType: TELECOMMUTE`.
JOB_LOCATION_OFFICE = "OFFICE"


def scope_from_schema_org(
    job_location_type: object,
    applicant_location_requirements: object,
    location: str = "",
    title: str = "",
    countries: Iterable[str] = (),
) -> RemoteScope:
    """schema.org JobPosting `jobLocationType` ("TELECOMMUTE" = remote; `JOB_LOCATION_OFFICE`
    when the posting gave a `jobLocation` address instead = onsite, unless the `location` or
    `title` text says remote or hybrid) and `applicantLocationRequirements` (Country /
    AdministrativeArea objects or names; "Anywhere" = the world), per Google's JobPosting guide
    (developers.google.com/search/docs/appearance/structured-data/job-posting). `countries`:
    the `jobLocation` addresses' `addressCountry`, which say an office's country better than
    the location text ("Berlin, DE" reads as a US state)."""
    types = " ".join(_names(job_location_type)).upper()
    if "TELECOMMUTE" not in types:
        scope = scope_from_text(location, title=title)
        stated = frozenset(p for name in countries if (p := place_of(name)) is not None)
        mode = Mode.ONSITE if JOB_LOCATION_OFFICE in types else Mode.UNKNOWN
        return RemoteScope(
            mode if scope.mode is Mode.UNKNOWN else scope.mode,
            stated or scope.regions,
            scope.excluded,
        )
    regions: set[str] = set()
    for name in _names(applicant_location_requirements):
        place = place_of(name)
        if place is not None:
            regions.add(place)
    return RemoteScope(Mode.REMOTE, frozenset(regions) or regions_in(location))


def _members(name: str) -> frozenset[str]:
    return REGIONS.get(name, frozenset({name}))


def open_to(scope: RemoteScope, place: str) -> bool:
    """True when a stated region of `scope` includes `place` (a country code or region name as
    `place_of` gives) and the text does not rule it out (`shut_to`): `DE` is within DE, EU,
    EUROPE, EMEA and WORLD; `EU` within EU, EUROPE, EMEA, WORLD. False when no stated region
    does, or none is stated (see `Facts` for unknown)."""
    if shut_to(scope, place):
        return False
    if place == WORLD:
        return WORLD in scope.regions
    wanted = _members(place)
    return any(region in (WORLD, place) or wanted <= _members(region) for region in scope.regions)


def shut_to(scope: RemoteScope, place: str) -> bool:
    """True when the posting rules `place` out: a place it excludes holds all of it ("EU,
    excluding Germany" is shut to DE, not to EU), or `place` is the world and it excludes any."""
    if place == WORLD:
        return bool(scope.excluded)
    wanted = _members(place)
    return any(wanted <= _members(excluded) for excluded in scope.excluded)
