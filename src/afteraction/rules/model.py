"""Typed values of a detection-rule inventory: :class:`Rule`, :class:`RuleError`, :class:`RuleInventory`.

Every string in a rule came from a rule file and is untrusted text: renderers must escape it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

import msgspec

RuleFormat = Literal["sigma", "elastic", "sentinel", "splunk", "inventory"]
RuleStatus = Literal["enabled", "experimental", "deprecated", "disabled", "unknown"]

FORMATS: tuple[RuleFormat, ...] = ("sigma", "elastic", "sentinel", "splunk", "inventory")
STATUSES: tuple[RuleStatus, ...] = ("enabled", "experimental", "deprecated", "disabled", "unknown")

#: Each format's own status words (lower-cased) -> the normalised status. Anything else -> ``unknown``
#: (with a warning on the rule); the raw word is always kept in :attr:`Rule.raw_status`.
STATUS_MAP: dict[RuleFormat, dict[str, RuleStatus]] = {
    "sigma": {
        "stable": "enabled", "test": "experimental", "experimental": "experimental",
        "deprecated": "deprecated", "unsupported": "deprecated",
    },
    "elastic": {"production": "enabled", "development": "experimental", "deprecated": "deprecated"},
    "sentinel": {
        "available": "enabled", "disabled": "disabled", "preview": "experimental", "deprecated": "deprecated",
    },
    "splunk": {
        "production": "enabled", "experimental": "experimental", "validation": "experimental",
        "deprecated": "deprecated", "removed": "deprecated",
    },
    "inventory": {
        "enabled": "enabled", "active": "enabled", "production": "enabled", "stable": "enabled",
        "on": "enabled", "yes": "enabled", "true": "enabled",
        "experimental": "experimental", "test": "experimental", "testing": "experimental",
        "development": "experimental", "preview": "experimental",
        "deprecated": "deprecated", "retired": "deprecated",
        "disabled": "disabled", "off": "disabled", "no": "disabled", "false": "disabled",
    },
}  # fmt: skip


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """One detection rule and the ATT&CK techniques and tactics it maps to.

    ``techniques`` holds current ids: revoked ids are redirected (``redirects`` maps raw -> current),
    ids unknown to the loaded ATT&CK version are kept as they are (and listed in ``unknown_techniques``).
    ``raw_techniques`` are the ids as written in the file. ``index`` is the rule's position in its file
    (YAML document, CSV data row or list item, 0-based) and ``line`` its first line (1-based) when known.
    """

    id: str
    title: str
    format: RuleFormat
    path: str
    status: RuleStatus
    raw_status: str | None = None
    techniques: tuple[str, ...] = ()
    raw_techniques: tuple[str, ...] = ()
    redirects: dict[str, str] = msgspec.field(default_factory=dict)
    unknown_techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    kind: str | None = None
    index: int | None = None
    line: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """The rule is in production use (status ``enabled``)."""
        return self.status == "enabled"


class RuleError(msgspec.Struct, frozen=True, kw_only=True):
    """A rule (or a whole file) that could not be read; the scan goes on with the others."""

    path: str
    reason: str
    index: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.index is not None:
            parts.append(f"rule {self.index}")
        return f"{', '.join(parts)}: {self.reason}"


class SkippedFile(msgspec.Struct, frozen=True):
    """A file or folder that was not read as rules, and why (not an error)."""

    path: str
    reason: str


class RuleInventory(msgspec.Struct, frozen=True, kw_only=True):
    """Everything :func:`afteraction.rules.load_rules` found, in deterministic order."""

    rules: tuple[Rule, ...]
    errors: tuple[RuleError, ...]
    skipped: tuple[SkippedFile, ...]
    attack_version: str
    files_read: int = 0
    deprecated_skipped: int = 0
    by_format: dict[str, int] = msgspec.field(default_factory=dict)
    by_status: dict[str, int] = msgspec.field(default_factory=dict)
    redirected: dict[str, str] = msgspec.field(default_factory=dict)
    unknown_techniques: tuple[str, ...] = ()
    retired_techniques: tuple[str, ...] = ()

    def by_technique(self) -> dict[str, list[Rule]]:
        """Current technique id -> the rules mapped to it (sorted by id; rules in inventory order)."""
        index: dict[str, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            for tech in rule.techniques:
                index[tech].append(rule)
        return dict(sorted(index.items()))
