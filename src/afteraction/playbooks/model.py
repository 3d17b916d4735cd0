"""The remediation plan: typed, format-neutral steps that the CACAO, Logic Apps and runbook writers share.

A plan is derived from an incident review, a technique set or an incident type (``derive.py``). Every
writer renders the same plan, so the CACAO playbook, the Logic Apps workflow and the runbook list the
same steps, in the same order, with the same targets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

#: NIST SP 800-61 response phases, in the order a playbook runs them; hardening = lessons-learned controls.
PHASES: tuple[str, ...] = ("containment", "eradication", "recovery", "hardening")
PHASE_TITLES: dict[str, str] = {
    "containment": "Containment",
    "eradication": "Eradication",
    "recovery": "Recovery",
    "hardening": "Hardening",
}
#: What a plan is built from.
SCOPES: tuple[str, ...] = ("incident", "techniques", "type")
PLAN_SCHEMA_VERSION = "1.0"


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of the plan values: immutable, keyword-only, strict on decode."""


class ApiCall(Struct):
    """The HTTP request that automates an action; ``{target}`` in ``path`` and body values is the target."""

    service: str  # "defender" (Defender for Endpoint API) | "graph" (Microsoft Graph)
    method: str
    path: str  # relative to the service's base URL, e.g. "/api/machines/{target}/isolate"
    body: dict[str, Any] | None = None
    permission: str = ""  # application permission the caller needs, e.g. "Machine.Isolate"
    docs: str = ""  # Microsoft Learn page of the API


class Action(Struct):
    """One kind of remediation action in the catalog (``catalog.ACTIONS``)."""

    name: str  # stable key, e.g. "isolate_device"
    title: str
    phase: str  # one of PHASES
    activity: str  # CACAO playbook-activity-type-ov value
    target_kind: str | None  # device | user | mailbox | ip | url | domain | file | message | None (tenant-wide)
    instructions: str  # what a person does, in plain words
    api: ApiCall | None = None
    verify: str = ""  # how to check the action worked


class Target(Struct):
    """What a step acts on; ``value`` is the identifier an API needs, ``label`` what people read."""

    kind: str
    value: str
    label: str
    entity: str | None = None  # the review entity "type:key" it came from
    api_ready: bool = True  # ``value`` is the identifier the action's API takes (a device id, not a name)


class Condition(Struct):
    """A yes/no question that gates a step; the playbook asks it once per distinct ``variable``."""

    variable: str  # CACAO variable name without underscores, e.g. "credentials_entered"
    question: str  # plain words, e.g. "Did any recipient click the link or enter credentials?"
    expect: bool = True  # the answer that runs the step (False: the step is the "no" branch)


class PlanStep(Struct):
    """One step of the plan: an action applied to its targets, and why it is there."""

    key: str  # unique within the plan, stable across runs, e.g. "containment.isolate_device"
    action: str  # name of the catalog Action
    phase: str
    title: str
    instructions: str
    targets: tuple[Target, ...] = ()
    techniques: tuple[str, ...] = ()  # ATT&CK technique ids it answers
    mitigations: tuple[str, ...] = ()  # ATT&CK mitigation ids it implements
    reason: str = ""
    condition: Condition | None = None
    automated: bool = False  # an ApiCall exists for every target


class TechniqueRef(Struct):
    """An ATT&CK technique the plan answers, with its name and link when the loaded ATT&CK knows it."""

    id: str
    name: str | None = None
    url: str | None = None


class MitigationRef(Struct):
    """An ATT&CK mitigation the hardening steps draw on."""

    id: str
    name: str
    url: str | None = None
    techniques: tuple[str, ...] = ()


class Plan(Struct):
    """A remediation plan; ``key`` seeds every deterministic id of the playbooks written from it."""

    schema_version: str
    key: str  # "incident:<source>:<id>" | "techniques:<ids>" | "type:<type>"
    scope: str  # one of SCOPES
    name: str
    description: str
    created: datetime
    incident_type: str
    incident_type_label: str
    source: str | None = None
    incident_id: str | None = None
    incident_title: str | None = None
    severity: str | None = None
    attack_version: str = ""
    techniques: tuple[TechniqueRef, ...] = ()
    mitigations: tuple[MitigationRef, ...] = ()
    steps: tuple[PlanStep, ...] = ()
    notes: tuple[str, ...] = ()  # what the plan could not do (no device id for isolation, ...)
    #: when the plan was made (``created`` is the time of the data it reflects: the incident's last update)
    generated: datetime | None = None

    def phase_steps(self, phase: str) -> tuple[PlanStep, ...]:
        """The steps of one phase, in plan order."""
        return tuple(step for step in self.steps if step.phase == phase)


__all__ = [
    "PHASES",
    "PHASE_TITLES",
    "PLAN_SCHEMA_VERSION",
    "SCOPES",
    "Action",
    "ApiCall",
    "Condition",
    "MitigationRef",
    "Plan",
    "PlanStep",
    "Target",
    "TechniqueRef",
]
