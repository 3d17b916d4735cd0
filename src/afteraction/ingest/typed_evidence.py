"""Fast path for Graph evidence: typed msgspec structs per known subtype, dicts only as a fallback.

Each subtype of :data:`afteraction.ingest.evidence.SPECS` gets a struct (built from its column map)
that declares the base ``alertEvidence`` fields, the mapped fields with their column types, and the
documented fields that have no column (:data:`KNOWN`, typed ``Any``). The structs form one tagged union
on ``@odata.type`` that forbids unknown fields, so one C-level decode either gives an entry whose
every field is known, or fails. A failure (unknown subtype or field, a value of an unexpected type,
a missing ``@odata.type``...) falls back to :func:`afteraction.ingest.evidence.graph_evidence`, which
handles anything. Both paths give identical records: same columns, same ``extra`` (leftover non-null
fields, compact JSON with sorted keys), same key and name, same errors.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Union

import msgspec

from afteraction.ingest.evidence import INT_COLUMNS, ODATA_PREFIX, SPECS, Rule, graph_evidence, rules
from afteraction.ingest.normalize import REMEDIATION, VERDICT, FieldError, timestamp
from afteraction.ingest.wire import Int64
from afteraction.model import Evidence, RemediationStatus, Verdict

# Documented Graph fields without a column of their own (kept in ``extra``), per subtype, and the
# raw fields the key/name rules read. Declaring them only keeps such entries on the fast path.
_FILE_LEFT = ("fileSize", "filePublisher", "issuer", "signer", "sha256Ac")
KNOWN: dict[str, tuple[str, ...]] = {
    "device": (
        "defenderAvStatus", "dnsDomain", "firstSeenDateTime", "ipInterfaces", "lastExternalIpAddress",
        "lastIpAddress", "loggedOnUsers", "ntDomain", "onboardingStatus", "osBuild", "rbacGroupId",
        "version", "vmMetadata", "resourceAccessEvents", "detectionStatus",
    ),
    "user": ("stream", "resourceAccessEvents"),
    "file": ("detectionStatus",),
    "process": (
        "detectionStatus", "parentProcessCreationDateTime", "parentProcessImageFile", "processCreationDateTime",
    ),
    "ip": ("location", "stream"),
    "url": ("stream",),
    "analyzedMessage": (
        "antiSpamDirection", "attachmentsCount", "deliveryLocation", "language", "p2Sender", "receivedDateTime",
        "threatDetectionMethods", "threats", "urlCount", "urls", "urn",
    ),
    "registryKey": ("registryHive",),
    "registryValue": ("registryHive", "registryValueType"),
    "cloudApplication": ("instanceId", "instanceName", "saasAppId", "stream"),
    "oauthApplication": ("objectId", "publisher"),
    "cloudLogonSession": (
        "account", "protocol", "deviceName", "operatingSystem", "browser", "userAgent", "startUtcDateTime",
        "previousLogonDateTime",
    ),
    "mailboxConfiguration": ("configurationId", "externalDirectoryObjectId", "mailbox"),
    "malware": ("category", "files", "processes", "detectionStatus"),
    "networkConnection": ("sourceAddress", "sourcePort", "destinationPort", "protocol"),
    "securityGroup": ("securityGroupId", "activeDirectoryObjectGuid"),
    "azureResource": ("resourceId", "resourceType"),
    "servicePrincipal": ("servicePrincipalObjectId", "appOwnerTenantId", "tenantId", "servicePrincipalType"),
    "container": ("containerId", "args", "command", "image", "isPrivileged", "pod"),
    "containerImage": ("imageId", "digestImage", "registry"),
    "containerRegistry": ("registry",),
}
_NESTED_LEFT: dict[str, tuple[str, ...]] = {"fileDetails": _FILE_LEFT, "imageFile": _FILE_LEFT}
_BASE_TOP = ("createdDateTime", "verdict", "remediationStatus", "remediationStatusDetails")
_BASE_LISTS = ("roles", "detailedRoles", "tags")
_K8S_LEFT = ("namespace",)


class _Plan(NamedTuple):
    """How one subtype's struct maps to Evidence (fields in order: base, top, nested, leftovers)."""

    type: str
    top_cols: tuple[str, ...]
    top_end: int
    nested: tuple[tuple[int, str, tuple[str, ...], tuple[str, ...]], ...]
    left: tuple[str, ...]
    left_start: int
    key: Rule
    name: Rule


def _nested_struct(name: str, sub: dict[str, str], left: tuple[str, ...]) -> type:
    fields = [(k, str | None, None) for k in sub] + [(k, Any, None) for k in left]
    return msgspec.defstruct(name, fields, forbid_unknown_fields=True, gc=False)


