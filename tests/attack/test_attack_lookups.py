"""KnowledgeBase lookups on the fixture bundle: redirects, tolerance, tactics, software, profiles."""

from __future__ import annotations

import msgspec
import pytest

from afteraction.attack import KnowledgeBase


@pytest.mark.parametrize("raw", ["T1059.001", "t1059.001", "T1059/001", " T1059.001 ", "t1059/001\n"])
def test_technique_id_tolerance(kb: KnowledgeBase, raw):
    tech = kb.technique(raw)
    assert tech is not None
    assert tech.id == "T1059.001"


def test_technique_unknown_and_invalid(kb: KnowledgeBase):
    assert kb.technique("T9999") is None
    assert kb.technique("not an id") is None


def test_resolve_two_hop_revoked_chain(kb: KnowledgeBase):
    res = kb.resolve("t1100")
    assert res.id == "T1059.001"
    assert res.status == "revoked"
    assert res.redirected_from == "T1100"
    assert res.redirect_chain == ("T1100", "T1200", "T1059.001")
    assert res.name == "PowerShell"
    assert kb.techniques["T1100"].revoked_by == "T1200"


def test_resolve_statuses(kb: KnowledgeBase):
    assert kb.resolve("T1059").status == "active"
    dep = kb.resolve("T1064")
    assert (dep.id, dep.status, dep.redirected_from) == ("T1064", "deprecated", None)
    assert kb.techniques["T1064"].deprecated  # kept, flagged as retired
    unknown = kb.resolve(" t1999.004 ")
    assert (unknown.id, unknown.status, unknown.known) == ("T1999.004", "unknown", False)
    invalid = kb.resolve("Mimikatz")
    assert invalid.status == "invalid"
    assert invalid.id == "Mimikatz"


def test_redirects_listing(kb: KnowledgeBase):
    pairs = {(r.from_id, r.to_id) for r in kb.redirects()}
    assert pairs == {("T1100", "T1059.001"), ("T1200", "T1059.001")}


def test_technique_by_name(kb: KnowledgeBase):
    assert kb.technique_by_name("powershell").id == "T1059.001"
    assert kb.technique_by_name("Command and Scripting Interpreter: PowerShell").id == "T1059.001"
    assert kb.technique_by_name("  application layer   protocol ").id == "T1071"
    assert kb.technique_by_name("No Such Thing") is None


@pytest.mark.parametrize(
    "spelling",
    ["TA0011", "ta0011", "CommandAndControl", "command_and_control", "command-and-control",
     "Command and Control", "COMMAND AND CONTROL"],
)
def test_tactic_spellings(kb: KnowledgeBase, spelling):
    tac = kb.tactic(spelling)
    assert tac is not None
    assert tac.id == "TA0011"
    assert tac.shortname == "command-and-control"


def test_tactic_unknown(kb: KnowledgeBase):
    assert kb.tactic("Stealth") is None


def test_software_by_name_and_alias(kb: KnowledgeBase):
    assert [s.id for s in kb.software_by_name("mimikatz")] == ["S0002"]
    assert [s.id for s in kb.software_by_name("Beacon Evil")] == ["S0001"]
    assert sorted(s.id for s in kb.software_by_name("revil")) == ["S0003", "S0004"]
    assert kb.software_by_name("Gone") == []  # deprecated software is not active
    assert kb.software["S0002"].kind == "tool"
    assert kb.get_software("s0001").name == "EvilBeacon"


def test_find_software_in_text(kb: KnowledgeBase):
    hits = kb.find_software_in_text("EvilBeacon beacon detected; mimikatz.exe dumped creds (revil / Sodin)")
    assert [(h.text, h.software) for h in hits] == [
        ("EvilBeacon", ("S0001",)), ("mimikatz", ("S0002",)), ("revil", ("S0003", "S0004")),
        ("Sodin", ("S0003",)),
    ]
    assert hits[1].start == 28
    assert hits[1].end == 36


def test_find_software_in_text_word_boundaries_and_generic_terms(kb: KnowledgeBase):
    assert kb.find_software_in_text("Mimikatzer and xmimikatz are not matches") == []
    assert kb.find_software_in_text("EB is too short; Page is generic") == []
    assert [h.term for h in kb.find_software_in_text("Beacon-Evil and beacon   evil")] == ["beacon evil"] * 2
    assert kb.find_software_in_text("") == []


