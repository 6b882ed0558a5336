"""Seniority of a posting, from its title: ordered, so `level >= Seniority.SENIOR` works."""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum


class Seniority(IntEnum):
    """Career level, lowest first (lead = lead/staff/principal; director = director and above)."""

    INTERN = 1
    JUNIOR = 2
    MID = 3
    SENIOR = 4
    LEAD = 5
    MANAGER = 6
    DIRECTOR = 7

    @classmethod
    def parse(cls, word: str) -> Seniority:
        """The level a user names ("senior", "Staff", "jr", "director+"); ValueError if none."""
        folded = word.strip().lower().rstrip("+")
        for member in cls:
            if member.name.lower() == folded:
                return member
        found = seniority_from_title(folded)
        if found is None:
            raise ValueError(f"unknown seniority {word!r}")
        return found


# Title words per level. Levels: Roman I junior, II mid, III senior, IV+ lead; the big-tech ladder
# L3 junior, L4 mid, L5 senior, L6+ lead (levels.fyi's cross-company table).
_PATTERNS: tuple[tuple[Seniority, re.Pattern[str]], ...] = tuple(
    (level, re.compile(pattern, re.IGNORECASE))
    for level, pattern in (
        (
            Seniority.DIRECTOR,
            r"\b(?:director|head of|vp|svp|evp|vice president|chief \w+ officer|c[teitf]o)\b",
        ),
        (Seniority.MANAGER, r"\b(?:manager|managing)\b"),
        (
            Seniority.LEAD,
            r"\b(?:lead|leader|staff|principal|distinguished|fellow|architect|iv|v|l[6-9])\b",
        ),
        (
            Seniority.SENIOR,
            r"\b(?:senior|sr|snr|iii|l5|expert|experienced|semi[- ]?senior|ssr)\b",
        ),
        (Seniority.MID, r"\b(?:mid|mid[- ]level|intermediate|ii|l4|pleno|regular)\b"),
        (
            Seniority.JUNIOR,
            r"\b(?:junior|jr|entry[- ]level|graduate|grad|new grad|i|l3|associate|trainee)\b",
        ),
        (
            Seniority.INTERN,
            r"\b(?:intern|internship|werkstudent\w*|working student|praktikant\w*|stagiaire"
            r"|stage|alternance|apprentice\w*|estagiari[oa]|co-?op)\b",
        ),
    )
)
# "X manager" titles that name a role, not a people manager.
_ROLE_MANAGER = re.compile(
    r"\b(?:product|project|program|programme|account|success|community|marketing|content"
    r"|delivery|release|office|partner|sales|social media|brand|category|case|data)"
    r"\s+manager\b",
    re.IGNORECASE,
)


def seniority_from_title(title: str) -> Seniority | None:
    """The career level a title states ("Sr. Engineer", "Software Engineer III", "Staff", "Head
    of Data", "Graduate Developer"), else None. Words for several levels: an intern or junior
    word wins (a "Senior Intern" is an intern), otherwise the highest."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\b(?:team|tech|technical)\s+lead", "lead", text, flags=re.IGNORECASE)
    manager_text = _ROLE_MANAGER.sub(" ", text)
    found = {
        level
        for level, pattern in _PATTERNS
        if pattern.search(manager_text if level is Seniority.MANAGER else text)
    }
    for low in (Seniority.INTERN, Seniority.JUNIOR):
        if low in found:
            return low
    return max(found) if found else None
