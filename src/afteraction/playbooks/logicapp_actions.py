"""Workflow Definition Language building blocks for the Logic Apps export (``logicapp.py``).

Every string that comes from a plan is attacker-influenced (incident titles, entity labels): in WDL a string
that starts with ``@`` is an expression and ``@{`` interpolates anywhere, so plan text goes through
:func:`literal` (``@`` becomes ``@@``) or, in HTML comment and e-mail bodies, :func:`html_text` (escaped
HTML, ``@`` as ``&#64;``). Expressions are only ever written by this module.

The gating rule (:data:`READ_ONLY_ACTIONS`, :func:`needs_approval`): every automated step whose API call changes
something waits for a person's approval; only the catalog actions named read-only run on their own. The IP
filter is data (:data:`NON_PUBLIC_IP_PREFIXES`): :func:`public_ip_where` writes it as a WDL condition and
:func:`is_public_address` is the same rule in Python.
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
#: The answers of a phase's approval e-mail; only ``APPROVE`` runs the phase's automated steps.
APPROVE, REJECT = "Approve", "Reject"

#: The gating rule. Every step the playbook automates calls an API on each entity of the triggering incident,
#: and Sentinel entities carry no verdict: a domain controller, a file server, a victim's address or a benign
#: tool's hash is an entity too. So every automated step runs only after a person approves it (one e-mail per
#: phase, or the step's own question), except the catalog actions named here, whose API call only reads.
#: Collecting an investigation package and an antivirus scan change nothing on the device's data, but they act
#: on every host (servers included) and load them, so they are gated like the rest.
READ_ONLY_ACTIONS: frozenset[str] = frozenset({"review_inbox_rules"})  # GET .../messageRules

#: The IP filter: an IP entity whose address (trimmed, lower case) starts with one of these prefixes is dropped
#: before any step acts on IPs, so no indicator is created for a private, loopback, link-local, shared
#: (carrier-grade NAT), documentation, benchmarking, multicast or reserved address. IPv4 prefixes end with a
#: dot; IPv6 ones are matched on the text, so they err towards skipping ("fc" also matches the short form
#: "fc::1"). The workflow carries the list as its parameter ``NonPublicIpPrefixes`` (add your own public ranges
#: there to protect them too).
NON_PUBLIC_IP_PREFIXES: tuple[str, ...] = (
    "0.",  # "this network" 0.0.0.0/8
    "10.",  # private 10.0.0.0/8
    *(f"100.{n}." for n in range(64, 128)),  # shared address space 100.64.0.0/10
    "127.",  # loopback 127.0.0.0/8
    "169.254.",  # link-local 169.254.0.0/16
    *(f"172.{n}." for n in range(16, 32)),  # private 172.16.0.0/12
    "192.0.2.", "198.51.100.", "203.0.113.",  # documentation
    "192.168.",  # private 192.168.0.0/16
    "198.18.", "198.19.",  # benchmarking 198.18.0.0/15
    *(f"{n}." for n in range(224, 256)),  # multicast 224.0.0.0/4, reserved 240.0.0.0/4, broadcast
    "::",  # IPv6 unspecified, loopback ::1, IPv4-mapped ::ffff:0:0/96
    "fc", "fd",  # unique local fc00::/7
    "fe8", "fe9", "fea", "feb",  # link-local fe80::/10
    "ff",  # multicast ff00::/8
    "2001:db8:", "2001:0db8:",  # documentation 2001:db8::/32
)
IP_PREFIX_PARAMETER = "NonPublicIpPrefixes"
#: Prefix lengths the WDL condition checks (``take(address, n)``): every IPv4 prefix up to a whole address.
IP_PREFIX_LENGTHS = range(1, 16)


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
    public_only: bool = False  # drop private, loopback, link-local and reserved addresses (IP entities)

    @property
    def filter_action(self) -> str:
        """The Filter array (``Query``) action keeping the public addresses, when ``public_only``."""
        return self.action.replace("Entities_Get_", "Entities_Public_")

    @property
    def list_action(self) -> str:
        """The Select action listing what people read of each entity the steps act on (for the approvals)."""
        return self.action.replace("Entities_Get_", "Entities_List_")

    @property
    def items(self) -> str:
        """The expression (without ``@``) of the entities the steps act on: the filtered list if any."""
        if self.public_only:
            return f"body('{self.filter_action}')"
        return self.all_items

    @property
    def all_items(self) -> str:
        """The expression (without ``@``) of every entity of this kind in the incident."""
        return f"coalesce(body('{self.action}')?['{self.key}'], json('[]'))"


#: Entity kinds the incident trigger supplies, in a fixed order (Sentinel connector ``azuresentinel``).
ENTITY_SOURCES: dict[str, EntitySource] = {
    source.target_kind: source for source in (
        EntitySource("device", "Entities_Get_Hosts", "Entities - Get Hosts", "/entities/host", "Hosts", "Host",
                     "?['additionalData']?['MdatpDeviceId']", "?['HostName']"),
        EntitySource("user", "Entities_Get_Accounts", "Entities - Get Accounts", "/entities/account", "Accounts",
                     "Account", "", "?['Name']"),
        EntitySource("ip", "Entities_Get_IPs", "Entities - Get IPs", "/entities/ip", "IPs", "Ip", "?['Address']",
                     "?['Address']", public_only=True),
        EntitySource("url", "Entities_Get_URLs", "Entities - Get URLs", "/entities/url", "URLs", "Url", "?['Url']",
                     "?['Url']"),
        EntitySource("domain", "Entities_Get_DNS", "Entities - Get DNS", "/entities/dnsresolution",
                     "Dnsresolutions", "DnsResolution", "?['DomainName']", "?['DomainName']"),
        EntitySource("file", "Entities_Get_FileHashes", "Entities - Get FileHashes", "/entities/filehash",
                     "Filehashes", "FileHash", "?['Value']", "?['Value']"),
    )
}


def _value(source: EntitySource, item: str) -> str:
    if source.target_kind == "user":  # Entra object id, else the UPN the connector splits into Name and UPNSuffix
        return f"coalesce({item}?['AadUserId'], concat({item}?['Name'], '@', {item}?['UPNSuffix']))"
    return item + source.value


def _label(source: EntitySource, item: str) -> str:
    if source.target_kind == "user" or source.label == source.value:
        return _value(source, item)
    return f"coalesce({item}{source.label}, {_value(source, item)})"


def item_value(source: EntitySource, loop: str) -> str:
    """The expression (without ``@``) of the current item's identifier inside the Foreach ``loop``."""
    return _value(source, f"items('{loop}')")


