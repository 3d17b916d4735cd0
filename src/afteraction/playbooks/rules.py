"""Which actions a plan takes: per incident type, per ATT&CK technique, and the questions that gate steps.

Kept apart from ``derive.py`` so the tables can be read (and documented in docs/playbooks.md) on their own.
"""

from __future__ import annotations

import msgspec

from afteraction.playbooks.model import Condition

#: Type templates: the actions every plan of that incident type has, whatever the evidence shows.
TYPE_ACTIONS: dict[str, tuple[str, ...]] = {
    "phishing": ("block_url", "block_domain", "purge_email", "revoke_sessions", "reset_password",
                 "review_inbox_rules", "enforce_mfa"),
    "identity_compromise": ("revoke_sessions", "disable_account", "block_ip", "reset_password",
                            "review_persistence", "review_inbox_rules", "enable_account", "enforce_mfa"),
    "ransomware": ("isolate_device", "collect_investigation_package", "restrict_app_execution", "disable_account",
                   "block_ip", "quarantine_file", "run_av_scan", "reset_password", "restore_from_backup",
                   "rebuild_systems", "release_isolation", "enable_asr_rules"),
    "business_email_compromise": ("revoke_sessions", "block_domain", "reset_password", "review_inbox_rules",
                                  "review_persistence", "stop_payments", "enforce_mfa"),
    "malware": ("isolate_device", "collect_investigation_package", "quarantine_file", "run_av_scan",
                "release_isolation"),
}
#: Template labels, for the docs and the runbook.
TEMPLATES: tuple[str, ...] = ("phishing", "identity_compromise", "ransomware", "business_email_compromise")

#: Actions a technique calls for (matched on the technique or its parent).
TECHNIQUE_ACTIONS: dict[str, tuple[str, ...]] = {
    "T1566": ("purge_email", "block_url"),  # Phishing
    "T1114": ("review_inbox_rules",),  # Email Collection (T1114.003 forwarding rules)
    "T1564.008": ("review_inbox_rules",),  # Email Hiding Rules
    "T1078": ("revoke_sessions", "reset_password"),  # Valid Accounts
    "T1110": ("reset_password", "enforce_mfa"),  # Brute Force
    "T1621": ("revoke_sessions", "enforce_mfa"),  # MFA Request Generation
    "T1556": ("review_persistence", "enforce_mfa"),  # Modify Authentication Process
    "T1098": ("review_persistence",),  # Account Manipulation
    "T1550": ("revoke_sessions",),  # Use Alternate Authentication Material
    "T1539": ("revoke_sessions",),  # Steal Web Session Cookie
    "T1528": ("revoke_sessions",),  # Steal Application Access Token
    "T1003": ("reset_password",),  # OS Credential Dumping
    "T1486": ("isolate_device", "restore_from_backup", "rebuild_systems"),  # Data Encrypted for Impact
    "T1490": ("restore_from_backup", "rebuild_systems"),  # Inhibit System Recovery
    "T1485": ("restore_from_backup", "rebuild_systems"),  # Data Destruction
    "T1059": ("run_av_scan",),  # Command and Scripting Interpreter
    "T1204": ("run_av_scan",),  # User Execution
    "T1105": ("quarantine_file", "run_av_scan"),  # Ingress Tool Transfer
    "T1071": ("block_ip", "block_url"),  # Application Layer Protocol (C2)
    "T1219": ("run_av_scan",),  # Remote Access Tools
}

#: Hardening actions that stand for an ATT&CK mitigation (not repeated as a generic mitigation step).
MITIGATION_ACTIONS: dict[str, str] = {"M1032": "enforce_mfa", "M1040": "enable_asr_rules"}
MAX_MITIGATION_STEPS = 5

DEVICE_CLEAN = Condition(variable="device_clean",
                         question="Did the full scan come back clean, and is the device's investigation closed?")
CREDENTIALS_ENTERED = Condition(variable="credentials_entered",
                                question="Did any recipient click the link or enter credentials?")
ACCOUNT_MISUSED = Condition(variable="account_still_misused",
                            question="Is the account still being misused, or can its owner not be reached?")
OWNER_VERIFIED = Condition(variable="owner_verified",
                           question="Has the account's owner been verified and MFA re-registered?")
DOMAIN_OWNED = Condition(variable="domain_attacker_owned",
                         question="Is the domain attacker-controlled (not shared hosting or a cloud service)?")
BACKUPS_INTACT = Condition(variable="backups_intact",
                           question="Are offline backups from before the earliest activity intact?")


_GATES: dict[str, Condition] = {
    "release_isolation": DEVICE_CLEAN,
    "block_domain": DOMAIN_OWNED,
    "disable_account": ACCOUNT_MISUSED,
    "enable_account": OWNER_VERIFIED,
    "restore_from_backup": BACKUPS_INTACT,
    "rebuild_systems": msgspec.structs.replace(BACKUPS_INTACT, expect=False),
}


def condition_for(action: str, incident_type: str, *, user_compromised: bool) -> Condition | None:
    """The question gating ``action`` (its ``expect`` is the answer that runs it), or ``None``."""
    if incident_type == "phishing" and action in ("revoke_sessions", "reset_password") and not user_compromised:
        return CREDENTIALS_ENTERED
    return _GATES.get(action)


__all__ = ["MAX_MITIGATION_STEPS", "MITIGATION_ACTIONS", "TECHNIQUE_ACTIONS", "TEMPLATES", "TYPE_ACTIONS",
           "condition_for"]
