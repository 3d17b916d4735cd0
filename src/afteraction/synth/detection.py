"""Who detects what: the detection profile, the products per surface, alert titles and noisy detectors.

The detection profile gives each usable technique a probability that a chain step using it raises an
alert. Techniques with probability 0 are planted coverage gaps. Detector ids are UUIDs derived from
stable names (uuid5), so a detector keeps its id across seeds and runs.
"""

from __future__ import annotations

import random
import uuid
from functools import lru_cache
from typing import NamedTuple

from afteraction.synth.catalog import CLOUD_APP, CLOUD_IDENTITY, DLP, ENDPOINT, IDENTITY, MAIL, Catalog

NAMESPACE = uuid.UUID("6f3c1d2e-9a47-5b8c-8e21-4d5a6b7c8d9e")


def stable_id(name: str) -> str:
    """A UUID derived from ``name`` (same name, same id, in every run)."""
    return str(uuid.uuid5(NAMESPACE, name))


class Source(NamedTuple):
    """A product: Graph serviceSource, detectionSource, productName and its alert id prefix."""

    service: str
    detection: str
    product: str
    prefix: str


SOURCES: dict[str, Source] = {
    ENDPOINT: Source("microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint",
                     "Microsoft Defender for Endpoint", "da"),
    "antivirus": Source("microsoftDefenderForEndpoint", "antivirus", "Microsoft Defender for Endpoint", "da"),
    IDENTITY: Source("microsoftDefenderForIdentity", "microsoftDefenderForIdentity",
                     "Microsoft Defender for Identity", "aa"),
    CLOUD_IDENTITY: Source("azureAdIdentityProtection", "azureAdIdentityProtection",
                           "Microsoft Entra ID Protection", "ad"),
    CLOUD_APP: Source("microsoftDefenderForCloudApps", "cloudAppSecurity", "Microsoft Defender for Cloud Apps", "ca"),
    MAIL: Source("microsoftDefenderForOffice365", "microsoftDefenderForOffice365",
                 "Microsoft Defender for Office 365", "fa"),
    DLP: Source("dataLossPrevention", "microsoftDataLossPrevention", "Microsoft Purview Data Loss Prevention", "dl"),
    "custom": Source("microsoft365Defender", "customDetection", "Microsoft Defender XDR", "ed"),
    "sentinel": Source("microsoftSentinel", "scheduledAlerts", "Microsoft Sentinel", "sn"),
}

# Titles in the products' own style for common techniques; others get a generic title per surface.
TITLES: dict[str, str] = {
    "T1566.001": "Email messages containing malicious file removed after delivery",
    "T1566.002": "Email messages containing malicious URL removed after delivery",
    "T1204.001": "A potentially malicious URL click was detected",
    "T1204.002": "Suspicious process launched by a user-opened file",
    "T1204.004": "Suspicious command pasted into the Run dialog",
    "T1059.001": "Suspicious PowerShell command line",
    "T1059.003": "Suspicious command-line activity",
    "T1059.005": "Suspicious macro execution in an Office document",
    "T1047": "Suspicious WMI process creation",
    "T1053.005": "Suspicious scheduled task",
    "T1547.001": "Anomaly detected in ASEP registry",
    "T1055": "Process injection detected",
    "T1218.011": "Suspicious Rundll32 process execution",
    "T1562.001": "Attempt to turn off Microsoft Defender Antivirus protection",
    "T1070.001": "Event log was cleared",
    "T1003.001": "Suspicious access to LSASS service",
    "T1003.006": "Suspected DCSync attack (replication of directory services)",
    "T1558.003": "Suspected Kerberos SPN exposure",
    "T1550.002": "Suspected identity theft (pass-the-hash)",
    "T1550.003": "Suspected identity theft (pass-the-ticket)",
    "T1087.002": "Account enumeration reconnaissance (LDAP)",
    "T1021.001": "Suspicious RDP session",
    "T1021.002": "Remote code execution attempt over SMB",
    "T1570": "Lateral movement using remote file copy",
    "T1486": "Ransomware behavior detected in the file system",
    "T1490": "File backups were deleted",
    "T1078.004": "Unfamiliar sign-in properties",
    "T1110.003": "Password spray",
    "T1110.001": "Suspected brute-force attack",
    "T1621": "Suspicious multifactor authentication request pattern",
    "T1539": "Anomalous token",
    "T1098.005": "Suspicious device registration",
    "T1098.001": "Unusual addition of credentials to an OAuth app",
    "T1556.006": "MFA method added after a risky sign-in",
    "T1564.008": "Suspicious inbox manipulation rule",
    "T1114.003": "Suspicious email forwarding activity",
    "T1114.002": "Unusual mailbox access by a compromised account",
    "T1098.002": "Suspicious mailbox permission delegation",
    "T1534": "Internal phishing email sent by a compromised account",
    "T1657": "Suspicious payment-change request sent from a compromised mailbox",
    "T1530": "Mass download by a single user",
    "T1087.004": "Unusual cloud account discovery",
    "T1567.002": "Sensitive files uploaded to a personal cloud storage site",
    "T1052.001": "Sensitive files copied to a removable USB device",
    "T1048.003": "Sensitive data sent over an unencrypted protocol",
    "T1213.002": "Unusual volume of SharePoint file downloads",
    "T1071.001": "Suspicious connection to a command-and-control server",
    "T1105": "Suspicious file download by a command-line tool",
    "T1133": "Suspicious sign-in through a remote access gateway",
    "T1190": "Possible exploitation of a public-facing application",
}
_GENERIC = {
    ENDPOINT: "Suspicious {name} activity",
    IDENTITY: "Suspected {name} attack",
    CLOUD_IDENTITY: "Risky sign-in: {name}",
    CLOUD_APP: "Unusual {name} activity",
    MAIL: "Suspicious email activity: {name}",
    DLP: "DLP policy match: {name}",
}


