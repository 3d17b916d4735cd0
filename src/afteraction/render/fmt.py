"""Formatting shared by the HTML and Markdown renderers: durations, dates, labels, severity order, URLs.

Nothing here escapes for a target format; these helpers only make values readable and decide which URLs
may become links. Strings that came from alerts stay hostile after passing through them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from afteraction.render.terminal import UNSAFE_CHARS

#: Severity order, most severe first; anything else sorts after these.
SEVERITY_ORDER = ("high", "medium", "low", "informational", "unknown", "other")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITY_ORDER)}

_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_LABELS = {
    "inProgress": "In progress",
    "awaitingAction": "Awaiting action",
    "truePositive": "True positive",
    "falsePositive": "False positive",
    "informationalExpectedActivity": "Expected activity",
    "apt": "APT",
    "notMalicious": "Not malicious",
    "notEnoughDataToValidate": "Not enough data",
    "lineOfBusinessApplication": "Line-of-business app",
    "multiStagedAttack": "Multi-staged attack",
    "defender": "Microsoft Defender XDR",
    "microsoftGraph": "Microsoft Graph",
    "microsoftDefenderForEndpoint": "Defender for Endpoint",
    "microsoftDefenderForIdentity": "Defender for Identity",
    "microsoftDefenderForOffice365": "Defender for Office 365",
    "microsoftDefenderForCloudApps": "Defender for Cloud Apps",
    "microsoftDefenderForCloud": "Defender for Cloud",
    "microsoft365Defender": "Microsoft 365 Defender",
    "microsoftDefenderXdr": "Defender XDR",
    "azureAdIdentityProtection": "Entra ID Protection",
    "microsoftSentinel": "Microsoft Sentinel",
    "customDetection": "Custom detection",
    "customTi": "Custom threat intelligence",
    "automatedInvestigation": "Automated investigation",
}


def severity_rank(severity: str | None) -> int:
    """Sort key for severities: high < medium < low < informational < unknown < other < anything else."""
    return _SEVERITY_RANK.get((severity or "unknown").lower(), len(SEVERITY_ORDER))


def severity_class(severity: str | None) -> str:
    """A CSS class suffix from a fixed set, whatever the input (it never carries input text)."""
    value = (severity or "unknown").lower()
    return value if value in _SEVERITY_RANK else "other"


def clean(text: object, *, keep_newlines: bool = True) -> str:
    """``text`` with control and bidi characters shown as visible ``\\uXXXX`` escapes."""
    value = "" if text is None else str(text)

    def sub(match: re.Match[str]) -> str:
        char = match.group()
        if char == "\n":
            return "\n" if keep_newlines else " "
        if char == "\r":
            return "" if keep_newlines else " "
        return f"\\u{ord(char):04x}"

    return _UNSAFE.sub(sub, value)


def truncate(text: object, limit: int) -> str:
    """``text`` on one line, cut to at most ``limit`` characters with an ellipsis."""
    value = " ".join(clean(text, keep_newlines=False).split())
    if limit <= 1:
        return "…" if value else ""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def label(value: str | None) -> str:
    """A readable label for an enum-like value: ``inProgress`` -> ``In progress``."""
    if not value:
        return "—"
    if value in _LABELS:
        return _LABELS[value]
    words = _CAMEL.sub(" ", value).replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower() if words else "—"


def utc(value: datetime) -> datetime:
    """``value`` in UTC; naive datetimes are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(value: datetime | None) -> str:
    """A timestamp as ``2026-03-04 14:02 UTC`` (``—`` when unknown)."""
    return "—" if value is None else utc(value).strftime("%Y-%m-%d %H:%M UTC")


def when_precise(value: datetime | None) -> str:
    """A timestamp with seconds: ``2026-03-04 14:02:07``."""
    return "—" if value is None else utc(value).strftime("%Y-%m-%d %H:%M:%S")


def clock(value: datetime | None) -> str:
    """The UTC time of day as ``14:02 UTC`` (empty when unknown)."""
    return "" if value is None else utc(value).strftime("%H:%M UTC")


def iso_date(value: datetime | None) -> str:
    """The UTC calendar day as ``2026-03-04`` (empty when unknown), for filters."""
    return "" if value is None else utc(value).strftime("%Y-%m-%d")


def epoch(value: datetime | None) -> str:
    """Seconds since the epoch as text (empty when unknown), for client-side sorting."""
    return "" if value is None else str(int(utc(value).timestamp()))


_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(seconds: float | None) -> str:
    """A duration in the two largest human units: ``45 s``, ``12 min``, ``2 h 14 min``, ``3 d 4 h``."""
    if seconds is None:
        return "—"
    sign = "\u2212" if seconds < 0 else ""
    rest = round(abs(seconds))
    if rest < 60:
        return f"{sign}{rest} s"
    parts: list[str] = []
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count and len(parts) < 2:
            parts.append(f"{count} {unit}")
        elif parts:
            break
    return sign + " ".join(parts)


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline`` when both are known and the baseline is positive."""
    if value is None or baseline is None or baseline <= 0:
        return None
    return value / baseline


def count(value: float | None) -> str:
    """A count with thousands separators; medians keep one decimal when they have one."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def http_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host; no control characters, tabs or outer spaces.

    Inner spaces are allowed (renderers percent-encode or attribute-escape them).
    """
    if not url or _UNSAFE.search(url) or "\t" in url or url != url.strip():
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def relative_href(href: str | None) -> str | None:
    """``href`` when it is a relative path (site page) or an http(s) URL; None otherwise."""
    if not href:
        return None
    if http_url(href):
        return href
    if _UNSAFE.search(href) or any(ch.isspace() or ch == "\\" for ch in href) or href.startswith("/"):
        return None
    try:
        parts = urlsplit(href)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or ":" in parts.path.split("/", 1)[0]:
        return None
    return href


def bytecode_cache() -> Any:
    """A Jinja2 bytecode cache under the cache directory, so templates compile once per version, or None.

    Jinja keys each entry by template name and source checksum, so an edited template recompiles.
    """
    from jinja2 import FileSystemBytecodeCache

    from afteraction.attack.cache import cache_dir

    directory = cache_dir().parent / "templates"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(directory))
