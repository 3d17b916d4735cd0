"""Logic Apps export of remediation plans: structure, schemas, phase order, hostile text and the golden file.

Regenerate the golden file after an intended change with
``AFTERACTION_UPDATE_GOLDEN=1 pytest tests/playbooks/test_logicapp.py``; the schemas with
``python -m afteraction.playbooks.logicapp_schema``.
"""

from __future__ import annotations

import copy
import io
import ipaddress
import json
import os
import random
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from afteraction.analyze.review import ReviewContext, review
from afteraction.attack import load_kb
from afteraction.attack.kb import KnowledgeBase
from afteraction.playbooks import logicapp, logicapp_actions
from afteraction.playbooks.catalog import ACTIONS
from afteraction.playbooks.derive import plan_for_review, plan_for_techniques, plan_for_type
from afteraction.playbooks.logicapp import (
    arm_template,
    check_template,
    check_workflow,
    default_playbook_name,
    logicapp_schemas,
    power_automate_package,
    workflow_definition,
)
from afteraction.playbooks.logicapp_actions import (
    NON_PUBLIC_IP_PREFIXES,
    READ_ONLY_ACTIONS,
    is_public_address,
    needs_approval,
    public_ip_where,
)
from afteraction.playbooks.logicapp_schema import schema_text
from afteraction.playbooks.model import PHASES, Plan, Target
from analyze.incidents import at, intrusion

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "logicapp-ransomware.json"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = ("phishing", "identity_compromise", "ransomware", "business_email_compromise", "malware")
DEFENDER = "https://api.securitycenter.microsoft.com"
GRAPH = "https://graph.microsoft.com"
ALL = ["Succeeded", "Failed", "Skipped", "TimedOut"]
SENTINEL_CONNECTION = "@parameters('$connections')['azuresentinel']['connectionId']"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb("bundled")


