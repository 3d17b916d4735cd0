"""Find ATT&CK software names and aliases in free text (alert titles, threat family names...).

Matching rule (documented in ``docs/attack-data.md``):

* whole words, case-insensitive: a term matches only when not preceded or followed by a letter or digit
  (``Mimikatz`` matches in ``"mimikatz.exe ran"`` but not in ``"mimikatzer"``); whitespace inside a
  multi-word term matches any run of whitespace, ``-`` or ``_`` (``Cobalt-Strike`` finds Cobalt Strike);
* a term is skipped when it is shorter than 4 characters (``at``, ``net``, ``cmd``, ``Tor``, ``reg``...), or
  when it is a common English/IT word in :data:`GENERIC_TERMS` (``page``, ``play``, ``expand``, ``route``...);
* the longest term wins at a position; overlapping matches are not reported; a term shared by several
  software entries returns all of them.

The pattern is one compiled regex built from a prefix trie of all terms, built once per knowledge base.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

MIN_TERM_LENGTH = 4

GENERIC_TERMS = frozenset({
    "agenda", "anchor", "apostle", "aurora", "avenger", "calendar", "cannon", "canopy", "carbon", "chaos",
    "crimson", "denis", "disco", "donut", "elise", "embargo", "epic", "expand", "flame", "griffon", "james",
    "kevin", "lucifer", "mango", "medusa", "meteor", "milan", "mosquito", "ninja", "octopus", "page",
    "pandora", "photo", "ping", "play", "pony", "prestige", "proton", "raindrop", "reaver", "reptile",
    "route", "rover", "royal", "ruler", "samurai", "scorpion", "shark", "snake", "solar", "soldier",
    "spark", "trinity", "viper", "wiper", "zlib"
})


class SoftwareMatch(msgspec.Struct, frozen=True):
    """One mention of software in text: the matched text, its span, and the software ids it names."""

    text: str
    start: int
    end: int
    term: str
    software: tuple[str, ...]


def _norm(term: str) -> str:
    return " ".join(term.lower().replace("-", " ").replace("_", " ").split())


def usable(term: str) -> bool:
    """Whether ``term`` takes part in text matching (see the module rule)."""
    norm = _norm(term)
    return len(norm) >= MIN_TERM_LENGTH and norm not in GENERIC_TERMS


def _trie_regex(terms: Iterable[str]) -> str:
    trie: dict[str, dict] = {}
    for term in terms:
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        end = "" in node
        branches = [_atom(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else f"{body}?"
        return body

    return emit(trie)


def _atom(ch: str) -> str:
    return r"[\s_\-]+" if ch == " " else re.escape(ch)


class SoftwareMatcher:
    """Compiled matcher over ``(term, software id)`` pairs (names and aliases)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        merged: dict[str, dict[str, None]] = {}
        for term, sid in pairs:
            if usable(term):
                merged.setdefault(_norm(term), {})[sid] = None
        self.terms = {t: tuple(sorted(ids)) for t, ids in merged.items()}
        body = _trie_regex(self.terms) if self.terms else "(?!)"
        self.pattern = re.compile(rf"(?<![^\W_])(?:{body})(?![^\W_])", re.IGNORECASE)

    def find(self, text: str) -> list[SoftwareMatch]:
        """All non-overlapping software mentions in ``text``, in order."""
        out: list[SoftwareMatch] = []
        for m in self.pattern.finditer(text):
            key = _norm(m.group(0))
            ids = self.terms.get(key)
            if ids:
                out.append(SoftwareMatch(m.group(0), m.start(), m.end(), key, ids))
        return out
