"""Workflow Definition Language building blocks for the Logic Apps export (``logicapp.py``).

Every string that comes from a plan is attacker-influenced (incident titles, entity labels): in WDL a string
that starts with ``@`` is an expression and ``@{`` interpolates anywhere, so plan text goes through
:func:`literal` (``@`` becomes ``@@``) or, in HTML comment and e-mail bodies, :func:`html_text` (escaped
HTML, ``@`` as ``&#64;``). Expressions are only ever written by this module.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from typing import Any

from afteraction.playbooks.catalog import ACTIONS, SERVICES
from afteraction.playbooks.model import ApiCall, Plan, PlanStep

#: Run-after statuses that let the next phase run whatever happened to the previous one.
ALL_STATUSES: tuple[str, ...] = ("Succeeded", "Failed", "Skipped", "TimedOut")
RUN_AFTER_STATUSES = ALL_STATUSES
MAX_NAME = 80

INCIDENT_ARM_ID = "@triggerBody()?['object']?['id']"
INCIDENT_NUMBER = "triggerBody()?['object']?['properties']?['incidentNumber']"
INCIDENT_URL = "triggerBody()?['object']?['properties']?['incidentUrl']"
RELATED_ENTITIES = "@triggerBody()?['object']?['properties']?['relatedEntities']"
APPROVER_PARAMETER = "ApproverEmail"


def literal(text: str) -> str:
    """A WDL string literal of ``text``: no ``@`` in it can start an expression."""
    return text.replace("@", "@@")


def html_text(text: str) -> str:
    """``text`` as HTML character data inside a WDL string: escaped tags, and no ``@`` at all."""
    return html.escape(text, quote=True).replace("@", "&#64;")


def html_expr(expr: str) -> str:
    """A WDL expression that HTML-escapes the runtime value of ``expr`` (values from the incident)."""
    return f"replace(replace(replace(string({expr}), '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"


def action_name(*parts: str) -> str:
    """An action name from words: only ``[A-Za-z0-9_]``, the first word capitalised, at most 80 characters."""
    words = [re.sub(r"[^A-Za-z0-9]+", "_", part).strip("_") for part in parts]
    name = "_".join(word for word in words if word) or "Action"
    return (name[0].upper() + name[1:])[:MAX_NAME]


class Names:
    """Hands out unique action names (Logic Apps names are unique across the whole workflow)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, *parts: str) -> str:
        base = action_name(*parts)
        name, n = base, 1
        while name in self.used:
            n += 1
            suffix = f"_{n}"
            name = base[: MAX_NAME - len(suffix)] + suffix
        self.used.add(name)
        return name


@dataclass(frozen=True)
class EntitySource:
    """A Microsoft Sentinel connector "Entities - Get ..." action and how to read a target from its items."""

    target_kind: str
    action: str  # action name in the workflow
    title: str  # the connector operation's display name
    path: str
    key: str  # the list in the response body
    entity: str  # Sentinel entity type, for the template metadata
    value: str  # accessor after items('<loop>') giving the identifier the API takes
    label: str  # accessor giving what people read


#: Entity kinds the incident trigger supplies, in a fixed order (Sentinel connector ``azuresentinel``).
ENTITY_SOURCES: dict[str, EntitySource] = {
    source.target_kind: source for source in (
        EntitySource("device", "Entities_Get_Hosts", "Entities - Get Hosts", "/entities/host", "Hosts", "Host",
                     "?['additionalData']?['MdatpDeviceId']", "?['HostName']"),
        EntitySource("user", "Entities_Get_Accounts", "Entities - Get Accounts", "/entities/account", "Accounts",
                     "Account", "", "?['Name']"),
        EntitySource("ip", "Entities_Get_IPs", "Entities - Get IPs", "/entities/ip", "IPs", "Ip", "?['Address']",
                     "?['Address']"),
        EntitySource("url", "Entities_Get_URLs", "Entities - Get URLs", "/entities/url", "URLs", "Url", "?['Url']",
                     "?['Url']"),
        EntitySource("domain", "Entities_Get_DNS", "Entities - Get DNS", "/entities/dnsresolution",
                     "Dnsresolutions", "DnsResolution", "?['DomainName']", "?['DomainName']"),
        EntitySource("file", "Entities_Get_FileHashes", "Entities - Get FileHashes", "/entities/filehash",
                     "Filehashes", "FileHash", "?['Value']", "?['Value']"),
    )
}


