"""Inline sample records (Python dicts) for the ingest tests, in each supported wire shape."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

SHARED_EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "examples"
GRAPH = "#microsoft.graph.security."

ACCOUNT = {
    "accountName": "jdoe",
    "domainName": "CONTOSO",
    "userSid": "S-1-5-21-1",
    "azureAdUserId": "aad-1",
    "userPrincipalName": "jdoe@contoso.com",
    "displayName": "J Doe",
}


def ev(subtype: str, **fields: Any) -> dict[str, Any]:
    """A Graph evidence dict of ``subtype`` with the common base fields."""
    return {
        "@odata.type": f"{GRAPH}{subtype}Evidence",
        "createdDateTime": "2024-05-15T22:12:51.6Z",
        "verdict": "suspicious",
        "remediationStatus": "none",
        "remediationStatusDetails": None,
        "roles": [],
        "detailedRoles": [],
        "tags": [],
        **fields,
    }


ALL_EVIDENCE: dict[str, tuple[dict[str, Any], str | None]] = {
    # subtype -> (evidence dict, expected key)
    "device": (ev("device", mdeDeviceId="dev1", deviceDnsName="h.contoso.com", hostName="h", osBuild=1), "dev1"),
    "user": (ev("user", userAccount=ACCOUNT), "S-1-5-21-1"),
    "mailbox": (ev("mailbox", primaryAddress="a@contoso.com", displayName="A", upn="a@contoso.com"), "a@contoso.com"),
    "file": (ev("file", fileDetails={"fileName": "x.exe", "sha256": "ab" * 32, "fileSize": 3}), "ab" * 32),
    "process": (
        ev(
            "process",
            processId=7,
            mdeDeviceId="dev1",
            processCreationDateTime="2024-05-15T22:07:14.215Z",
            imageFile={"fileName": "p.exe", "sha1": "11" * 20},
            userAccount=ACCOUNT,
        ),
        "dev1:7:2024-05-15T22:07:14.215Z",
    ),
    "ip": (ev("ip", ipAddress="203.0.113.5", countryLetterCode="NL"), "203.0.113.5"),
    "url": (ev("url", url="http://203.0.113.5/x"), "http://203.0.113.5/x"),
    "analyzedMessage": (ev("analyzedMessage", networkMessageId="nm1", subject="Hi"), "nm1"),
    "registryKey": (ev("registryKey", registryHive="HKLM", registryKey="SOFTWARE\\X"), "HKLM\\SOFTWARE\\X"),
    "registryValue": (
        ev("registryValue", registryHive="HKLM", registryKey="K", registryValueName="V", registryValue="1"),
        "HKLM\\K\\V",
    ),
    "cloudApplication": (ev("cloudApplication", appId=20893, displayName="Exchange"), "20893"),
    "oauthApplication": (ev("oauthApplication", appId="app-1", displayName="App"), "app-1"),
    "cloudLogonSession": (ev("cloudLogonSession", sessionId="s1", browser="Edge"), "s1"),
    "mailboxConfiguration": (
        ev("mailboxConfiguration", configurationId="c1", configurationType="mailForwardingRule"),
        "c1",
    ),
    "malware": (ev("malware", name="Mimikatz", category="HackTool"), "Mimikatz"),
    "networkConnection": (
        ev(
            "networkConnection",
            sourceAddress={"ipAddress": "10.0.0.1"},
            destinationAddress={"ipAddress": "203.0.113.9"},
            sourcePort=5000,
            destinationPort=443,
            protocol="tcp",
        ),
        "10.0.0.1:5000->203.0.113.9:443/tcp",
    ),
    "dns": (ev("dns", domainName="bad.example"), "bad.example"),
    "securityGroup": (ev("securityGroup", securityGroupId="sg1", displayName="Admins"), "sg1"),
    "fileHash": (ev("fileHash", algorithm="sha256", value="cd" * 32), "cd" * 32),
    "mailCluster": (ev("mailCluster", query="q1", clusterByValue="v"), "q1"),
    "azureResource": (ev("azureResource", resourceId="/subs/1/rg", resourceName="rg"), "/subs/1/rg"),
    "servicePrincipal": (ev("servicePrincipal", servicePrincipalObjectId="sp1", appId="a"), "sp1"),
    "blob": (ev("blob", url="https://s.blob/x", name="x"), "https://s.blob/x"),
    "kubernetesPod": (ev("kubernetesPod", name="pod1", namespace={"name": "ns"}), "ns/pod1"),
    "container": (ev("container", containerId="c-1", name="web"), "c-1"),
    "teamsMessage": (ev("teamsMessage", messageId="m1", subject="s"), "m1"),
    "brandNewThing": (ev("brandNewThing", id="n1", weird={"a": 1}), "n1"),
}


def graph_alert(alert_id: str = "da1", incident_id: str | None = "1", **overrides: Any) -> dict[str, Any]:
    """A Graph alert (alerts_v2 shape)."""
    alert = {
        "@odata.type": GRAPH + "alert",
        "id": alert_id,
        "providerAlertId": alert_id,
        "incidentId": incident_id,
        "status": "new",
        "severity": "medium",
        "classification": None,
        "determination": None,
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": "antivirus",
        "title": "Alert " + alert_id,
        "category": "Execution",
        "categories": ["Execution"],
        "mitreTechniques": ["T1059.001", " t1027/002 "],
        "createdDateTime": "2024-05-15T22:12:51.6012345Z",
        "lastUpdateDateTime": "2024-05-16T06:58:21.39Z",
        "resolvedDateTime": None,
        "firstActivityDateTime": "2024-05-15T22:07:14.215Z",
        "lastActivityDateTime": "2024-05-15T22:09:40Z",
        "systemTags": [],
        "customDetails": {},
        "additionalData": {},
        "comments": [],
        "evidence": [ALL_EVIDENCE["device"][0], ALL_EVIDENCE["ip"][0], ALL_EVIDENCE["url"][0]],
    }
    alert.update(overrides)
    return copy.deepcopy(alert)


def graph_incident(incident_id: str = "1", n_alerts: int = 2, **overrides: Any) -> dict[str, Any]:
    """A Graph incident with expanded alerts."""
    incident = {
        "@odata.type": GRAPH + "incident",
        "id": incident_id,
        "displayName": "Incident " + incident_id,
        "status": "active",
        "severity": "high",
        "classification": None,
        "determination": None,
        "createdDateTime": "2024-05-15T22:12:54.2066667Z",
        "lastUpdateDateTime": "2024-05-16T07:05:13.9433333Z",
        "customTags": ["a"],
        "systemTags": [],
        "comments": [
            {"comment": "c1", "createdByDisplayName": "ann", "createdDateTime": "2024-05-16T06:58:20.12Z"}
        ],
        "alerts": [graph_alert(f"da{incident_id}-{i}", incident_id) for i in range(n_alerts)],
    }
    incident.update(overrides)
    return incident


def page(records: list[dict[str, Any]], context: str = "security/incidents(alerts())") -> dict[str, Any]:
    """A Graph list response."""
    return {
        "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}",
        "value": records,
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/security/incidents?$skip=2",
    }


def legacy_incident(incident_id: int = 924) -> dict[str, Any]:
    """A legacy Microsoft 365 Defender incident."""
    entity_base = dict.fromkeys(
        [
            "sha1",
            "sha256",
            "fileName",
            "filePath",
            "processId",
            "processCommandLine",
            "ipAddress",
            "url",
            "accountName",
            "domainName",
            "userSid",
            "aadUserId",
            "userPrincipalName",
            "mailboxAddress",
            "sender",
            "recipient",
            "subject",
            "registryKey",
            "deviceId",
        ]
    )
    return {
        "incidentId": incident_id,
        "incidentUri": f"https://security.microsoft.com/incidents/{incident_id}",
        "redirectIncidentId": None,
        "incidentName": "Legacy incident",
        "createdTime": "2020-09-06T12:07:54.3716667Z",
        "lastUpdateTime": "2020-09-06T12:17:11.3666667Z",
        "assignedTo": None,
        "classification": "TruePositive",
        "determination": "CompromisedUser",
        "status": "Resolved",
        "severity": "UnSpecified",
        "tags": ["Demo"],
        "comments": [{"comment": "legacy note", "createdBy": "bob@contoso.com", "createdTime": "2020-09-06T12:10:00Z"}],
        "alerts": [
            {
                "alertId": "da637350",
                "incidentId": incident_id,
                "serviceSource": "MicrosoftDefenderATP",
                "creationTime": "2020-09-06T12:07:55.1366667Z",
                "lastUpdatedTime": "2020-09-06T12:07:55.2133333Z",
                "resolvedTime": "2020-09-06T12:15:00Z",
                "firstActivity": "2020-09-06T12:04:00Z",
                "lastActivity": "2020-09-06T12:04:00Z",
                "title": "Suspicious powershell",
                "category": "Execution",
                "status": "Resolved",
                "severity": "Medium",
                "classification": "TruePositive",
                "determination": "Malware",
                "detectionSource": "WindowsDefenderAv",
                "actorName": "Storm-1",
                "threatFamilyName": "Fam",
                "mitreTechniques": ["T1059.001"],
                "devices": [
                    {"mdatpDeviceId": "d1", "aadDeviceId": None, "deviceDnsName": "h1.contoso.com",
                     "osPlatform": "Windows10", "healthStatus": "Active", "riskScore": "High",
                     "rbacGroupName": "WDATP-Ring0", "firstSeen": "2020-02-06T14:16:01.9330268Z", "tags": ["t"]}
                ],
                "entities": [
                    {**entity_base, "entityType": "User", "accountName": "jdoe", "domainName": "CONTOSO",
                     "userSid": "S-1-5-21-9"},
                    {**entity_base, "entityType": "Ip", "ipAddress": "203.0.113.8"},
                    {**entity_base, "entityType": "Url", "url": "http://x.example/"},
                    {**entity_base, "entityType": "File", "fileName": "a.exe", "sha1": "aa" * 20},
                    {**entity_base, "entityType": "Process", "processId": 12, "processCommandLine": "cmd",
                     "deviceId": "d1", "processCreationTime": "2020-09-06T12:04:00Z"},
                    {**entity_base, "entityType": "MailBox", "mailboxAddress": "m@contoso.com"},
                    {**entity_base, "entityType": "MailMessage", "networkMessageId": "nm", "subject": "s"},
                    {**entity_base, "entityType": "MailCluster", "clusterBy": "Subject", "clusterByValue": "s"},
                    {**entity_base, "entityType": "Registry", "registryKey": "HKLM\\K"},
                    {**entity_base, "entityType": "SecurityGroup", "securityGroupName": "Admins",
                     "securityGroupId": "sg"},
                    {**entity_base, "entityType": "Widget", "thing": 1},
                ],
            }
        ],
    }


def mde_alert(alert_id: str = "da637", incident_id: int | None = 42) -> dict[str, Any]:
    """A Defender for Endpoint /api/alerts item."""
    return {
        "id": alert_id,
        "incidentId": incident_id,
        "investigationState": "Running",
        "assignedTo": None,
        "severity": "Informational",
        "status": "InProgress",
        "classification": "TruePositive",
        "determination": "InsufficientData",
        "detectionSource": "WindowsDefenderAtp",
        "detectorId": "17e10bbc",
        "category": "CommandAndControl",
        "threatFamilyName": "Fam",
        "threatName": "Trojan:Win32/X",
        "title": "Low occurrence of C2",
        "alertCreationTime": "2021-01-26T20:33:57.7220239Z",
        "firstEventTime": "2021-01-26T20:31:32.9562661Z",
        "lastEventTime": "2021-01-26T20:31:33.0577322Z",
        "lastUpdateTime": "2021-01-26T20:33:59.2Z",
        "resolvedTime": None,
        "machineId": "111e6dd8",
        "computerDnsName": "temp123.middleeast.corp.microsoft.com",
        "rbacGroupName": "A",
        "aadTenantId": "t1",
        "relatedUser": {"userName": "temp123", "domainName": "DOMAIN"},
        "mitreTechniques": ["T1071"],
        "comments": [{"comment": "mde note", "createdBy": "sec@contoso.com", "createdTime": "2021-01-26T01:00:37Z"}],
        "evidence": [
            {"entityType": "File", "evidenceCreationTime": "2021-01-26T20:33:58.42Z", "sha1": "bb" * 20,
             "sha256": None, "fileName": "rundll32.exe", "filePath": "C:\\Windows", "processId": None,
             "detectionStatus": "Detected"},
            {"entityType": "User", "evidenceCreationTime": "2021-01-26T20:33:58.42Z", "accountName": "eranb",
             "domainName": "MIDDLEEAST", "userSid": "S-1-5-21-11", "aadUserId": "a1",
             "userPrincipalName": "temp123@microsoft.com"},
        ],
    }


def dump(obj: Any) -> bytes:
    """JSON bytes."""
    return json.dumps(obj).encode()


def ndjson(records: list[dict[str, Any]]) -> bytes:
    """One compact JSON record per line."""
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def write(tmp_path: Path, name: str, data: bytes, gz: bool = False) -> Path:
    """Write ``data`` (gzip-compressed when ``gz``) and return the path."""
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
