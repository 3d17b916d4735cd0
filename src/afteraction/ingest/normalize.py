"""Normalisation shared by every reader: enums, product names, timestamps, ids, techniques, comments.

Enum values are matched case-insensitively against the canonical camelCase members of
:mod:`afteraction.model`, after applying the documented aliases (legacy PascalCase APIs, MDE
spellings). Values that are still unknown (including ``unknownFutureValue``) become ``OTHER`` and the
raw text is kept in the record's ``unmapped`` dict under the canonical field name.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from afteraction.model import (
    AlertStatus,
    Classification,
    Comment,
    Determination,
    IncidentStatus,
    RemediationStatus,
    Severity,
    TechniqueRef,
    Verdict,
)


class FieldError(Exception):
    """A field of one record is unusable; ``pointer`` is the JSON pointer relative to the record."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(reason)
        self.pointer = pointer
        self.reason = reason

    def under(self, prefix: str) -> FieldError:
        """Prefix the pointer (used while unwinding nested lists) and return self."""
        self.pointer = prefix + self.pointer
        return self


E = TypeVar("E", bound=StrEnum)


class EnumMap(Generic[E]):
    """Case-insensitive raw text -> canonical member, with aliases and an ``OTHER`` fallback."""

    __slots__ = ("_fallback", "_field", "table")

    def __init__(self, enum: type[E], field: str, aliases: dict[str, E] | None = None) -> None:
        self._field = field
        self._fallback: E = enum("other")
        table: dict[str, E] = {}
        for member in enum:
            table[member.value] = member
            table[member.value.lower()] = member
        for alias, member in (aliases or {}).items():
            table[alias] = member
            table[alias.lower()] = member
        table.pop("unknownfuturevalue", None)
        self.table = table  # raw text -> member; a hit needs no call (hot paths look here first)

    def __call__(self, raw: str | None, unmapped: dict[str, str]) -> E | None:
        """Map ``raw``; ``None`` stays ``None``; unknown text -> OTHER and ``unmapped[field] = raw``."""
        if raw is None:
            return None
        member = self.table.get(raw)
        if member is None:
            member = self.table.get(raw.strip().lower())
            if member is None:
                unmapped[self._field] = raw
                return self._fallback

        return member


SEVERITY = EnumMap(Severity, "severity", {"unspecified": Severity.UNKNOWN})
INCIDENT_STATUS = EnumMap(IncidentStatus, "status", {"new": IncidentStatus.ACTIVE})
ALERT_STATUS = EnumMap(AlertStatus, "status", {"active": AlertStatus.NEW})
CLASSIFICATION = EnumMap(
    Classification,
    "classification",
    {"benignPositive": Classification.INFORMATIONAL_EXPECTED_ACTIVITY},
)
DETERMINATION = EnumMap(
    Determination,
    "determination",
    {
        "compromisedUser": Determination.COMPROMISED_ACCOUNT,
        "clean": Determination.NOT_MALICIOUS,
        "insufficientData": Determination.NOT_ENOUGH_DATA_TO_VALIDATE,
        "confirmedUserActivity": Determination.CONFIRMED_ACTIVITY,
        "notAvailable": Determination.UNKNOWN,
    },
)
VERDICT = EnumMap(Verdict, "verdict", {"clean": Verdict.NO_THREATS_FOUND})
REMEDIATION = EnumMap(RemediationStatus, "remediation_status")

_SERVICE_SOURCES = [
    "unknown",
    "microsoftDefenderForEndpoint",
    "microsoftDefenderForIdentity",
    "microsoftDefenderForCloudApps",
    "microsoftDefenderForOffice365",
    "microsoft365Defender",
    "azureAdIdentityProtection",
    "microsoftAppGovernance",
    "dataLossPrevention",
    "unknownFutureValue",
    "microsoftDefenderForCloud",
    "microsoftSentinel",
    "microsoftInsiderRiskManagement",
    "microsoftThreatIntelligence",
    "microsoftSecurityForAI",
]
_DETECTION_SOURCES = [
    "unknown",
    "microsoftDefenderForEndpoint",
    "antivirus",
    "smartScreen",
    "customTi",
    "microsoftDefenderForOffice365",
    "automatedInvestigation",
    "microsoftThreatExperts",
    "customDetection",
    "microsoftDefenderForIdentity",
    "cloudAppSecurity",
    "microsoft365Defender",
    "azureAdIdentityProtection",
    "manual",
    "microsoftDataLossPrevention",
    "appGovernancePolicy",
    "appGovernanceDetection",
    "unknownFutureValue",
    "microsoftDefenderForCloud",
    "microsoftDefenderForIoT",
    "microsoftDefenderForServers",
    "microsoftDefenderForStorage",
    "microsoftDefenderForDNS",
    "microsoftDefenderForDatabases",
    "microsoftDefenderForContainers",
    "microsoftDefenderForNetwork",
    "microsoftDefenderForAppService",
    "microsoftDefenderForKeyVault",
    "microsoftDefenderForResourceManager",
    "microsoftDefenderForApiManagement",
    "microsoftDefenderForAIServices",
    "nrtAlerts",
    "scheduledAlerts",
    "microsoftDefenderThreatIntelligenceAnalytics",
    "builtInMl",
    "microsoftInsiderRiskManagement",
    "microsoftThreatIntelligence",
    "securityCopilot",
    "microsoftSentinel",
]
_LEGACY_COMMON = {
    "microsoftdefenderatp": "microsoftDefenderForEndpoint",
    "windowsdefenderatp": "microsoftDefenderForEndpoint",
    "officeatp": "microsoftDefenderForOffice365",
    "azureatp": "microsoftDefenderForIdentity",
    "azureadidentityprotection": "azureAdIdentityProtection",
    "aad": "azureAdIdentityProtection",
    "mtp": "microsoft365Defender",
    "appgovernance": "microsoftAppGovernance",
}
_LEGACY_SERVICE = {
    **_LEGACY_COMMON,
    "microsoftcloudappsecurity": "microsoftDefenderForCloudApps",
    "mcas": "microsoftDefenderForCloudApps",
    "automatedinvestigation": "microsoft365Defender",
}
_LEGACY_DETECTION = {
    **_LEGACY_COMMON,
    "windowsdefenderav": "antivirus",
    "windowsdefendersmartscreen": "smartScreen",
    "customerti": "customTi",
    "mcas": "cloudAppSecurity",
    "microsoftcloudappsecurity": "cloudAppSecurity",
    "threatexperts": "microsoftThreatExperts",
    "automatedinvestigation": "automatedInvestigation",
    "customdetection": "customDetection",
}