def item_value(source: EntitySource, loop: str) -> str:
    """The expression (without ``@``) of the current item's identifier inside the Foreach ``loop``."""
    item = f"items('{loop}')"
    if source.target_kind == "user":  # Entra object id, else the UPN the connector splits into Name and UPNSuffix
        return f"coalesce({item}?['AadUserId'], concat({item}?['Name'], '@', {item}?['UPNSuffix']))"
    return item + source.value


def item_label(source: EntitySource, loop: str) -> str:
    item = f"items('{loop}')"
    if source.target_kind == "user":
        return item_value(source, loop)
    return f"coalesce({item}{source.label}, {item_value(source, loop)})"


def file_indicator_type(loop: str) -> str:
    algorithm = f"toUpper(string(items('{loop}')?['Algorithm']))"
    return (f"@{{if(equals({algorithm}, 'SHA1'), 'FileSha1', if(equals({algorithm}, 'MD5'), 'FileMd5', "
            "'FileSha256'))}")


def connection(name: str) -> dict[str, Any]:
    return {"connection": {"name": f"@parameters('$connections')['{name}']['connectionId']"}}


def run_after(predecessors: list[str] | tuple[str, ...], statuses: tuple[str, ...] = ALL_STATUSES
              ) -> dict[str, list[str]]:
    return {name: list(statuses) for name in sorted(predecessors)}


def entities_action(source: EntitySource) -> dict[str, Any]:
    """The connector action listing the triggering incident's entities of one kind."""
    return {"type": "ApiConnection", "runAfter": {},
            "inputs": {"host": connection("azuresentinel"), "method": "post", "path": source.path,
                       "body": RELATED_ENTITIES}}


def comment_action(message_html: str, after: dict[str, list[str]]) -> dict[str, Any]:
    """"Add comment to incident (V3)" with an HTML message (already escaped by the caller)."""
    return {"type": "ApiConnection", "runAfter": after,
            "inputs": {"host": connection("azuresentinel"), "method": "post", "path": "/Incidents/Comment",
                       "body": {"incidentArmId": INCIDENT_ARM_ID, "message": message_html}}}


def has_targets_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return "{targets}" in value
    if isinstance(value, dict):
        return any(has_targets_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(has_targets_placeholder(v) for v in value)
    return False


def _fill(value: Any, target: str, comment: str, overrides: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: overrides.get(k) or _fill(v, target, comment, overrides) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, target, comment, overrides) for v in value]
    if isinstance(value, str):
        parts = re.split(r"(\{target\}|\{comment\})", value)
        out = []
        for part in parts:
            if part == "{target}":
                out.append(f"@{{{target}}}")
            elif part == "{comment}":
                out.append(comment)
            else:
                out.append(literal(part))
        return "".join(out)
    return value


def http_foreach(api: ApiCall, source: EntitySource, names: tuple[str, str, str], *, note: str, comment: str,
                 title: str, after: dict[str, list[str]]) -> dict[str, Any]:
    """A Foreach over the incident's entities of one kind, calling the API for each with the managed identity.

    ``names`` are the loop's, the HTTP action's and the per-item comment's; ``comment`` is the API's comment
    text (a WDL string, already escaped); ``title`` and ``note`` are HTML. Each item ends with a comment on the
    incident that names the item and the HTTP status.
    """
    loop, http, item_comment = names
    base = SERVICES[api.service]
    value = item_value(source, loop)
    path = "".join(f"@{{encodeURIComponent({value})}}" if part == "{target}" else literal(part)
                   for part in re.split(r"(\{target\})", api.path))
    inputs: dict[str, Any] = {"method": api.method, "uri": base + path,
                              "authentication": {"type": "ManagedServiceIdentity", "audience": base}}
    if api.body is not None:
        overrides = {"indicatorType": file_indicator_type(loop)} if source.target_kind == "file" else {}
        inputs["headers"] = {"Content-Type": "application/json"}
        inputs["body"] = _fill(api.body, value, comment, overrides)
    message = (f"<p>{title}: <code>@{{{html_expr(item_label(source, loop))}}}</code> &mdash; HTTP "
               f"@{{outputs('{http}')?['statusCode']}}.</p>{note}")
    return {"type": "Foreach", "runAfter": after,
            "foreach": f"@coalesce(body('{source.action}')?['{source.key}'], json('[]'))",
            "actions": {
                http: {"type": "Http", "runAfter": {}, "inputs": inputs},
                item_comment: comment_action(message, run_after([http])),
            }}


