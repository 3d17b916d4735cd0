"""Fixed review guidance: NIST SP 800-61 lessons-learned questions and type-specific response steps.

The phishing and identity steps follow the phishing and identity investigation paths of Microsoft's
Defender XDR documentation series (email alert -> Explorer -> ZAP; MDI -> MDE process tree).
"""

from __future__ import annotations

from afteraction.analyze.review.model import Question, Step

#: NIST SP 800-61 Rev. 2 §3.4.1 lessons-learned questions (Rev. 3 keeps them under ID.IM).
NIST_QUESTIONS: tuple[str, ...] = (
    "Exactly what happened, and at what times?",
    "How well did staff and management perform in dealing with the incident? Were the documented "
    "procedures followed? Were they adequate?",
    "What information was needed sooner?",
    "Were any steps or actions taken that might have inhibited the recovery?",
    "What would the staff and management do differently the next time a similar incident occurs?",
    "How could information sharing with other organizations have been improved?",
    "What corrective actions can prevent similar incidents in the future?",
    "What precursors or indicators should be watched for in the future to detect similar incidents?",
    "What additional tools or resources are needed to detect, analyze, and mitigate future incidents?",
)


def lessons() -> tuple[Question, ...]:
    """The lessons-learned questions, unanswered."""
    return tuple(Question(number=i, text=q) for i, q in enumerate(NIST_QUESTIONS, 1))


_S = Step
TYPE_STEPS: dict[str, tuple[str, tuple[Step, ...]]] = {
    "phishing": ("Microsoft Defender XDR phishing investigation path (Defender for Office 365)", (
        _S(title="Scope the campaign", detail="In Threat Explorer, find every delivered copy of the message "
           "by sender, subject, URL and network message id, not only the reported one."),
        _S(title="Purge delivered copies", detail="Soft-delete or move the messages with a remediation action "
           "and confirm that zero-hour auto purge (ZAP) acted on the rest."),
        _S(title="Find who clicked", detail="Check URL click events (UrlClickEvents) for the message's URLs and "
           "treat users who clicked and entered credentials as identity compromise."),
        _S(title="Block the indicators", detail="Add the sender, sending domain and URLs to the Tenant "
           "Allow/Block List and as Defender indicators."),
        _S(title="Check the mailboxes", detail="Review inbox rules and forwarding on recipients' mailboxes for "
           "rules created after delivery."),
    )),
    "identity_compromise": ("Microsoft Defender XDR identity investigation path (Defender for Identity, "
                            "Entra ID Protection)", (
        _S(title="Contain the account", detail="Revoke sign-in sessions and refresh tokens, reset the password, "
           "and disable the account if the owner cannot be reached."),
        _S(title="Review sign-ins", detail="Review the account's sign-ins and risk detections for the source "
           "IPs and locations in the evidence, and block the attacker IPs."),
        _S(title="Check persistence", detail="Look for new MFA methods, app consents, mailbox rules and role "
           "assignments added during the compromise window."),
        _S(title="Follow lateral movement", detail="Use Defender for Identity's lateral movement paths and the "
           "Defender for Endpoint process tree on the devices the account used (pass-the-hash, "
           "overpass-the-hash, credential dumping such as Mimikatz)."),
        _S(title="Harden sign-in", detail="Require MFA through Conditional Access for the affected users and "
           "block legacy authentication."),
    )),
    "ransomware": ("Ransomware response (NIST SP 800-61 containment, eradication and recovery)", (
        _S(title="Isolate", detail="Isolate affected devices and disable compromised accounts before "
           "restoring anything."),
        _S(title="Preserve evidence", detail="Collect an investigation package from each affected device "
           "before reimaging."),
        _S(title="Find the entry point", detail="Trace the earliest activity in the chain; the initial access "
           "path must be closed before recovery."),
        _S(title="Recover from known-good backups", detail="Verify backups are clean and were not reachable "
           "by the attacker; restore and monitor."),
    )),
    "business_email_compromise": ("Business email compromise response", (
        _S(title="Remove mailbox rules", detail="Delete forwarding and hiding inbox rules the attacker created "
           "and disable external auto-forwarding."),
        _S(title="Contain the account", detail="Revoke sessions, reset the password and re-register MFA."),
        _S(title="Stop the fraud", detail="Contact finance and the recipients of messages the attacker sent; "
           "recall or flag payment requests."),
    )),
    "malware": ("Malware response", (
        _S(title="Quarantine and scan", detail="Quarantine the files, run a full antivirus scan and check the "
           "automated investigation's results."),
        _S(title="Block the hashes", detail="Add file hash indicators so the files are blocked everywhere."),
        _S(title="Find the delivery", detail="Determine how the malware arrived (mail, web, removable media) "
           "and close that path."),
    )),
    "insider_data_loss": ("Insider threat and data loss response", (
        _S(title="Preserve and involve", detail="Preserve the evidence and involve HR and legal before "
           "contacting the user."),
        _S(title="Scope the data", detail="Determine which data left, where to, and whether it was sensitive."),
    )),
}


__all__ = ["NIST_QUESTIONS", "TYPE_STEPS", "lessons"]
