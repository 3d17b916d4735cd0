"""Write a :class:`Plan` as an OASIS CACAO Security Playbooks v2.0 playbook (a JSON-ready dict).

Shape: ``start`` -> one block per phase (containment, eradication, recovery, hardening) -> ``end``. A
phase with one unit of work runs it in sequence; with more, a ``parallel`` step runs each unit as a branch
that ends in its own ``end`` step, as the specification requires. A gated step is a unit of three parts: a
manual decision step that sets a boolean variable (``out_args``), an ``if-condition`` on it, and the
branch(es) it opens. Commands are ``manual`` by default; with ``automation`` the steps that have a Microsoft
Graph or Defender for Endpoint request carry typed ``http-api`` commands, one per target, run by an
``http-api`` agent whose ``oauth2`` token is an external variable the orchestrator passes in, never a value
in the file.

Text from the incident (its title, entity names) is data, never part of a request: requests carry only the
catalog's fixed text and a slug of the plan key, and every ``__name__:value`` pattern in incident text is
broken (``__name__ :value``) so an orchestrator cannot substitute a variable, such as the API token, into it.

Every id is a version-5 UUID derived from the plan's key, so the same plan gives the same playbook.
ATT&CK goes in ``external_references`` and ``labels`` (CACAO has no ATT&CK field); provenance (incident,
ATT&CK version, afteraction version) in ``labels`` and the description.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from afteraction import __version__
from afteraction.playbooks.catalog import ACTIONS, FILE_HASH_TYPES, SERVICE_NAMES, SERVICES
from afteraction.playbooks.model import PHASE_TITLES, PHASES, Condition, Plan, PlanStep, Target

SPEC_VERSION = "cacao-2.0"
_NAMESPACE = uuid.UUID("5b0c6f0e-8a5e-5d2c-9a57-0d8f3a4c2e11")  # afteraction's own; never change
CREATOR_ID = f"identity--{uuid.uuid5(_NAMESPACE, 'afteraction')}"
_SEVERITY = {"high": 75, "medium": 50, "low": 25, "informational": 10}
_VARIABLE_TYPES = {"ip": "ipv4-addr", "url": "uri", "file": "hash"}
TLP_LEVEL = "TLP:AMBER"


def cacao_timestamp(value: datetime) -> str:
    """RFC 3339 UTC with exactly three fractional digits and a ``Z``, as CACAO asks."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class _Writer:
    plan: Plan
    automation: bool
    workflow: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_vars: dict[tuple[str, str], str] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)

    def oid(self, kind: str, name: str) -> str:
        return f"{kind}--{uuid.uuid5(_NAMESPACE, f'{self.plan.key}|{kind}|{name}')}"

    # --- agents, targets, variables -------------------------------------------------------------
    def responder(self) -> str:
        key = self.oid("group", "responders")
        self.agents.setdefault(key, {"type": "group", "name": "Incident responders",
                                     "description": "The SOC analysts and incident responders running the "
                                                    "playbook; they carry out manual steps and decisions."})
        return key

    def api_agent(self, service: str) -> str:
        auth = self.oid("oauth2", service)
        self.auth.setdefault(auth, {
            "type": "oauth2", "name": f"{SERVICE_NAMES[service]} token",
            "description": "Bearer token of an Entra ID application or managed identity granted the "
                           "permissions each command names; passed in by the orchestrator, never stored here.",
            "oauth_header": "Authorization", "token": f"__{service}_token__:value"})
        self.variables.setdefault(f"__{service}_token__", {
            "type": "string", "value": None, "external": True,
            "description": f"OAuth 2.0 bearer token for {SERVICE_NAMES[service]} ({SERVICES[service]}/.default)."})
        key = self.oid("http-api", service)
        self.agents.setdefault(key, {"type": "http-api", "name": SERVICE_NAMES[service],
                                     "address": {"url": [SERVICES[service]]}, "authentication_info": auth})
        return key

    def variable(self, target: Target | None, kind: str) -> str:
        """The playbook variable holding one target (or, in a template, the input for a kind)."""
        slot = (kind, target.value.lower() if target else "")
        if slot in self.target_vars:
            return self.target_vars[slot]
        count = sum(1 for k, _ in self.target_vars if k == kind) + 1
        name = f"__{kind}_{count}__" if target else f"__{kind}__"
        var_type = _VARIABLE_TYPES.get(kind, "string")
        if target and kind == "ip" and ":" in target.value:
            var_type = "ipv6-addr"
        if target and kind == "file":
            var_type = {64: "sha256-hash", 32: "md5-hash"}.get(len(target.value), "hash")
        self.variables[name] = (
            {"type": var_type, "value": target.value, "constant": True,
             "description": inert(f"{kind}: {target.label}")}
            if target else
            {"type": var_type, "value": None, "external": True,
             "description": f"The {kind} to act on, passed in by the caller (identifier the API takes)."})
        self.target_vars[slot] = name
        return name

    def target(self, target: Target) -> str | None:
        """A target definition for the kinds CACAO can describe (devices, accounts, addresses, domains)."""
        if target.kind == "device":
            body: dict[str, Any] = {"type": "security-category", "category": ["endpoint"]}
        elif target.kind == "user":
            body = {"type": "individual"}
        elif target.kind == "ip":
            body = {"type": "net-address", "address": {"ipv6" if ":" in target.value else "ipv4": [target.value]}}
        elif target.kind == "domain":
            body = {"type": "net-address", "address": {"dname": [target.value]}}
        else:
            return None
        key = self.oid(body["type"], f"{target.kind}:{target.value.lower()}")
        self.targets.setdefault(key, {**body, "name": inert(target.label or target.value),
                                      "description": inert(f"{target.kind} {target.value}")})
        return key

    # --- workflow -----------------------------------------------------------------------------------
    def add(self, key: str, step: dict[str, Any]) -> str:
        self.workflow[key] = step
        return key

    def action_step(self, step: PlanStep) -> str:
        action = ACTIONS[step.action]
        key = self.oid("action", step.key)
        body: dict[str, Any] = {"type": "action", "name": inert(step.title),
                                "description": inert(_step_description(step))}
        refs = [_technique_ref(self.plan, t) for t in step.techniques]
        if refs:
            body["external_references"] = refs
        names = [self.variable(t, t.kind) for t in step.targets]
        if self.automation and step.automated and action.api is not None:
            if not step.targets and action.target_kind:
                names = [self.variable(None, action.target_kind)]
            body["commands"] = self.http_commands(step, names)
            body["agent"] = self.api_agent(action.api.service)
        else:
            body["commands"] = [{"type": "manual", "description": inert(step.title), "command": _manual_text(step),
                                 "playbook_activity": action.activity}]
            body["agent"] = self.responder()
        target_ids = [tid for t in step.targets if (tid := self.target(t))]
        if target_ids:
            body["targets"] = sorted(set(target_ids), key=target_ids.index)
        if names:
            body["in_args"] = sorted(set(names), key=names.index)
        return self.add(key, body)

    def http_commands(self, step: PlanStep, names: list[str]) -> list[dict[str, Any]]:
        action = ACTIONS[step.action]
        api = action.api
        assert api is not None
        comment = inert(f"afteraction remediation {_slug(self.plan.key)}: {step.title}")
        targets = names or [""]
        per_target = "{target}" in api.path or "{target}" in json.dumps(api.body or {})
        out = []
        for name in targets if per_target else [""]:
            ref = f"{name}:value" if name else ""
            path = api.path.replace("{target}", ref)
            command: dict[str, Any] = {
                "type": "http-api", "description": inert(f"{step.title} ({name or 'all targets'})"),
                "command": f"{api.method} {path} HTTP/1.1", "playbook_activity": action.activity,
                "headers": {"Content-Type": ["application/json"]},
                "external_references": [{"name": inert(f"Microsoft Learn: {step.title}"), "url": api.docs,
                                         "description": f"Needs the {api.permission} permission."}],
            }
            if api.body is not None:
                command["content"] = json.dumps(_fill(api.body, ref, comment, [f"{n}:value" for n in names],
                                                      step), sort_keys=True)
            out.append(command)
        return out

    def decision(self, condition: Condition, phase: str) -> tuple[str | None, str]:
        """The manual step asking the question (``None`` when an earlier phase asked it already) and the
        id of the ``if-condition`` on its answer."""
        var = f"__{condition.variable}__"
        check = self.oid("if-condition", f"{phase}.{condition.variable}")
        if condition.variable in self.asked:
            return None, check
        self.asked.add(condition.variable)
        self.variables.setdefault(var, {"type": "bool", "value": "false",
                                        "description": f"Answer to: {condition.question}"})
        ask = self.add(self.oid("action", f"decide.{condition.variable}"), {
            "type": "action", "name": f"Decide: {condition.question}",
            "description": "A responder answers the question; the answer chooses the next steps.",
            "commands": [{"type": "manual", "description": "Record the decision",
                          "command": f"Answer yes or no: {condition.question} Set {var} to true or false.",
                          "playbook_activity": "analyze-collected-data"}],
            "agent": self.responder(), "out_args": [var]})
        return ask, check


