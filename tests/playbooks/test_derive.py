"""Plans from reviews, technique sets and incident types: which steps, which targets, which questions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from afteraction.attack.kb import KnowledgeBase
from afteraction.errors import UsageError
from afteraction.model import Classification
from afteraction.playbooks.catalog import ACTIONS
from afteraction.playbooks.derive import plan_for_techniques, plan_for_type
from afteraction.playbooks.model import PHASES, Plan
from afteraction.playbooks.rules import TEMPLATES, TYPE_ACTIONS

from .plans import MDE_ID, SARA_ID, identity_incident, phishing_incident, plan_of, ransomware_incident

FIXED = datetime(2026, 1, 1, tzinfo=UTC)


def _steps(plan: Plan) -> dict[str, object]:
    return {s.action: s for s in plan.steps if s.action != "apply_mitigation"}


def test_identity_plan_targets_the_account_and_only_the_public_address(kb: KnowledgeBase) -> None:
    plan = plan_of(identity_incident(), kb)
    steps = _steps(plan)
    assert plan.incident_type == "identity_compromise"
    assert plan.key == "incident:defender:inc-1"
    assert plan.scope == "incident"
    revoke = steps["revoke_sessions"]
    assert [(t.kind, t.value, t.api_ready) for t in revoke.targets] == [("user", SARA_ID, True)]
    assert revoke.automated
    assert "T1078.004" in revoke.techniques
    assert [t.value for t in steps["block_ip"].targets] == ["45.153.160.2"]
    assert any("10.1.2.3 is private" in n for n in plan.notes)
    assert steps["disable_account"].condition.variable == "account_still_misused"
    assert steps["enable_account"].phase == "recovery"
    assert [t.value for t in steps["enforce_mfa"].targets] == [SARA_ID]
    assert steps["enforce_mfa"].automated  # Conditional Access takes object ids, which the evidence has
    assert steps["reset_password"].automated is False  # no API: a person resets it out of band
    assert "review_inbox_rules" not in steps  # no mailbox in the evidence
    assert any(n.startswith("Review inbox rules") for n in plan.notes)


def test_steps_run_in_phase_order_with_unique_keys(kb: KnowledgeBase) -> None:
    for plan in (plan_of(ransomware_incident(), kb), plan_for_type("ransomware", kb, created=FIXED)):
        phases = [PHASES.index(s.phase) for s in plan.steps]
        assert phases == sorted(phases)
        assert len({s.key for s in plan.steps}) == len(plan.steps)
        assert all(s.phase == ACTIONS[s.action].phase for s in plan.steps)


def test_ransomware_plan_marks_what_cannot_be_automated(kb: KnowledgeBase) -> None:
    plan = plan_of(ransomware_incident(), kb)
    steps = _steps(plan)
    assert plan.incident_type == "ransomware"
    isolate = steps["isolate_device"]
    assert [(t.label, t.value, t.api_ready) for t in isolate.targets] == [  # the review's entity order
        ("srv-2", "srv-2.contoso.local", False), ("ws-1", MDE_ID, True)]
    assert isolate.automated is False  # one device has no Defender machine id
    assert steps["quarantine_file"].automated
    assert steps["quarantine_file"].targets[0].value == "b" * 64
    restore, rebuild = steps["restore_from_backup"], steps["rebuild_systems"]
    assert restore.condition.variable == rebuild.condition.variable == "backups_intact"
    assert (restore.condition.expect, rebuild.condition.expect) == (True, False)
    assert steps["release_isolation"].condition.variable == "device_clean"
    assert not steps["revoke_sessions"].automated if "revoke_sessions" in steps else True
    assert steps["reset_password"].targets[0].api_ready is False  # known only by SID


def test_phishing_plan_gates_account_steps_on_the_credentials_question(kb: KnowledgeBase) -> None:
    plan = plan_of(phishing_incident(), kb)
    steps = _steps(plan)
    assert plan.incident_type == "phishing"
    assert [t.value for t in steps["purge_email"].targets] == ["nmid-1"]
    assert [t.value for t in steps["block_url"].targets] == ["https://evil.example.net/login"]
    assert [t.value for t in steps["block_domain"].targets] == ["evil.example.net"]
    assert steps["block_domain"].condition.variable == "domain_attacker_owned"
    for name in ("revoke_sessions", "reset_password"):
        assert steps[name].condition.variable == "credentials_entered"
        assert [t.value for t in steps[name].targets] == ["bob@contoso.com"]
    assert [t.value for t in steps["review_inbox_rules"].targets] == ["bob@contoso.com"]


def test_compromised_account_in_a_phish_is_not_gated(kb: KnowledgeBase) -> None:
    import msgspec

    incident = phishing_incident()
    merged = msgspec.structs.replace(incident, alerts=(*incident.alerts, *identity_incident().alerts))
    plan = plan_of(merged, kb)
    assert plan.incident_type == "phishing"
    assert _steps(plan)["revoke_sessions"].condition is None


def test_benign_incident_has_no_targets(kb: KnowledgeBase) -> None:
    plan = plan_of(identity_incident(classification=Classification.FALSE_POSITIVE), kb)
    assert all(not s.targets for s in plan.steps)
    assert "classified falsePositive" in plan.notes[0]
    assert len(plan.notes) == 1  # no "left out" notes for what a benign incident never needed


@pytest.mark.parametrize("kind", [*TEMPLATES, "malware"])
def test_every_template_gives_a_target_free_plan(kb: KnowledgeBase, kind: str) -> None:
    plan = plan_for_type(kind, kb, created=FIXED)
    assert plan.scope == "type"
    assert plan.key == f"type:{kind}"
    assert {s.action for s in plan.steps} >= set(TYPE_ACTIONS[kind]) - {"enforce_mfa", "enable_asr_rules"}
    assert all(not s.targets for s in plan.steps)
    assert plan == plan_for_type(kind, kb, created=FIXED)  # deterministic


def test_technique_plan_matches_parents_and_adds_mitigations(kb: KnowledgeBase) -> None:
    plan = plan_for_techniques(["T1566.001", "t1078"], kb, created=FIXED)
    actions = {s.action for s in plan.steps}
    assert {"purge_email", "block_url", "revoke_sessions", "reset_password"} <= actions
    assert [t.id for t in plan.techniques] == ["T1566.001", "T1078"]
    assert plan.techniques[0].name == "Spearphishing Attachment"
    mitigation_steps = [s for s in plan.steps if s.action == "apply_mitigation"]
    assert mitigation_steps
    assert all(s.mitigations[0] in {m.id for m in plan.mitigations} for s in mitigation_steps)
    assert plan.key == "techniques:T1078,T1566.001"


@pytest.mark.parametrize(("call", "message"), [
    (lambda kb: plan_for_type("bogus", kb), "unknown incident type"),
    (lambda kb: plan_for_type("other", kb), "no playbook template"),
    (lambda kb: plan_for_techniques(["not-a-technique"], kb), "not an ATT&CK technique"),
    (lambda kb: plan_for_techniques([" "], kb), "not an ATT&CK technique"),
])
def test_bad_requests_are_usage_errors(kb: KnowledgeBase, call: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call(kb)  # type: ignore[operator]


def test_docs_list_every_action_template_technique_and_question() -> None:
    from pathlib import Path

    from afteraction.playbooks.rules import _GATES, TECHNIQUE_ACTIONS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "playbooks.md").read_text(encoding="utf-8")
    for name in ACTIONS:
        assert f"(`{name}`)" in doc, name
    for kind, actions in TYPE_ACTIONS.items():
        assert f"| {kind} | " + ", ".join(f"`{a}`" for a in actions) + " |" in doc, kind
    for technique in TECHNIQUE_ACTIONS:
        assert technique in doc, technique
    for condition in _GATES.values():
        assert condition.question in doc


def test_identifiers_that_could_change_a_request_are_not_automated(kb: KnowledgeBase) -> None:
    import msgspec

    from afteraction.model import Evidence, Verdict

    incident = identity_incident()
    odd = (Evidence(type="user", key="odd", name="odd", verdict=Verdict.MALICIOUS, roles=("compromised",),
                    user_principal_name="a/../../b?x=1@contoso.com"),
           Evidence(type="device", key="dev-x", name="x", verdict=Verdict.MALICIOUS, device_id="[concat('a')]"),
           Evidence(type="url", key="http://10.1.2.3/payload", name="http://10.1.2.3/payload",
                    verdict=Verdict.MALICIOUS, url="http://10.1.2.3/payload"))
    alert = incident.alerts[0]
    plan = plan_of(msgspec.structs.replace(incident, alerts=(msgspec.structs.replace(
        alert, evidence=(*alert.evidence, *odd)),)), kb)
    steps = _steps(plan)
    revoke = {t.label: t for t in steps["revoke_sessions"].targets}
    assert revoke["odd"].api_ready is False
    assert revoke["Sara Adams"].api_ready is True
    assert steps["revoke_sessions"].automated is False
    assert [t.api_ready for t in steps["isolate_device"].targets] == [False]
    assert [t.value for t in steps["block_url"].targets] == ["http://10.1.2.3/payload"]
    assert "block_domain" not in steps  # an IP literal is no domain indicator
