"""Graph evidence (``alert.evidence[]``, 48+ polymorphic subtypes) -> :class:`afteraction.model.Evidence`.

Each subtype has a column map (wire key -> Evidence column, also for nested objects such as
``userAccount`` or ``fileDetails``). Fields without a column, and values whose type does not fit
their column, stay in ``extra`` as compact JSON with sorted keys (nulls dropped), so nothing is lost.
Unknown subtypes become ``Evidence(type=<subtype>, extra=...)``. ``key`` (dedupe key) and ``name``
(human label) are derived by :func:`identify`, which the legacy readers share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from afteraction.ingest.normalize import REMEDIATION, VERDICT, FieldError, timestamp
from afteraction.ingest.wire import INT64
from afteraction.model import Evidence

ODATA_PREFIX = "#microsoft.graph.security."
ACCOUNT = {
    "accountName": "account_name",
    "domainName": "domain_name",
    "userSid": "user_sid",
    "azureAdUserId": "aad_user_id",
    "userPrincipalName": "user_principal_name",
    "displayName": "display_name",
}
FILE = {"fileName": "file_name", "filePath": "file_path", "sha1": "sha1", "sha256": "sha256", "md5": "md5"}
INT_COLUMNS = frozenset({"process_id", "parent_process_id"})


class Spec(NamedTuple):
    """Column map of one subtype: top-level keys and nested objects."""

    top: dict[str, str]
    nested: dict[str, dict[str, str]]


SPECS: dict[str, Spec] = {
    "device": Spec(
        {
            "mdeDeviceId": "device_id",
            "azureAdDeviceId": "aad_device_id",
            "hostName": "host_name",
            "deviceDnsName": "device_dns_name",
            "osPlatform": "os_platform",
            "riskScore": "risk_score",
            "healthStatus": "health_status",
            "rbacGroupName": "rbac_group",
        },
        {},
    ),
    "user": Spec({}, {"userAccount": ACCOUNT}),
    "mailbox": Spec(
        {"primaryAddress": "mailbox_address", "upn": "user_principal_name", "displayName": "display_name"},
        {"userAccount": ACCOUNT},
    ),
    "file": Spec({"mdeDeviceId": "device_id"}, {"fileDetails": FILE}),
    "process": Spec(
        {
            "processId": "process_id",
            "parentProcessId": "parent_process_id",
            "processCommandLine": "command_line",
            "mdeDeviceId": "device_id",
        },
        {"imageFile": FILE, "userAccount": ACCOUNT},
    ),
    "ip": Spec({"ipAddress": "ip_address", "countryLetterCode": "country"}, {}),
    "url": Spec({"url": "url"}, {}),
    "analyzedMessage": Spec(
        {
            "networkMessageId": "network_message_id",
            "internetMessageId": "internet_message_id",
            "subject": "subject",
            "senderIp": "sender_ip",
            "recipientEmailAddress": "recipient",
            "deliveryAction": "delivery_action",
        },
        {"p1Sender": {"emailAddress": "sender"}},
    ),
    "registryKey": Spec({"registryKey": "registry_key", "mdeDeviceId": "device_id"}, {}),
    "registryValue": Spec(
        {
            "registryKey": "registry_key",
            "registryValueName": "registry_value_name",
            "registryValue": "registry_value",
            "mdeDeviceId": "device_id",
        },
        {},
    ),
    "cloudApplication": Spec({"appId": "app_id", "displayName": "display_name"}, {}),
    "oauthApplication": Spec({"appId": "app_id", "displayName": "display_name"}, {}),
    "cloudLogonSession": Spec({"sessionId": "session_id"}, {}),
    "mailboxConfiguration": Spec(
        {
            "configurationType": "configuration_type",
            "mailboxPrimaryAddress": "mailbox_address",
            "upn": "user_principal_name",
            "displayName": "display_name",
        },
        {},
    ),
    "malware": Spec({"name": "display_name"}, {}),
    "networkConnection": Spec({}, {"destinationAddress": {"ipAddress": "ip_address"}}),
    "dns": Spec({"domainName": "domain"}, {}),
    "securityGroup": Spec({"displayName": "display_name"}, {}),
    "servicePrincipal": Spec({"appId": "app_id", "servicePrincipalName": "display_name"}, {}),
    "azureResource": Spec({"resourceName": "display_name"}, {}),
    "blob": Spec({"url": "url", "name": "display_name"}, {}),
    "blobContainer": Spec({"url": "url", "name": "display_name"}, {}),
    "teamsMessage": Spec(
        {"subject": "subject", "senderEmailAddress": "sender", "messageId": "internet_message_id"}, {}
    ),
    "gitHubRepository": Spec({"url": "url", "name": "display_name"}, {}),
    "sasToken": Spec({"url": "url"}, {}),
}
for _sub in ("Cluster", "Namespace", "Pod", "Secret", "Service", "ServiceAccount", "Controller"):
    SPECS["kubernetes" + _sub] = Spec({"name": "display_name"}, {})
for _sub in ("", "Image", "Registry"):
    SPECS["container" + _sub] = Spec({"name": "display_name"}, {})


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _join(*parts: Any) -> str | None:
    kept = [str(p) for p in parts if p not in (None, "")]
    return "\\".join(kept) if kept else None


def _user_key(c: dict[str, Any], r: dict[str, Any]) -> str | None:
    return c.get("user_sid") or c.get("aad_user_id") or c.get("user_principal_name") or _join(
        c.get("domain_name"), c.get("account_name")
    )


def _user_name(c: dict[str, Any], r: dict[str, Any]) -> str | None:
    return (
        c.get("user_principal_name")
        or _join(c.get("domain_name"), c.get("account_name"))
        or c.get("display_name")
    )


def _process_key(c: dict[str, Any], r: dict[str, Any]) -> str | None:
    if c.get("process_id") is None:
        return None
    when = r.get("processCreationDateTime") or r.get("processCreationTime") or ""
    return f"{c.get('device_id') or ''}:{c['process_id']}:{when}"


def _registry(c: dict[str, Any], r: dict[str, Any]) -> str | None:
    return _join(r.get("registryHive"), c.get("registry_key"), c.get("registry_value_name"))


def _net(c: dict[str, Any], r: dict[str, Any]) -> str | None:
    src, dst = r.get("sourceAddress") or {}, r.get("destinationAddress") or {}
    if not isinstance(src, dict) or not isinstance(dst, dict):
        return None
    return (
        f"{src.get('ipAddress')}:{r.get('sourcePort')}->{dst.get('ipAddress') or c.get('ip_address')}:"
        f"{r.get('destinationPort')}"
        f"/{r.get('protocol')}"
    )


def _k8s(c: dict[str, Any], r: dict[str, Any]) -> str | None:
    ns = r.get("namespace")
    ns_name = ns.get("name") if isinstance(ns, dict) else None
    return "/".join(str(p) for p in (ns_name, c.get("display_name")) if p) or None


def _first(keys: tuple[str, ...], from_raw: bool) -> Callable[[dict[str, Any], dict[str, Any]], str | None]:
    """A rule giving the first non-empty of ``keys``, from the raw entry or from the mapped columns."""

    def pick(c: dict[str, Any], r: dict[str, Any]) -> str | None:
        source = r if from_raw else c
        for k in keys:
            v = source.get(k)
            if v not in (None, ""):
                return str(v)
        return None

    return pick


def _raw(*keys: str) -> Callable[[dict[str, Any], dict[str, Any]], str | None]:
    return _first(keys, from_raw=True)


def _col(*keys: str) -> Callable[[dict[str, Any], dict[str, Any]], str | None]:
    return _first(keys, from_raw=False)


Rule = Callable[[dict[str, Any], dict[str, Any]], str | None]
# type -> (key rule, name rule); rules read columns ``c`` and the raw entry ``r``.
IDENTITY: dict[str, tuple[Rule, Rule]] = {
    "device": (
        _col("device_id", "aad_device_id", "device_dns_name"),
        _col("host_name", "device_dns_name", "device_id", "aad_device_id"),
    ),
    "user": (_user_key, _user_name),
    "mailbox": (_col("mailbox_address", "user_principal_name"), _col("display_name", "mailbox_address")),
    "file": (_col("sha256", "sha1", "md5"), _col("file_name", "file_path")),
    "process": (_process_key, _col("file_name", "command_line")),
    "ip": (_col("ip_address"), _col("ip_address")),
    "url": (_col("url"), _col("url")),
    "analyzedMessage": (_col("network_message_id"), _col("subject", "internet_message_id")),
    "registryKey": (_registry, _registry),
    "registryValue": (_registry, _registry),
    "cloudApplication": (_col("app_id"), _col("display_name", "app_id")),
    "oauthApplication": (_col("app_id"), _col("display_name", "app_id")),
    "cloudLogonSession": (_col("session_id"), _col("session_id")),
    "mailboxConfiguration": (
        _raw("configurationId"),
        _col("display_name", "configuration_type"),
    ),
    "malware": (_col("display_name"), _col("display_name")),
    "networkConnection": (_net, _net),
    "dns": (_col("domain"), _col("domain")),
    "securityGroup": (_raw("securityGroupId", "activeDirectoryObjectGuid"), _col("display_name")),
    "fileHash": (_raw("value"), _raw("value")),
    "mailCluster": (_raw("query", "clusterByValue"), _raw("clusterByValue", "query")),
    "azureResource": (_raw("resourceId"), _col("display_name")),
    "servicePrincipal": (
        lambda c, r: _raw("servicePrincipalObjectId")(c, r) or c.get("app_id"),
        _col("display_name", "app_id"),
    ),
    "blob": (_col("url"), _col("display_name", "url")),
    "blobContainer": (_col("url"), _col("display_name", "url")),
    "teamsMessage": (_col("internet_message_id"), _col("subject")),
    "containerImage": (_raw("imageId", "digestImage"), _raw("imageId", "digestImage")),
    "containerRegistry": (_raw("registry"), _raw("registry")),
    "container": (_raw("containerId"), _col("display_name")),
}
_K8S_RULE: tuple[Rule, Rule] = (_k8s, _col("display_name"))
_DEFAULT_RULE: tuple[Rule, Rule] = (_raw("id", "name"), _raw("name", "displayName", "id"))


def rules(type_: str) -> tuple[Rule, Rule]:
    """The (key rule, name rule) of a subtype."""
    return IDENTITY.get(type_) or (_K8S_RULE if type_.startswith("kubernetes") else _DEFAULT_RULE)


def identify(type_: str, cols: dict[str, Any], raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """Dedupe key and human label of one evidence entity from its columns and raw fields."""
    rule = rules(type_)
    return rule[0](cols, raw), rule[1](cols, raw)


def put(cols: dict[str, Any], col: str, value: Any) -> bool:
    """Set column ``col`` from a wire value if its type fits and it does not conflict; report success."""
    if col in INT_COLUMNS:  # signed 64-bit; anything else stays in extra
        if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 19:
            value = int(value)
        if type(value) is not int or not INT64[0] <= value <= INT64[1]:
            return False
    elif isinstance(value, str):
        pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    else:
        return False
    old = cols.get(col)
    if old is not None and old != value:
        return False
    cols[col] = value
    return True


def extra_json(rest: dict[str, Any]) -> str | None:
    """Compact JSON (sorted keys) of leftover fields, or ``None`` when there are none."""
    return msgspec.json.encode(rest, order="sorted").decode() if rest else None


def subtype(odata_type: Any) -> str:
    """``#microsoft.graph.security.deviceEvidence`` -> ``device``; missing -> ``unknown``."""
    if not isinstance(odata_type, str) or not odata_type:
        return "unknown"
    name = odata_type.rsplit(".", 1)[-1].lstrip("#")
    return name[:-8] if name.endswith("Evidence") and len(name) > 8 else name