def test_group_lookup_and_profile(kb: KnowledgeBase):
    assert kb.group("G0001").name == "Fancy Test"
    assert kb.group("ft-group").id == "G0001"  # alias
    assert kb.group("G0002").id == "G0001"  # revoked group id redirected
    grp = kb.groups["G0001"]
    # revoked technique target remapped, deprecated target dropped
    assert grp.techniques == ("T1059", "T1059.001")
    assert grp.software == ("S0001",)
    assert grp.campaigns == ("C0001",)
    prof = kb.group_profile("Fancy Test")
    assert prof.direct_techniques == ("T1059", "T1059.001")
    assert prof.techniques == ("T1059", "T1059.001", "T1071")
    assert prof.software == ("S0001", "S0002")
    assert prof.campaign_only_techniques == ("T1071",)
    assert kb.group_profile("nobody") is None


def test_campaign(kb: KnowledgeBase):
    camp = kb.campaign("operation test")
    assert camp.id == "C0001"
    assert camp.groups == ("G0001",)
    assert camp.techniques == ("T1071",)
    assert camp.software == ("S0002",)
    assert camp.first_seen.startswith("2024-01-01")


def test_software_uses(kb: KnowledgeBase):
    assert kb.software["S0001"].techniques == ("T1071",)
    assert kb.software["S0002"].techniques == ("T1041",)


def test_mitigations_only_active_with_advice(kb: KnowledgeBase):
    mits = kb.mitigations_for("T1059.001")
    assert [m.mitigation_id for m in mits] == ["M1038"]
    assert mits[0].advice == "Use application control where appropriate."
    assert kb.mitigations_for("T1100") == mits  # revoked id follows the redirect
    assert kb.mitigations_for("T9999") == []
    assert list(kb.mitigations) == ["M1038"]


def test_detections_chain(kb: KnowledgeBase):
    det = kb.detections_for("t1059/001")
    assert det.technique == "T1059.001"
    (strategy,) = det.strategies
    assert strategy.strategy.id == "DET0001"
    (analytic,) = strategy.analytics
    assert analytic.analytic.id == "AN0001"
    assert analytic.analytic.platforms == ("Windows",)
    assert analytic.analytic.log_sources[0].name == "WinEventLog:Sysmon"
    assert [dc.id for dc in analytic.data_components] == ["DC0032"]
    assert analytic.data_components[0].log_sources[0].channel == "EventCode=4688"


def test_lookup_kinds(kb: KnowledgeBase):
    assert [(h.kind, h.id, h.matched_on) for h in kb.lookup("mimikatz")] == [("software", "S0002", "name")]
    assert [(h.kind, h.id) for h in kb.lookup("TA0011")] == [("tactic", "TA0011")]
    assert [(h.kind, h.id) for h in kb.lookup("t1059/001")] == [("technique", "T1059.001")]
    assert [(h.kind, h.id, h.matched_on) for h in kb.lookup("G0002")] == [("group", "G0001", "revoked-id")]
    assert [(h.kind, h.id) for h in kb.lookup("DET0001")] == [("detection-strategy", "DET0001")]
    assert kb.lookup("T1100")[0].status == "revoked"
    partial = kb.lookup("beacon")
    assert {h.id for h in partial} == {"S0001"}
    assert partial[0].matched_on == "partial"
    assert kb.lookup("") == []
    assert kb.lookup("zzzz-nothing") == []


def test_counts_and_lookup_are_json_serialisable(kb: KnowledgeBase):
    counts = msgspec.to_builtins(kb.counts())
    assert counts == {
        "tactics": 3, "techniques": 3, "subtechniques": 1, "revoked": 2, "deprecated": 1, "groups": 1,
        "campaigns": 1, "software": 4, "mitigations": 1, "detection_strategies": 1, "analytics": 1,
        "data_components": 1,
    }
    assert msgspec.json.decode(msgspec.json.encode(kb.lookup("mimikatz")))[0]["id"] == "S0002"
    assert msgspec.json.encode(kb.detections_for("T1059.001"))
