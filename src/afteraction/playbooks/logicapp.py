"""Azure Logic Apps export of a remediation :class:`Plan`: a Microsoft Sentinel playbook.

The workflow is triggered by a Microsoft Sentinel incident. A deployed playbook runs on future incidents, so
the targets come from the triggering incident's entities (the Sentinel connector's "Entities - Get ..."
actions), not from the plan's targets: an action the catalog can automate for a host, account, IP, URL, DNS
domain or file hash becomes a ``Foreach`` over those entities calling the Defender for Endpoint or Microsoft
Graph API with the playbook's managed identity. Every other step becomes a comment on the incident that
carries its instructions.

Nothing that changes something runs without a person's approval (the rule is
:data:`~afteraction.playbooks.logicapp_actions.READ_ONLY_ACTIONS` and ``needs_approval``): a phase with such
steps sends one Office 365 approval e-mail (Approve / Reject) listing the steps and the incident's entities they
will act on, and its API calls sit in an ``If`` on Approve. A step gated by a question of the plan is approved
by that question's e-mail (Yes / No; it lists the entities too) and is not asked twice. IP entities are
filtered first: private, loopback, link-local and reserved addresses are never blocked. Phases run in order,
steps of one phase in parallel, and a final comment reports every step's status and every approval's answer.

:func:`arm_template` wraps the definition in a Sentinel-ready ARM template; :func:`power_automate_package`
writes the legacy Power Automate import package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from afteraction.playbooks.catalog import ACTIONS, SERVICES
from afteraction.playbooks.logicapp_actions import (
    ALL_STATUSES,
    APPROVE,
    APPROVER_PARAMETER,
    INCIDENT_NUMBER,
    INCIDENT_URL,
    IP_PREFIX_PARAMETER,
    NON_PUBLIC_IP_PREFIXES,
    READ_ONLY_ACTIONS,
    REJECT,
    EntitySource,
    Names,
    approval_action,
    automated_sources,
    comment_action,
    connections_used,
    default_playbook_name,
    entities_html,
    entity_actions,
    html_expr,
    html_text,
    http_foreach,
    if_action,
    is_public_address,
    literal,
    needs_approval,
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
    answer: bool = False  # an approval e-mail: the summary also shows the option chosen
    detail: str = ""  # HTML (a WDL string, escaped) added to the How cell


@dataclass
class _Builder:
    plan: Plan
    names: Names = field(default_factory=Names)
    actions: dict[str, Any] = field(default_factory=dict)
    rows: list[_Row] = field(default_factory=list)
    approvals: dict[str, str] = field(default_factory=dict)  # condition variable -> approval action
    phase_approvals: list[str] = field(default_factory=list)  # the phases' Approve / Reject e-mails

    def definition(self) -> dict[str, Any]:
        prev: list[str] = []
        sources = automated_sources(self.plan)
        for source in sources:
            chain = entity_actions(source)
            for name, action in chain:
                self.names.used.add(name)
                self.actions[name] = action
            prev.append(chain[-1][0])
        self.names.used.add(SUMMARY)
        for phase in PHASES:
            steps = self.plan.phase_steps(phase)
            if steps:
                prev = self._phase(phase, steps, run_after(prev) if prev else {})
        self.actions[SUMMARY] = comment_action(self._summary(), run_after(prev) if prev else {})
        parameters: dict[str, Any] = {"$connections": {"defaultValue": {}, "type": "Object"}}
        if self.approvals or self.phase_approvals:
            parameters[APPROVER_PARAMETER] = {"defaultValue": "", "type": "String"}
        if any(source.public_only for source in sources):
            parameters[IP_PREFIX_PARAMETER] = {"defaultValue": list(NON_PUBLIC_IP_PREFIXES), "type": "Array"}
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
        """Add one phase's actions, all running after ``after``; return the phase's last actions.

        A step with a condition runs in its question's Yes or No branch (the answer is the approval); other
        steps that change something run in the If of the phase's approval e-mail; the rest (comments for a
        person, read-only API calls) run at once.
        """
        tails: list[str] = []
        gated: dict[str, list[PlanStep]] = {}
        approve: list[PlanStep] = []
        for step in steps:
            if step.condition is not None:
                gated.setdefault(step.condition.variable, []).append(step)
            elif needs_approval(step):
                approve.append(step)
            else:
                name, action = self._step(step, after, "")
                self.actions[name] = action
                tails.append(name)
        if approve:
            tails.append(self._approved(phase, approve, after))
        for variable, group in gated.items():
            branch_after = after
            if variable not in self.approvals:
                approval = self.names.take("Approval", variable)
                self.approvals[variable] = approval
                self.actions[approval] = approval_action(*self._approval_text(variable), after)
                self.rows.append(_Row(PHASE_TITLES[phase], "Approval: " + _question(self.plan, variable),
                                      "e-mail to the approver (Yes / No)", approval, answer=True))
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

    def _approved(self, phase: str, steps: list[PlanStep], after: dict[str, list[str]]) -> str:
        """One approval e-mail for the phase's steps that change something, and the If that runs them."""
        title = PHASE_TITLES[phase]
        approval = self.names.take("Approval", title)
        self.phase_approvals.append(approval)
        subject = (f"Sentinel incident @{{{INCIDENT_NUMBER}}}: approve the {title.lower()} actions of "
                   + literal(self.plan.name))
        items = "".join(f"<li>{self._step_html(step)}</li>" for step in steps)
        body = (f"<p>Playbook: {html_text(self.plan.name)}</p>"
                f"<p>Incident: @{{{html_expr(INCIDENT_URL)}}}</p>"
                f"<p>{APPROVE} runs these {title.lower()} steps with the playbook's identity, on these entities of "
                f"the incident (Sentinel entities carry no verdict: check that each one is a threat):</p>"
                f"<ul>{items}</ul><p>{REJECT} runs none of them. The summary comment records the answer.</p>")
        self.actions[approval] = approval_action(subject, body, after, options=f"{APPROVE}, {REJECT}")
        self.rows.append(_Row(title, f"Approval: {title.lower()} actions",
                              f"e-mail to the approver ({APPROVE} / {REJECT})", approval, answer=True))
        nested: dict[str, Any] = {}
        for step in steps:
            name, action = self._step(step, {}, f"only if the {title.lower()} approval is {APPROVE}")
            nested[name] = action
        name = self.names.take(title, "If", "approved")
        self.actions[name] = if_action(approval, APPROVE, nested, run_after([approval], ("Succeeded",)))
        return name

    def _step_html(self, step: PlanStep) -> str:
        """A step for an approval e-mail: its title and, when automated, the request and the entities."""
        text = f"<b>{html_text(step.title)}</b>"
        action, source = ACTIONS.get(step.action), step_source(step)
        if source is None or action is None or action.api is None:
            return text + " (a comment for a person)"
        api = action.api
        return (f"{text}: <code>{html_text(api.method)} {html_text(SERVICES[api.service] + api.path)}</code> "
                f"for each of {entities_html(source)}")

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
            kind = "public IP" if source.public_only else source.entity
            read_only = ", read-only" if step.action in READ_ONLY_ACTIONS else ""
            self.rows.append(_Row(phase, step.title, f"API for each {kind} entity{read_only}{how_gate}", loop,
                                  targets, detail=_skipped(source)))
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
                 f"<p>Incident: @{{{html_expr(INCIDENT_URL)}}}</p>"]
        for expect, answer in ((True, "Yes"), (False, "No")):
            branch = [s for s in self.plan.steps if s.condition and s.condition.variable == variable
                      and s.condition.expect is expect]
            if branch:
                lines.append(f"<p>{answer} runs: {html_text('; '.join(s.title for s in branch))}</p>")
                automated = [s for s in branch if step_source(s) is not None]
                if automated:  # the answer approves these API calls: show what they act on
                    items = "".join(f"<li>{self._step_html(s)}</li>" for s in automated)
                    lines.append(f"<ul>{items}</ul>")
        return subject, "".join(lines)

    def _summary(self) -> str:
        head = (f"<p><b>afteraction playbook finished: {html_text(self.plan.name)}</b></p>"
                f"<p>{html_text(self.plan.description)}</p>")
        rows = "".join(
            f"<tr><td>{html_text(r.phase)}</td><td>{html_text(r.title)}</td><td>{html_text(r.how)}{r.detail}</td>"
            f"<td>{_status(r)}</td><td>{r.targets}</td></tr>" for r in self.rows)
        table = ("<table><tr><th>Phase</th><th>Step</th><th>How</th><th>Status</th>"
                 f"<th>In the reviewed incident</th></tr>{rows}</table>")
        notes = "".join(f"<li>{html_text(note)}</li>" for note in self.plan.notes)
        tail = (f"<p>Every API call that changes something waited for an approval: an answer other than {APPROVE} "
                "(or Yes / No for a question) ran nothing, and its steps show Skipped. Steps with status Failed or "
                "TimedOut need a person. Private, loopback, link-local and reserved IP addresses are never "
                "blocked.</p>")
        return head + table + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "") + tail


def _status(row: _Row) -> str:
    """The summary's status cell: the action's run status, and the option chosen for an approval e-mail."""
    status = f"@{{actions('{row.action}')?['status']}}"
    if not row.answer:
        return status
    # actions(...)?['outputs'] is null, not an error, when the e-mail was not sent
    answer = f"coalesce(actions('{row.action}')?['outputs']?['body']?['SelectedOption'], 'no answer')"
    return f"{status}: @{{{html_expr(answer)}}}"


def _skipped(source: EntitySource) -> str:
    """For the IP filter: how many IP entities were left out (private or reserved); empty for other kinds."""
    if not source.public_only:
        return ""
    kept = f"length(coalesce(actions('{source.filter_action}')?['outputs']?['body'], json('[]')))"
    total = f"length(coalesce(actions('{source.action}')?['outputs']?['body']?['{source.key}'], json('[]')))"
    return f" (@{{sub({total}, {kept})}} private or reserved skipped)"


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
    "NON_PUBLIC_IP_PREFIXES",
    "READ_ONLY_ACTIONS",
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
    "is_public_address",
    "logicapp_schemas",
    "needs_approval",
    "permissions",
    "power_automate_package",
    "step_source",
    "workflow_definition",
]