def to_cacao(plan: Plan, *, automation: bool = False) -> dict[str, Any]:
    """The plan as a CACAO 2.0 playbook (validate it with ``validate.validate_playbook`` before sharing)."""
    w = _Writer(plan, automation)
    start = w.oid("start", "start")
    end = w.oid("end", "end")
    entries = [entry for phase in PHASES if (entry := _phase(w, phase)) is not None]
    w.add(start, {"type": "start", "name": "Start",
                  "description": "Confirm the incident and the scope before containing anything.",
                  "on_completion": entries[0][0] if entries else end})
    followers = [entry for entry, _ in entries[1:]] + [end]
    for (_, tails), nxt in zip(entries, followers[: len(entries)], strict=True):
        for tail in tails:
            w.workflow[tail]["on_completion"] = nxt
    w.add(end, {"type": "end", "name": "End"})
    return _playbook(w, start)


def _phase(w: _Writer, phase: str) -> tuple[str, list[str]] | None:
    """Write one phase; return its entry step and the steps whose ``on_completion`` leads on."""
    units: list[list[PlanStep]] = []
    gated: dict[str, list[PlanStep]] = {}
    for step in w.plan.phase_steps(phase):
        if step.condition is None:
            units.append([step])
        elif step.condition.variable in gated:
            gated[step.condition.variable].append(step)
        else:
            gated[step.condition.variable] = [step]
            units.append(gated[step.condition.variable])
    if not units:
        return None
    written = [_unit(w, unit, phase, branch_end=len(units) > 1) for unit in units]
    if len(written) == 1:
        return written[0]
    key = w.add(w.oid("parallel", phase), {
        "type": "parallel", "name": f"{PHASE_TITLES[phase]} steps",
        "description": f"The {phase} steps are independent of each other and may run at the same time.",
        "next_steps": [entry for entry, _ in written]})
    return key, [key]


