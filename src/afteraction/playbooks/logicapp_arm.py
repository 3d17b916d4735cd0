"""Packaging of the Logic Apps workflow: the Sentinel ARM template and the Power Automate legacy package.

ARM evaluates any string that starts with ``[`` as a template expression, so every string that came from the
plan (in the definition and in the metadata) is escaped as ``[[``; the template's own expressions are added
after escaping.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
import zipfile
from typing import Any

from afteraction.playbooks.logicapp_actions import APPROVER_PARAMETER, automated_sources, connections_used, permissions
from afteraction.playbooks.model import Plan

ARM_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
#: The enterprise applications whose app roles the managed identity needs, by ApiCall service.
SERVICE_APPS: dict[str, tuple[str, str]] = {
    "defender": ("WindowsDefenderATP", "fc780465-2017-40d4-a0c5-307022471b92"),
    "graph": ("Microsoft Graph", "00000003-0000-0000-c000-000000000000"),
}
SENTINEL_ROLE = "Microsoft Sentinel Responder"
#: Managed API connections: display name and the variable holding the connection resource's name.
CONNECTORS: dict[str, tuple[str, str]] = {
    "azuresentinel": ("Microsoft Sentinel", "AzureSentinelConnectionName"),
    "office365": ("Office 365 Outlook", "Office365ConnectionName"),
}
_LOCATION = "[resourceGroup().location]"
_PA_PARAMETERS = {"TenantId": "String", "ClientId": "String", "ClientSecret": "SecureString"}


def arm_escape(value: Any) -> Any:
    """``value`` with every string that ARM would evaluate (``[...``) escaped as ``[[...``."""
    if isinstance(value, dict):
        return {k: arm_escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [arm_escape(v) for v in value]
    if isinstance(value, str) and value.startswith("["):
        return "[" + value
    return value


def required_permissions(plan: Plan) -> dict[str, list[str]]:
    """App permissions by enterprise application name (``WindowsDefenderATP``, ``Microsoft Graph``)."""
    return {SERVICE_APPS[service][0]: perms for service, perms in permissions(plan).items()}


def _metadata(plan: Plan, connections: list[str]) -> dict[str, Any]:
    perms = permissions(plan)
    post: list[str] = []
    for service, names in perms.items():
        app, app_id = SERVICE_APPS[service]
        post.append(f"Grant the playbook's managed identity (output principalId) the {app} application "
                    f"permissions (app id {app_id}): {', '.join(names)}.")
    post.append(f"Assign the managed identity the {SENTINEL_ROLE} role on the Microsoft Sentinel workspace's "
                "resource group, so that it can read entities and add comments.")
    if "office365" in connections:
        post.append("Authorise the Office 365 Outlook connection (office365-<PlaybookName>): API connections > "
                    "Edit API connection > Authorize > Save; approval e-mails go to the ApproverEmail address.")
    post.append("Attach the playbook to a Microsoft Sentinel automation rule (When incident is created > Run "
                "playbook), or run it from an incident.")
    prerequisites = ["A Microsoft Sentinel workspace; the playbook is deployed to its resource group."]
    if "defender" in perms:
        prerequisites.append("Microsoft Defender for Endpoint onboarded devices (host entities carry "
                             "MdatpDeviceId).")
    if "office365" in connections:
        prerequisites.append("An Office 365 mailbox that sends the approval e-mails.")
    return arm_escape({
        "title": plan.name,
        "description": plan.description,
        "prerequisites": prerequisites,
        "postDeployment": [f"{n}. {text}" for n, text in enumerate(post, 1)],
        "entities": [source.entity for source in automated_sources(plan)],
        "tags": ["Remediation"],
        "author": {"name": "afteraction"},
        "afteraction": {
            "plan": plan.key,
            "scope": plan.scope,
            "incidentType": plan.incident_type,
            "incidentSource": plan.source,
            "incidentId": plan.incident_id,
            "attackVersion": plan.attack_version,
            "created": plan.created.isoformat().replace("+00:00", "Z"),
            "permissions": required_permissions(plan),
            "azureRoles": [SENTINEL_ROLE],
            "connections": connections,
        },
    })


def _connection_resource(api: str) -> dict[str, Any]:
    variable = CONNECTORS[api][1]
    properties: dict[str, Any] = {"displayName": f"[variables('{variable}')]", "customParameterValues": {}}
    if api == "azuresentinel":
        properties["parameterValueType"] = "Alternative"  # the playbook's managed identity, no sign-in
    properties["api"] = {"id": f"[subscriptionResourceId('Microsoft.Web/locations/managedApis', "
                               f"resourceGroup().location, '{api}')]"}
    return {"type": "Microsoft.Web/connections", "apiVersion": "2016-06-01", "name": f"[variables('{variable}')]",
            "location": _LOCATION, "kind": "V1", "properties": properties}


def _connection_value(api: str) -> dict[str, Any]:
    variable = CONNECTORS[api][1]
    value: dict[str, Any] = {
        "connectionId": f"[resourceId('Microsoft.Web/connections', variables('{variable}'))]",
        "connectionName": f"[variables('{variable}')]",
        "id": f"[subscriptionResourceId('Microsoft.Web/locations/managedApis', resourceGroup().location, '{api}')]",
    }
    if api == "azuresentinel":
        value["connectionProperties"] = {"authentication": {"type": "ManagedServiceIdentity"}}
    return value


def build_arm_template(plan: Plan, definition: dict[str, Any], name: str) -> dict[str, Any]:
    """The ARM template: one API connection per connector and the workflow with a system-assigned identity."""
    connections = connections_used(definition)
    parameters: dict[str, Any] = {"PlaybookName": {
        "type": "string", "defaultValue": name, "minLength": 1, "maxLength": 80,
        "metadata": {"description": "Name of the Logic App (letters, digits, hyphens)."}}}
    workflow_parameters: dict[str, Any] = {
        "$connections": {"value": {api: _connection_value(api) for api in connections}}}
    if APPROVER_PARAMETER in definition.get("parameters", {}):
        parameters[APPROVER_PARAMETER] = {
            "type": "string", "metadata": {"description": "E-mail address that receives the approval e-mails."}}
        workflow_parameters[APPROVER_PARAMETER] = {"value": f"[parameters('{APPROVER_PARAMETER}')]"}
    variables = {CONNECTORS[api][1]: f"[concat('{api}-', parameters('PlaybookName'))]" for api in connections}
    workflow = {
        "type": "Microsoft.Logic/workflows",
        "apiVersion": "2017-07-01",
        "name": "[parameters('PlaybookName')]",
        "location": _LOCATION,
        "tags": {"LogicAppsCategory": "security", "hidden-SentinelTemplateName": name,
                 "hidden-SentinelTemplateVersion": "1.0"},
        "identity": {"type": "SystemAssigned"},
        "dependsOn": [f"[resourceId('Microsoft.Web/connections', variables('{CONNECTORS[api][1]}'))]"
                      for api in connections],
        "properties": {"state": "Enabled", "definition": arm_escape(definition), "parameters": workflow_parameters},
    }
    return {
        "$schema": ARM_SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": _metadata(plan, connections),
        "parameters": parameters,
        "variables": variables,
        "resources": [*(_connection_resource(api) for api in connections), workflow],
        "outputs": {"principalId": {
            "type": "string",
            "value": "[reference(resourceId('Microsoft.Logic/workflows', parameters('PlaybookName')), "
                     "'2017-07-01', 'full').identity.principalId]"}},
    }


def power_automate_definition(definition: dict[str, Any]) -> dict[str, Any]:
    """The workflow in Power Automate's (legacy, non-solution) dialect.

    Connections become ``shared_<api>`` and carry ``@parameters('$authentication')``. A flow has no managed
    identity, so the HTTP actions authenticate as an app registration (flow parameters ``TenantId``,
    ``ClientId`` and ``ClientSecret``, set after import) that holds the same application permissions.
    """
    flow = copy.deepcopy(definition)
    flow["parameters"]["$authentication"] = {"defaultValue": {}, "type": "SecureObject"}
    for name, kind in _PA_PARAMETERS.items():
        flow["parameters"][name] = {"defaultValue": "", "type": kind}

    def convert(action: dict[str, Any]) -> None:
        inputs = action.get("inputs")
        if isinstance(inputs, dict) and isinstance(inputs.get("host"), dict):
            connection = inputs["host"]["connection"]
            connection["name"] = connection["name"].replace("('$connections')['", "('$connections')['shared_", 1)
            inputs["authentication"] = "@parameters('$authentication')"
        if action.get("type") == "Http" and isinstance(inputs, dict):
            inputs["authentication"] = {
                "type": "ActiveDirectoryOAuth", "authority": "https://login.microsoftonline.com",
                "tenant": "@parameters('TenantId')", "audience": inputs["authentication"]["audience"],
                "clientId": "@parameters('ClientId')", "secret": "@parameters('ClientSecret')"}
        for nested in (action.get("actions") or {}).values():
            convert(nested)
        for nested in ((action.get("else") or {}).get("actions") or {}).values():
            convert(nested)

    for item in (*flow["triggers"].values(), *flow["actions"].values()):
        convert(item)
    return flow


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def build_power_automate_package(plan: Plan, definition: dict[str, Any], name: str) -> bytes:
    """A Power Automate "Import package (Legacy)" zip of the workflow; connections are chosen at import.

    Ids are derived from the plan key, and the zip entries carry the plan's creation time, so the same plan
    gives the same bytes.
    """
    def uid(part: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"afteraction:{plan.key}:{part}"))

    flow_id, flow_resource = uid("flow"), uid("flow-resource")
    connections = connections_used(definition)
    resources: dict[str, Any] = {}
    references: dict[str, Any] = {}
    apis_map: dict[str, str] = {}
    connections_map: dict[str, str] = {}
    for api in connections:
        shared, title = f"shared_{api}", CONNECTORS[api][0]
        api_resource, connection_resource = uid(f"{api}-api"), uid(f"{api}-connection")
        resources[api_resource] = {
            "id": f"/providers/Microsoft.PowerApps/apis/{shared}", "name": shared, "type": "Microsoft.PowerApps/apis",
            "suggestedCreationType": "Existing", "details": {"displayName": title}, "configurableBy": "System",
            "hierarchy": "Child", "dependsOn": []}
        resources[connection_resource] = {
            "type": "Microsoft.PowerApps/apis/connections", "suggestedCreationType": "Existing",
            "creationType": "Existing", "details": {"displayName": title}, "configurableBy": "User",
            "hierarchy": "Child", "dependsOn": [api_resource]}
        references[shared] = {"connectionName": shared, "source": "Embedded",
                              "id": f"/providers/Microsoft.PowerApps/apis/{shared}", "tier": "NotSpecified"}
        apis_map[shared], connections_map[shared] = api_resource, connection_resource
    resources[flow_resource] = {
        "type": "Microsoft.Flow/flows", "suggestedCreationType": "New", "creationType": "Existing, New, Update",
        "details": {"displayName": name}, "configurableBy": "User", "hierarchy": "Root",
        "dependsOn": sorted([*apis_map.values(), *connections_map.values()])}
    created = plan.created.isoformat().replace("+00:00", "Z")
    manifest = {"schema": "1.0",
                "details": {"displayName": name, "description": plan.description, "createdTime": created,
                            "packageTelemetryId": uid("package"), "creator": "afteraction", "sourceEnvironment": ""},
                "resources": resources}
    flow = {"name": flow_id, "id": f"/providers/Microsoft.Flow/flows/{flow_id}", "type": "Microsoft.Flow/flows",
            "properties": {"apiId": "/providers/Microsoft.PowerApps/apis/shared_logicflows", "displayName": name,
                           "definition": power_automate_definition(definition),
                           "connectionReferences": references, "flowFailureAlertSubscribed": False}}
    base = f"Microsoft.Flow/flows/{flow_id}"
    files = {
        "manifest.json": manifest,
        "Microsoft.Flow/flows/manifest.json": {"packageSchemaVersion": "1.0", "flowAssets": {"assetPaths": [flow_id]}},
        f"{base}/definition.json": flow,
        f"{base}/apisMap.json": apis_map,
        f"{base}/connectionsMap.json": connections_map,
    }
    stamp = plan.created.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, value in files.items():
            info = zipfile.ZipInfo(path, date_time=max(stamp, (1980, 1, 1, 0, 0, 0)))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _json(value))
    return buffer.getvalue()


__all__ = ["ARM_SCHEMA", "CONNECTORS", "SENTINEL_ROLE", "SERVICE_APPS", "arm_escape", "build_arm_template",
           "build_power_automate_package", "power_automate_definition", "required_permissions"]
