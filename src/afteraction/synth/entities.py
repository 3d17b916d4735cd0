"""The simulated environment (users, devices, attacker infrastructure) and evidence entities.

Users and devices are numbered; each is derived from its number and the seed on demand (and cached),
so nothing grows with the number of incidents. Identifiers are hashes of the seed and a name, so they
look real, are stable per seed and never collide in practice. Attacker infrastructure comes from
reserved ranges: cluster IPs from the documentation networks (RFC 5737) and per-incident IPs from the
benchmarking network 198.18.0.0/15 (RFC 2544), IPv6 from 2001:db8::/32 when those run out; domains end
in ``.example`` (RFC 2606).
"""

from __future__ import annotations

import hashlib
import random
import re
from functools import lru_cache
from typing import NamedTuple

import msgspec

from afteraction.model import Evidence, RemediationStatus, Verdict

DOMAIN = "contoso.com"
NETBIOS = "CONTOSO"
FIRST = ("adele", "alex", "amir", "ana", "ben", "carla", "chen", "dana", "diego", "elena", "emma", "farah",
         "felix", "grace", "hana", "ian", "isabel", "jamal", "jin", "kai", "lara", "leo", "lina", "marco",
         "maya", "mei", "nadia", "nina", "omar", "owen", "priya", "rafael", "rosa", "sam", "sara", "sofia",
         "tariq", "tomas", "uma", "victor", "wei", "yara", "yusuf", "zoe", "aaron", "bianca", "caleb", "dara")
LAST = ("adams", "baker", "castro", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jensen", "khan",
        "larsen", "martin", "novak", "okafor", "patel", "quinn", "rossi", "silva", "tanaka", "ueda", "vargas",
        "weber", "xu", "young", "zhang", "alvarez", "brown", "cohen", "dubois", "eriksen", "fernandes",
        "gupta", "hansen", "ibrahim", "jones", "kowalski", "lopez", "meyer", "nguyen", "olsen", "park",
        "reyes", "schmidt", "torres", "walker", "yilmaz", "zimmer")
WORDS_A = ("secure", "cloud", "update", "login", "docs", "share", "mail", "cdn", "portal", "sync", "office",
           "files", "auth", "verify", "online", "support")
WORDS_B = ("services", "files", "verify", "center", "drive", "storage", "access", "connect", "hub", "desk",
           "point", "net")
COUNTRIES = ("NL", "US", "RU", "CN", "BR", "RO", "NG", "VN", "DE", "SG", "UA", "IR", "KP", "GB", "FR")
_SLUG = re.compile(r"[^a-z0-9]+")
_encode = msgspec.json.Encoder().encode
_DETECTED = '{"detectionStatus":"detected"}'


def seeded(key: str | int) -> random.Random:
    """A random stream for sample data (not for security: the point is that it is reproducible)."""
    return random.Random(key)  # noqa: S311


