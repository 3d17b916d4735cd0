"""The remediation actions a plan can use, with their manual instructions and the API that automates them.

The requests follow Microsoft's own Sentinel playbooks (``Azure/Azure-Sentinel``: Isolate-MDEMachine,
Run-MDEAntivirus, Restrict-MDEAppExecution, Revoke-AADSignInSessions, Block-AADUser, Restrict-MDEIPAddress
and its URL, domain and file-hash siblings) and the Defender for Endpoint and Microsoft Graph references.
``{target}`` stands for the target's identifier, ``{targets}`` for the list of every target's identifier and
``{comment}`` for the playbook's comment.
"""

from __future__ import annotations

from afteraction.playbooks.model import Action, ApiCall

#: Base URLs of the services an :class:`ApiCall` names.
SERVICES: dict[str, str] = {
    "defender": "https://api.securitycenter.microsoft.com",
    "graph": "https://graph.microsoft.com",
}
SERVICE_NAMES: dict[str, str] = {
    "defender": "Microsoft Defender for Endpoint API",
    "graph": "Microsoft Graph",
}
_MDE = "https://learn.microsoft.com/defender-endpoint/api/"
_GRAPH = "https://learn.microsoft.com/graph/api/"


def _indicator(kind: str, action: str) -> ApiCall:
    return ApiCall(
        service="defender", method="POST", path="/api/indicators", permission="Ti.ReadWrite",
        body={"indicatorValue": "{target}", "indicatorType": kind, "action": action, "severity": "High",
              "title": "{comment}", "description": "{comment}", "generateAlert": True},
        docs=_MDE + "post-ti-indicator")


