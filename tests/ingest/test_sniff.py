"""Format sniffing from content, gzip included."""

from __future__ import annotations

import json

import pytest

from afteraction.errors import FormatError
from afteraction.ingest import READERS, Rejection, read_path, sniff

from .samples import ALL_EVIDENCE, dump, graph_alert, graph_incident, legacy_incident, mde_alert, ndjson, page, write

CASES = {
    "graph-incidents": lambda: dump(page([graph_incident("1")])),
    "graph-incidents-pretty": lambda: json.dumps(page([graph_incident("1")]), indent=2).encode(),
    "graph-incident": lambda: json.dumps(graph_incident("1"), indent=2).encode(),
    "graph-ndjson": lambda: ndjson([graph_incident("1"), graph_incident("2")]),
    "graph-ndjson-alerts": lambda: ndjson([graph_alert("a"), graph_alert("b")]),
    "graph-alerts": lambda: dump(page([graph_alert("a")], "security/alerts_v2")),
    "m365d-incidents": lambda: dump({"value": [legacy_incident()]}),
    "m365d-incidents-bare": lambda: dump([legacy_incident()]),
    "mde-alerts": lambda: dump({"value": [mde_alert()]}),
    "mde-alerts-bare": lambda: json.dumps([mde_alert()], indent=2).encode(),
}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_sniff(tmp_path, case, gz):
    expected = next(name for name in READERS if case.startswith(name))
    assert sniff(write(tmp_path, "f.json", CASES[case](), gz)) == expected


def test_sniff_without_odata_type(tmp_path):
    inc = graph_incident("1")
    del inc["@odata.type"]
    assert sniff(write(tmp_path, "f.json", dump({"value": [inc]}))) == "graph-incidents"


@pytest.mark.parametrize("data", [b'{"foo": 1}', b"[1, 2, 3]", b'{"value": [{"x": 1}]}'])
def test_unknown_lists_formats(tmp_path, data):
    with pytest.raises(FormatError, match="graph-incidents, graph-incident"):
        sniff(write(tmp_path, "u.json", data))


def test_sniff_reads_only_the_head(tmp_path):
    records = [graph_alert(str(i)) for i in range(3000)]
    path = write(tmp_path, "big.ndjson", ndjson(records), gz=True)
    assert sniff(path) == "graph-ndjson"


def bare_alert_with_user_evidence(alert_id: str = "a") -> dict:
    """An alerts_v2 alert without ``@odata.type`` whose user evidence carries ``userAccount.displayName``."""
    alert = graph_alert(alert_id, evidence=[ALL_EVIDENCE["user"][0]])
    del alert["@odata.type"]
    return alert


@pytest.mark.parametrize("envelope", [False, True])
@pytest.mark.parametrize("evidence_first", [False, True])
def test_alert_list_not_misread_as_incidents(tmp_path, envelope, evidence_first):
    alert = bare_alert_with_user_evidence()
    if evidence_first:  # nested displayName appears before any top-level alert marker
        alert = {"evidence": alert.pop("evidence"), **alert}
    data = dump({"value": [alert]} if envelope else [alert])
    path = write(tmp_path, "a.json", data)
    assert sniff(path) == "graph-alerts"
    items = list(read_path(path))
    assert [type(i).__name__ for i in items] == ["Alert"]
    assert items[0].evidence[0].display_name == "J Doe"


def test_incident_without_odata_type_and_alerts_first(tmp_path):
    incident = graph_incident("1")
    del incident["@odata.type"]
    incident = {"alerts": incident.pop("alerts"), **incident}
    assert sniff(write(tmp_path, "i.json", dump([incident]))) == "graph-incidents"
    assert sniff(write(tmp_path, "i1.json", json.dumps(incident, indent=1).encode())) == "graph-incident"


def test_first_record_larger_than_the_peek(tmp_path):
    alert = bare_alert_with_user_evidence()
    alert = {"title": "t", "evidence": alert.pop("evidence"), "description": "x" * 200_000, **alert}
    assert sniff(write(tmp_path, "a.json", dump({"value": [alert]}))) == "graph-alerts"


@pytest.mark.parametrize("fmt", ["graph-incidents", "graph-incident"])
def test_incident_reader_rejects_an_alert(tmp_path, fmt):
    alert = bare_alert_with_user_evidence()
    data = dump(alert) if fmt == "graph-incident" else dump({"value": [alert, graph_incident("2")]})
    items = list(read_path(write(tmp_path, "a.json", data), fmt))
    rejection = items[0]
    assert isinstance(rejection, Rejection)
    assert "looks like an alert" in rejection.reason
    assert "--format graph-alerts" in rejection.reason
    assert [i.id for i in items[1:]] == ([] if fmt == "graph-incident" else ["2"])


def test_non_object_elements_before_the_first_record(tmp_path):
    data = dump([1, "x", None, mde_alert()])
    assert sniff(write(tmp_path, "m.json", data)) == "mde-alerts"
