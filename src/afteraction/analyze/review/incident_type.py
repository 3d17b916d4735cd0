"""Infer an incident's type (phishing, identity compromise, ransomware...) from its facts, with reasons.

Each type collects weighted signals from the determination, the alert categories and detection
sources, the ATT&CK techniques and the evidence; the strongest type wins, ties going to the more
specific type (the order of :data:`TYPES`). The same function classifies one incident for its review
and every stored incident for the peer comparison, from :class:`TypeFeatures`.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from afteraction.analyze.review.model import IncidentType
from afteraction.model import Incident

#: Types in tie-break order (most specific first) with their display labels.
TYPES: dict[str, str] = {
    "ransomware": "Ransomware",
    "business_email_compromise": "Business email compromise",
    "phishing": "Phishing",
    "identity_compromise": "Identity compromise",
    "insider_data_loss": "Insider threat or data loss",
    "malware": "Malware",
    "other": "Other",
}

# (type, weight) for each signal; weights: an analyst's determination 4 (human judgement outweighs any
# one technique), decisive technique 3, technique 2, category / source / evidence 1.
_DETERMINATIONS: dict[str, tuple[str, int]] = {
    "phishing": ("phishing", 4),
    "compromisedAccount": ("identity_compromise", 4),
    "malware": ("malware", 4),
    "unwantedSoftware": ("malware", 3),
    "maliciousUserActivity": ("insider_data_loss", 4),
}
_TECHNIQUES: dict[str, tuple[str, int]] = {
    "T1486": ("ransomware", 3),  # Data Encrypted for Impact
    "T1490": ("ransomware", 2),  # Inhibit System Recovery
    "T1489": ("ransomware", 1),  # Service Stop
    "T1114.003": ("business_email_compromise", 3),  # Email Forwarding Rule
    "T1564.008": ("business_email_compromise", 3),  # Email Hiding Rules
    "T1114.002": ("business_email_compromise", 2),  # Remote Email Collection
    "T1534": ("business_email_compromise", 1),  # Internal Spearphishing
    "T1566": ("phishing", 2),
    "T1566.001": ("phishing", 2),
    "T1566.002": ("phishing", 2),
    "T1566.003": ("phishing", 2),
    "T1566.004": ("phishing", 2),
    "T1598": ("phishing", 1),
    "T1078": ("identity_compromise", 2),
    "T1078.004": ("identity_compromise", 2),
    "T1110": ("identity_compromise", 2),
    "T1110.001": ("identity_compromise", 2),
    "T1110.003": ("identity_compromise", 2),
    "T1110.004": ("identity_compromise", 2),
    "T1621": ("identity_compromise", 2),  # MFA Request Generation
    "T1556": ("identity_compromise", 1),
    "T1550.001": ("identity_compromise", 1),
    "T1550.002": ("identity_compromise", 1),
    "T1550.003": ("identity_compromise", 1),
    "T1558.003": ("identity_compromise", 1),
    "T1528": ("identity_compromise", 1),
    "T1567": ("insider_data_loss", 1),
    "T1567.002": ("insider_data_loss", 1),
    "T1052": ("insider_data_loss", 2),
    "T1052.001": ("insider_data_loss", 2),
    "T1204.002": ("malware", 1),
}
_CATEGORIES: dict[str, str] = {
    "ransomware": "ransomware",
    "malware": "malware",
    "initialaccess": "",  # too generic on its own
    "credentialaccess": "",
    "exfiltration": "insider_data_loss",
    "suspiciousactivity": "",
}
_SOURCES: dict[str, str] = {
    "microsoftDefenderForIdentity": "identity_compromise",
    "azureAdIdentityProtection": "identity_compromise",
    "microsoftDefenderForOffice365": "phishing",
    "microsoftDataLossPrevention": "insider_data_loss",
    "dataLossPrevention": "insider_data_loss",
    "microsoftInsiderRiskManagement": "insider_data_loss",
    "antivirus": "malware",
}
_EVIDENCE: dict[str, str] = {
    "analyzedMessage": "phishing",
    "mailCluster": "phishing",
    "mailboxConfiguration": "business_email_compromise",
    "cloudLogonSession": "identity_compromise",
    "malware": "malware",
}


class TypeFeatures(msgspec.Struct, frozen=True, kw_only=True):
    """What the classifier looks at; built from an Incident or from one row of the store."""

    determinations: tuple[str, ...] = ()  # the incident's, then its alerts'
    categories: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # detection and service sources
    evidence_types: tuple[str, ...] = ()
    threat_names: tuple[str, ...] = ()  # threat family / display names


def features_of(incident: Incident) -> TypeFeatures:
    """The classifier's view of one canonical incident."""
    alerts = incident.alerts
    dets = [incident.determination] + [a.determination for a in alerts]
    return TypeFeatures(
        determinations=tuple(str(d) for d in dets if d is not None),
        categories=tuple(c for a in alerts for c in (a.category, *a.categories) if c),
        techniques=tuple(t.id for a in alerts for t in a.techniques),
        sources=tuple(s for a in alerts for s in (a.detection_source, a.service_source) if s),
        evidence_types=tuple(e.type for a in alerts for e in a.evidence),
        threat_names=tuple(n for a in alerts for n in (a.threat_family_name, a.threat_display_name) if n),
    )


