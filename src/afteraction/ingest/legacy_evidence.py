"""Flat legacy entities -> :class:`afteraction.model.Evidence`.

Covers legacy Microsoft 365 Defender ``alerts[].entities[]`` and ``alerts[].devices[]``, and the
Defender for Endpoint ``evidence[]`` list. Entities are flat (every key present, null when not
applicable); null keys are ignored, mapped keys fill columns, the rest goes to ``extra``.
"""

from __future__ import annotations

from typing import Any

from afteraction.ingest.evidence import common_field, extra_json, identify, put
from afteraction.ingest.normalize import lower_camel
from afteraction.model import Evidence

ENTITY_TYPES = {
    "user": "user",
    "account": "user",
    "ip": "ip",
    "url": "url",
    "file": "file",
    "process": "process",
    "mailbox": "mailbox",
    "mailmessage": "analyzedMessage",
    "mailcluster": "mailCluster",
    "registry": "registryKey",
    "securitygroup": "securityGroup",
    "machine": "device",
    "device": "device",
    "cloudapplication": "cloudApplication",
    "oauthapplication": "oauthApplication",
    "cloudlogonsession": "cloudLogonSession",
    "mailboxconfiguration": "mailboxConfiguration",
    "malware": "malware",
    "dns": "dns",
    "filehash": "fileHash",
}
FLAT = {
    "sha1": "sha1",
    "sha256": "sha256",
    "md5": "md5",
    "fileName": "file_name",
    "filePath": "file_path",
    "processId": "process_id",
    "processCommandLine": "command_line",
    "parentProcessId": "parent_process_id",
    "ipAddress": "ip_address",
    "url": "url",
    "accountName": "account_name",
    "domainName": "domain_name",
    "userSid": "user_sid",
    "aadUserId": "aad_user_id",
    "userPrincipalName": "user_principal_name",
    "mailboxDisplayName": "display_name",
    "mailboxAddress": "mailbox_address",
    "sender": "sender",
    "senderIp": "sender_ip",
    "recipient": "recipient",
    "subject": "subject",
    "deliveryAction": "delivery_action",
    "networkMessageId": "network_message_id",
    "registryKey": "registry_key",
    "registryValueName": "registry_value_name",
    "registryValue": "registry_value",
    "deviceId": "device_id",
    "securityGroupName": "display_name",
    "applicationId": "app_id",
    "applicationName": "display_name",
}
DEVICE = {
    "mdatpDeviceId": "device_id",
    "aadDeviceId": "aad_device_id",
    "deviceDnsName": "device_dns_name",
    "osPlatform": "os_platform",
    "healthStatus": "health_status",
    "riskScore": "risk_score",
    "rbacGroupName": "rbac_group",
}
_LEGACY_COMMON = {"evidenceCreationTime", "verdict", "remediationStatus", "remediationStatusDetails", "tags"}


def entity_type(raw: Any, entity: dict[str, Any]) -> str:
    """Legacy ``entityType`` -> Graph evidence subtype (unknown types lower-camel-cased)."""
    if not isinstance(raw, str) or not raw:
        return "unknown"
    mapped = ENTITY_TYPES.get(raw.lower())
    if mapped == "registryKey" and entity.get("registryValueName") is not None:
        return "registryValue"
    return mapped or lower_camel(raw)


def _build(type_: str, entity: dict[str, Any], mapping: dict[str, str], skip: str) -> Evidence:
    cols: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    unmapped: dict[str, str] = {}
    for k, v in entity.items():
        if v is None or k == skip:
            continue
        col = mapping.get(k)
        if col is not None:
            if not put(cols, col, v):
                rest[k] = v
        elif k in _LEGACY_COMMON:
            if not common_field(cols, k, v, unmapped):
                rest[k] = v
        else:
            rest[k] = v
    key, name = identify(type_, cols, entity)
    return Evidence(type=type_, key=key, name=name, extra=extra_json(rest), unmapped=unmapped, **cols)


def entity_evidence(entity: dict[str, Any]) -> Evidence:
    """One flat legacy entity / MDE evidence item."""
    return _build(entity_type(entity.get("entityType"), entity), entity, FLAT, "entityType")


def device_evidence(device: dict[str, Any]) -> Evidence:
    """One legacy M365D ``devices[]`` item -> ``device`` evidence."""
    return _build("device", device, DEVICE, "")