def title_for(cat: Catalog, tech: str, surface: str) -> str:
    """The alert title for a technique seen on a surface."""
    found = TITLES.get(tech)
    if found is not None:
        return found
    return _GENERIC[surface].format(name=cat.techniques[tech].full_name)


class NoisySpec(NamedTuple):
    """A planted noisy detector: a custom or scheduled rule that fires mostly on benign activity."""

    key: str
    title: str
    techniques: tuple[str, ...]  # first usable one is used
    surface: str
    source: str  # key into SOURCES
    fp_share: float  # false positives among its alerts; the rest are benign positives
    weight: float  # share of the noise volume
    severity: str
    benign: tuple[str, ...]  # determinations when benign
    incident_type: str  # what its incidents are about, were they real


NOISY: tuple[NoisySpec, ...] = (
    NoisySpec("encoded-powershell-office", "Encoded PowerShell launched by an Office application",
              ("T1059.001", "T1059"), ENDPOINT, "custom", 0.85, 0.35, "medium", ("securityTesting",), "malware"),
    NoisySpec("psexec-remote-command", "PsExec used to run a command on a remote device",
              ("T1569.002", "T1569", "T1021.002"), ENDPOINT, "custom", 0.15, 0.20, "low",
              ("lineOfBusinessApplication", "confirmedActivity"), "other"),
    NoisySpec("failed-sign-ins-one-account", "Multiple failed sign-ins for one account",
              ("T1110.001", "T1110"), CLOUD_IDENTITY, "sentinel", 0.6, 0.30, "medium", ("confirmedActivity",),
              "identity_compromise"),
    NoisySpec("sharepoint-mass-download", "Mass download of files from SharePoint",
              ("T1213.002", "T1213", "T1530"), CLOUD_APP, "custom", 0.35, 0.15, "low",
              ("lineOfBusinessApplication", "confirmedActivity"), "insider_data_loss"),
)


class Noisy(NamedTuple):
    """A noisy detector resolved against the loaded knowledge base."""

    spec: NoisySpec
    detector_id: str
    technique: str | None


def noisy_detectors(cat: Catalog) -> list[Noisy]:
    """The planted noisy detectors with stable ids and a technique from this knowledge base (or none)."""
    return [Noisy(s, stable_id("noisy/" + s.key), cat.first_usable(s.techniques)) for s in NOISY]


@lru_cache(maxsize=8192)
def product_detector(surface: str, tech: str, software: str | None = None) -> str:
    """The stable detector id of a product detection for a technique (and software, for AV detections)."""
    return stable_id(f"product/{surface}/{tech}/{software or ''}")


class Profile(NamedTuple):
    """Detection probability per usable technique, and the never-detected (gap) techniques."""

    probability: dict[str, float]
    undetected: tuple[str, ...]


# (class share, low, high) for the detection probability, by tactic group.
_HARD_TACTICS = frozenset({"discovery", "collection", "defense-evasion"})


def detection_profile(
    rng: random.Random, cat: Catalog, *, well_detected: frozenset[str], frequent: list[str]
) -> Profile:
    """Draw the profile: per technique, never (gap), partly or well detected.

    ``well_detected`` techniques (anchors, planted trends and skill gaps, noisy detectors' techniques)
    get a high probability. A few of the ``frequent`` techniques (most used in chains) are made gaps so
    that gaps are visible in generated incidents, not only in the profile.
    """
    prob: dict[str, float] = {}
    for tid, info in cat.techniques.items():
        hard = any(t in _HARD_TACTICS for t in info.tactics)
        u = rng.random()
        gap_share, partial_share = (0.18, 0.35) if hard else (0.08, 0.25)
        if tid in well_detected:
            p = rng.uniform(0.88, 0.97)
        elif u < gap_share:
            p = 0.0
        elif u < gap_share + partial_share:
            p = rng.uniform(0.25, 0.6)
        else:
            p = rng.uniform(0.75, 0.97)
        prob[tid] = round(p, 3)
    candidates = [t for t in frequent if t not in well_detected]
    for tid in rng.sample(candidates, min(5, len(candidates))):
        prob[tid] = 0.0
    undetected = tuple(t for t, p in prob.items() if p == 0.0)
    return Profile(prob, undetected)