def digest(*parts: object, n: int = 64) -> str:
    """Hex digest of the parts (sha256, truncated to ``n`` characters)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]


def guid(*parts: object) -> str:
    """A GUID-shaped id derived from the parts."""
    h = digest(*parts, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def slug(name: str) -> str:
    """``Cobalt Strike`` -> ``cobaltstrike`` (for file names)."""
    return _SLUG.sub("", name.lower()) or "payload"


class User(NamedTuple):
    account: str
    upn: str
    display: str
    sid: str
    aad_id: str


class Device(NamedTuple):
    host: str
    dns: str
    mde_id: str
    aad_id: str
    os: str  # Windows11, WindowsServer2022, Linux, macOS
    ip: str
    rbac: str


class Env:
    """One tenant: its users and devices (derived from the seed), and attacker infrastructure."""

    def __init__(self, seed: int, n_users: int, n_devices: int) -> None:
        self.seed = seed
        self.n_users = n_users
        self.n_devices = n_devices
        self.tenant_id = guid(seed, "tenant")
        h = digest(seed, "domain-sid", n=24)
        self.domain_sid = f"S-1-5-21-{int(h[:8], 16)}-{int(h[8:16], 16)}-{int(h[16:], 16)}"
        self.user = lru_cache(maxsize=4096)(self._user)
        self.device = lru_cache(maxsize=4096)(self._device)

    def _user(self, i: int) -> User:
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        k = i // (len(FIRST) * len(LAST))
        account = f"{first}.{last}{k or ''}"
        return User(account, f"{account}@{DOMAIN}", f"{first.capitalize()} {last.capitalize()}",
                    f"{self.domain_sid}-{1104 + i}", guid(self.seed, "user", i))

    def _device(self, key: tuple[str, int]) -> Device:
        os_name, i = key
        if os_name == "server":
            host, os_label, rbac = f"srv-{i:03d}", "WindowsServer2022", "Servers"
        elif os_name == "linux":
            host, os_label, rbac = f"lnx-{i:04d}", "Linux", "Linux servers"
        elif os_name == "macos":
            host, os_label, rbac = f"mac-{i:04d}", "macOS", "Workstations"
        else:
            host, os_label, rbac = f"ws-{i:05d}", "Windows11", "Workstations"
        ip = f"10.{16 + (i >> 16) % 16}.{(i >> 8) & 255}.{i & 255 or 1}"
        return Device(host, f"{host}.{DOMAIN}", digest(self.seed, "device", os_name, i, n=40),
                      guid(self.seed, "aad-device", os_name, i), os_label, ip, rbac)

    def endpoint(self, i: int, os_name: str) -> Device:
        """Device number ``i`` of a kind (windows, linux, macos, server)."""
        n = self.n_devices if os_name == "windows" else max(8, self.n_devices // 20)
        return self.device((os_name, i % n))


# Attacker infrastructure ----------------------------------------------------------------------------
_DOC_NETS = ("203.0.113", "198.51.100", "192.0.2")


def cluster_ip(k: int) -> str:
    """The k-th campaign-infrastructure IP (documentation ranges, then 2001:db8:c::/48)."""
    if k < 3 * 254:
        return f"{_DOC_NETS[k // 254]}.{k % 254 + 1}"
    return f"2001:db8:c::{k:x}"


def incident_ip(k: int) -> str:
    """The k-th per-incident attacker IP (198.18.0.0/15, then 2001:db8:1::/48)."""
    if k < 2 * 65536 - 2:
        n = k + 1
        return f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"
    return f"2001:db8:1::{k:x}"


def country_of(ip: str) -> str:
    """A stable country code for an attacker IP."""
    return COUNTRIES[sum(map(ord, ip)) % len(COUNTRIES)]


def domain_name(k: int, salt: int) -> str:
    """A unique attacker domain under ``.example``."""
    a = WORDS_A[(k + salt) % len(WORDS_A)]
    b = WORDS_B[(k // len(WORDS_A) + salt) % len(WORDS_B)]
    return f"{a}-{b}-{k:x}.example"


# Evidence ---------------------------------------------------------------------------------------------
class Mark(NamedTuple):
    """Verdict, remediation and roles of one entity within an incident."""

    verdict: Verdict
    remediation: RemediationStatus
    details: str | None
    roles: tuple[str, ...]


def device_evidence(d: Device, created: object, m: Mark) -> Evidence:
    return Evidence(
        type="device", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, device_id=d.mde_id, aad_device_id=d.aad_id,
        host_name=d.host, device_dns_name=d.dns, os_platform=d.os,
        risk_score="high" if m.verdict is Verdict.MALICIOUS else "medium", health_status="active",
        rbac_group=d.rbac, extra=_encode({"lastIpAddress": d.ip, "onboardingStatus": "onboarded"}).decode(),
    )


def user_evidence(u: User, created: object, m: Mark) -> Evidence:
    return Evidence(
        type="user", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, account_name=u.account, domain_name=NETBIOS,
        user_sid=u.sid, aad_user_id=u.aad_id, user_principal_name=u.upn, display_name=u.display,
    )


def mailbox_evidence(u: User, created: object, m: Mark) -> Evidence:
    return Evidence(
        type="mailbox", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, mailbox_address=u.upn, user_principal_name=u.upn,
        display_name=u.display, account_name=u.account, domain_name=NETBIOS, user_sid=u.sid, aad_user_id=u.aad_id,
    )


class FileSpec(NamedTuple):
    name: str
    path: str
    key: str  # hash seed: same key, same hashes


def _hashes(key: str) -> tuple[str, str, str]:
    raw = key.encode()
    return (hashlib.sha256(raw).hexdigest(), hashlib.sha1(raw, usedforsecurity=False).hexdigest(),
            hashlib.md5(raw, usedforsecurity=False).hexdigest())


def file_evidence(f: FileSpec, device_id: str | None, created: object, m: Mark) -> Evidence:
    sha256, sha1, md5 = _hashes(f.key)
    return Evidence(
        type="file", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, file_name=f.name, file_path=f.path, sha256=sha256,
        sha1=sha1, md5=md5, device_id=device_id,
        extra=_DETECTED if m.verdict is Verdict.MALICIOUS else None,
    )


def file_sha256(f: FileSpec) -> str:
    return _hashes(f.key)[0]


def process_evidence(
    image: FileSpec, cmd: str, pid: int, ppid: int, d: Device, u: User, created: str, m: Mark, when: object
) -> Evidence:
    sha256, sha1, md5 = _hashes(image.key)
    return Evidence(
        type="process", created=when, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, process_id=pid, parent_process_id=ppid, command_line=cmd,
        device_id=d.mde_id, file_name=image.name, file_path=image.path, sha256=sha256, sha1=sha1, md5=md5,
        account_name=u.account, domain_name=NETBIOS, user_sid=u.sid, user_principal_name=u.upn,
        extra=_encode({"processCreationDateTime": created}).decode(),
    )


def ip_evidence(ip: str, country: str | None, created: object, m: Mark) -> Evidence:
    return Evidence(
        type="ip", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, ip_address=ip, country=country,
    )


def url_evidence(url: str, created: object, m: Mark) -> Evidence:
    return Evidence(
        type="url", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, url=url,
    )


def message_evidence(
    nmid: str, subject: str, sender: str, sender_ip: str, recipient: str, urls: list[str], threat: str,
    delivery: str, created: object, m: Mark,
) -> Evidence:
    return Evidence(
        type="analyzedMessage", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, network_message_id=nmid,
        internet_message_id=f"<{nmid[:18]}@{sender.split('@')[-1]}>", subject=subject, sender_ip=sender_ip,
        recipient=recipient, delivery_action=delivery, sender=sender,
        extra=_encode({"deliveryLocation": "inbox" if delivery == "delivered" else "quarantine",
                       "urls": urls, "threats": [threat], "urlCount": len(urls),
                       "antiSpamDirection": "inbound"}).decode(),
    )


def mailbox_config_evidence(kind: str, config_id: str, u: User, created: object, m: Mark) -> Evidence:
    return Evidence(
        type="mailboxConfiguration", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, configuration_type=kind, mailbox_address=u.upn,
        user_principal_name=u.upn, display_name=u.display, extra=_encode({"configurationId": config_id}).decode(),
    )


CLOUD_APPS = (("Microsoft Exchange Online", 20893), ("Microsoft SharePoint Online", 20892),
              ("Microsoft OneDrive for Business", 15600), ("Microsoft 365", 11161))


def cloud_app_evidence(app: tuple[str, int], created: object, m: Mark) -> Evidence:
    return Evidence(
        type="cloudApplication", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, display_name=app[0],
        extra=_encode({"appId": app[1], "instanceName": app[0]}).decode(),
    )


def session_evidence(session_id: str, browser: str, created: str, m: Mark, when: object) -> Evidence:
    return Evidence(
        type="cloudLogonSession", created=when, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, session_id=session_id,
        extra=_encode({"browser": browser, "operatingSystem": "Windows 10", "startUtcDateTime": created}).decode(),
    )


def registry_evidence(key: str, name: str, value: str, device_id: str, created: object, m: Mark) -> Evidence:
    return Evidence(
        type="registryValue", created=created, verdict=m.verdict, remediation_status=m.remediation,  # type: ignore[arg-type]
        remediation_details=m.details, roles=m.roles, registry_key=key, registry_value_name=name,
        registry_value=value, device_id=device_id,
        extra=_encode({"registryHive": "HKEY_CURRENT_USER", "registryValueType": "String"}).decode(),
    )
