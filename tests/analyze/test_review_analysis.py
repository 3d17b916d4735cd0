"""The incident review's analysis: type, metrics, chain, entities, detection and recommendations."""

from __future__ import annotations

import msgspec
import pytest

from afteraction.analyze.review import ReviewContext, review, safe_url
from afteraction.analyze.review.incident_type import TypeFeatures, infer_type
from afteraction.analyze.review.peers import PeerIndex
from afteraction.attack.kb import KnowledgeBase
from afteraction.model import Classification, Comment, Incident, IncidentStatus
from analyze.incidents import alert, at, incident, intrusion


def run(kb: KnowledgeBase, inc: Incident, peers: PeerIndex | None = None):  # type: ignore[no-untyped-def]
    return review(inc, ReviewContext(kb, None, now=at(10_000), peers=peers))


def test_metrics_come_from_the_alert_and_comment_times(kb: KnowledgeBase) -> None:
    r = run(kb, intrusion())
    m = r.metrics
    assert m.first_activity == at(0)
    assert m.first_alert == at(35)
    assert m.time_to_detect == 35 * 60
    assert m.acknowledged == at(50)
    assert m.acknowledged_by == "first comment by carol"
    assert m.time_to_acknowledge == 15 * 60
    assert m.time_to_resolve == 24 * 3600
    assert m.dwell_time == (35 + 24 * 60) * 60
    assert (m.alerts, m.techniques, m.tactics, m.entities) == (4, 4, 4, 2)
    assert m.entities_by_type == {"device": 1, "user": 1}


def test_chain_orders_stages_flags_late_detection_and_skipped_stages(kb: KnowledgeBase) -> None:
    chain = run(kb, intrusion()).chain
    observed = [s.tactic for s in chain.stages if s.observed]
    assert observed == ["Execution", "Credential Access", "Lateral Movement", "Impact"]
    assert [s.order for s in chain.stages] == sorted(s.order for s in chain.stages)
    assert chain.earliest_stage == "Execution"
    assert chain.earliest_activity == at(0)
    assert chain.first_detected_stage == "Credential Access"
    assert chain.first_detected == at(35)
    assert chain.detected_late
    skipped = [s.tactic for s in chain.skipped]
    # Between Execution and Impact, every tactic without an alert.
    assert skipped == ["Persistence", "Privilege Escalation", "Defense Evasion", "Discovery", "Collection",
                       "Command and Control", "Exfiltration"]
    for stage in chain.skipped:
        assert stage.likely, stage.tactic
        for likely in stage.likely:
            tech = kb.technique(likely.technique.id)
            assert tech is not None
            assert any(kb.tactic(t).name == stage.tactic for t in tech.tactics)
            assert 0 < likely.groups <= likely.of_groups


def test_multi_tactic_technique_goes_under_the_alert_category(kb: KnowledgeBase) -> None:
    inc = incident(alert("a", ["T1078"], category="Persistence"), alert("b", ["T1078.004"]))
    stages = {s.tactic: [t.id for t in s.techniques] for s in run(kb, inc).chain.stages if s.observed}
    # T1078 under its category; T1078.004 with no category under its earliest tactic only.
    assert stages == {"Initial Access": ["T1078.004"], "Persistence": ["T1078"]}


def test_entities_merge_across_alerts_and_call_out_unremediated(kb: KnowledgeBase) -> None:
    ents = {e.name: e for e in run(kb, intrusion()).entities}
    ws = ents["ws-1"]
    assert ws.verdict == "malicious"
    assert ws.remediation_status == "remediated"
    assert not ws.unremediated
    assert ws.alert_ids == ("a-exec", "a-cred")
    assert ents["alice"].unremediated
    benign = msgspec.structs.replace(intrusion(), classification=Classification.FALSE_POSITIVE)
    assert not any(e.unremediated for e in run(kb, benign).entities)
    assert next(iter(run(kb, intrusion()).entities)).name == "alice"  # unremediated first


def test_detection_counts_sources_detectors_and_false_positives(kb: KnowledgeBase) -> None:
    det = run(kb, intrusion()).detection
    assert det.sources == {"microsoftDefenderForEndpoint": 3, "microsoftDefenderForIdentity": 1}
    assert det.false_positive_alerts == ("a-lat",)
    fp = [d for d in det.detectors if d.false_positives]
    assert [(d.detector_id, d.alerts, d.false_positives) for d in fp] == [("det-3", 1, 1)]


def test_recommendations_rank_mitigations_by_coverage(kb: KnowledgeBase) -> None:
    recs = run(kb, intrusion()).recommendations
    counts = [len(m.techniques) for m in recs.mitigations]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] >= 1
    for mit in recs.mitigations:
        for tid in mit.techniques:
            assert mit.id in {a.mitigation_id for a in kb.mitigations_for(tid)}
    assert recs.detections, "late detection and skipped stages must produce detection recommendations"
    assert recs.detections[0].technique.id == "T1059.001"  # the earliest stage, detected late
    assert any(d.strategies for d in recs.detections)
    assert recs.type_steps
    assert recs.type_steps_source


def test_action_items_cover_the_findings(kb: KnowledgeBase) -> None:
    items = run(kb, intrusion()).action_items
    whats = " | ".join(i.what for i in items)
    assert "Remediate 1 entity" in whats
    assert "Review detection of Execution" in whats
    assert "Tune the detector" in whats
    assert all(i.why for i in items)
    assert items[0].priority == "high"


def test_portal_links_are_http_only(kb: KnowledgeBase) -> None:
    assert run(kb, intrusion()).header.links == ()
    ok = msgspec.structs.replace(intrusion(), web_url="https://security.microsoft.com/incidents/1")
    assert [link.url for link in run(kb, ok).header.links] == ["https://security.microsoft.com/incidents/1"]
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil", "file:///etc/passwd", "https:", " "):
        assert safe_url(bad) is None