def infer_type(features: TypeFeatures) -> IncidentType:
    """The most strongly supported type, the signals behind it, and runners-up."""
    scores: dict[str, int] = dict.fromkeys(TYPES, 0)
    reasons: dict[str, list[str]] = {t: [] for t in TYPES}

    def add(kind: str, weight: int, reason: str) -> None:
        if reason not in reasons[kind]:
            scores[kind] += weight
            reasons[kind].append(reason)

    for det in _unique(features.determinations):
        if det in _DETERMINATIONS:
            kind, weight = _DETERMINATIONS[det]
            add(kind, weight, f"determination is '{det}'")
    for tid in _unique(features.techniques):
        if tid in _TECHNIQUES:
            kind, weight = _TECHNIQUES[tid]
            add(kind, weight, f"technique {tid} observed")
    for cat in _unique(features.categories):
        kind = _CATEGORIES.get(cat.replace(" ", "").lower(), "")
        if kind:
            add(kind, 1, f"alert category '{cat}'")
    for src in _unique(features.sources):
        if src in _SOURCES:
            add(_SOURCES[src], 1, f"alerts from {src}")
    for ev in _unique(features.evidence_types):
        if ev in _EVIDENCE:
            add(_EVIDENCE[ev], 1, f"{ev} evidence")
    # one signal however many ransomware families are named (two names are not twice the evidence)
    ransom = [name for name in _unique(features.threat_names) if "ransom" in name.lower()]
    if ransom:
        add("ransomware", 2, "threat named " + ", ".join(f"'{name}'" for name in ransom))
    # Phishing that led to a compromised account stays phishing only if the mail signals are stronger.
    ranked = sorted((k for k in TYPES if k != "other" and scores[k] >= 2), key=lambda k: -scores[k])
    if not ranked:
        why = ("no determination, technique, source or evidence typical of a known type",)
        return IncidentType(type="other", label=TYPES["other"], reasons=why)
    best = ranked[0]
    # Ransomware is a kind of malware: a decisive ransomware signal refines a generic malware verdict.
    if best == "malware" and scores["ransomware"] >= 3:
        ranked.remove("ransomware")
        ranked.insert(0, "ransomware")
        best = "ransomware"
        reasons[best].append("ransomware is the specific kind of malware seen")
    return IncidentType(type=best, label=TYPES[best], reasons=tuple(reasons[best]),
                        also=tuple(k for k in ranked[1:]))


def _unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


__all__ = ["TYPES", "TypeFeatures", "features_of", "infer_type"]
