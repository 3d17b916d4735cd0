"""CACAO 2.0 playbooks written from plans: valid, deterministic, with branches, provenance and typed commands."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from afteraction.attack.kb import KnowledgeBase
from afteraction.playbooks.cacao import CREATOR_ID, cacao_timestamp, to_cacao
from afteraction.playbooks.derive import plan_for_type
from afteraction.playbooks.export import InvalidPlaybookError, checked_cacao, playbook_text
from afteraction.playbooks.rules import TEMPLATES
from afteraction.playbooks.validate import validate_playbook

from .plans import MDE_ID, SARA_ID, SCHEMAS, identity_incident, phishing_incident, plan_of, ransomware_incident

FIXED = datetime(2026, 1, 1, tzinfo=UTC)
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "cacao-ransomware.json"


def _steps(playbook: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in playbook["workflow"].items() if v["type"] == kind}


def _by_name(playbook: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in playbook["workflow"].values() if v["name"] == name)


def _plans(kb: KnowledgeBase) -> list[Any]:
    return [plan_of(identity_incident(), kb), plan_of(ransomware_incident(), kb), plan_of(phishing_incident(), kb),
            *(plan_for_type(t, kb, created=FIXED) for t in (*TEMPLATES, "malware"))]


@pytest.mark.parametrize("automation", [False, True])
def test_every_plan_gives_a_playbook_without_problems(kb: KnowledgeBase, automation: bool) -> None:
    for plan in _plans(kb):
        result = validate_playbook(to_cacao(plan, automation=automation))
        assert result.problems == (), (plan.key, result.problems)


@pytest.mark.shared_data
@pytest.mark.parametrize("automation", [False, True])
def test_every_plan_passes_the_official_schemas(kb: KnowledgeBase, automation: bool) -> None:
    if not (SCHEMAS / "schemas" / "playbook.json").is_file():
        pytest.skip("../shared/data/cacao-schemas is not present")
    for plan in _plans(kb):
        result = validate_playbook(to_cacao(plan, automation=automation), schemas=SCHEMAS)
        assert result.schema_checked, (plan.key, result.problems)
        assert result.problems == (), (plan.key, result.problems)


def test_provenance_and_attack_references(kb: KnowledgeBase) -> None:
    plan = plan_of(identity_incident(), kb)
    pb = to_cacao(plan)
    assert pb["spec_version"] == "cacao-2.0"
    assert pb["created_by"] == CREATOR_ID
    assert "incident:defender:inc-1" in pb["labels"]
    assert f"attack-version:{kb.version}" in pb["labels"]
    assert "attack.t1078.004" in pb["labels"]
    assert "Incident: defender:inc-1." in pb["description"]
    assert f"ATT&CK {kb.version}" in pb["description"]
    refs = {r.get("external_id"): r for r in pb["external_references"]}
    assert refs["T1078.004"]["url"] == "https://attack.mitre.org/techniques/T1078/004"
    assert any(k.startswith("M") for k in refs)  # mitigations
    assert pb["created"] == cacao_timestamp(plan.created)
    assert pb["created"].endswith("Z")
    revoke = _by_name(pb, "Revoke sign-in sessions")
    assert [r["external_id"] for r in revoke["external_references"]] == ["T1078.004"]
    assert pb["markings"] == list(pb["data_marking_definitions"])


def test_manual_by_default(kb: KnowledgeBase) -> None:
    pb = to_cacao(plan_of(identity_incident(), kb))
    commands = [c for s in _steps(pb, "action").values() for c in s["commands"]]
    assert commands
    assert {c["type"] for c in commands} == {"manual"}
    assert set(pb["agent_definitions"]) == {s["agent"] for s in _steps(pb, "action").values()}
    assert "authentication_info_definitions" not in pb
    revoke = _by_name(pb, "Revoke sign-in sessions")
    assert "Sara Adams" in revoke["commands"][0]["command"]
    assert pb["playbook_variables"][revoke["in_args"][0]]["value"] == SARA_ID  # the object id Graph takes


def test_automation_gives_typed_http_api_commands(kb: KnowledgeBase) -> None:
    pb = to_cacao(plan_of(ransomware_incident(), kb), automation=True)
    quarantine = _by_name(pb, "Stop and quarantine the file")
    (command,) = quarantine["commands"]
    assert command["type"] == "http-api"
    assert command["command"] == "POST /api/indicators HTTP/1.1"
    body = json.loads(command["content"])
    var = quarantine["in_args"][0]
    assert body["indicatorValue"] == f"{var}:value"
    assert body["indicatorType"] == "FileSha256"
    assert body["action"] == "BlockAndRemediate"
    agent = pb["agent_definitions"][quarantine["agent"]]
    assert agent["type"] == "http-api"
    assert agent["address"]["url"] == ["https://api.securitycenter.microsoft.com"]
    auth = pb["authentication_info_definitions"][agent["authentication_info"]]
    assert auth["type"] == "oauth2"
    assert auth["token"] == "__defender_token__:value"
    assert pb["playbook_variables"]["__defender_token__"] == {
        "type": "string", "value": None, "external": True,
        "description": pb["playbook_variables"]["__defender_token__"]["description"]}
    # one device has no Defender machine id, so isolation stays manual for both
    isolate = _by_name(pb, "Isolate the device")
    assert [c["type"] for c in isolate["commands"]] == ["manual"]
    assert MDE_ID in isolate["commands"][0]["command"]
    assert "identify it manually" in isolate["commands"][0]["command"]


def test_template_automation_takes_targets_as_external_inputs(kb: KnowledgeBase) -> None:
    pb = to_cacao(plan_for_type("identity_compromise", kb, created=FIXED), automation=True)
    revoke = _by_name(pb, "Revoke sign-in sessions")
    assert revoke["commands"][0]["command"] == "POST /v1.0/users/__user__:value/revokeSignInSessions HTTP/1.1"
    assert pb["playbook_variables"]["__user__"]["external"] is True
    mfa = _by_name(pb, "Require MFA through Conditional Access")
    body = json.loads(mfa["commands"][0]["content"])
    assert body["state"] == "enabledForReportingButNotEnforced"
    assert body["conditions"]["users"]["includeUsers"] == []


def test_parallel_branches_end_in_their_own_end_steps(kb: KnowledgeBase) -> None:
    pb = to_cacao(plan_for_type("ransomware", kb, created=FIXED))
    wf = pb["workflow"]
    parallels = _steps(pb, "parallel")
    assert parallels
    ends_seen: list[str] = []
    for step in parallels.values():
        assert len(step["next_steps"]) >= 2
        assert step["on_completion"] in wf
        for entry in step["next_steps"]:
            key = entry
            while wf[key]["type"] != "end":  # walk the branch to its end
                key = wf[key]["on_completion"]
            ends_seen.append(key)
    assert len(ends_seen) == len(set(ends_seen))  # unique per branch


def test_backup_question_opens_both_branches_once(kb: KnowledgeBase) -> None:
    pb = to_cacao(plan_for_type("ransomware", kb, created=FIXED))
    wf = pb["workflow"]
    (check,) = [s for s in _steps(pb, "if-condition").values() if "backups" in s["condition"]]
    assert check["condition"] == "__backups_intact__:value = true"
    assert wf[check["on_true"]]["name"] == "Restore data from backup"
    assert wf[check["on_false"]]["name"] == "Rebuild affected systems"
    (ask,) = [s for s in _steps(pb, "action").values() if s.get("out_args") == ["__backups_intact__"]]
    assert ask["on_completion"] in _steps(pb, "if-condition")
    assert pb["playbook_variables"]["__backups_intact__"]["type"] == "bool"


def test_a_question_is_asked_once_across_phases(kb: KnowledgeBase) -> None:
    pb = to_cacao(plan_of(phishing_incident(), kb))
    asks = [s for s in _steps(pb, "action").values() if s.get("out_args") == ["__credentials_entered__"]]
    checks = [s for s in _steps(pb, "if-condition").values() if "credentials_entered" in s["condition"]]
    assert len(asks) == 1
    assert len(checks) == 2


def test_same_plan_same_ids_other_plan_other_ids(kb: KnowledgeBase) -> None:
    one = to_cacao(plan_for_type("phishing", kb, created=FIXED))
    assert json.dumps(one) == json.dumps(to_cacao(plan_for_type("phishing", kb, created=FIXED)))
    other = to_cacao(plan_for_type("ransomware", kb, created=FIXED))
    assert one["id"] != other["id"]
    assert not set(one["workflow"]) & set(other["workflow"])


def test_hostile_text_stays_data_and_never_reaches_a_request(kb: KnowledgeBase) -> None:
    """Incident text cannot smuggle a variable reference (e.g. the API token) into what an orchestrator runs."""
    import msgspec

    hostile = 'Evil "title"\n__defender_token__:value __graph_token__:value <script>alert(1)</script> \u202e'
    incident = ransomware_incident()
    evidence = incident.alerts[0].evidence
    renamed = tuple(msgspec.structs.replace(e, name=f"{e.name} __graph_token__:value") for e in evidence)
    incident = msgspec.structs.replace(incident, title=hostile,
                                       alerts=(msgspec.structs.replace(incident.alerts[0], evidence=renamed),))
    pb = checked_cacao(plan_of(incident, kb), automation=True)
    assert "__defender_token__ :value" in pb["name"]  # kept readable, but no longer a reference
    text = json.dumps(pb)
    assert "__defender_token__:value" not in text.replace('"token": "__defender_token__:value"', "")
    assert "__graph_token__:value" not in text.replace('"token": "__graph_token__:value"', "")
    commands = [c for s in pb["workflow"].values() for c in s.get("commands", [])]
    assert any(c["type"] == "http-api" for c in commands)
    assert all("Evil" not in c.get("content", "") for c in commands)  # no incident text in a request
    assert validate_playbook(pb).problems == ()
    assert json.loads(text) == pb


def test_validator_warns_when_a_command_carries_the_token(kb: KnowledgeBase) -> None:
    pb = to_cacao(plan_of(ransomware_incident(), kb), automation=True)
    step = _by_name(pb, "Stop and quarantine the file")
    step["commands"][0]["content"] = step["commands"][0]["content"].replace("afteraction", "__defender_token__:value")
    problems = validate_playbook(pb).problems
    assert [(p.severity, p.check) for p in problems] == [("warning", "secret")]


def test_an_invalid_playbook_is_never_returned(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    from afteraction.playbooks import export

    def broken(plan: Any, *, automation: bool = False) -> dict[str, Any]:
        pb = to_cacao(plan, automation=automation)
        pb["workflow_start"] = "start--00000000-0000-4000-8000-000000000000"
        return pb

    monkeypatch.setattr(export, "to_cacao", broken)
    with pytest.raises(InvalidPlaybookError, match="workflow_start"):
        checked_cacao(plan_for_type("phishing", kb, created=FIXED))


def test_golden_ransomware_playbook(kb: KnowledgeBase) -> None:
    text = playbook_text(plan_for_type("ransomware", kb, created=FIXED), "cacao", automation=True)
    text = text.replace(json.dumps(__import__("afteraction").__version__)[1:-1], "VERSION")
    if os.environ.get("AFTERACTION_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_plan_round_trips_through_json(kb: KnowledgeBase) -> None:
    from afteraction.playbooks.model import Plan

    plan = plan_of(ransomware_incident(), kb)
    assert msgspec.json.decode(msgspec.json.encode(plan), type=Plan) == plan


def test_a_plan_without_steps_is_start_then_end(kb: KnowledgeBase) -> None:
    import msgspec

    plan = msgspec.structs.replace(plan_for_type("phishing", kb, created=FIXED), steps=())
    pb = checked_cacao(plan)
    assert [s["type"] for s in pb["workflow"].values()] == ["start", "end"]
    assert pb["workflow"][pb["workflow_start"]]["on_completion"] in pb["workflow"]
