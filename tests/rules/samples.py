"""Rule texts shared by the rule-inventory tests (hand-written, minimal)."""

SIGMA = """\
title: Suspicious PowerShell
id: 11111111-1111-1111-1111-111111111111
status: {status}
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        Image|endswith: powershell.exe
    condition: sel
tags:
    - attack.execution
    - attack.t1086
    - attack.t1059.001
    - attack.credential_access
    - attack.credential-access
    - attack.ta0006
    - attack.g0016
    - attack.s0002
    - car.2013-05-002
"""

ELASTIC = """\
[metadata]
creation_date = "2020/01/01"
maturity = "{maturity}"

[rule]
rule_id = "e1"
name = "Kerberoasting via Rubeus"
type = "eql"
tags = ["Domain: Endpoint", "OS: Windows", "Tactic: Credential Access"]
{enabled}

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0006"
name = "Credential Access"
[[rule.threat.technique]]
id = "T1558"
name = "Steal or Forge Kerberos Tickets"
[[rule.threat.technique.subtechnique]]
id = "T1558.003"
[[rule.threat.technique]]
id = "T1208"

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0008"
name = "Lateral Movement"

[[rule.threat]]
framework = "Other"
[rule.threat.tactic]
id = "X1"
"""

SENTINEL = """\
id: 8c9d6ed4-0000-0000-0000-000000000001
name: Potential Kerberoasting
description: |
  Kerberoast
severity: Medium
{extra}
requiredDataConnectors:
  - connectorId: SecurityEvents
queryFrequency: 1d
queryPeriod: 1d
triggerOperator: gt
triggerThreshold: 0
tactics:
  - CredentialAccess
  - PrivilegeEscalation
relevantTechniques:
  - T1208
  - T1078.004
query: |
  SecurityEvent | where EventID == 4769
kind: Scheduled
"""

SPLUNK = """\
name: Windows Kerberoasting SPN Request
id: 0e1e1e1e-0000-0000-0000-000000000002
version: 3
date: '2024-01-01'
status: {status}
type: TTP
search: '`wineventlog_security` EventCode=4769'
tags:
  analytic_story:
    - Active Directory Kerberos Attacks
  mitre_attack_id:
    - T1558.003
    - T9999
  product:
    - Splunk Enterprise
    - Splunk Enterprise Security
  security_domain: endpoint
"""

CSV = (
    "\ufeffStatus,Technique,Rule,Platform\r\n"
    "enabled,T1003.001,LSASS access,Windows\r\n"
    "Disabled,T1086; T1059.003,Script hosts,Windows;Linux\r\n"
    "experimental,\"T1021.001,T9999\",\"=cmd|' /C calc'!A0\",\r\n"
    ",,,\r\n"
    "retired,T1064,Old scripting,\r\n"
    "enabled,,No technique,\r\n"
)
