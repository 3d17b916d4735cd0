"""The typed evidence fast path gives exactly what the dict path gives, and falls back when it must."""

from __future__ import annotations

import copy

import msgspec
import pytest

from afteraction.ingest.evidence import graph_evidence
from afteraction.ingest.normalize import FieldError
from afteraction.ingest.typed_evidence import _PLANS, _TYPED, evidence_from_raw, evidence_list

from .samples import ACCOUNT, ALL_EVIDENCE, ev


def _both(entry: dict) -> tuple:
    raw = msgspec.Raw(msgspec.json.encode(entry))
    return evidence_from_raw(raw), graph_evidence(copy.deepcopy(entry))


def _typed(entry: dict) -> bool:
    try:
        return type(_TYPED.decode(msgspec.json.encode(entry))) in _PLANS
    except msgspec.ValidationError:
        return False


@pytest.mark.parametrize("subtype", list(ALL_EVIDENCE))
def test_same_as_dict_path(subtype):
    fast, slow = _both(ALL_EVIDENCE[subtype][0])
    assert fast == slow


def test_common_subtypes_take_the_typed_path():
    for subtype in ("device", "user", "file", "process", "ip", "url", "registryValue", "networkConnection"):
        assert _typed(ALL_EVIDENCE[subtype][0]), subtype
    assert not _typed(ALL_EVIDENCE["brandNewThing"][0])
    assert not _typed(ALL_EVIDENCE["mailbox"][0])  # two fields can fill one column: dict path


EDGE = [
    ev("process", processId="12", mdeDeviceId="d"),  # digit string -> int column (fallback)
    ev("process", processId=True),  # bool: kept in extra
    ev("device", hostName=5, riskScore=1.5),  # numbers -> text columns
    ev("device", mdeDeviceId="d", roles=["a", 1]),  # non-string list kept in extra
    ev("device", mdeDeviceId="d", roles=["a"], tags=["t"], detailedRoles=["x"]),
    ev("device", mdeDeviceId="d", brandNew={"x": None}, osBuild=None, version="1"),
    ev("ip", ipAddress="1.2.3.4", verdict="Malicious", remediationStatus="somethingNew"),
    ev("ip", ipAddress="1.2.3.4", verdict=3, remediationStatus=None, remediationStatusDetails="d"),
    ev("process", processId=4, imageFile={"fileName": "a", "fileSize": 9, "odd": 1}, userAccount=ACCOUNT),
    ev("process", processId=4, imageFile={"fileName": "a", "fileSize": None}, userAccount={"accountName": "x"}),
    ev("file", fileDetails="not an object"),
    ev("file", fileDetails={}, mdeDeviceId="d"),
    ev("user", userAccount={**ACCOUNT, "tenantId": "t"}),
    ev("networkConnection", destinationAddress={"ipAddress": "9.9.9.9", "location": {"city": "x"}}, protocol="udp"),
    ev("kubernetesPod", name="p", namespace={"name": "n", "labels": {}}),
    {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "1.1.1.1"},
    {"ipAddress": "1.1.1.1"},
    {"@odata.type": "microsoft.graph.security.ipEvidence", "ipAddress": "1.1.1.1"},
    ev("ip", createdDateTime="", ipAddress="1.1.1.1"),
]


@pytest.mark.parametrize("entry", EDGE, ids=range(len(EDGE)))
def test_edge_cases_same_as_dict_path(entry):
    fast, slow = _both(entry)
    assert fast == slow


def test_errors_name_the_entry():
    bad = ev("device", createdDateTime="yesterday")
    with pytest.raises(FieldError) as info:
        evidence_list([msgspec.Raw(msgspec.json.encode(ALL_EVIDENCE["ip"][0])), msgspec.Raw(msgspec.json.encode(bad))])
    assert info.value.pointer == "/evidence/1/createdDateTime"
    with pytest.raises(FieldError) as info:
        evidence_list([msgspec.Raw(b"1")])
    assert info.value.pointer == "/evidence/0"
    assert info.value.reason == "Expected `object`, got `int`"
    with pytest.raises(FieldError) as info:
        evidence_list([msgspec.Raw(msgspec.json.encode(ev("ip", createdDateTime=5)))])
    assert info.value.pointer == "/evidence/0/createdDateTime"