def item_label(source: EntitySource, loop: str) -> str:
    return _label(source, f"items('{loop}')")


def is_public_address(address: str, prefixes: tuple[str, ...] = NON_PUBLIC_IP_PREFIXES) -> bool:
    """The IP filter's rule in Python: what :func:`public_ip_where` keeps (for tests and documentation)."""
    text = address.strip().lower()
    return not any(text[:n] in prefixes for n in IP_PREFIX_LENGTHS)


def public_ip_where(item: str = "item()") -> str:
    """The Filter array condition keeping the IP entities :func:`is_public_address` keeps.

    WDL has no loop inside an expression, so "starts with one of the prefixes" is written as "the address's
    first n characters are in the prefix list", for each n a prefix can have (``take`` never fails on a
    shorter string).
    """
    address = f"toLower(trim(string({item}?['Address'])))"
    tests = [f"contains(parameters('{IP_PREFIX_PARAMETER}'), take({address}, {n}))" for n in IP_PREFIX_LENGTHS]
    return f"@not(or({', '.join(tests)}))"


def needs_approval(step: PlanStep) -> bool:
    """The gating rule: the step calls an API on the incident's entities, and that call changes something."""
    return step_source(step) is not None and step.action not in READ_ONLY_ACTIONS


def entity_actions(source: EntitySource) -> list[tuple[str, dict[str, Any]]]:
    """The actions reading one kind of entity: Entities - Get, the IP filter if any, the list for approvals."""
    get: dict[str, Any] = {
        "type": "ApiConnection", "runAfter": {},
        "inputs": {"host": connection("azuresentinel"), "method": "post", "path": source.path,
                   "body": RELATED_ENTITIES}}
    out = [(source.action, get)]
    if source.public_only:
        out.append((source.filter_action, {"type": "Query", "runAfter": run_after([source.action], ("Succeeded",)),
                                           "inputs": {"from": f"@{source.all_items}",
                                                      "where": public_ip_where()}}))
    out.append((source.list_action, {"type": "Select", "runAfter": run_after([out[-1][0]], ("Succeeded",)),
                                     "inputs": {"from": f"@{source.items}",
                                                "select": f"@{_label(source, 'item()')}"}}))
    return out


