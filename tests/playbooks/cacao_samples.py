"""Hand-written, valid CACAO 2.0 playbooks for the validator tests (fresh copies on every call)."""

from __future__ import annotations

import copy
import json
from typing import Any

PLAYBOOK = "playbook--3f0b2c6e-6f4d-4e2a-9a51-0c7d2b1e8a01"
IDENTITY = "identity--7c1e5a9b-2d3f-4b8e-8a6c-5e4d3c2b1a02"
START = "start--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c04"
PARALLEL = "parallel--1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d05"
MANUAL = "action--2c3d4e5f-6a7b-4c8d-ae9f-1a2b3c4d5e06"
HTTP = "action--3d4e5f6a-7b8c-4d9e-bf0a-2b3c4d5e6f07"
IF = "if-condition--4e5f6a7b-8c9d-4e0f-8a1b-3c4d5e6f7a08"
END = "end--5f6a7b8c-9d0e-4f1a-9b2c-4d5e6f7a8b09"
# CACAO 2.0: every parallel and if branch ends in its own end step
END_MANUAL = "end--6a7b8c9d-0e1f-4a2b-8c3d-5e6f7a8b9c21"
END_HTTP = "end--7b8c9d0e-1f2a-4b3c-9d4e-6f7a8b9c0d22"
END_TRUE = "end--8c9d0e1f-2a3b-4c4d-ae5f-7a8b9c0d1e23"
END_FALSE = "end--9d0e1f2a-3b4c-4d5e-bf6a-8b9c0d1e2f24"
AGENT_SOC = "individual--6a7b8c9d-0e1f-4a2b-8c3d-5e6f7a8b9c10"
AGENT_API = "http-api--7b8c9d0e-1f2a-4b3c-9d4e-6f7a8b9c0d11"
TARGET = "net-address--8c9d0e1f-2a3b-4c4d-ae5f-7a8b9c0d1e12"
AUTH = "oauth2--9d0e1f2a-3b4c-4d5e-bf6a-8b9c0d1e2f13"
MARKING = "marking-tlp--0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a14"
CREATED = "2026-11-20T09:15:00.000Z"

_RICH: dict[str, Any] = {
    "type": "playbook",
    "spec_version": "cacao-2.0",
    "id": PLAYBOOK,
    "name": "Contain compromised workstation after valid-account abuse",
    "description": "Generated from an after-action review: reset the account and isolate the host.",
    "playbook_types": ["remediation"],
    "playbook_activities": ["restrict-access", "disconnect-system"],
    "created_by": IDENTITY,
    "created": CREATED,
    "modified": "2026-11-21T16:40:12.250Z",
    "valid_from": CREATED,
    "valid_until": "2027-11-20T09:15:00.000Z",
    "priority": 10,
    "severity": 70,
    "impact": 40,
    "labels": ["attack.t1078", "afteraction.review"],
    "external_references": [
        {
            "name": "ATT&CK T1078 Valid Accounts",
            "source": "mitre-attack",
            "url": "https://attack.mitre.org/techniques/T1078/",
            "external_id": "T1078",
        }
    ],
    "markings": [MARKING],
    "playbook_variables": {
        "__host__": {"type": "string", "value": "ws-042", "description": "Host to isolate"},
        "__isolation_status__": {"type": "string", "value": None},
    },
    "workflow_start": START,
    "workflow": {
        START: {"type": "start", "name": "Start", "on_completion": PARALLEL},
        PARALLEL: {
            "type": "parallel",
            "name": "Contain account and host",
            "next_steps": [MANUAL, HTTP],
            "on_completion": IF,
        },
        MANUAL: {
            "type": "action",
            "name": "Reset the account",
            "commands": [
                {
                    "type": "manual",
                    "command": "Reset the password of the affected account and revoke its sessions.",
                    "playbook_activity": "restrict-access",
                }
            ],
            "agent": AGENT_SOC,
            "on_completion": END_MANUAL,
        },
        END_MANUAL: {"type": "end", "name": "Account branch done"},
        HTTP: {
            "type": "action",
            "name": "Isolate the host",
            "step_variables": {"__incident_id__": {"type": "string", "value": "incident-1842"}},
            "in_args": ["__host__", "__incident_id__"],
            "out_args": ["__isolation_status__"],
            "commands": [
                {
                    "type": "http-api",
                    "command": "POST /api/machines/__host__:value/isolate HTTP/1.1",
                    "headers": {"Content-Type": ["application/json"]},
                    "content": '{"Comment": "after-action __incident_id__:value", "IsolationType": "Full"}',
                }
            ],
            "agent": AGENT_API,
            "targets": [TARGET],
            "external_references": [{"name": "Defender for Endpoint isolate machine API"}],
            "on_completion": END_HTTP,
        },
        END_HTTP: {"type": "end", "name": "Host branch done"},
        IF: {
            "type": "if-condition",
            "name": "Isolation succeeded?",
            "condition": "__isolation_status__:value = 'Succeeded'",
            "on_true": END_TRUE,
            "on_false": END_FALSE,
            "on_completion": END,
        },
        END_TRUE: {"type": "end", "name": "Isolated"},
        END_FALSE: {"type": "end", "name": "Not isolated"},
        END: {"type": "end", "name": "End"},
    },
    "agent_definitions": {
        AGENT_SOC: {"type": "individual", "name": "SOC analyst on duty"},
        AGENT_API: {
            "type": "http-api",
            "name": "Microsoft Defender for Endpoint API",
            "address": {"url": ["https://api.security.microsoft.com"]},
            "authentication_info": AUTH,
        },
    },
    "target_definitions": {
        TARGET: {"type": "net-address", "name": "ws-042", "address": {"dname": ["ws-042.corp.example"]}},
    },
    "authentication_info_definitions": {
        AUTH: {"type": "oauth2", "oauth_header": "Authorization", "token": "__defender_token__"},
    },
    "data_marking_definitions": {
        MARKING: {
            "type": "marking-tlp",
            "id": MARKING,
            "created_by": IDENTITY,
            "created": "2022-10-01T00:00:00.000Z",
            "tlpv2_level": "TLP:AMBER",
        }
    },
}


def rich_playbook() -> dict[str, Any]:
    """start -> parallel -> (manual action, http-api action) -> if-condition -> end, with everything around it."""
    return copy.deepcopy(_RICH)


def minimal_playbook() -> dict[str, Any]:
    """The smallest useful playbook: start -> one manual action -> end."""
    return {
        "type": "playbook",
        "spec_version": "cacao-2.0",
        "id": PLAYBOOK,
        "name": "Minimal",
        "created_by": IDENTITY,
        "created": CREATED,
        "modified": CREATED,
        "workflow_start": START,
        "workflow": {
            START: {"type": "start", "on_completion": MANUAL},
            MANUAL: {
                "type": "action",
                "commands": [{"type": "manual", "command": "Call the user."}],
                "agent": AGENT_SOC,
                "on_completion": END,
            },
            END: {"type": "end"},
        },
        "agent_definitions": {AGENT_SOC: {"type": "individual", "name": "SOC analyst"}},
    }


def rename(playbook: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The playbook with every occurrence of identifier ``old`` (keys and values) replaced by ``new``."""
    return json.loads(json.dumps(playbook).replace(f'"{old}"', f'"{new}"'))