def _strings_or_none(value: Any) -> tuple[str, ...] | None:
    if type(value) is list:
        t = tuple(value)
        for x in t:
            if type(x) is not str:
                return None
        return t
    return None


def graph_evidence(d: dict[str, Any]) -> Evidence:
    """Map one Graph evidence dict (consumed in place); a bad ``createdDateTime`` raises FieldError."""
    type_ = subtype(d.pop("@odata.type", None))
    spec = SPECS.get(type_)
    cols: dict[str, Any] = {}
    unmapped: dict[str, str] = {}
    v = d.pop("createdDateTime", None)
    if v is not None:
        if type(v) is not str:
            raise FieldError("/createdDateTime", "timestamp is not a string")
        cols["created"] = timestamp(v, "/createdDateTime")
    v = d.pop("verdict", None)
    if v is not None:
        if type(v) is str:
            cols["verdict"] = VERDICT(v, unmapped)
        else:
            d["verdict"] = v
    v = d.pop("remediationStatus", None)
    if v is not None:
        if type(v) is str:
            cols["remediation_status"] = REMEDIATION(v, unmapped)
        else:
            d["remediationStatus"] = v
    v = d.pop("remediationStatusDetails", None)
    if v is not None:
        if type(v) is str:
            cols["remediation_details"] = v
        else:
            d["remediationStatusDetails"] = v
    for wire, col in _LISTS:
        v = d.pop(wire, None)
        if v:
            t = _strings_or_none(v)
            if t is None:
                d[wire] = v
            else:
                cols[col] = t
    if spec is not None:
        for wire, col in spec.top.items():
            v = d.pop(wire, None)
            if v is None:
                continue
            if type(v) is str and col not in INT_COLUMNS:
                cols[col] = v
            elif not put(cols, col, v):
                d[wire] = v
        for wire, sub in spec.nested.items():
            obj = d.pop(wire, None)
            if obj is None:
                continue
            if type(obj) is not dict:
                d[wire] = obj
                continue
            left = {}
            for sk, sv in obj.items():
                if sv is None:
                    continue
                col = sub.get(sk)
                if col is None or not put(cols, col, sv):
                    left[sk] = sv
            if left:
                d[wire] = left
    rest = {k: v for k, v in d.items() if v is not None}
    key, name = identify(type_, cols, d)
    return Evidence(type=type_, key=key, name=name, extra=extra_json(rest), unmapped=unmapped, **cols)


_LISTS = (("roles", "roles"), ("detailedRoles", "detailed_roles"), ("tags", "tags"))


def common_field(cols: dict[str, Any], k: str, v: Any, unmapped: dict[str, str]) -> bool:
    """Base ``alertEvidence`` fields; False when the value's type does not fit (kept in extra)."""
    if k == "createdDateTime" or k == "evidenceCreationTime":
        if not isinstance(v, str):
            raise FieldError("/" + k, "timestamp is not a string")
        cols["created"] = timestamp(v, "/" + k)
    elif k == "verdict" or k == "remediationStatus":
        if not isinstance(v, str):
            return False
        if k == "verdict":
            cols["verdict"] = VERDICT(v, unmapped)
        else:
            cols["remediation_status"] = REMEDIATION(v, unmapped)
    elif k == "remediationStatusDetails":
        return put(cols, "remediation_details", v)
    else:
        t = _strings_or_none(v)
        if t is None:
            return False
        cols[_COMMON[k]] = t
    return True


_COMMON = {
    "createdDateTime": "created",
    "verdict": "verdict",
    "remediationStatus": "remediation_status",
    "remediationStatusDetails": "remediation_details",
    "roles": "roles",
    "detailedRoles": "detailed_roles",
    "tags": "tags",
}