def entities_html(source: EntitySource) -> str:
    """HTML (a WDL string) counting and naming the entities a step acts on; values escaped at run time."""
    listed = f"body('{source.list_action}')"
    joined = f"join({listed}, ', ')"
    names = f"<code>@{{{html_expr(joined)}}}</code>"
    if source.public_only:
        return (f"@{{length({listed})}} public {source.entity} entities of @{{length({source.all_items})}} "
                f"(private, loopback, link-local and reserved addresses are skipped): {names}")
    return f"@{{length({listed})}} {source.entity} entities: {names}"


def file_indicator_type(loop: str) -> str:
    algorithm = f"toUpper(string(items('{loop}')?['Algorithm']))"
    return (f"@{{if(equals({algorithm}, 'SHA1'), 'FileSha1', if(equals({algorithm}, 'MD5'), 'FileMd5', "
            "'FileSha256'))}")


def connection(name: str) -> dict[str, Any]:
    return {"connection": {"name": f"@parameters('$connections')['{name}']['connectionId']"}}


def run_after(predecessors: list[str] | tuple[str, ...], statuses: tuple[str, ...] = ALL_STATUSES
              ) -> dict[str, list[str]]:
    return {name: list(statuses) for name in sorted(predecessors)}


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
            "foreach": f"@{source.items}",
            "actions": {
                http: {"type": "Http", "runAfter": {}, "inputs": inputs},
                item_comment: comment_action(message, run_after([http])),
            }}


def approval_action(subject: str, body_html: str, after: dict[str, list[str]], options: str = "Yes, No"
                    ) -> dict[str, Any]:
    """Office 365 Outlook "Send approval email" (``options``: Yes / No, or Approve / Reject) to the approver."""
    return {"type": "ApiConnectionWebhook", "runAfter": after,
            "inputs": {"host": connection("office365"), "path": "/approvalmail/$subscriptions",
                       "body": {"NotificationUrl": "@{listCallbackUrl()}",
                                "Message": {"To": f"@parameters('{APPROVER_PARAMETER}')", "Subject": subject,
                                            "Options": options, "Body": body_html, "Importance": "High",
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
    "APPROVE",
    "APPROVER_PARAMETER",
    "ENTITY_SOURCES",
    "INCIDENT_NUMBER",
    "INCIDENT_URL",
    "IP_PREFIX_LENGTHS",
    "IP_PREFIX_PARAMETER",
    "NON_PUBLIC_IP_PREFIXES",
    "READ_ONLY_ACTIONS",
    "REJECT",
    "EntitySource",
    "Names",
    "action_name",
    "approval_action",
    "automated_sources",
    "comment_action",
    "connections_used",
    "default_playbook_name",
    "entities_html",
    "entity_actions",
    "has_targets_placeholder",
    "html_expr",
    "html_text",
    "http_foreach",
    "if_action",
    "is_public_address",
    "literal",
    "needs_approval",
    "permissions",
    "public_ip_where",
    "run_after",
    "step_source",
]