def test_summary_states_only_facts(kb: KnowledgeBase) -> None:
    text = " ".join(run(kb, intrusion()).summary)
    assert "Ransomware incident (high severity)" in text
    assert "4 alerts" in text
    assert "4 ATT&CK techniques" in text
    assert "35 min" in text
    assert "classified as truePositive (multiStagedAttack)" in text
    assert "1 entity marked malicious or suspicious is recorded as not remediated" in text


def test_no_alerts_no_times(kb: KnowledgeBase) -> None:
    r = run(kb, incident(status=IncidentStatus.ACTIVE))
    assert r.metrics.time_to_detect is None
    assert r.metrics.alerts == 0
    assert not any(s.observed for s in r.chain.stages)
    assert r.chain.skipped == ()
    assert r.incident_type.type == "other"
    assert any("time to acknowledge is unknown" in n for n in r.notes)


def test_unknown_technique_is_kept_and_reported(kb: KnowledgeBase) -> None:
    from afteraction.model import TechniqueRef, TechniqueStatus

    a = msgspec.structs.replace(alert("x", []), techniques=(TechniqueRef(raw="T9999", id="T9999",
                                                                         status=TechniqueStatus.UNKNOWN),))
    r = run(kb, incident(a))
    assert r.timeline[0].techniques[0].id == "T9999"
    assert r.timeline[0].techniques[0].name is None
    assert r.chain.unmapped_alerts == ("x",)
    assert any("T9999" in n for n in r.notes)
    assert any("attack update" in i.what for i in r.action_items)


@pytest.mark.parametrize(("features", "expected"), [
    (TypeFeatures(determinations=("phishing",), techniques=("T1566.001",)), "phishing"),
    (TypeFeatures(techniques=("T1078.004", "T1110.003"), sources=("azureAdIdentityProtection",)),
     "identity_compromise"),
    (TypeFeatures(techniques=("T1486", "T1490")), "ransomware"),
    (TypeFeatures(techniques=("T1114.003",), evidence_types=("mailboxConfiguration",)), "business_email_compromise"),
    (TypeFeatures(determinations=("malware",), sources=("antivirus",)), "malware"),
    (TypeFeatures(determinations=("maliciousUserActivity",)), "insider_data_loss"),
    (TypeFeatures(techniques=("T1082",)), "other"),
    # An analyst's determination outweighs one decisive technique.
    (TypeFeatures(determinations=("phishing",), techniques=("T1566.002", "T1114.003")), "phishing"),
])
def test_incident_type(features: TypeFeatures, expected: str) -> None:
    got = infer_type(features)
    assert got.type == expected
    assert got.reasons


def test_peer_comparison_needs_enough_peers(kb: KnowledgeBase) -> None:
    from afteraction.analyze.review.peers import IncidentFacts

    def fact(n: int, ttd: float) -> IncidentFacts:
        return IncidentFacts(
            source="defender", id=f"p{n}", title="", severity="high", status="resolved", classification=None,
            determination=None, owner=None, created=at(0), first_activity=at(0), first_alert=at(ttd),
            acknowledged=None, resolved=at(ttd + 60), alerts=n, techniques=1, unremediated=0,
            incident_type="ransomware", incident_type_label="Ransomware")

    few = PeerIndex([fact(n, 10) for n in range(4)])
    r = run(kb, intrusion(), few)
    assert r.metrics.peers is None
    assert "at least 5" in (r.metrics.peers_note or "")
    many = PeerIndex([fact(n, 10 * n) for n in range(1, 8)] + [fact(99, 1)])
    peers = run(kb, intrusion(), many).metrics.peers
    assert peers is not None
    assert peers.peers == 8
    # TTDs 60, 600, 1200, ..., 4200 s: the median of eight is the mean of the middle two.
    assert peers.time_to_detect == (1800 + 2400) / 2
    assert peers.alerts == 4.5  # alert counts 1..7 and 99
    assert peers.time_to_resolve == 3600  # each peer resolved one hour after its first alert


def test_first_alert_without_a_tactic_leaves_the_first_stage_unknown(kb: KnowledgeBase) -> None:
    inc = incident(alert("early", [], activity=0, fired=5), alert("late", ["T1486"], category="Impact", activity=60,
                                                                   fired=120))
    r = run(kb, inc)
    assert r.chain.first_detected == at(5)
    assert r.metrics.first_alert == at(5)
    assert r.chain.first_detected_stage is None
    assert not r.chain.detected_late
    assert "stage" not in r.summary[1]  # no claim about the stage of the first alert


def test_clock_skew_is_clamped_and_noted(kb: KnowledgeBase) -> None:
    early_comment = msgspec.structs.replace(intrusion(), comments=(Comment(text="x", created=at(-30)),))
    r = run(kb, early_comment)
    assert r.metrics.time_to_acknowledge == 0
    assert any("time to acknowledge is shown as 0" in n for n in r.notes)


def test_timeline_links_are_http_only(kb: KnowledgeBase) -> None:
    bad = alert("a", ["T1059.001"], web_url="javascript:alert(1)")
    good = alert("b", ["T1059.001"], web_url="https://security.microsoft.com/alerts/b")
    urls = {e.alert_id: e.url for e in run(kb, incident(bad, good)).timeline}
    assert urls == {"a": None, "b": "https://security.microsoft.com/alerts/b"}


def test_action_items_are_ordered_by_priority(kb: KnowledgeBase) -> None:
    order = {"high": 0, "medium": 1, "low": 2}
    ranks = [order[i.priority] for i in run(kb, intrusion()).action_items]
    assert ranks == sorted(ranks)