def _unit(w: _Writer, steps: list[PlanStep], phase: str, *, branch_end: bool) -> tuple[str, list[str]]:
    """One unit: an action, or a decision with its branches. A parallel branch ends in its own end step."""
    condition = steps[0].condition
    if condition is None:
        entry = tail = w.action_step(steps[0])
    else:
        ask, check = w.decision(condition, phase)
        if ask is not None:
            w.workflow[ask]["on_completion"] = check
        entry = ask or check
        branches: dict[bool, str] = {}
        for expect in (True, False):
            chain = [w.action_step(s) for s in steps if s.condition is not None and s.condition.expect is expect]
            if chain:
                for a, b in itertools.pairwise(chain):
                    w.workflow[a]["on_completion"] = b
                w.workflow[chain[-1]]["on_completion"] = w.add(
                    w.oid("end", f"{check}.{expect}"), {"type": "end", "name": "End of branch"})
                branches[expect] = chain[0]
        body: dict[str, Any] = {"type": "if-condition", "name": condition.question,
                                "description": "Runs the steps for the recorded answer.",
                                "condition": f"__{condition.variable}__:value = true",
                                "on_true": branches.get(True) or w.add(
                                    w.oid("end", f"{check}.none"), {"type": "end", "name": "Nothing to do"})}
        if False in branches:
            body["on_false"] = branches[False]
        tail = w.add(check, body)
    if branch_end:
        w.workflow[tail]["on_completion"] = w.add(w.oid("end", f"{entry}.branch"),
                                                  {"type": "end", "name": "End of branch"})
        return entry, []
    return entry, [tail]


