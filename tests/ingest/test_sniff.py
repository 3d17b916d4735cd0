"""Format sniffing from content, gzip included."""

from __future__ import annotations

import json

import pytest

from afteraction.errors import FormatError
from afteraction.ingest import READERS, sniff

from .samples import dump, graph_alert, graph_incident, legacy_incident, mde_alert, ndjson, page, write

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