def _build(type_: str) -> tuple[type, _Plan] | None:
    """The struct and mapping plan of a subtype; None when two fields may fill one column (dict path)."""
    spec = SPECS[type_]
    targets = list(spec.top.values()) + [c for sub in spec.nested.values() for c in sub.values()]
    if len(targets) != len(set(targets)):
        return None
    fields: list[tuple[str, Any, None]] = [(k, str | None, None) for k in _BASE_TOP]
    fields += [(k, list[str] | None, None) for k in _BASE_LISTS]
    for wire, col in spec.top.items():
        fields.append((wire, Int64 | None if col in INT_COLUMNS else str | None, None))
    top_end = len(fields)
    nested = []
    for wire, sub in spec.nested.items():
        left = tuple(k for k in _NESTED_LEFT.get(wire, ()) if k not in sub)
        nested.append((len(fields), wire, tuple(sub.values()), left))
        fields.append((wire, _nested_struct(f"{type_}_{wire}", sub, left) | None, None))
    taken = {f[0] for f in fields}
    extra = KNOWN.get(type_, _K8S_LEFT if type_.startswith("kubernetes") else ())
    left = tuple(k for k in extra if k not in taken)
    left_start = len(fields)
    fields += [(k, Any, None) for k in left]
    struct = msgspec.defstruct(
        f"{type_}Evidence",
        fields,
        tag_field="@odata.type",
        tag=f"{ODATA_PREFIX}{type_}Evidence",
        forbid_unknown_fields=True,
        gc=False,
    )
    plan = _Plan(type_, tuple(spec.top.values()), top_end, tuple(nested), left, left_start, *rules(type_))
    return struct, plan


_PLANS: dict[type, _Plan] = {}
for _type in SPECS:
    _built = _build(_type)
    if _built is not None:
        _PLANS[_built[0]] = _built[1]
_TYPED = msgspec.json.Decoder(Union[tuple(_PLANS)])  # type: ignore[valid-type]  # noqa: UP007
_DICT = msgspec.json.Decoder(dict[str, Any])
_astuple = msgspec.structs.astuple
_encode = msgspec.json.Encoder(order="sorted").encode
_VERDICTS = VERDICT.table
_REMEDIATIONS = REMEDIATION.table
_UNKNOWN = Verdict.UNKNOWN
_NONE = RemediationStatus.NONE


def _typed(w: Any, plan: _Plan) -> Evidence:
    type_, top_cols, top_end, nested, left_names, left_start, key_rule, name_rule = plan
    t = _astuple(w)
    created, verdict, remediation, details, roles, detailed_roles, tags = t[:7]
    unmapped: dict[str, str] = {}
    if created is not None:
        created = timestamp(created, "/createdDateTime")
    # An exact table hit needs no call; the EnumMap handles case and unknown values.
    verdict = _UNKNOWN if verdict is None else _VERDICTS.get(verdict) or VERDICT(verdict, unmapped)
    remediation = (
        _NONE if remediation is None else _REMEDIATIONS.get(remediation) or REMEDIATION(remediation, unmapped)
    )
    # Columns left None equal the defaults, so every mapped field can be passed as it is.
    cols = dict(zip(top_cols, t[7:top_end], strict=True))
    rest = {}
    for i, wire, sub_cols, sub_left in nested:
        obj = t[i]
        if obj is not None:
            s = _astuple(obj)
            cols.update(zip(sub_cols, s, strict=False))  # the mapped sub-fields come first
            if sub_left:
                left_values = s[len(sub_cols) :]
                if left_values.count(None) != len(left_values):
                    rest[wire] = {k: v for k, v in zip(sub_left, left_values, strict=True) if v is not None}
    if left_names:
        left_values = t[left_start:]
        if left_values.count(None) != len(left_values):
            for k, v in zip(left_names, left_values, strict=True):
                if v is not None:
                    rest[k] = v
    return Evidence(
        type=type_,
        key=key_rule(cols, rest),
        name=name_rule(cols, rest),
        created=created,
        verdict=verdict,
        remediation_status=remediation,
        remediation_details=details,
        roles=tuple(roles) if roles else (),
        detailed_roles=tuple(detailed_roles) if detailed_roles else (),
        tags=tuple(tags) if tags else (),
        extra=_encode(rest).decode() if rest else None,
        unmapped=unmapped,
        **cols,
    )


def evidence_from_raw(raw: msgspec.Raw) -> Evidence:
    """Map one Graph evidence entry given as raw JSON; errors are FieldErrors relative to the entry."""
    try:
        w = _TYPED.decode(raw)
    except msgspec.ValidationError:
        try:
            d = _DICT.decode(raw)
        except msgspec.ValidationError as exc:
            raise FieldError("", str(exc)) from None
        return graph_evidence(d)
    return _typed(w, _PLANS[type(w)])


def evidence_list(items: list[msgspec.Raw] | None) -> tuple[Evidence, ...]:
    """``alert.evidence`` (raw entries) -> Evidence records; a FieldError names ``/evidence/<i>``."""
    if not items:
        return ()
    out = []
    i = 0
    try:
        for i, raw in enumerate(items):  # noqa: B007 (i names the entry in the error)
            out.append(evidence_from_raw(raw))
    except FieldError as exc:
        raise exc.under(f"/evidence/{i}") from None
    return tuple(out)