def approval_action(subject: str, body_html: str, after: dict[str, list[str]]) -> dict[str, Any]:
    """Office 365 Outlook "Send approval email" (Yes / No) to the workflow's approver."""
    return {"type": "ApiConnectionWebhook", "runAfter": after,
            "inputs": {"host": connection("office365"), "path": "/approvalmail/$subscriptions",
                       "body": {"NotificationUrl": "@{listCallbackUrl()}",
                                "Message": {"To": f"@parameters('{APPROVER_PARAMETER}')", "Subject": subject,
                                            "Options": "Yes, No", "Body": body_html, "Importance": "High",
                                            "HideHTMLMessage": False, "ShowHTMLConfirmationDialog": False}}}}


def if_action(approval: str, answer: str, actions: dict[str, Any], after: dict[str, list[str]]
              ) -> dict[str, Any]:
    """Run ``actions`` when the approval's selected option is ``answer`` (anything else runs nothing)."""
    return {"type": "If", "runAfter": after,
            "expression": {"and": [{"equals": [f"@body('{approval}')?['SelectedOption']", answer]}]},
            "actions": actions, "else": {"actions": {}}}


def step_source(step: PlanStep) -> EntitySource | None:
    """The incident entities the step's API call runs over, or ``None`` when a person does the step."""
    action = ACTIONS.get(step.action)
    if action is None or action.api is None or action.target_kind not in ENTITY_SOURCES:
        return None
    if has_targets_placeholder(action.api.body):
        return None
    return ENTITY_SOURCES[action.target_kind]


def automated_sources(plan: Plan) -> list[EntitySource]:
    """The entity kinds the playbook reads from the incident, in the connector's order."""
    kinds = {source.target_kind for step in plan.steps if (source := step_source(step)) is not None}
    return [source for kind, source in ENTITY_SOURCES.items() if kind in kinds]


def connections_used(definition: dict[str, Any]) -> list[str]:
    """The managed API connections the definition's trigger and actions reference, sorted."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            found.update(re.findall(r"^@parameters\('\$connections'\)\['([^']+)'\]", value))

    walk({"triggers": definition.get("triggers"), "actions": definition.get("actions")})
    return sorted(found)


def permissions(plan: Plan) -> dict[str, list[str]]:
    """Application permissions the playbook's automated steps need, by service key (``defender``, ``graph``)."""
    out: dict[str, set[str]] = {}
    for step in plan.steps:
        action = ACTIONS.get(step.action)
        if step_source(step) is not None and action is not None and action.api is not None:
            out.setdefault(action.api.service, set()).add(action.api.permission)
    return {service: sorted(perms) for service, perms in sorted(out.items())}


def default_playbook_name(plan: Plan) -> str:
    """A Logic App name from the plan key: letters, digits and hyphens, at most 64 characters."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", plan.key).strip("-")
    name = f"afteraction-{slug}" if slug else "afteraction-playbook"
    if len(name) > 64:
        digest = hashlib.sha256(plan.key.encode()).hexdigest()[:8]
        name = name[:55].rstrip("-") + "-" + digest
    return name


__all__ = [
    "ALL_STATUSES",
    "APPROVER_PARAMETER",
    "ENTITY_SOURCES",
    "INCIDENT_NUMBER",
    "INCIDENT_URL",
    "EntitySource",
    "Names",
    "action_name",
    "approval_action",
    "automated_sources",
    "comment_action",
    "connections_used",
    "default_playbook_name",
    "entities_action",
    "has_targets_placeholder",
    "html_expr",
    "html_text",
    "http_foreach",
    "if_action",
    "literal",
    "permissions",
    "run_after",
    "step_source",
]
