"""A small ATT&CK STIX 2.0 / 2.1 bundle builder shared by the test folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

SHARED_BUNDLE = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "attack"
    / ("enterprise-attack-18.1.json.gz")
)

TACTICS = [  # (stix suffix, id, shortname, name); matrix order puts TA0011 before TA0010
    ("exec", "TA0002", "execution", "Execution"),
    ("c2", "TA0011", "command-and-control", "Command and Control"),
    ("exfil", "TA0010", "exfiltration", "Exfiltration"),
]


def _ref(kind: str, ext: str) -> list[dict[str, str]]:
    path = ext.replace(".", "/")
    return [
        {"source_name": "other", "external_id": "X-1"},
        {"source_name": "mitre-attack", "external_id": ext, "url": f"https://attack.mitre.org/{kind}/{path}"},
    ]


class BundleBuilder:
    """Composes a small ATT&CK STIX 2.0 or 2.1 bundle."""

    def __init__(self, spec: str = "2.1") -> None:
        self.spec = spec
        self.objects: list[dict[str, Any]] = []
        self.n = 0

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.spec == "2.1":
            obj["spec_version"] = "2.1"
        self.objects.append(obj)
        return obj

    def rel(self, rtype: str, src: str, dst: str, description: str = "", **extra: Any) -> None:
        self.n += 1
        self.add(
            {
                "type": "relationship",
                "id": f"relationship--{self.n:04d}",
                "relationship_type": rtype,
                "source_ref": src,
                "target_ref": dst,
                "description": description,
                **extra,
            }
        )

    def technique(self, tid: str, name: str, tactics: list[str], **extra: Any) -> str:
        sid = f"attack-pattern--{tid.lower().replace('.', '-')}"
        self.add(
            {
                "type": "attack-pattern",
                "id": sid,
                "name": name,
                "description": f"Adversaries may use {name}.(Citation: T) More [{name}](https://x) text.",
                "external_references": _ref("techniques", tid),
                "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": t} for t in tactics],
                "x_mitre_platforms": ["Windows"],
                "x_mitre_is_subtechnique": "." in tid,
                **extra,
            }
        )
        return sid

    def bundle(self) -> dict[str, Any]:
        return {
            "type": "bundle",
            "id": "bundle--test-0001",
            "objects": self.objects,
            **({"spec_version": "2.0"} if self.spec == "2.0" else {}),
        }


def build_bundle(spec: str = "2.1", collection: str | None = "17.0") -> dict[str, Any]:
    """The standard fixture bundle (see the README of this test folder in the test docstrings)."""
    b = BundleBuilder(spec)
    b.add({"type": "identity", "id": "identity--mitre", "name": "The MITRE Corporation"})
    for suffix, tid, short, name in TACTICS:
        b.add(
            {
                "type": "x-mitre-tactic",
                "id": f"x-mitre-tactic--{suffix}",
                "name": name,
                "x_mitre_shortname": short,
                "external_references": _ref("tactics", tid),
            }
        )
    b.add(
        {
            "type": "x-mitre-matrix",
            "id": "x-mitre-matrix--ent",
            "name": "Enterprise ATT&CK",
            "x_mitre_version": "1.0",
            "tactic_refs": [f"x-mitre-tactic--{t[0]}" for t in TACTICS],
        }
    )
    if spec == "2.1" and collection:
        b.add(
            {
                "type": "x-mitre-collection",
                "id": "x-mitre-collection--ent",
                "name": "Enterprise ATT&CK",
                "x_mitre_version": collection,
            }
        )
    t1059 = b.technique("T1059", "Command and Scripting Interpreter", ["execution"])
    ps = b.technique("T1059.001", "PowerShell", ["execution"])
    b.rel("subtechnique-of", ps, t1059)
    t1071 = b.technique("T1071", "Application Layer Protocol", ["exfiltration", "command-and-control"])
    t1041 = b.technique("T1041", "Exfiltration Over C2 Channel", ["exfiltration"])
    old1 = b.technique("T1100", "Old One", ["execution"], revoked=True)
    old2 = b.technique("T1200", "Old Two", ["execution"], revoked=True)
    b.rel("revoked-by", old1, old2)
    b.rel("revoked-by", old2, ps)
    dep = b.technique("T1064", "Scripting", ["execution"], x_mitre_deprecated=True)
    # groups, campaign, software
    g1 = b.add(
        {
            "type": "intrusion-set",
            "id": "intrusion-set--g1",
            "name": "Fancy Test",
            "aliases": ["Fancy Test", "FT-Group"],
            "external_references": _ref("groups", "G0001"),
        }
    )["id"]
    g2 = b.add(
        {
            "type": "intrusion-set",
            "id": "intrusion-set--g2",
            "name": "Old Group",
            "revoked": True,
            "external_references": _ref("groups", "G0002"),
        }
    )["id"]
    b.rel("revoked-by", g2, g1)
    c1 = b.add(
        {
            "type": "campaign",
            "id": "campaign--c1",
            "name": "Operation Test",
            "aliases": ["Operation Test"],
            "first_seen": "2024-01-01T00:00:00Z",
            "last_seen": "2024-02-01T00:00:00Z",
            "external_references": _ref("campaigns", "C0001"),
        }
    )["id"]
    b.rel("attributed-to", c1, g1)
    mal = b.add(
        {
            "type": "malware",
            "id": "malware--s1",
            "name": "EvilBeacon",
            "x_mitre_aliases": ["EvilBeacon", "Beacon Evil", "EB"],
            "x_mitre_platforms": ["Windows"],
            "external_references": _ref("software", "S0001"),
        }
    )["id"]
    tool = b.add(
        {
            "type": "tool",
            "id": "tool--s2",
            "name": "Mimikatz",
            "x_mitre_aliases": ["Mimikatz"],
            "external_references": _ref("software", "S0002"),
        }
    )["id"]
    b.add(
        {
            "type": "malware",
            "id": "malware--s3",
            "name": "Sodinokibi",
            "x_mitre_aliases": ["REvil", "Sodin"],
            "external_references": _ref("software", "S0003"),
        }
    )
    b.add(
        {
            "type": "malware",
            "id": "malware--s4",
            "name": "Other Ransom",
            "x_mitre_aliases": ["REvil", "Page"],
            "external_references": _ref("software", "S0004"),
        }
    )
    b.add(
        {
            "type": "malware",
            "id": "malware--s5",
            "name": "Gone",
            "x_mitre_deprecated": True,
            "external_references": _ref("software", "S0005"),
        }
    )
    b.rel("uses", g1, t1059)
    b.rel("uses", g1, old1)  # revoked target: remapped to T1059.001
    b.rel("uses", g1, dep)  # deprecated target: dropped
    b.rel("uses", g1, mal)
    b.rel("uses", c1, t1071)
    b.rel("uses", c1, tool)
    b.rel("uses", mal, t1071)
    b.rel("uses", tool, t1041)
    b.rel("uses", g2, t1041)  # revoked source: dropped
    # mitigations
    m1 = b.add(
        {
            "type": "course-of-action",
            "id": "course-of-action--m1",
            "name": "Execution Prevention",
            "description": "Block execution.",
            "external_references": _ref("mitigations", "M1038"),
        }
    )["id"]
    m2 = b.add(
        {
            "type": "course-of-action",
            "id": "course-of-action--m2",
            "name": "Legacy",
            "x_mitre_deprecated": True,
            "external_references": _ref("mitigations", "M9999"),
        }
    )["id"]
    b.rel(
        "mitigates", m1, ps, "Use application control where appropriate.(Citation: X) Also more detail here."
    )
    b.rel("mitigates", m2, ps, "old advice")
    # v18 detection model
    dc = b.add(
        {
            "type": "x-mitre-data-component",
            "id": "x-mitre-data-component--dc1",
            "name": "Process Creation",
            "x_mitre_log_sources": [{"name": "WinEventLog:Security", "channel": "EventCode=4688"}],
            "external_references": _ref("datacomponents", "DC0032"),
        }
    )["id"]
    an = b.add(
        {
            "type": "x-mitre-analytic",
            "id": "x-mitre-analytic--an1",
            "name": "Analytic 0001",
            "x_mitre_platforms": ["Windows"],
            "external_references": _ref("detectionstrategies", "AN0001"),
            "x_mitre_log_source_references": [
                {"x_mitre_data_component_ref": dc, "name": "WinEventLog:Sysmon", "channel": "EventCode=1"}
            ],
        }
    )["id"]
    det = b.add(
        {
            "type": "x-mitre-detection-strategy",
            "id": "x-mitre-detection-strategy--d1",
            "name": "Detect PowerShell",
            "x_mitre_analytic_refs": [an],
            "external_references": _ref("detectionstrategies", "DET0001"),
        }
    )["id"]
    b.rel("detects", det, ps)
    b.rel("detects", dc, t1059)  # legacy (v10-v17) data component -> technique edge
    return b.bundle()


def write_bundle(path: Path, bundle: dict[str, Any], gz: bool = False) -> Path:
    data = json.dumps(bundle).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
