"""Azure Logic Apps export of a remediation :class:`Plan`: a Microsoft Sentinel playbook.

The workflow is triggered by a Microsoft Sentinel incident. A deployed playbook runs on future incidents, so
the targets come from the triggering incident's entities (the Sentinel connector's "Entities - Get ..."
actions), not from the plan's targets: an action the catalog can automate for a host, account, IP, URL, DNS
domain or file hash becomes a ``Foreach`` over those entities calling the Defender for Endpoint or Microsoft
Graph API with the playbook's managed identity. Every other step becomes a comment on the incident that
carries its instructions. A step gated by a question waits for an Office 365 approval e-mail (Yes / No).
Phases run in order, steps of one phase in parallel, and a final comment reports every step's status.

:func:`arm_template` wraps the definition in a Sentinel-ready ARM template; :func:`power_automate_package`
writes the legacy Power Automate import package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from afteraction.playbooks.catalog import ACTIONS, SERVICES
from afteraction.playbooks.logicapp_actions import (
    ALL_STATUSES,
    APPROVER_PARAMETER,
    INCIDENT_NUMBER,
    INCIDENT_URL,
    EntitySource,
    Names,
    approval_action,
    automated_sources,
    comment_action,
    connections_used,
    default_playbook_name,
    entities_action,
    html_text,
    http_foreach,
    if_action,
    literal,
    permissions,
    run_after,
    step_source,
)
from afteraction.playbooks.logicapp_arm import build_arm_template, build_power_automate_package
from afteraction.playbooks.logicapp_schema import check_template, check_workflow, schemas
from afteraction.playbooks.model import PHASE_TITLES, PHASES, Plan, PlanStep

WORKFLOW_SCHEMA = "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#"
TRIGGER = "Microsoft_Sentinel_incident"
SUMMARY = "Summary_comment"


@dataclass
class _Row:
    """One line of the final summary comment."""

    phase: str
    title: str
    how: str
    action: str  # the workflow action whose status the summary reports
    targets: str = ""


@dataclass
class _Builder:
    plan: Plan
    names: Names = field(default_factory=Names)
    actions: dict[str, Any] = field(default_factory=dict)
    rows: list[_Row] = field(default_factory=list)
    approvals: dict[str, str] = field(default_factory=dict)  # condition variable -> approval action

    def definition(self) -> dict[str, Any]:
        sources = automated_sources(self.plan)
        for source in sources:
            self.names.used.add(source.action)
            self.actions[source.action] = entities_action(source)
        self.names.used.add(SUMMARY)
        prev = [source.action for source in sources]
        for phase in PHASES:
            steps = self.plan.phase_steps(phase)
            if steps:
                prev = self._phase(phase, steps, run_after(prev) if prev else {})
        self.actions[SUMMARY] = comment_action(self._summary(), run_after(prev) if prev else {})
        parameters: dict[str, Any] = {"$connections": {"defaultValue": {}, "type": "Object"}}
        if self.approvals:
            parameters[APPROVER_PARAMETER] = {"defaultValue": "", "type": "String"}
        return {
            "$schema": WORKFLOW_SCHEMA,
            "contentVersion": "1.0.0.0",
            "parameters": parameters,
            "triggers": {TRIGGER: {
                "type": "ApiConnectionWebhook",
                "inputs": {"host": {"connection": {"name": "@parameters('$connections')['azuresentinel']"
                                                           "['connectionId']"}},
                           "body": {"callback_url": "@{listCallbackUrl()}"}, "path": "/incident-creation"}}},
            "actions": self.actions,
            "outputs": {},
        }

    def _phase(self, phase: str, steps: tuple[PlanStep, ...], after: dict[str, list[str]]) -> list[str]:
        """Add one phase's actions, all running after ``after``; return the phase's last actions."""
        tails: list[str] = []
        gated: dict[str, list[PlanStep]] = {}
        for step in steps:
            if step.condition is None:
                name, action = self._step(step, after, "")
                self.actions[name] = action
                tails.append(name)
            else:
                gated.setdefault(step.condition.variable, []).append(step)
        for variable, group in gated.items():
            branch_after = after
            if variable not in self.approvals:
                approval = self.names.take("Approval", variable)
                self.approvals[variable] = approval
                self.actions[approval] = approval_action(*self._approval_text(variable), after)
                self.rows.append(_Row(PHASE_TITLES[phase], "Approval: " + _question(self.plan, variable),
                                      "e-mail to the approver", approval))
                branch_after = run_after([approval], ("Succeeded",))
            approval = self.approvals[variable]
            for expect, answer in ((True, "Yes"), (False, "No")):
                branch = [step for step in group if step.condition and step.condition.expect is expect]
                if not branch:
                    continue
                nested: dict[str, Any] = {}
                for step in branch:
                    name, action = self._step(step, {}, f"only if the answer is {answer}")
                    nested[name] = action
                name = self.names.take(PHASE_TITLES[phase], "If", variable, answer)
                self.actions[name] = if_action(approval, answer, nested, branch_after)
                tails.append(name)
        return tails

    def _step(self, step: PlanStep, after: dict[str, list[str]], gate: str) -> tuple[str, dict[str, Any]]:
        """The action of one step: a Foreach calling the API per entity, or a comment for a person."""
        action = ACTIONS.get(step.action)
        source = step_source(step)
        words = step.key.split(".")
        phase = PHASE_TITLES.get(step.phase, step.phase)
        title = f"<b>{html_text(phase)}: {html_text(step.title)}</b>"
        targets = ", ".join(html_text(f"{t.label} ({t.value})" if t.label != t.value else t.label)
                            for t in step.targets)
        how_gate = f", {gate}" if gate else ""
        if source is not None and action is not None and action.api is not None:
            loop = self.names.take(*words, "Foreach")
            http = self.names.take(*words, "Http")
            item_comment = self.names.take(*words, "Comment")
            # API comments carry no plan text: the catalog's title and the plan key's safe slug
            comment = (literal(f"{action.title} ({default_playbook_name(self.plan)}, Sentinel incident ")
                       + f"@{{{INCIDENT_NUMBER}}})")
            note = f"<p>Check: {html_text(action.verify)}</p>" if action.verify else ""
            self.rows.append(_Row(phase, step.title, f"API for each {source.entity} entity{how_gate}", loop,
                                  targets))
            return loop, http_foreach(action.api, source, (loop, http, item_comment), note=note, comment=comment,
                                      title=title, after=after)
        name = self.names.take(*words, "Comment")
        self.rows.append(_Row(phase, step.title, f"manual (comment){how_gate}", name, targets))
        return name, comment_action(self._manual(step, title, targets), after)

    def _manual(self, step: PlanStep, title: str, targets: str) -> str:
        action = ACTIONS.get(step.action)
        parts = [f"<p>{title} &mdash; manual step: do it, then record it in this incident.</p>",
                 f"<p>{html_text(step.instructions)}</p>"]
        if step.reason:
            parts.append(f"<p>Why: {html_text(step.reason)}</p>")
        if action is not None and action.verify:
            parts.append(f"<p>Check: {html_text(action.verify)}</p>")
        if action is not None and action.api is not None:
            api = action.api
            parts.append("<p>API (not run by this playbook, its target is not an incident entity): "
                         f"<code>{html_text(api.method)} {html_text(SERVICES[api.service] + api.path)}</code>, "
                         f"permission {html_text(api.permission)}.</p>")
        if targets:
            parts.append(f"<p>In the incident the plan was built from: {targets}</p>")
        return "".join(parts)

    def _approval_text(self, variable: str) -> tuple[str, str]:
        question = _question(self.plan, variable)
        subject = f"Sentinel incident @{{{INCIDENT_NUMBER}}}: " + literal(question)
        lines = [f"<p>Playbook: {html_text(self.plan.name)}</p>",
                 f"<p>Incident: @{{{INCIDENT_URL}}}</p>"]
        for expect, answer in ((True, "Yes"), (False, "No")):
            titles = [s.title for s in self.plan.steps if s.condition and s.condition.variable == variable
                      and s.condition.expect is expect]
            if titles:
                lines.append(f"<p>{answer} runs: {html_text('; '.join(titles))}</p>")
        return subject, "".join(lines)

    def _summary(self) -> str:
        head = (f"<p><b>afteraction playbook finished: {html_text(self.plan.name)}</b></p>"
                f"<p>{html_text(self.plan.description)}</p>")
        rows = "".join(
            f"<tr><td>{html_text(r.phase)}</td><td>{html_text(r.title)}</td><td>{html_text(r.how)}</td>"
            f"<td>@{{actions('{r.action}')?['status']}}</td><td>{r.targets}</td></tr>" for r in self.rows)
        table = ("<table><tr><th>Phase</th><th>Step</th><th>How</th><th>Status</th>"
                 f"<th>In the reviewed incident</th></tr>{rows}</table>")
        notes = "".join(f"<li>{html_text(note)}</li>" for note in self.plan.notes)
        tail = ("<p>Steps with status Failed or TimedOut need a person; Skipped steps did not apply or were "
                "not approved.</p>")
        return head + table + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "") + tail


def _question(plan: Plan, variable: str) -> str:
    for step in plan.steps:
        if step.condition and step.condition.variable == variable:
            return step.condition.question
    return variable


def workflow_definition(plan: Plan) -> dict[str, Any]:
    """The Workflow Definition Language ``definition`` of the plan's Sentinel playbook."""
    return _Builder(plan).definition()


def arm_template(plan: Plan, *, playbook_name: str | None = None) -> dict[str, Any]:
    """A Sentinel-ready ARM template deploying the playbook, its API connections and its managed identity."""
    return build_arm_template(plan, workflow_definition(plan), playbook_name or default_playbook_name(plan))


def power_automate_package(plan: Plan) -> bytes:
    """The zip for Power Automate "Import package (Legacy)" (My flows > Import).

    The flow's HTTP actions authenticate as an app registration (a flow has no managed identity), and a
    Sentinel automation rule can only run Logic Apps: the package is for teams that keep their runbooks in
    Power Automate and start the flow themselves.
    """
    return build_power_automate_package(plan, workflow_definition(plan), default_playbook_name(plan))


def logicapp_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas of the workflow definition and the ARM template, by file name under docs/schemas."""
    return schemas()


__all__ = [
    "ALL_STATUSES",
    "SUMMARY",
    "TRIGGER",
    "WORKFLOW_SCHEMA",
    "EntitySource",
    "arm_template",
    "automated_sources",
    "check_template",
    "check_workflow",
    "connections_used",
    "default_playbook_name",
    "logicapp_schemas",
    "permissions",
    "power_automate_package",
    "step_source",
    "workflow_definition",
]