@pytest.fixture(scope="module")
def plans(kb: KnowledgeBase) -> dict[str, Plan]:
    out = {kind: plan_for_type(kind, kb, created=CREATED) for kind in TYPES}
    out["techniques"] = plan_for_techniques(["T1566.001", "T1078", "T1486", "T1071.001", "T1003.001"], kb,
                                            created=CREATED)
    out["review"] = plan_for_review(review(intrusion(), ReviewContext(kb, None, now=at(10_000))), kb)
    return out


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = logicapp_schemas()[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def top(definition: dict[str, Any]) -> dict[str, Any]:
    return definition["actions"]


def all_actions(actions: dict[str, Any]) -> dict[str, Any]:
    """Every action of the workflow by name, nested ones included."""
    out: dict[str, Any] = {}
    for name, action in actions.items():
        out[name] = action
        out.update(all_actions(action.get("actions", {})))
        out.update(all_actions(action.get("else", {}).get("actions", {})))
    return out


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def wdl_expressions(text: str) -> list[str]:
    """The expressions Logic Apps evaluates in a string: a leading lone ``@``, and every unescaped ``@{...}``."""
    if text.startswith("@") and not text.startswith(("@@", "@{")):
        return [text[1:]]
    found, i = [], 0
    while i < len(text):
        if text.startswith("@@", i):
            i += 2
        elif text.startswith("@{", i):
            j, quoted = i + 2, False
            while j < len(text) and (quoted or text[j] != "}"):
                quoted = not quoted if text[j] == "'" else quoted
                j += 1
            found.append(text[i + 2:j])
            i = j + 1
        else:
            i += 1
    return found


def reaches(actions: dict[str, Any], start: str) -> set[str]:
    """Top-level actions that ``start`` runs after, transitively."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for pred in actions[todo.pop()]["runAfter"]:
            if pred not in seen:
                seen.add(pred)
                todo.append(pred)
    return seen


def step_action(definition: dict[str, Any], key: str) -> str:
    """The top-level action a step's action sits in (itself, or the If that holds it)."""
    prefix = re.sub(r"[^A-Za-z0-9]+", "_", key)
    prefix = prefix[0].upper() + prefix[1:]
    for name, action in top(definition).items():
        nested = action["type"] == "If" and any(n.startswith(prefix + "_") for n in action["actions"])
        if name.startswith(prefix + "_") or nested:
            return name
    raise AssertionError(f"no action for step {key}")


def test_every_plan_validates_and_checks_clean(plans: dict[str, Plan]) -> None:
    wf, arm = validator("logicapp-workflow.schema.json"), validator("logicapp-arm.schema.json")
    for key, plan in plans.items():
        definition, template = workflow_definition(plan), arm_template(plan)
        wf.validate(definition)
        arm.validate(template)
        assert check_workflow(definition, connections=["azuresentinel", "office365"]) == [], key
        assert check_template(template) == [], key
        names = list(all_actions(top(definition)))
        assert len(names) == len(set(names))
        assert all(re.fullmatch(r"[A-Za-z0-9_]{1,80}", n) for n in names)
        assert json.dumps(definition, sort_keys=True) == json.dumps(workflow_definition(plan), sort_keys=True)


def test_trigger_and_parameters(plans: dict[str, Plan]) -> None:
    d = workflow_definition(plans["ransomware"])
    assert d["$schema"].endswith("/2016-06-01/workflowdefinition.json#")
    assert d["contentVersion"] == "1.0.0.0"
    assert d["outputs"] == {}
    assert d["parameters"]["$connections"] == {"defaultValue": {}, "type": "Object"}
    assert d["parameters"]["ApproverEmail"]["type"] == "String"
    (name, trigger), = d["triggers"].items()
    assert name == "Microsoft_Sentinel_incident"
    assert trigger["type"] == "ApiConnectionWebhook"
    assert trigger["inputs"]["path"] == "/incident-creation"
    assert trigger["inputs"]["body"] == {"callback_url": "@{listCallbackUrl()}"}
    assert trigger["inputs"]["host"]["connection"]["name"] == SENTINEL_CONNECTION
    # no condition, no approver and no Office 365 connection
    malware_free = workflow_definition(plans["identity_compromise"])
    assert "ApproverEmail" in malware_free["parameters"]  # identity compromise gates disable/enable


def test_isolation_is_a_foreach_over_the_incident_hosts(plans: dict[str, Plan]) -> None:
    actions = top(workflow_definition(plans["ransomware"]))
    hosts = actions["Entities_Get_Hosts"]
    assert hosts["inputs"]["path"] == "/entities/host"
    assert hosts["inputs"]["body"] == "@triggerBody()?['object']?['properties']?['relatedEntities']"
    assert hosts["runAfter"] == {}
    loop = actions["Containment_If_approved"]["actions"]["Containment_isolate_device_Foreach"]
    assert loop["type"] == "Foreach"
    assert loop["runAfter"] == {}
    assert loop["foreach"] == "@coalesce(body('Entities_Get_Hosts')?['Hosts'], json('[]'))"
    http = loop["actions"]["Containment_isolate_device_Http"]
    assert http["type"] == "Http"
    assert http["inputs"]["method"] == "POST"
    assert http["inputs"]["uri"] == (
        f"{DEFENDER}/api/machines/@{{encodeURIComponent(items('Containment_isolate_device_Foreach')"
        "?['additionalData']?['MdatpDeviceId'])}/isolate")
    assert http["inputs"]["authentication"] == {"type": "ManagedServiceIdentity", "audience": DEFENDER}
    assert http["inputs"]["body"]["IsolationType"] == "Full"
    assert http["inputs"]["body"]["Comment"] == ("Isolate the device (afteraction-type-ransomware, Sentinel incident "
                                                 "@{triggerBody()?['object']?['properties']?['incidentNumber']})")
    comment = loop["actions"]["Containment_isolate_device_Comment"]
    assert comment["runAfter"] == {"Containment_isolate_device_Http": ALL}
    assert comment["inputs"]["path"] == "/Incidents/Comment"
    # one entities action per kind, however many steps use it
    assert sum(1 for a in actions.values() if a.get("inputs", {}).get("path") == "/entities/host") == 1
    assert [n for n in actions if n.startswith("Entities_Get_")] == [
        "Entities_Get_Hosts", "Entities_Get_Accounts", "Entities_Get_IPs", "Entities_Get_FileHashes"]
    listed = actions["Entities_List_Hosts"]
    assert listed["type"] == "Select"
    assert listed["runAfter"] == {"Entities_Get_Hosts": ["Succeeded"]}
    assert listed["inputs"]["select"] == "@coalesce(item()?['HostName'], item()?['additionalData']?['MdatpDeviceId'])"


def test_graph_and_indicator_requests(plans: dict[str, Plan]) -> None:
    every = all_actions(top(workflow_definition(plans["identity_compromise"])))
    revoke = every["Containment_revoke_sessions_Http"]["inputs"]
    loop = "items('Containment_revoke_sessions_Foreach')"
    assert revoke["uri"] == (f"{GRAPH}/v1.0/users/@{{encodeURIComponent(coalesce({loop}?['AadUserId'], "
                             f"concat({loop}?['Name'], '@', {loop}?['UPNSuffix'])))}}/revokeSignInSessions")
    assert revoke["authentication"]["audience"] == GRAPH
    assert "body" not in revoke
    disable = every["Containment_disable_account_Http"]["inputs"]
    assert disable["method"] == "PATCH"
    assert disable["body"] == {"accountEnabled": False}
    ip = every["Containment_block_ip_Http"]["inputs"]["body"]
    assert ip["indicatorValue"] == "@{items('Containment_block_ip_Foreach')?['Address']}"
    assert ip["indicatorType"] == "IpAddress"
    assert ip["action"] == "AlertAndBlock"
    files = all_actions(top(workflow_definition(plans["malware"])))["Containment_quarantine_file_Http"]["inputs"]
    assert files["body"]["indicatorValue"] == "@{items('Containment_quarantine_file_Foreach')?['Value']}"
    assert "'FileSha1'" in files["body"]["indicatorType"]
    assert files["body"]["indicatorType"].startswith("@{if(equals(toUpper(string(items(")
    assert files["body"]["action"] == "BlockAndRemediate"
    phishing = top(workflow_definition(plans["phishing"]))
    assert phishing["Entities_Get_DNS"]["inputs"]["path"] == "/entities/dnsresolution"
    assert phishing["Entities_Get_URLs"]["inputs"]["path"] == "/entities/url"


def test_conditions_become_one_approval_and_yes_no_branches(plans: dict[str, Plan]) -> None:
    actions = top(workflow_definition(plans["ransomware"]))
    approval = actions["Approval_backups_intact"]
    assert approval["type"] == "ApiConnectionWebhook"
    assert approval["inputs"]["path"] == "/approvalmail/$subscriptions"
    assert approval["inputs"]["host"]["connection"]["name"] == SENTINEL_CONNECTION.replace("azuresentinel", "office365")
    message = approval["inputs"]["body"]["Message"]
    assert message["Options"] == "Yes, No"
    assert message["To"] == "@parameters('ApproverEmail')"
    assert message["Subject"].endswith("Are offline backups from before the earliest activity intact?")
    assert "Yes runs: Restore data from backup" in message["Body"]
    assert "No runs: Rebuild affected systems" in message["Body"]
    yes, no = actions["Recovery_If_backups_intact_Yes"], actions["Recovery_If_backups_intact_No"]
    assert yes["runAfter"] == no["runAfter"] == {"Approval_backups_intact": ["Succeeded"]}
    assert yes["expression"] == {"and": [{"equals": ["@body('Approval_backups_intact')?['SelectedOption']", "Yes"]}]}
    assert no["expression"]["and"][0]["equals"][1] == "No"
    assert list(yes["actions"]) == ["Recovery_restore_from_backup_Comment"]
    assert list(no["actions"]) == ["Recovery_rebuild_systems_Comment"]
    assert list(actions["Recovery_If_device_clean_Yes"]["actions"]) == ["Recovery_release_isolation_Foreach"]
    # phishing asks "credentials entered" once, in containment; eradication's branch reuses the answer
    phishing = top(workflow_definition(plans["phishing"]))
    assert [n for n in phishing if n.startswith("Approval_credentials")] == ["Approval_credentials_entered"]
    later = phishing["Eradication_If_credentials_entered_Yes"]
    assert "Approval_credentials_entered" not in later["runAfter"]
    assert "Approval_credentials_entered" in reaches(phishing, "Eradication_If_credentials_entered_Yes")
    assert later["expression"]["and"][0]["equals"][0] == "@body('Approval_credentials_entered')?['SelectedOption']"


def gates(actions: dict[str, Any], path: tuple[tuple[str, dict[str, Any]], ...] = ()
          ) -> list[tuple[str, dict[str, Any], tuple[tuple[str, dict[str, Any]], ...]]]:
    """Every action with the chain of actions that enclose it (outermost first)."""
    out = []
    for name, action in actions.items():
        out.append((name, action, path))
        inner = (*path, (name, action))
        out.extend(gates(action.get("actions", {}), inner))
        out.extend(gates(action.get("else", {}).get("actions", {}), inner))
    return out


def approval_of(if_action: dict[str, Any]) -> tuple[str, str]:
    """The approval action an If tests and the answer it runs on."""
    (test,) = if_action["expression"]["and"]
    left, answer = test["equals"]
    match = re.fullmatch(r"@body\('([A-Za-z0-9_]+)'\)\?\['SelectedOption'\]", left)
    assert match, left
    return match.group(1), answer


def test_every_change_waits_for_an_approval(plans: dict[str, Plan]) -> None:
    """Walk every definition: each Http action that is not a read-only GET sits inside an If on an answer."""
    for key, plan in plans.items():
        d = workflow_definition(plan)
        actions = top(d)
        checked = 0
        for name, action, path in gates(actions):
            if action["type"] != "Http":
                continue
            assert action["inputs"]["method"] != "GET", (key, name)  # no read-only call is automated today
            ifs = [(n, a) for n, a in path if a["type"] == "If"]
            assert ifs, (key, name)  # inside an If ...
            if_name, gate = ifs[0]
            assert if_name in actions, (key, name)  # ... at the top level ...
            approval, answer = approval_of(gate)
            message = actions[approval]["inputs"]["body"]["Message"]  # ... on an approval e-mail's answer
            assert actions[approval]["inputs"]["path"] == "/approvalmail/$subscriptions"
            assert answer in message["Options"].split(", "), (key, name)
            assert answer in ("Approve", "Yes", "No")
            assert message["Options"] == ("Approve, Reject" if answer == "Approve" else "Yes, No")
            assert approval in reaches(actions, if_name), (key, name)
            assert gate["else"] == {"actions": {}}  # another answer runs nothing
            checked += 1
        automated = [s for s in plan.steps if needs_approval(s)]
        assert checked == len(automated), key  # one Http per automated step
        if checked:
            assert "ApproverEmail" in d["parameters"], key


def test_one_approval_per_phase_lists_steps_and_entities(plans: dict[str, Plan]) -> None:
    plan = plans["ransomware"]
    actions = top(workflow_definition(plan))
    approval = actions["Approval_Containment"]
    message = approval["inputs"]["body"]["Message"]
    assert message["Options"] == "Approve, Reject"
    assert message["To"] == "@parameters('ApproverEmail')"
    assert message["Subject"] == ("Sentinel incident @{triggerBody()?['object']?['properties']?['incidentNumber']}: "
                                  "approve the containment actions of Remediation playbook for ransomware incidents")
    body = message["Body"]
    gated = [s for s in plan.phase_steps("containment") if needs_approval(s) and s.condition is None]
    assert {s.action for s in gated} == {"isolate_device", "collect_investigation_package", "restrict_app_execution",
                                         "block_ip", "quarantine_file"}
    for step in gated:
        assert f"<b>{step.title}</b>" in body
    for kind in ("Hosts", "IPs", "FileHashes"):  # the entities, read at run time and HTML-escaped
        assert (f"<code>@{{replace(replace(replace(string(join(body('Entities_List_{kind}'), ', ')), '&', '&amp;'), "
                "'<', '&lt;'), '>', '&gt;')}</code>") in body
    assert "public Ip entities of @{length(coalesce(body('Entities_Get_IPs')?['IPs'], json('[]')))}" in body
    assert "Disable the account" not in body  # it has its own question: not asked twice
    gate = actions["Containment_If_approved"]
    assert gate["runAfter"] == {"Approval_Containment": ["Succeeded"]}
    assert approval_of(gate) == ("Approval_Containment", "Approve")
    assert sorted(gate["actions"]) == sorted(f"Containment_{s.action}_Foreach" for s in gated)
    assert list(actions["Containment_If_account_still_misused_Yes"]["actions"]) == [
        "Containment_disable_account_Foreach"]
    question = actions["Approval_account_still_misused"]["inputs"]["body"]["Message"]["Body"]
    assert "join(body('Entities_List_Accounts'), ', ')" in question  # the question lists the accounts too
    assert "Approval_Recovery" not in actions  # release_isolation is approved by its question
    summary = actions["Summary_comment"]["inputs"]["body"]["message"]
    assert "actions('Approval_Containment')?['outputs']?['body']?['SelectedOption'], 'no answer'" in summary
    assert "private or reserved skipped" in summary
    # phishing: URLs are not filtered, but listed for approval; the domain step keeps its own question
    phishing = top(workflow_definition(plans["phishing"]))
    body = phishing["Approval_Containment"]["inputs"]["body"]["Message"]["Body"]
    assert "join(body('Entities_List_URLs'), ', ')" in body
    assert "Block the domains" not in body
    urls = "@coalesce(body('Entities_Get_URLs')?['URLs'], json('[]'))"
    assert phishing["Entities_List_URLs"]["inputs"]["from"] == urls
    assert not any(a["type"] == "Query" for a in phishing.values())
    assert list(phishing["Containment_If_approved"]["actions"]) == ["Containment_block_url_Foreach"]


def test_read_only_steps_are_not_gated(plans: dict[str, Plan], monkeypatch: pytest.MonkeyPatch) -> None:
    assert frozenset({"review_inbox_rules"}) == READ_ONLY_ACTIONS
    for name in READ_ONLY_ACTIONS:
        api = ACTIONS[name].api
        assert api is not None
        assert api.method == "GET"
    bec = plans["business_email_compromise"]
    inbox = next(s for s in bec.steps if s.action == "review_inbox_rules")
    assert not needs_approval(inbox)
    assert "Eradication_review_inbox_rules_Comment" in top(workflow_definition(bec))  # not inside an If
    assert all(needs_approval(s) for p in plans.values() for s in p.steps
               if ACTIONS[s.action].api is not None and logicapp_actions.step_source(s) is not None)
    # the rule is the frozenset: an automated step named read-only runs at once, outside any approval
    monkeypatch.setattr(logicapp_actions, "READ_ONLY_ACTIONS", frozenset({"run_av_scan"}))
    monkeypatch.setattr(logicapp, "READ_ONLY_ACTIONS", frozenset({"run_av_scan"}))
    actions = top(workflow_definition(plans["malware"]))
    assert actions["Eradication_run_av_scan_Foreach"]["type"] == "Foreach"
    assert "Approval_Eradication" not in actions
    assert "Approval_Containment" in actions


def wdl_eval(expression: str, item: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """Evaluate the few WDL functions the IP filter uses, to test the generated condition itself."""
    tokens = re.findall(r"'(?:[^']|'')*'|\d+|[A-Za-z]+|[()\[\],?]", expression.removeprefix("@"))
    pos = 0

    def take_token() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    functions = {
        "not": lambda x: not x, "or": lambda *xs: any(xs), "toLower": str.lower, "trim": str.strip,
        "string": lambda x: "" if x is None else str(x), "take": lambda x, n: x[:n],
        "contains": lambda c, v: v in c, "parameters": lambda n: parameters[n], "item": lambda: item,
    }

    def value() -> Any:
        token = take_token()
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token.isdigit():
            return int(token)
        assert take_token() == "("
        args = []
        while tokens[pos] != ")":
            args.append(value())
            if tokens[pos] == ",":
                take_token()
        take_token()
        result = functions[token](*args)
        while pos < len(tokens) and tokens[pos] in ("?", "["):
            if tokens[pos] == "?":
                take_token()
            assert take_token() == "["
            result = (result or {}).get(value())
            assert take_token() == "]"
        return result

    result = value()
    assert pos == len(tokens)
    return result


#: Sample addresses: True = public (an indicator may be created), False = dropped by the filter.
SAMPLE_ADDRESSES = {
    "8.8.8.8": True, "1.1.1.1": True, "52.96.1.10": True, "11.0.0.1": True, "101.1.1.1": True, "100.63.0.1": True,
    "100.128.0.1": True, "172.15.255.1": True, "172.32.0.1": True, "169.255.0.1": True, "192.169.0.1": True,
    "198.20.0.1": True, "223.255.255.1": True, " 9.9.9.9 ": True, "2001:4860:4860::8888": True,
    "2606:4700:4700::1111": True, "2a00:1450::1": True,
    "10.1.2.3": False, "127.0.0.1": False, "169.254.169.254": False, "172.16.0.1": False, "172.31.255.254": False,
    "192.168.1.10": False, "100.64.0.1": False, "100.127.255.254": False, "0.0.0.0": False, "224.0.0.251": False,
    "239.255.255.250": False, "240.0.0.1": False, "255.255.255.255": False, "192.0.2.10": False,
    "198.51.100.7": False, "203.0.113.9": False, "198.18.0.1": False, "198.19.255.1": False, "::1": False,
    "::": False, "fe80::1": False, "FE80::AbCd": False, "febf::1": False, "fc00::1": False, "fd12:3456::1": False,
    "ff02::1": False, "2001:db8::1": False, "::ffff:10.0.0.1": False,
}


def python_public(address: str) -> bool:
    """The reference: ``ipaddress`` says global, and not multicast."""
    ip = ipaddress.ip_address(address.strip())
    return ip.is_global and not ip.is_multicast


def test_ip_filter_runs_before_block_ip(plans: dict[str, Plan]) -> None:
    d = workflow_definition(plans["identity_compromise"])
    actions = top(d)
    query = actions["Entities_Public_IPs"]
    assert query["type"] == "Query"
    assert query["runAfter"] == {"Entities_Get_IPs": ["Succeeded"]}
    assert query["inputs"]["from"] == "@coalesce(body('Entities_Get_IPs')?['IPs'], json('[]'))"
    assert query["inputs"]["where"] == public_ip_where()
    assert d["parameters"]["NonPublicIpPrefixes"] == {"defaultValue": list(NON_PUBLIC_IP_PREFIXES), "type": "Array"}
    loop = actions["Containment_If_approved"]["actions"]["Containment_block_ip_Foreach"]
    assert loop["foreach"] == "@body('Entities_Public_IPs')"  # only the public addresses are blocked
    assert "Entities_Public_IPs" in reaches(actions, "Containment_If_approved")
    assert actions["Entities_List_IPs"]["inputs"]["from"] == "@body('Entities_Public_IPs')"  # what is approved
    assert "NonPublicIpPrefixes" not in workflow_definition(plans["malware"])["parameters"]  # no IP step


def test_ip_filter_matches_ipaddress(plans: dict[str, Plan]) -> None:
    where = top(workflow_definition(plans["ransomware"]))["Entities_Public_IPs"]["inputs"]["where"]
    parameters = {"NonPublicIpPrefixes": list(NON_PUBLIC_IP_PREFIXES)}
    for address, public in SAMPLE_ADDRESSES.items():
        assert python_public(address) is public, address  # the table agrees with ipaddress
        assert is_public_address(address) is public, address
        assert wdl_eval(where, {"Address": address}, parameters) is public, address
    assert wdl_eval(where, {}, parameters) is True  # no address: kept, the API call fails and the summary shows it
    rng = random.Random(7)
    for _ in range(20_000):
        address = str(ipaddress.IPv4Address(rng.getrandbits(32)))
        if address.startswith("192.0.0."):  # IETF assignments: ipaddress drops a few single addresses, we keep
            continue
        assert is_public_address(address) is python_public(address), address
    for address in ("10.0.0.1", "8.8.8.8", "fe80::1", "2001:4860::1"):
        assert wdl_eval(where, {"Address": address}, parameters) is is_public_address(address)
    own = {"NonPublicIpPrefixes": [*NON_PUBLIC_IP_PREFIXES, "52.96.1."]}  # a team adds its own public range
    assert wdl_eval(where, {"Address": "52.96.1.10"}, own) is False


def test_manual_steps_become_incident_comments(plans: dict[str, Plan]) -> None:
    every = all_actions(top(workflow_definition(plans["business_email_compromise"])))
    payments = every["Eradication_stop_payments_Comment"]
    assert payments["inputs"]["body"]["incidentArmId"] == "@triggerBody()?['object']?['id']"
    message = payments["inputs"]["body"]["message"]
    assert "<b>Eradication: Stop fraudulent payments</b>" in message
    assert "hold or recall payments" in message
    # tenant-wide (CA policy over {targets}) and mailbox steps are not run per entity
    mfa = every["Hardening_enforce_mfa_Comment"]["inputs"]["body"]["message"]
    assert "/v1.0/identity/conditionalAccess/policies" in mfa
    assert "Policy.ReadWrite.ConditionalAccess" in mfa
    assert "Eradication_review_inbox_rules_Comment" in every
    assert not any(n.startswith("Hardening_enforce_mfa_Foreach") for n in every)
    mitigation = all_actions(top(workflow_definition(plans["review"])))["Hardening_mitigation_M1026_Comment"]
    assert "Apply mitigation M1026" in mitigation["inputs"]["body"]["message"]


def test_phases_run_in_order_and_the_summary_runs_last(plans: dict[str, Plan]) -> None:
    for key, plan in plans.items():
        d = workflow_definition(plan)
        actions = top(d)
        where = {step.key: step_action(d, step.key) for step in plan.steps}
        for early in plan.steps:
            for late in plan.steps:
                if PHASES.index(early.phase) < PHASES.index(late.phase):
                    assert where[early.key] in reaches(actions, where[late.key]), (key, early.key, late.key)
        assert set(reaches(actions, "Summary_comment")) == set(actions) - {"Summary_comment"}, key
        assert all(statuses == ALL for statuses in actions["Summary_comment"]["runAfter"].values())
    plan = plans["ransomware"]
    d = workflow_definition(plan)
    actions = top(d)
    containment = {step_action(d, step.key) for step in plan.phase_steps("containment")}
    assert containment == {"Containment_If_approved", "Containment_If_account_still_misused_Yes"}
    assert actions["Approval_Eradication"]["runAfter"] == dict.fromkeys(sorted(containment), ALL)
    assert list(actions["Eradication_If_approved"]["actions"]) == ["Eradication_run_av_scan_Foreach"]
    assert actions["Eradication_reset_password_Comment"]["runAfter"] == \
        actions["Approval_Eradication"]["runAfter"]  # same phase: parallel
    assert actions["Summary_comment"]["runAfter"] == {"Hardening_enable_asr_rules_Comment": ALL}
    summary = actions["Summary_comment"]["inputs"]["body"]["message"]
    assert "@{actions('Containment_isolate_device_Foreach')?['status']}" in summary
    variables = {step.condition.variable for step in plan.steps if step.condition}
    assert variables == {"account_still_misused", "device_clean", "backups_intact"}
    phase_approvals = [n for n in actions if n in ("Approval_Containment", "Approval_Eradication")]
    assert len(phase_approvals) == 2  # recovery's only API step has its own question; hardening has none
    assert "Approval_Recovery" not in actions
    assert "Approval_Hardening" not in actions
    # header, steps, questions, phase approvals
    assert summary.count("<tr>") == 1 + len(plan.steps) + len(variables) + len(phase_approvals)


def test_plan_targets_are_context_not_inputs(plans: dict[str, Plan]) -> None:
    d = workflow_definition(plans["review"])
    every = all_actions(top(d))
    http = every["Containment_isolate_device_Http"]["inputs"]
    assert "dev-ws-1" not in json.dumps(http)  # the device comes from the triggering incident
    summary = top(d)["Summary_comment"]["inputs"]["body"]["message"]
    assert "<td>ws-1 (dev-ws-1)</td>" in summary
    reset = every["Eradication_reset_password_Comment"]["inputs"]["body"]["message"]
    assert "In the incident the plan was built from: alice (S-1-5-21-1)" in reset


def test_arm_template(plans: dict[str, Plan]) -> None:
    template = arm_template(plans["ransomware"])
    assert template["$schema"] == "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
    meta = template["metadata"]
    assert meta["afteraction"]["plan"] == "type:ransomware"
    assert meta["afteraction"]["attackVersion"] == plans["ransomware"].attack_version
    perms = meta["afteraction"]["permissions"]
    assert perms["Microsoft Graph"] == ["User.EnableDisableAccount.All"]
    assert {"Machine.CollectForensics", "Machine.Isolate", "Machine.Scan", "Ti.ReadWrite"} <= set(
        perms["WindowsDefenderATP"])
    apis = [ACTIONS[s.action].api for s in plans["ransomware"].steps
            if ACTIONS[s.action].target_kind in ("device", "ip", "file")]
    assert perms["WindowsDefenderATP"] == sorted({api.permission for api in apis if api is not None})
    assert any("Microsoft Sentinel Responder" in line for line in meta["postDeployment"])
    assert any("Authorise the Office 365" in line for line in meta["postDeployment"])
    assert meta["entities"] == ["Host", "Account", "Ip", "FileHash"]
    assert template["parameters"]["PlaybookName"]["defaultValue"] == "afteraction-type-ransomware"
    assert "ApproverEmail" in template["parameters"]
    connections, workflow = template["resources"][:2], template["resources"][2]
    assert [c["properties"]["api"]["id"].rsplit("'", 2)[1] for c in connections] == ["azuresentinel", "office365"]
    assert connections[0]["properties"]["parameterValueType"] == "Alternative"
    assert "parameterValueType" not in connections[1]["properties"]
    assert workflow["identity"] == {"type": "SystemAssigned"}
    assert workflow["apiVersion"] == "2017-07-01"
    assert len(workflow["dependsOn"]) == 2
    value = workflow["properties"]["parameters"]["$connections"]["value"]
    assert value["azuresentinel"]["connectionProperties"] == {"authentication": {"type": "ManagedServiceIdentity"}}
    assert value["office365"]["id"] == ("[subscriptionResourceId('Microsoft.Web/locations/managedApis', "
                                        "resourceGroup().location, 'office365')]")
    assert workflow["properties"]["definition"] == workflow_definition(plans["ransomware"])
    named = arm_template(plans["ransomware"], playbook_name="My-Playbook")
    assert named["parameters"]["PlaybookName"]["defaultValue"] == "My-Playbook"
    malware = arm_template(plans["malware"])  # gated release only: still Office 365; identity has no files
    assert list(malware["metadata"]["afteraction"]["permissions"]) == ["WindowsDefenderATP"]
    review_name = default_playbook_name(plans["review"])
    assert review_name == "afteraction-incident-defender-inc-1"


HOSTILE = "Evil @{body('EVIL')} @triggerBody()?['EVIL'] <script>alert('EVIL')</script>"


def hostile_plan(plan: Plan) -> Plan:
    replace = msgspec.structs.replace
    steps = []
    for step in plan.steps:
        targets = (*step.targets, Target(kind="device", value="@triggerBody()?['EVIL']", label=HOSTILE))
        condition = replace(step.condition, question="[concat('EVIL')] " + HOSTILE) if step.condition else None
        steps.append(replace(step, title="@{body('EVIL')} " + step.title, instructions=HOSTILE,
                             reason="<img src=x onerror=EVIL>", targets=targets, condition=condition))
    return replace(plan, name="[concat('EVIL')]" + HOSTILE, description="@" + HOSTILE, steps=tuple(steps),
                   incident_title=HOSTILE, notes=(HOSTILE,), key="incident:defender:@{body('EVIL')}")


def test_hostile_plan_text_stays_text(plans: dict[str, Plan]) -> None:
    plan = hostile_plan(plans["review"])
    assert any(s.condition for s in plan.steps)
    assert any(s.targets for s in plan.steps)
    definition = workflow_definition(plan)
    texts = strings(definition)
    assert any("@@{body('EVIL')}" in s for s in texts)  # kept, escaped
    assert any("&lt;script&gt;" in s for s in texts)
    for text in texts:
        for expr in wdl_expressions(text):
            assert "EVIL" not in expr, text
    html = [a["inputs"]["body"]["message"] for a in all_actions(top(definition)).values()
            if a.get("inputs", {}).get("path") == "/Incidents/Comment"]
    html += [a["inputs"]["body"]["Message"]["Body"] for a in top(definition).values()
             if a.get("inputs", {}).get("path") == "/approvalmail/$subscriptions"]
    assert len(html) > len(plan.steps)
    phase_approval = top(definition)["Approval_Containment"]["inputs"]["body"]["Message"]
    assert "&lt;script&gt;" in phase_approval["Body"]  # the plan name, escaped, in the phase approval too
    assert "&#64;{body(&#x27;EVIL&#x27;)} Isolate the device" in phase_approval["Body"]  # a step title
    assert phase_approval["Subject"].count("@@") >= 2  # plan text in the subject is a literal
    for text in html:
        assert "<script" not in text, text
        assert "<img" not in text, text
        assert "EVIL'" not in text, text
    http = [a["inputs"] for a in all_actions(top(definition)).values() if a["type"] == "Http"]
    assert http
    for inputs in http:  # API requests carry no plan text, only the key's safe slug
        assert "EVIL" not in json.dumps(inputs).replace("afteraction-incident-defender-body-EVIL,", "")
    assert check_workflow(definition) == []
    validator("logicapp-workflow.schema.json").validate(definition)
    template = arm_template(plan)
    validator("logicapp-arm.schema.json").validate(template)
    for text in strings(template):
        if text.startswith("[") and not text.startswith("[["):
            assert "EVIL" not in text, text  # ARM expressions are only the template's own
    for text in strings(template["resources"][-1]["properties"]["definition"]):
        for expr in wdl_expressions(text):
            assert "EVIL" not in expr, text
    assert template["metadata"]["title"].startswith("[[concat('EVIL')]")
    assert re.fullmatch(r"[A-Za-z0-9-]+", template["parameters"]["PlaybookName"]["defaultValue"])
    assert template["resources"][-1]["properties"]["definition"]["actions"]["Summary_comment"]["inputs"]["body"][
        "message"].startswith("<p><b>afteraction playbook finished: [concat(")


def test_wdl_expression_finder() -> None:
    assert wdl_expressions("@body('x')") == ["body('x')"]
    assert wdl_expressions("a @{body('}')} b @@{c} @{d}") == ["body('}')", "d"]
    assert wdl_expressions("@@{x}") == []


def test_committed_schemas_match_the_generated_ones() -> None:
    for name, schema in logicapp_schemas().items():
        committed = (REPO / "docs" / "schemas" / name).read_text(encoding="utf-8")
        assert committed == schema_text(schema), f"regenerate {name}: python -m afteraction.playbooks.logicapp_schema"


def test_check_workflow_finds_dangling_references_cycles_and_connections(plans: dict[str, Plan]) -> None:
    d = workflow_definition(plans["ransomware"])
    dangling = copy.deepcopy(d)
    dangling["actions"]["Summary_comment"]["runAfter"]["Nowhere"] = ["Succeeded"]
    assert check_workflow(dangling) == [
        "actions/Summary_comment: runAfter names 'Nowhere', not an action of the same scope"]
    nested = copy.deepcopy(d)  # a nested action may not run after a top-level one
    nested["actions"]["Containment_If_approved"]["actions"]["Containment_isolate_device_Foreach"]["actions"][
        "Containment_isolate_device_Http"]["runAfter"] = {"Entities_Get_Hosts": ["Succeeded"]}
    assert check_workflow(nested) == [
        "actions/Containment_If_approved/Containment_isolate_device_Foreach/Containment_isolate_device_Http: "
        "runAfter names 'Entities_Get_Hosts', not an action of the same scope"]
    cycle = copy.deepcopy(d)
    cycle["actions"]["Entities_Get_Hosts"]["runAfter"] = {"Summary_comment": ["Succeeded"]}
    problems = check_workflow(cycle)
    assert len(problems) == 1
    assert problems[0].startswith("actions: runAfter cycle ")
    assert "Entities_Get_Hosts" in problems[0]
    assert "Summary_comment" in problems[0]
    status = copy.deepcopy(d)
    status["actions"]["Summary_comment"]["runAfter"]["Hardening_enable_asr_rules_Comment"] = ["Done"]
    assert check_workflow(status) == [
        "actions/Summary_comment: runAfter 'Hardening_enable_asr_rules_Comment' has bad statuses ['Done']"]
    assert check_workflow(d, connections=["azuresentinel"]) == [
        "connection 'office365' is used but not declared in $connections"]
    template = arm_template(plans["ransomware"])
    del template["resources"][-1]["properties"]["parameters"]["$connections"]["value"]["office365"]
    assert check_template(template) == ["connection 'office365' is used but not declared in $connections"]


def test_schemas_reject_broken_definitions(plans: dict[str, Plan]) -> None:
    wf = validator("logicapp-workflow.schema.json")
    d = workflow_definition(plans["malware"])
    for change, message in (
        (lambda x: x.__setitem__("triggers", {}), "should be non-empty"),
        (lambda x: x["triggers"].__setitem__("Second", x["triggers"]["Microsoft_Sentinel_incident"]),
         "has too many properties"),
        (lambda x: x.pop("triggers"), "'triggers' is a required property"),
        (lambda x: x["actions"].__setitem__("Bad-Name", x["actions"]["Summary_comment"]), "does not match"),
        (lambda x: x["actions"]["Summary_comment"].pop("inputs"), "'inputs' is a required property"),
        (lambda x: x["actions"]["Containment_If_approved"]["actions"]["Containment_isolate_device_Foreach"].pop(
            "foreach"), "'foreach' is a required"),
        (lambda x: x["actions"]["Entities_List_Hosts"]["inputs"].pop("select"), "'select' is a required"),
        (lambda x: x["actions"]["Summary_comment"]["runAfter"].__setitem__("Entities_Get_Hosts", ["Done"]),
         "'Done' is not one of"),
    ):
        broken = copy.deepcopy(d)
        change(broken)
        errors = [e.message for e in wf.iter_errors(broken)]
        assert errors, message
        assert any(message in e for e in errors), (message, errors)
    arm = validator("logicapp-arm.schema.json")
    template = arm_template(plans["malware"])
    template["resources"][-1]["properties"]["definition"]["triggers"] = {}
    assert not arm.is_valid(template)
    template = arm_template(plans["malware"])
    template["resources"] = template["resources"][:-1]
    assert not arm.is_valid(template)


def test_ransomware_matches_golden_file(kb: KnowledgeBase) -> None:
    template = arm_template(plan_for_type("ransomware", kb, created=CREATED))
    text = json.dumps(template, indent=2, sort_keys=True) + "\n"
    if os.environ.get("AFTERACTION_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), f"missing {GOLDEN}; set AFTERACTION_UPDATE_GOLDEN=1 to create it"
    assert text == GOLDEN.read_text(encoding="utf-8"), f"{GOLDEN.name} changed; see the module docstring"



def test_power_automate_package(plans: dict[str, Plan]) -> None:
    plan = plans["ransomware"]
    package = power_automate_package(plan)
    assert package == power_automate_package(plan)  # deterministic bytes
    archive = zipfile.ZipFile(io.BytesIO(package))
    names = archive.namelist()
    assert names[:2] == ["manifest.json", "Microsoft.Flow/flows/manifest.json"]
    flow_dir = names[2].rsplit("/", 1)[0]
    assert names[2:] == [f"{flow_dir}/definition.json", f"{flow_dir}/apisMap.json", f"{flow_dir}/connectionsMap.json"]
    flow_id = flow_dir.rsplit("/", 1)[1]
    assert json.loads(archive.read(names[1])) == {"packageSchemaVersion": "1.0",
                                                  "flowAssets": {"assetPaths": [flow_id]}}
    manifest = json.loads(archive.read("manifest.json"))
    kinds = sorted(r["type"] for r in manifest["resources"].values())
    assert kinds == ["Microsoft.Flow/flows", *["Microsoft.PowerApps/apis"] * 2,
                     *["Microsoft.PowerApps/apis/connections"] * 2]
    root = next(r for r in manifest["resources"].values() if r["type"] == "Microsoft.Flow/flows")
    assert set(root["dependsOn"]) == set(manifest["resources"]) - {k for k, r in manifest["resources"].items()
                                                                  if r is root}
    flow = json.loads(archive.read(f"{flow_dir}/definition.json"))
    assert flow["properties"]["apiId"] == "/providers/Microsoft.PowerApps/apis/shared_logicflows"
    assert sorted(flow["properties"]["connectionReferences"]) == ["shared_azuresentinel", "shared_office365"]
    assert sorted(json.loads(archive.read(f"{flow_dir}/apisMap.json"))) == ["shared_azuresentinel", "shared_office365"]
    definition = flow["properties"]["definition"]
    validator("logicapp-workflow.schema.json").validate(definition)
    assert check_workflow(definition, connections=["shared_azuresentinel", "shared_office365"]) == []
    assert definition["parameters"]["$authentication"] == {"defaultValue": {}, "type": "SecureObject"}
    trigger = definition["triggers"]["Microsoft_Sentinel_incident"]["inputs"]
    assert trigger["host"]["connection"]["name"] == SENTINEL_CONNECTION.replace("azuresentinel", "shared_azuresentinel")
    assert trigger["authentication"] == "@parameters('$authentication')"
    http = all_actions(definition["actions"])["Containment_isolate_device_Http"]["inputs"]["authentication"]
    assert http["type"] == "ActiveDirectoryOAuth"
    assert http["audience"] == DEFENDER
    assert http["secret"] == "@parameters('ClientSecret')"
    assert definition["parameters"]["ClientSecret"]["type"] == "SecureString"


def test_a_plan_without_steps_only_summarises(plans: dict[str, Plan]) -> None:
    plan = msgspec.structs.replace(plans["malware"], steps=())
    definition = workflow_definition(plan)
    assert list(top(definition)) == ["Summary_comment"]
    assert top(definition)["Summary_comment"]["runAfter"] == {}
    assert "ApproverEmail" not in definition["parameters"]
    template = arm_template(plan)
    validator("logicapp-arm.schema.json").validate(template)
    assert [r["type"] for r in template["resources"]] == ["Microsoft.Web/connections", "Microsoft.Logic/workflows"]
    assert template["metadata"]["afteraction"]["permissions"] == {}
    assert "ApproverEmail" not in template["parameters"]