def _playbook(w: _Writer, start: str) -> dict[str, Any]:
    plan = w.plan
    stamp = cacao_timestamp(plan.created)
    marking = w.oid("marking-tlp", TLP_LEVEL)
    activities = sorted({ACTIONS[s.action].activity for s in plan.steps}
                        | ({"analyze-collected-data"} if any(s.condition for s in plan.steps) else set()))
    out: dict[str, Any] = {
        "type": "playbook", "spec_version": SPEC_VERSION, "id": w.oid("playbook", "playbook"),
        "name": inert(plan.name), "description": inert(_description(plan)),
        "playbook_types": ["remediation", "mitigation"] if any(s.phase == "hardening" for s in plan.steps)
        else ["remediation"],
        "created_by": CREATOR_ID, "created": stamp, "modified": stamp,
        "labels": _labels(plan), "markings": [marking],
        "data_marking_definitions": {marking: {"type": "marking-tlp", "id": marking, "created_by": CREATOR_ID,
                                               "created": stamp, "tlpv2_level": TLP_LEVEL}},
        "workflow_start": start, "workflow": w.workflow,
    }
    if activities:
        out["playbook_activities"] = activities
    if plan.severity in _SEVERITY:
        out["severity"] = _SEVERITY[plan.severity]
    refs = [_technique_ref(plan, t.id) for t in plan.techniques] + [
        {"name": f"ATT&CK mitigation {m.id} {m.name}", "external_id": m.id, **({"url": m.url} if m.url else {})}
        for m in plan.mitigations]
    if refs:
        out["external_references"] = refs
    for name, value in (("playbook_variables", w.variables), ("agent_definitions", w.agents),
                        ("target_definitions", w.targets), ("authentication_info_definitions", w.auth)):
        if value:
            out[name] = dict(sorted(value.items()))
    return out


def _description(plan: Plan) -> str:
    where = f" Incident: {plan.source}:{plan.incident_id}." if plan.incident_id else ""
    return (f"{plan.description}{where} Generated by afteraction {__version__} with MITRE ATT&CK "
            f"{plan.attack_version or 'unknown'}.")


def _labels(plan: Plan) -> list[str]:
    labels = ["afteraction", f"afteraction:scope:{plan.scope}", f"incident-type:{plan.incident_type}",
              f"attack-version:{plan.attack_version}"]
    if plan.incident_id:
        labels.append(f"incident:{plan.source}:{plan.incident_id}")
    labels += [f"attack.{t.id.lower()}" for t in plan.techniques]
    return labels


def _technique_ref(plan: Plan, tid: str) -> dict[str, Any]:
    known = next((t for t in plan.techniques if t.id == tid), None)
    ref: dict[str, Any] = {"name": f"ATT&CK {tid}" + (f" {known.name}" if known and known.name else ""),
                           "source": f"MITRE ATT&CK {plan.attack_version}".rstrip(), "external_id": tid}
    if known and known.url:
        ref["url"] = known.url
    return ref


def _step_description(step: PlanStep) -> str:
    parts = [step.reason] if step.reason else []
    if step.condition is not None:
        answer = "yes" if step.condition.expect else "no"
        parts.append(f"Runs when the answer to '{step.condition.question}' is {answer}.")
    verify = ACTIONS[step.action].verify
    if verify:
        parts.append(f"Verify: {verify}")
    return " ".join(parts) or step.title


def _manual_text(step: PlanStep) -> str:
    lines = [step.instructions]
    if step.targets:
        lines.append("Targets:")
        lines += [f"- {t.kind} {t.label} ({t.value})" + ("" if t.api_ready else " - identify it manually")
                  for t in step.targets]
    return inert("\n".join(lines))


_VARIABLE_REF = re.compile(r"(__[A-Za-z_][A-Za-z0-9_-]*__):value")


def inert(text: str) -> str:
    """``text`` with every CACAO variable reference broken, so no orchestrator substitutes into it."""
    return _VARIABLE_REF.sub(r"\1 :value", text)


def _slug(key: str) -> str:
    """The plan key in letters, digits and ``.:-`` only (no variable reference can survive)."""
    return re.sub(r"[^A-Za-z0-9.:-]+", "-", key)[:80]


def _fill(value: Any, target: str, comment: str, all_targets: list[str], step: PlanStep) -> Any:
    """Replace the catalog's placeholders in a request body."""
    if isinstance(value, dict):
        return {k: _fill(v, target, comment, all_targets, step) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, target, comment, all_targets, step) for v in value]
    if value == "{targets}":
        return all_targets
    if value == "FileSha256" and step.targets:
        return FILE_HASH_TYPES.get(len(step.targets[0].value), value)
    if isinstance(value, str):
        return value.replace("{target}", target).replace("{comment}", comment)
    return value


__all__ = ["CREATOR_ID", "SPEC_VERSION", "TLP_LEVEL", "cacao_timestamp", "inert", "to_cacao"]
