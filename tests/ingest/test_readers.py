"""Happy-path reading of every supported format, plain and gzip'd."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from afteraction.ingest import READERS, Rejection, read_path
from afteraction.model import (
    Alert,
    AlertStatus,
    Classification,
    Determination,
    Incident,
    IncidentStatus,
    Severity,
    TechniqueStatus,
)

from .samples import (
    ALL_EVIDENCE,
    SHARED_EXAMPLES,
    dump,
    graph_alert,
    graph_incident,
    legacy_incident,
    mde_alert,
    ndjson,
    page,
    write,
)


def one(items: list) -> Incident | Alert:
    assert len(items) == 1, items
    return items[0]


@pytest.mark.parametrize("gz", [False, True])
def test_graph_incidents_page(tmp_path, gz):
    path = write(tmp_path, "p.json", dump(page([graph_incident("1"), graph_incident("2", 3)])), gz)
    items = list(read_path(path))
    assert [type(i) for i in items] == [Incident, Incident]
    inc = items[1]
    assert inc.id == "2"
    assert inc.source == "defender"
    assert len(inc.alerts) == 3
    assert inc.severity is Severity.HIGH
    assert inc.status is IncidentStatus.ACTIVE
    assert inc.custom_tags == ("a",)
    assert inc.comments[0].text == "c1"
    assert inc.comments[0].author == "ann"
    alert = inc.alerts[0]
    assert alert.incident_id == "2"
    assert alert.created == datetime(2024, 5, 15, 22, 12, 51, 601234, tzinfo=UTC)  # 7th digit truncated
    assert inc.first_activity == datetime(2024, 5, 15, 22, 7, 14, 215000, tzinfo=UTC)  # derived
    assert [t.id for t in alert.techniques] == ["T1059.001", "T1027.002"]
    assert alert.techniques[1].raw == " t1027/002 "
    assert all(t.status is TechniqueStatus.UNRESOLVED for t in alert.techniques)
    assert [e.type for e in alert.evidence] == ["device", "ip", "url"]


@pytest.mark.parametrize("gz", [False, True])
def test_graph_single_incident(tmp_path, gz):
    path = write(tmp_path, "i.json", dump(graph_incident("7")), gz)
    assert one(list(read_path(path))).id == "7"
    assert one(list(read_path(path, "graph-incident"))).id == "7"


@pytest.mark.parametrize("gz", [False, True])
def test_graph_alerts_page(tmp_path, gz):
    alerts = [graph_alert("x1", "5"), graph_alert("x2", None)]
    path = write(tmp_path, "a.json", dump(page(alerts, "security/alerts_v2")), gz)
    items = list(read_path(path))
    assert [type(i) for i in items] == [Alert, Alert]
    assert items[0].incident_id == "5"
    assert items[1].incident_id is None


@pytest.mark.parametrize("gz", [False, True])
def test_graph_ndjson_mixed(tmp_path, gz):
    alert = graph_alert("z1", "9")
    del alert["@odata.type"]
    incident = graph_incident("9")
    del incident["@odata.type"]
    path = write(tmp_path, "x.ndjson", ndjson([incident, alert]) + b"\n", gz)
    items = list(read_path(path))
    assert [type(i) for i in items] == [Incident, Alert]


def test_all_evidence_types():
    alert = graph_alert(evidence=[e for e, _ in ALL_EVIDENCE.values()])
    got = one(list(READERS["graph-alerts"](__import__("io").BytesIO(dump(page([alert]))), file="m")))
    assert [e.type for e in got.evidence] == list(ALL_EVIDENCE)
    for e, (_, key) in zip(got.evidence, ALL_EVIDENCE.values(), strict=True):
        assert e.key == key, e.type
        assert e.name, e.type
    by_type = {e.type: e for e in got.evidence}
    assert by_type["device"].host_name == "h"
    assert '"osBuild":1' in by_type["device"].extra
    assert by_type["user"].user_principal_name == "jdoe@contoso.com"
    assert by_type["user"].extra is None
    assert by_type["file"].file_name == "x.exe"
    assert by_type["file"].extra == '{"fileDetails":{"fileSize":3}}'
    assert by_type["process"].process_id == 7
    assert by_type["process"].file_name == "p.exe"
    assert by_type["cloudApplication"].app_id == "20893"
    assert by_type["brandNewThing"].extra == '{"id":"n1","weird":{"a":1}}'
    assert by_type["ip"].country == "NL"


def _alert_with(**fields):
    import io

    return one(list(READERS["graph-alerts"](io.BytesIO(dump(page([graph_alert(**fields)]))), file="m")))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("compromisedUser", Determination.COMPROMISED_ACCOUNT),
        ("CompromisedUser", Determination.COMPROMISED_ACCOUNT),
        ("clean", Determination.NOT_MALICIOUS),
        ("Clean", Determination.NOT_MALICIOUS),
        ("insufficientData", Determination.NOT_ENOUGH_DATA_TO_VALIDATE),
        ("InsufficientData", Determination.NOT_ENOUGH_DATA_TO_VALIDATE),
        ("confirmedUserActivity", Determination.CONFIRMED_ACTIVITY),
        ("NotAvailable", Determination.UNKNOWN),
        ("MULTISTAGEDATTACK", Determination.MULTI_STAGED_ATTACK),
        ("phishing", Determination.PHISHING),
        (None, None),
    ],
)
def test_determination_aliases(raw, expected):
    alert = _alert_with(determination=raw)
    assert alert.determination is expected
    assert alert.unmapped == {}


def test_unknown_enum_members_kept():
    alert = _alert_with(
        severity="unknownFutureValue", status="awaitingSomething", classification="TruePositive",
        determination="someNewDetermination",
    )
    assert alert.severity is Severity.OTHER
    assert alert.status is AlertStatus.OTHER
    assert alert.classification is Classification.TRUE_POSITIVE
    assert alert.determination is Determination.OTHER
    assert alert.unmapped == {
        "severity": "unknownFutureValue", "status": "awaitingSomething", "determination": "someNewDetermination",
    }


def test_sources_and_offsets():
    alert = _alert_with(
        serviceSource="MicrosoftSentinel", detectionSource="WindowsDefenderAv",
        createdDateTime="2024-05-16T00:12:51.5+02:00", lastUpdateDateTime="2024-05-16T00:00:00",
    )
    assert alert.service_source == "microsoftSentinel"
    assert alert.detection_source == "antivirus"
    assert alert.created == datetime(2024, 5, 15, 22, 12, 51, 500000, tzinfo=UTC)
    assert alert.last_updated == datetime(2024, 5, 16, tzinfo=UTC)


def test_tags_and_legacy_comment_shape(tmp_path):
    inc = graph_incident("3", customTags=None, tags=["t1"],
                         comments=[{"comment": "x", "createdBy": "b", "createdTime": "2024-01-01T00:00:00Z"}])
    got = one(list(read_path(write(tmp_path, "i.json", dump(inc)))))
    assert got.custom_tags == ("t1",)
    assert got.comments[0].author == "b"
    assert got.comments[0].created == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("bare", [False, True])
def test_m365d_incidents(tmp_path, gz, bare):
    body = [legacy_incident()] if bare else {"value": [legacy_incident()]}
    inc = one(list(read_path(write(tmp_path, "l.json", dump(body), gz))))
    assert inc.id == "924"
    assert inc.title == "Legacy incident"
    assert inc.custom_tags == ("Demo",)
    assert inc.severity is Severity.UNKNOWN
    assert inc.status is IncidentStatus.RESOLVED
    assert inc.determination is Determination.COMPROMISED_ACCOUNT
    assert inc.resolved == datetime(2020, 9, 6, 12, 15, tzinfo=UTC)
    assert inc.comments[0].author == "bob@contoso.com"
    alert = inc.alerts[0]
    assert alert.service_source == "microsoftDefenderForEndpoint"
    assert alert.detection_source == "antivirus"
    assert alert.actor_display_name == "Storm-1"
    assert alert.incident_id == "924"
    types = [e.type for e in alert.evidence]
    assert types == ["device", "user", "ip", "url", "file", "process", "mailbox", "analyzedMessage",
                     "mailCluster", "registryKey", "securityGroup", "widget"]
    assert alert.evidence[0].key == "d1"
    assert alert.evidence[1].key == "S-1-5-21-9"
    assert alert.evidence[5].key == "d1:12:2020-09-06T12:04:00Z"
    assert alert.evidence[-1].extra == '{"thing":1}'


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("bare", [False, True])
def test_mde_alerts(tmp_path, gz, bare):
    records = [mde_alert("a1"), mde_alert("a2", None)]
    items = list(read_path(write(tmp_path, "m.json", dump(records if bare else {"value": records}), gz)))
    assert [type(i) for i in items] == [Alert, Alert]
    alert = items[0]
    assert alert.incident_id == "42"
    assert items[1].incident_id is None
    assert alert.severity is Severity.INFORMATIONAL
    assert alert.status is AlertStatus.IN_PROGRESS
    assert alert.determination is Determination.NOT_ENOUGH_DATA_TO_VALIDATE
    assert alert.detection_source == "microsoftDefenderForEndpoint"
    assert alert.threat_display_name == "Trojan:Win32/X"
    assert alert.threat_family_name == "Fam"
    assert [e.type for e in alert.evidence] == ["device", "user", "file", "user"]
    assert alert.evidence[0].key == "111e6dd8"
    assert alert.evidence[1].name == "DOMAIN\\temp123"
    assert alert.evidence[2].created == datetime(2021, 1, 26, 20, 33, 58, 420000, tzinfo=UTC)
    assert alert.first_activity == datetime(2021, 1, 26, 20, 31, 32, 956266, tzinfo=UTC)


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED_EXAMPLES / "graph_incidents_page.json").exists(), reason="shared data absent")
def test_shared_example_page():
    items = list(read_path(SHARED_EXAMPLES / "graph_incidents_page.json"))
    assert not [i for i in items if isinstance(i, Rejection)]
    assert len(items) == 2
    alerts = [a for i in items for a in i.alerts]
    assert len(alerts) == 6
    types = {e.type for a in alerts for e in a.evidence}
    assert types == {
        "device", "process", "ip", "url", "file", "user", "registryValue", "analyzedMessage", "mailbox",
        "cloudLogonSession", "cloudApplication", "mailboxConfiguration",
    }
    assert sum(len(i.comments) for i in items) == 3
    assert sum(len(a.techniques) for a in alerts) == 12
    assert items[1].resolved is not None
    assert items[0].resolved is None
