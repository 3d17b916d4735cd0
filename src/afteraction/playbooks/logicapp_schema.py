"""JSON Schemas of the Logic Apps export and the checks a schema cannot express.

No public JSON Schema of the Workflow Definition Language exists (the ARM schema types ``definition`` as a
bare object), so these minimal schemas check the structure the export relies on: the definition's keys,
exactly one trigger, typed actions with inputs (or nested actions), action names and ``runAfter`` statuses,
and the ARM template's resources. :func:`check_workflow` resolves what a schema cannot: every ``runAfter``
target exists in the same scope, no cycles, and every connection an action uses is declared.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_BASE = "https://afteraction.dev/schemas/"
WORKFLOW_SCHEMA_FILE = "logicapp-workflow.schema.json"
ARM_SCHEMA_FILE = "logicapp-arm.schema.json"
NAME_PATTERN = "^[A-Za-z0-9_]+$"
STATUSES = ("Succeeded", "Failed", "Skipped", "TimedOut")
ACTION_TYPES = ("ApiConnection", "ApiConnectionWebhook", "Compose", "Foreach", "Http", "If", "InitializeVariable",
                "ParseJson", "Query", "Scope", "Select", "SetVariable", "Switch")
_NESTED = ("Foreach", "If", "Scope", "Switch")
_CONNECTION = re.compile(r"^@parameters\('\$connections'\)\['([^']+)'\]")


def _workflow_defs() -> dict[str, Any]:
    return {
        "definition": {
            "type": "object",
            "additionalProperties": False,
            "required": ["$schema", "contentVersion", "parameters", "triggers", "actions", "outputs"],
            "properties": {
                "$schema": {"const": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/"
                                     "2016-06-01/workflowdefinition.json#"},
                "contentVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+\.\d+$"},
                "parameters": {
                    "type": "object",
                    "required": ["$connections"],
                    "additionalProperties": {
                        "type": "object", "required": ["type"],
                        "properties": {"type": {"enum": ["Array", "Bool", "Float", "Int", "Object", "SecureObject",
                                                         "SecureString", "String"]}}},
                },
                "triggers": {"type": "object", "minProperties": 1, "maxProperties": 1,
                             "propertyNames": {"pattern": NAME_PATTERN},
                             "additionalProperties": {"$ref": "#/$defs/trigger"}},
                "actions": {"$ref": "#/$defs/actions"},
                "outputs": {"type": "object"},
            },
        },
        "trigger": {
            "type": "object",
            "required": ["type", "inputs"],
            "properties": {"type": {"enum": ["ApiConnectionWebhook", "ApiConnection", "Request", "Recurrence"]},
                           "inputs": {"type": "object"}},
        },
        "actions": {
            "type": "object",
            "propertyNames": {"pattern": NAME_PATTERN, "maxLength": 80},
            "additionalProperties": {"$ref": "#/$defs/action"},
        },
        "runAfter": {
            "type": "object",
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": {"type": "array", "minItems": 1, "uniqueItems": True,
                                     "items": {"enum": list(STATUSES)}},
        },
        "action": {
            "type": "object",
            "required": ["type", "runAfter"],
            "properties": {
                "type": {"enum": list(ACTION_TYPES)},
                "runAfter": {"$ref": "#/$defs/runAfter"},
                "inputs": {"type": "object"},
                "actions": {"$ref": "#/$defs/actions"},
                "else": {"type": "object", "required": ["actions"],
                         "properties": {"actions": {"$ref": "#/$defs/actions"}}},
                "foreach": {"type": "string", "pattern": "^@"},
                "expression": {"type": ["object", "string"]},
            },
            "allOf": [
                {"if": {"properties": {"type": {"const": "Foreach"}}},
                 "then": {"required": ["foreach", "actions"]}},
                {"if": {"properties": {"type": {"const": "If"}}},
                 "then": {"required": ["expression", "actions"]}},
                {"if": {"properties": {"type": {"enum": ["Scope"]}}}, "then": {"required": ["actions"]}},
                {"if": {"properties": {"type": {"not": {"enum": list(_NESTED)}}}},
                 "then": {"required": ["inputs"]}},
                {"if": {"properties": {"type": {"enum": ["ApiConnection", "ApiConnectionWebhook"]}}},
                 "then": {"properties": {"inputs": {"required": ["host", "path"]}}}},
                {"if": {"properties": {"type": {"const": "Http"}}},
                 "then": {"properties": {"inputs": {"required": ["method", "uri"]}}}},
                {"if": {"properties": {"type": {"const": "Query"}}},
                 "then": {"properties": {"inputs": {"required": ["from", "where"]}}}},
                {"if": {"properties": {"type": {"const": "Select"}}},
                 "then": {"properties": {"inputs": {"required": ["from", "select"]}}}},
            ],
        },
    }


def workflow_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a workflow definition as :func:`workflow_definition` writes it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + WORKFLOW_SCHEMA_FILE,
        "title": "afteraction Logic Apps workflow definition",
        "description": "Generated by `python -m afteraction.playbooks.logicapp_schema`. "
                       "Minimal structure of an Azure Logic Apps Workflow Definition Language definition: one "
                       "trigger, typed actions with inputs or nested actions, names of [A-Za-z0-9_] and runAfter "
                       "statuses. runAfter targets and connections are checked in code (check_workflow).",
        "$ref": "#/$defs/definition",
        "$defs": _workflow_defs(),
    }


def arm_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the ARM template; the workflow's definition uses the workflow schema."""
    connection = {
        "type": "object",
        "required": ["type", "apiVersion", "name", "location", "properties"],
        "properties": {
            "type": {"const": "Microsoft.Web/connections"},
            "apiVersion": {"const": "2016-06-01"},
            "name": {"type": "string", "pattern": r"^\[.*\]$"},
            "properties": {"type": "object", "required": ["api"],
                           "properties": {"api": {"type": "object", "required": ["id"]},
                                          "parameterValueType": {"const": "Alternative"}}},
        },
    }
    connection_value = {"type": "object", "required": ["connectionId", "connectionName", "id"],
                        "properties": {"connectionProperties": {"type": "object"}}}
    workflow = {
        "type": "object",
        "required": ["type", "apiVersion", "name", "location", "identity", "properties"],
        "properties": {
            "type": {"const": "Microsoft.Logic/workflows"},
            "apiVersion": {"const": "2017-07-01"},
            "identity": {"type": "object", "required": ["type"], "properties": {"type": {"const": "SystemAssigned"}}},
            "dependsOn": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "properties": {
                "type": "object",
                "required": ["definition", "parameters"],
                "properties": {
                    "state": {"enum": ["Enabled", "Disabled"]},
                    "definition": {"$ref": "#/$defs/definition"},
                    "parameters": {"type": "object", "required": ["$connections"],
                                   "properties": {"$connections": {
                                       "type": "object", "required": ["value"],
                                       "properties": {"value": {"type": "object",
                                                                "additionalProperties": connection_value}}}}},
                },
            },
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + ARM_SCHEMA_FILE,
        "title": "afteraction Microsoft Sentinel playbook ARM template",
        "description": "Generated by `python -m afteraction.playbooks.logicapp_schema`. "
                       "An ARM deployment template with content-hub metadata, the PlaybookName parameter, one "
                       "Microsoft.Web/connections resource per connector and one Microsoft.Logic/workflows "
                       "resource whose definition follows the workflow schema.",
        "type": "object",
        "required": ["$schema", "contentVersion", "metadata", "parameters", "resources"],
        "properties": {
            "$schema": {"const": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"},
            "contentVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+\.\d+$"},
            "metadata": {
                "type": "object",
                "required": ["title", "description", "prerequisites", "postDeployment", "entities", "tags",
                             "afteraction"],
                "properties": {
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "prerequisites": {"type": "array", "items": {"type": "string"}},
                    "postDeployment": {"type": "array", "items": {"type": "string"}},
                    "entities": {"type": "array", "uniqueItems": True,
                                 "items": {"enum": ["Account", "DnsResolution", "FileHash", "Host", "Ip", "Url"]}},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "afteraction": {"type": "object", "required": ["plan", "attackVersion", "permissions",
                                                                    "azureRoles", "connections"]},
                },
            },
            "parameters": {
                "type": "object",
                "required": ["PlaybookName"],
                "properties": {"PlaybookName": {
                    "type": "object", "required": ["type", "defaultValue"],
                    "properties": {"type": {"const": "string"},
                                   "defaultValue": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,80}$"}}}},
            },
            "variables": {"type": "object"},
            "resources": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [{"$ref": "#/$defs/connection"}, {"$ref": "#/$defs/workflow"}]},
                "contains": {"$ref": "#/$defs/workflow"},
                "minContains": 1,
                "maxContains": 1,
            },
            "outputs": {"type": "object"},
        },
        "$defs": {**_workflow_defs(), "connection": connection, "workflow": workflow},
    }


def schemas() -> dict[str, dict[str, Any]]:
    """Both schemas by their file name under ``docs/schemas``."""
    return {WORKFLOW_SCHEMA_FILE: workflow_schema(), ARM_SCHEMA_FILE: arm_schema()}


def _scopes(actions: dict[str, Any], path: str) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every scope of actions (top level, Foreach/If/Scope bodies, If else branches, Switch cases)."""
    yield path, actions
    for name, action in actions.items():
        if not isinstance(action, dict):
            continue
        if isinstance(action.get("actions"), dict):
            yield from _scopes(action["actions"], f"{path}/{name}")
        other = action.get("else")
        if isinstance(other, dict) and isinstance(other.get("actions"), dict):
            yield from _scopes(other["actions"], f"{path}/{name}/else")
        for case, body in (action.get("cases") or {}).items():
            if isinstance(body, dict) and isinstance(body.get("actions"), dict):
                yield from _scopes(body["actions"], f"{path}/{name}/{case}")
        default = action.get("default")
        if isinstance(default, dict) and isinstance(default.get("actions"), dict):
            yield from _scopes(default["actions"], f"{path}/{name}/default")


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*trail, nxt])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [node])):
            return found
    return None


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def check_workflow(definition: dict[str, Any], *, connections: Iterable[str] | None = None) -> list[str]:
    """Problems a schema cannot find: dangling or cyclic ``runAfter``, duplicate names, unknown connections.

    ``connections`` are the names declared in ``$connections`` (the ARM template's); ``None`` skips that check.
    """
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path, actions in _scopes(definition.get("actions") or {}, "actions"):
        graph: dict[str, list[str]] = {}
        for name, action in actions.items():
            if name in seen:
                problems.append(f"{path}/{name}: action name also used at {seen[name]}")
            seen[name] = path
            after = action.get("runAfter", {}) if isinstance(action, dict) else {}
            graph[name] = []
            for target, statuses in (after or {}).items():
                if target not in actions:
                    problems.append(f"{path}/{name}: runAfter names {target!r}, not an action of the same scope")
                else:
                    graph[name].append(target)
                bad = [s for s in statuses if s not in STATUSES] if isinstance(statuses, list) else [statuses]
                if bad or not statuses:
                    problems.append(f"{path}/{name}: runAfter {target!r} has bad statuses {bad or statuses!r}")
        cycle = _cycle(graph)
        if cycle:
            problems.append(f"{path}: runAfter cycle {' -> '.join(cycle)}")
    if connections is not None:
        declared = set(connections)
        used = {m.group(1) for s in _strings([definition.get("triggers"), definition.get("actions")])
                if (m := _CONNECTION.match(s))}
        problems.extend(f"connection {name!r} is used but not declared in $connections"
                        for name in sorted(used - declared))
    return problems


def check_template(template: dict[str, Any]) -> list[str]:
    """:func:`check_workflow` on the template's workflow, with the connections its ``$connections`` declares."""
    workflows = [r for r in template.get("resources", []) if r.get("type") == "Microsoft.Logic/workflows"]
    if len(workflows) != 1:
        return [f"expected one Microsoft.Logic/workflows resource, found {len(workflows)}"]
    props = workflows[0].get("properties", {})
    declared = props.get("parameters", {}).get("$connections", {}).get("value", {})
    problems = check_workflow(copy.deepcopy(props.get("definition", {})), connections=declared)
    resources = {r.get("name") for r in template.get("resources", []) if r.get("type") == "Microsoft.Web/connections"}
    for api, value in sorted(declared.items()):
        if value.get("connectionName") not in resources:
            problems.append(f"$connections {api!r}: no Microsoft.Web/connections resource named "
                            f"{value.get('connectionName')!r}")
    return problems


def schema_text(schema: dict[str, Any]) -> str:
    """A schema as committed under docs/schemas: sorted keys, two-space indent, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> None:
    """Write both schemas into the directory given (default ``docs/schemas``)."""
    target = Path(argv[0] if argv else "docs/schemas")
    for file_name, schema in schemas().items():
        (target / file_name).write_text(schema_text(schema), encoding="utf-8")


__all__ = ["ARM_SCHEMA_FILE", "WORKFLOW_SCHEMA_FILE", "arm_schema", "check_template", "check_workflow", "main",
           "schema_text", "schemas", "workflow_schema"]


if __name__ == "__main__":
    main(sys.argv[1:])
