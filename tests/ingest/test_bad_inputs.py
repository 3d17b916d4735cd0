"""Bad inputs: every record-level problem is a Rejection with a location, whole-file ones a FormatError."""

from __future__ import annotations

import json
import time

import pytest

from afteraction.errors import FormatError
from afteraction.ingest import Rejection, read_path
from afteraction.model import Alert, Incident

from .samples import dump, graph_alert, graph_incident, mde_alert, ndjson, page, write


def split(items):
    good = [i for i in items if not isinstance(i, Rejection)]
    bad = [i for i in items if isinstance(i, Rejection)]
    return good, bad


def test_truncated_page_recovers_complete_records(tmp_path):
    data = json.dumps(page([graph_incident("1"), graph_incident("2"), graph_incident("3")]), indent=1).encode()
    cut = data[: data.index(b'"Incident 3"')]
    good, bad = split(list(read_path(write(tmp_path, "t.json", cut), "graph-incidents")))
    assert [i.id for i in good] == ["1", "2"]
    assert len(bad) == 1
    assert bad[0].record == 2
    assert bad[0].pointer == "/value/2"
    assert bad[0].line is not None
    assert bad[0].line > 1
    assert "byte" in bad[0].reason


def test_truncated_bare_list(tmp_path):
    data = dump([mde_alert("a"), mde_alert("b")])
    good, bad = split(list(read_path(write(tmp_path, "t.json", data[:-40]), "mde-alerts")))
    assert [a.id for a in good] == ["a"]
    assert bad[0].pointer == "/1"


def test_truncated_ndjson(tmp_path):
    data = ndjson([graph_incident("1"), graph_incident("2")])
    good, bad = split(list(read_path(write(tmp_path, "t.ndjson", data[:-30]), "graph-ndjson")))
    assert [i.id for i in good] == ["1"]
    assert bad[0].line == 2
    assert bad[0].record == 1
    assert "invalid JSON" in bad[0].reason


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda r: r["alerts"][1].update(createdDateTime="2024-13-45T99:00:00Z"), "/value/1/alerts/1/createdDateTime"),
        (lambda r: r.update(alerts="oops"), "/value/1/alerts"),
        (lambda r: r["alerts"][0].update(mitreTechniques=5), "/value/1/alerts/0/mitreTechniques"),
        (lambda r: r.update(id=""), "/value/1/id"),
        (lambda r: r.pop("id"), "/value/1/id"),
        (lambda r: r["alerts"][0].update(id=None), "/value/1/alerts/0/id"),
        (lambda r: r["alerts"][0]["evidence"][2].update(createdDateTime="yesterday"),
         "/value/1/alerts/0/evidence/2/createdDateTime"),
        (lambda r: r["comments"][0].update(createdDateTime="x"), "/value/1/comments/0/createdDateTime"),
        (lambda r: r["alerts"][0].update(evidence=[1]), "/value/1/alerts/0/evidence/0"),
        (lambda r: r.update(severity=3), "/value/1/severity"),
    ],
)
def test_bad_record_rejected_with_pointer(tmp_path, mutate, pointer):
    records = [graph_incident("1"), graph_incident("2"), graph_incident("3")]
    mutate(records[1])
    good, bad = split(list(read_path(write(tmp_path, "p.json", dump(page(records))))))
    assert [i.id for i in good] == ["1", "3"]
    assert len(bad) == 1
    assert bad[0].pointer == pointer
    assert bad[0].record == 1
    assert bad[0].file.endswith("p.json")
    assert bad[0].snippet
    assert len(bad[0].snippet) <= 500
    assert str(bad[0].location).startswith(bad[0].file)


def test_bad_ndjson_line_pointer(tmp_path):
    lines = [graph_alert("a"), graph_alert("b", createdDateTime="nope"), graph_alert("c")]
    good, bad = split(list(read_path(write(tmp_path, "a.ndjson", ndjson(lines)), "graph-ndjson")))
    assert [a.id for a in good] == ["a", "c"]
    assert (bad[0].line, bad[0].record, bad[0].pointer) == (2, 1, "/createdDateTime")


def test_record_not_an_object(tmp_path):
    good, bad = split(list(read_path(write(tmp_path, "p.json", dump(page([graph_incident("1"), "x"]))))))
    assert len(good) == 1
    assert bad[0].pointer == "/value/1"


def test_duplicate_ids_both_yielded(tmp_path):
    items = list(read_path(write(tmp_path, "d.json", dump(page([graph_incident("1"), graph_incident("1")])))))
    assert [i.id for i in items] == ["1", "1"]


@pytest.mark.parametrize("gz", [False, True])
def test_bom(tmp_path, gz):
    path = write(tmp_path, "b.json", b"\xef\xbb\xbf" + dump(page([graph_incident("1")])), gz)
    assert [i.id for i in read_path(path)] == ["1"]
    path = write(tmp_path, "b.ndjson", b"\xef\xbb\xbf" + ndjson([graph_alert("a")]), gz)
    assert [i.id for i in read_path(path, "graph-ndjson")] == ["a"]


@pytest.mark.parametrize("fmt", [None, "graph-incidents", "graph-ndjson", "graph-incident", "mde-alerts"])
@pytest.mark.parametrize("data", [b"", b"  \n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path, fmt, data):
    path = write(tmp_path, "empty.json", data)
    with pytest.raises(FormatError, match=r"empty\.json"):
        list(read_path(path, fmt))


@pytest.mark.parametrize("fmt", [None, "graph-incidents", "graph-ndjson", "graph-incident", "m365d-incidents"])
def test_not_json(tmp_path, fmt):
    path = write(tmp_path, "n.csv", b"id,title\n1,x\n")
    with pytest.raises(FormatError, match=r"n\.csv"):
        list(read_path(path, fmt))


def test_unknown_format_name(tmp_path):
    with pytest.raises(FormatError, match=r"graph-incidents"):
        list(read_path(write(tmp_path, "x.json", b"{}"), "nope"))


def test_value_not_a_list(tmp_path):
    with pytest.raises(FormatError):
        list(read_path(write(tmp_path, "x.json", b'{"value": 3}'), "graph-incidents"))


def test_huge_title(tmp_path):
    title = "A" * 50_000_000
    path = write(tmp_path, "big.json", dump(page([graph_incident("1", displayName=title), graph_incident("2")])))
    start = time.perf_counter()
    items = list(read_path(path))
    assert time.perf_counter() - start < 30  # generous; guards against quadratic behaviour only
    assert isinstance(items[0], Incident)
    assert items[0].title == title
    assert items[1].id == "2"
    alert = graph_alert("a", title=title)
    items = list(read_path(write(tmp_path, "big.ndjson", ndjson([alert, graph_alert("b")]))))
    assert isinstance(items[0], Alert)
    assert len(items[0].title) == 50_000_000
    assert items[1].id == "b"
