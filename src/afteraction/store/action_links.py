"""Links and values of tracked action items: typed links validated and normalised, due dates, item ids.

Links are technique (``T1059.001``), mitigation (``M1032``) and tactic (``TA0001``) ids, ``control:<text>``,
``step:<playbook step key>`` and ``entity:<type>:<key>``. With a knowledge base, technique ids are resolved:
a revoked id becomes its replacement, an unknown one is kept with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

import msgspec

from afteraction.attack.kb import normalize_technique_id
from afteraction.errors import UsageError

_TACTIC = re.compile(r"TA\d{4}")
_MITIGATION = re.compile(r"M\d{4}")
_DUE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PREFIXES = ("control:", "step:", "entity:")


class LinkCheck(msgspec.Struct, frozen=True):
    """Links as stored (normalised, revoked ids replaced, deduplicated) and what was noticed on the way."""

    links: tuple[str, ...]
    redirects: dict[str, str] = {}
    warnings: tuple[str, ...] = ()


def check_links(links: Iterable[str], kb: Any = None) -> LinkCheck:
    """Validate and normalise typed links; UsageError naming every one that is not a link.

    With a knowledge base, technique ids are resolved (revoked -> replacement, unknown kept with a
    warning) and mitigation/tactic ids unknown to it are kept with a warning.
    """
    out: dict[str, None] = {}
    redirects: dict[str, str] = {}
    warnings: list[str] = []
    invalid: list[str] = []
    for raw in links:
        text = raw.strip()
        if not text:
            continue
        link = _typed(text)
        if link is None:
            invalid.append(text)
            continue
        if kb is not None:
            link = _resolve(link, text, kb, redirects, warnings)
        out.setdefault(link, None)
    if invalid:
        raise UsageError("not action item links (expected a technique, mitigation or tactic id such as T1059.001, "
                         "M1032, TA0001, or control:TEXT, step:KEY, entity:TYPE:KEY): "
                         + ", ".join(repr(i) for i in invalid))
    return LinkCheck(tuple(out), redirects, tuple(warnings))


def _typed(text: str) -> str | None:
    """``text`` as a normalised typed link, or None when it is none."""
    lower = text.lower()
    for prefix in _PREFIXES:
        if lower.startswith(prefix):
            rest = text[len(prefix):].strip()
            if prefix == "entity:":
                kind, _, key = rest.partition(":")
                return f"entity:{kind.strip()}:{key.strip()}" if kind.strip() and key.strip() else None
            return prefix + rest if rest else None
    upper = text.upper()
    if _TACTIC.fullmatch(upper) or _MITIGATION.fullmatch(upper):
        return upper
    return normalize_technique_id(text)


def _resolve(link: str, raw: str, kb: Any, redirects: dict[str, str], warnings: list[str]) -> str:
    if link.startswith(_PREFIXES):
        return link
    if _TACTIC.fullmatch(link):
        if kb.tactic(link) is None:
            warnings.append(f"tactic {link} is not in ATT&CK {kb.version}; kept as given")
        return link
    if _MITIGATION.fullmatch(link):
        if link not in kb.mitigations:
            warnings.append(f"mitigation {link} is not in ATT&CK {kb.version}; kept as given")
        return link
    res = kb.resolve(link)
    if res.status == "revoked":
        redirects[raw] = res.id
        warnings.append(f"{link} is revoked in ATT&CK {kb.version}; linked as {res.id}")
    elif res.status == "unknown":
        warnings.append(f"{link} is not in ATT&CK {kb.version}; kept as given")
    elif res.status == "deprecated":
        warnings.append(f"{link} is deprecated in ATT&CK {kb.version} (no replacement); kept")
    return str(res.id)


def review_link(text: str) -> str:
    """A link of a review's suggested item as a typed link: ids normalised, ``type:key`` -> ``entity:type:key``.

    Anything else (e.g. a detector id) becomes ``control:<text>``.
    """
    text = text.strip()
    typed = _typed(text)
    if typed is not None and (":" not in text or text.lower().startswith(_PREFIXES)):
        return typed
    if ":" in text:
        kind, _, key = text.partition(":")
        if kind.strip() and key.strip():
            return f"entity:{kind.strip()}:{key.strip()}"
    return f"control:{text}"


def parse_due(value: str | date | None) -> date | None:
    """``YYYY-MM-DD`` as a date (None and ``""`` are no date); UsageError otherwise."""
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        if not _DUE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"due date {value!r} is not a date in the form YYYY-MM-DD (e.g. 2026-12-31)") from None


def parse_item_id(value: str | int) -> int:
    """``12`` or ``#12`` as an item id; UsageError otherwise."""
    text = str(value).strip().removeprefix("#")
    if not text.isdigit() or not text.isascii():
        raise UsageError(f"{str(value)!r} is not an action item id (a number such as 12 or #12)")
    return int(text)


__all__ = ["LinkCheck", "check_links", "parse_due", "parse_item_id", "review_link"]