_ACTIONS: tuple[Action, ...] = (
    # containment
    Action(name="isolate_device", title="Isolate the device", phase="containment", activity="disconnect-system",
           target_kind="device",
           instructions="Isolate the device from the network in Microsoft Defender for Endpoint (Device page > "
                        "Isolate device > Full). It keeps its connection to Defender so the response can go on.",
           api=ApiCall(service="defender", method="POST", path="/api/machines/{target}/isolate",
                       body={"Comment": "{comment}", "IsolationType": "Full"}, permission="Machine.Isolate",
                       docs=_MDE + "isolate-machine"),
           verify="The device page shows 'Isolated' and the action center lists the isolation as completed."),
    Action(name="collect_investigation_package", title="Collect an investigation package", phase="containment",
           activity="analyze-collected-data", target_kind="device",
           instructions="Collect an investigation package from the device before anything is cleaned, and keep "
                        "it with the incident's evidence.",
           api=ApiCall(service="defender", method="POST", path="/api/machines/{target}/collectInvestigationPackage",
                       body={"Comment": "{comment}"}, permission="Machine.CollectForensics",
                       docs=_MDE + "collect-investigation-package"),
           verify="The package is downloadable from the action center."),
    Action(name="restrict_app_execution", title="Restrict app execution", phase="containment",
           activity="restrict-access", target_kind="device",
           instructions="Restrict app execution on the device so that only Microsoft-signed code runs.",
           api=ApiCall(service="defender", method="POST", path="/api/machines/{target}/restrictCodeExecution",
                       body={"Comment": "{comment}"}, permission="Machine.RestrictExecution",
                       docs=_MDE + "restrict-code-execution")),
    Action(name="revoke_sessions", title="Revoke sign-in sessions", phase="containment",
           activity="restrict-access", target_kind="user",
           instructions="Revoke the account's sign-in sessions and refresh tokens in Microsoft Entra ID, so stolen "
                        "tokens stop working.",
           api=ApiCall(service="graph", method="POST", path="/v1.0/users/{target}/revokeSignInSessions",
                       permission="User.RevokeSessions.All", docs=_GRAPH + "user-revokesigninsessions"),
           verify="New sign-ins of the account require fresh authentication."),
    Action(name="disable_account", title="Disable the account", phase="containment", activity="restrict-access",
           target_kind="user",
           instructions="Block sign-in for the account in Microsoft Entra ID (and disable it in on-premises "
                        "Active Directory if it is synchronised) until its owner is verified.",
           api=ApiCall(service="graph", method="PATCH", path="/v1.0/users/{target}",
                       body={"accountEnabled": False}, permission="User.EnableDisableAccount.All",
                       docs=_GRAPH + "user-update")),
    Action(name="block_ip", title="Block the IP address indicators", phase="containment",
           activity="restrict-access", target_kind="ip",
           instructions="Add the addresses as Defender for Endpoint indicators (Block and alert) and block them on "
                        "the perimeter firewall.",
           api=_indicator("IpAddress", "AlertAndBlock")),
    Action(name="block_url", title="Block the URL indicators", phase="containment", activity="restrict-access",
           target_kind="url",
           instructions="Add the URLs as Defender for Endpoint indicators (Block and alert) and to the Tenant "
                        "Allow/Block List in Defender for Office 365.",
           api=_indicator("Url", "AlertAndBlock")),
    Action(name="block_domain", title="Block the domains", phase="containment", activity="restrict-access",
           target_kind="domain",
           instructions="Add the domains as Defender for Endpoint indicators (Block and alert) and to the Tenant "
                        "Allow/Block List. Do not block shared hosting or cloud services.",
           api=_indicator("DomainName", "AlertAndBlock")),
    Action(name="quarantine_file", title="Stop and quarantine the file", phase="containment",
           activity="eliminate-risk", target_kind="file",
           instructions="Stop and quarantine the file wherever it is found: add its hash as a Defender for Endpoint "
                        "indicator with 'Block and remediate', or use 'Stop and quarantine file' on the file page.",
           api=_indicator("FileSha256", "BlockAndRemediate")),
    # eradication
    Action(name="run_av_scan", title="Run a full antivirus scan", phase="eradication", activity="scan-system",
           target_kind="device",
           instructions="Run a full Microsoft Defender Antivirus scan on the device and remediate what it finds.",
           api=ApiCall(service="defender", method="POST", path="/api/machines/{target}/runAntiVirusScan",
                       body={"Comment": "{comment}", "ScanType": "Full"}, permission="Machine.Scan",
                       docs=_MDE + "run-av-scan"),
           verify="The scan completes with no active threats left on the device page."),
    Action(name="reset_password", title="Reset the password", phase="eradication", activity="eliminate-risk",
           target_kind="user",
           instructions="Reset the account's password out of band, require a change at next sign-in, and check "
                        "the account's MFA methods for ones the attacker added."),
    Action(name="purge_email", title="Purge the delivered messages", phase="eradication", activity="eliminate-risk",
           target_kind="message",
           instructions="Find every delivered copy in Threat Explorer (by sender, subject, URL and network message "
                        "id) and soft-delete them; confirm that zero-hour auto purge acted on the rest. (Microsoft "
                        "Graph's analyzedEmail remediate action needs each copy's analyzed-email id, which the "
                        "alert evidence does not carry, so this step stays manual.)"),
    Action(name="review_inbox_rules", title="Review inbox rules and forwarding", phase="eradication",
           activity="analyze-collected-data", target_kind="mailbox",
           instructions="List the mailbox's inbox rules and forwarding settings; remove rules that move, delete or "
                        "forward mail and were created during the incident.",
           api=ApiCall(service="graph", method="GET", path="/v1.0/users/{target}/mailFolders/inbox/messageRules",
                       permission="MailboxSettings.Read", docs=_GRAPH + "mailfolder-list-messagerules")),
    Action(name="review_persistence", title="Remove persistence on the account", phase="eradication",
           activity="eliminate-risk", target_kind="user",
           instructions="Review the MFA methods, app consents, role assignments and credentials added to the "
                        "account during the compromise window, and remove what the owner did not add."),
    Action(name="stop_payments", title="Stop fraudulent payments", phase="eradication", activity="eliminate-risk",
           target_kind=None,
           instructions="Tell finance which conversations were hijacked; hold or recall payments and bank-detail "
                        "changes requested in them, and warn the external parties involved."),
    # recovery
    Action(name="release_isolation", title="Release the device from isolation", phase="recovery",
           activity="restore-capabilities", target_kind="device",
           instructions="Release the device from isolation once the scan is clean and the investigation of it is "
                        "closed; rebuild it instead if its integrity cannot be established.",
           api=ApiCall(service="defender", method="POST", path="/api/machines/{target}/unisolate",
                       body={"Comment": "{comment}"}, permission="Machine.Isolate",
                       docs=_MDE + "unisolate-machine")),
    Action(name="enable_account", title="Re-enable the account", phase="recovery", activity="restore-capabilities",
           target_kind="user",
           instructions="Re-enable the account after its owner is verified, its password reset and its MFA "
                        "methods re-registered.",
           api=ApiCall(service="graph", method="PATCH", path="/v1.0/users/{target}", body={"accountEnabled": True},
                       permission="User.EnableDisableAccount.All", docs=_GRAPH + "user-update")),
    Action(name="restore_from_backup", title="Restore data from backup", phase="recovery", activity="restore-data",
           target_kind=None,
           instructions="Restore encrypted or destroyed data from offline backups taken before the earliest "
                        "activity; scan restored systems before they rejoin the network."),
    Action(name="rebuild_systems", title="Rebuild affected systems", phase="recovery", activity="revert-system",
           target_kind=None,
           instructions="Rebuild the affected systems from known-good images and restore their data from the last "
                        "clean copy, because the backups cannot be trusted."),
    # hardening
    Action(name="enforce_mfa", title="Require MFA through Conditional Access", phase="hardening",
           activity="configure-systems", target_kind=None,
           instructions="Create a Conditional Access policy that requires MFA for the affected accounts (start in "
                        "report-only mode, then enforce) and block legacy authentication.",
           api=ApiCall(service="graph", method="POST", path="/v1.0/identity/conditionalAccess/policies",
                       body={"displayName": "{comment}", "state": "enabledForReportingButNotEnforced",
                             "conditions": {"users": {"includeUsers": "{targets}"},
                                            "applications": {"includeApplications": ["All"]},
                                            "clientAppTypes": ["all"]},
                             "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}},
                       permission="Policy.ReadWrite.ConditionalAccess",
                       docs=_GRAPH + "conditionalaccessroot-post-policies")),
    Action(name="enable_asr_rules", title="Turn on attack surface reduction rules", phase="hardening",
           activity="configure-systems", target_kind=None,
           instructions="Turn on the Defender attack surface reduction rules that block the techniques seen (for "
                        "example Office child processes, obfuscated scripts, credential theft from LSASS, and "
                        "advanced ransomware protection): audit mode first, then block."),
    Action(name="apply_mitigation", title="Apply the ATT&CK mitigation", phase="hardening",
           activity="configure-systems", target_kind=None,
           instructions="Check that the mitigation is in place for the techniques it covers."),
)

ACTIONS: dict[str, Action] = {action.name: action for action in _ACTIONS}
"""Every action by name, in the catalog's order (containment, eradication, recovery, hardening)."""

#: Defender for Endpoint indicator types by the length of a file hash.
FILE_HASH_TYPES: dict[int, str] = {64: "FileSha256", 40: "FileSha1", 32: "FileMd5"}

__all__ = ["ACTIONS", "FILE_HASH_TYPES", "SERVICES", "SERVICE_NAMES"]