def _source_table(canonical: list[str], legacy: dict[str, str]) -> dict[str, str]:
    table = {name.lower(): name for name in canonical}
    table.update(legacy)
    return table


_SERVICE_TABLE = _source_table(_SERVICE_SOURCES, _LEGACY_SERVICE)
_DETECTION_TABLE = _source_table(_DETECTION_SOURCES, _LEGACY_DETECTION)


def lower_camel(text: str) -> str:
    """``MicrosoftSentinel`` -> ``microsoftSentinel`` (first character lower-cased)."""
    text = text.strip()
    return text[:1].lower() + text[1:]


def service_source(raw: str | None) -> str | None:
    """Canonical Graph ``serviceSource`` name; legacy names mapped; unknown names lower-camel-cased."""
    if raw is None:
        return None
    return _SERVICE_TABLE.get(raw.lower()) or lower_camel(raw)


def detection_source(raw: str | None) -> str | None:
    """Canonical Graph ``detectionSource`` name; legacy names mapped; unknown names lower-camel-cased."""
    if raw is None:
        return None
    return _DETECTION_TABLE.get(raw.lower()) or lower_camel(raw)


def timestamp(raw: str | None, pointer: str) -> datetime | None:
    """Parse ISO-8601 (0-7 fractional digits, ``Z`` or offset) to an aware UTC datetime.

    Digits beyond microseconds are truncated; a timestamp without offset is taken as UTC; ``None`` or
    ``""`` gives ``None``. Anything else raises :class:`FieldError` at ``pointer``.
    """
    if not raw:
        return None
    value = _TIMES.get(raw)
    if value is not None:
        return value
    try:
        value = datetime.fromisoformat(raw)
        tz = value.tzinfo
        if tz is None:
            value = value.replace(tzinfo=UTC)
        elif tz is not UTC:
            value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise FieldError(pointer, f"invalid timestamp {raw[:80]!r}") from None
    if len(_TIMES) >= _TIMES_MAX:
        _TIMES.clear()
    _TIMES[raw] = value
    return value


# Recently parsed timestamps: one record repeats the same text often (an alert's created / updated /
# resolved times, its evidence's createdDateTime). Datetimes are immutable, so sharing them is safe.
_TIMES: dict[str, datetime] = {}
_TIMES_MAX = 1024


def record_id(raw: str | int | None, pointer: str = "/id") -> str:
    """A required record id as text; missing or empty raises :class:`FieldError`."""
    if raw is None or raw == "":
        raise FieldError(pointer, "missing or empty id")
    return raw if isinstance(raw, str) else str(raw)


def optional_id(raw: str | int | None) -> str | None:
    """An optional id (e.g. ``incidentId``, which legacy APIs send as a number) as text."""
    if raw is None or raw == "":
        return None
    return raw if isinstance(raw, str) else str(raw)


def technique_id(raw: str) -> str:
    """Normalised technique id: stripped, upper-case, ``/`` -> ``.`` (``t1059/001`` -> ``T1059.001``)."""
    return raw.strip().upper().replace("/", ".")


def techniques(raws: Iterable[str] | None) -> tuple[TechniqueRef, ...]:
    """``mitreTechniques`` -> unresolved :class:`TechniqueRef` records, nothing dropped."""
    if not raws:
        return ()
    out = []
    for r in raws:
        ref = _TECHNIQUES.get(r)
        if ref is None:
            ref = TechniqueRef(raw=r, id=technique_id(r))
            if len(_TECHNIQUES) >= _TECHNIQUES_MAX:
                _TECHNIQUES.clear()
            _TECHNIQUES[r] = ref
        out.append(ref)
    return tuple(out)


# Technique texts repeat across alerts; the refs are frozen, so one instance per text is shared.
_TECHNIQUES: dict[str, TechniqueRef] = {}
_TECHNIQUES_MAX = 4096


def comments(wire: list | None) -> tuple[Comment, ...]:
    """Both comment shapes (``createdByDisplayName``/``createdDateTime`` and ``createdBy``/``createdTime``)."""
    if not wire:
        return ()
    out = []
    for i, c in enumerate(wire):
        created = c.created_date_time or c.created_time
        try:
            when = timestamp(created, "/createdDateTime" if c.created_date_time else "/createdTime")
        except FieldError as exc:
            raise exc.under(f"/comments/{i}") from None
        out.append(
            Comment(text=c.comment or "", author=c.created_by_display_name or c.created_by, created=when)
        )
    return tuple(out)


def strings(raw: list[str] | None) -> tuple[str, ...]:
    """A list of strings (or null) as a tuple."""
    return tuple(raw) if raw else ()
