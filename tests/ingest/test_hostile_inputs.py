"""Hostile and damaged inputs: no record-level problem ever escapes a reader as an exception.

Covers invalid UTF-8 and deep nesting inside a record, integers out of range for their column, the
damaged-JSON recovery walk (no bogus tail rejection) and truncated or corrupt gzip streams.
"""

from __future__ import annotations

import gzip
import io
import json
import random

import msgspec
import pytest

from afteraction.ingest import Rejection, read_path
from afteraction.ingest.base import convert_one
from afteraction.ingest.lists import read_records
from afteraction.ingest.wire import WIncident
from afteraction.model import Alert, Incident

from .samples import ALL_EVIDENCE, dump, graph_alert, graph_incident, mde_alert, ndjson, page, write

DEEP = b"[" * 100_000 + b"]" * 100_000


def split(items):
    good = [i for i in items if not isinstance(i, Rejection)]
    bad = [i for i in items if isinstance(i, Rejection)]
    return good, bad


def compact(record) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


def page_bytes(records: list[bytes]) -> bytes:
    return b'{"@odata.context":"x#security/incidents","value":[' + b",".join(records) + b"]}"


def with_bytes(record: dict, field: str, raw: bytes) -> bytes:
    """``record`` as compact JSON with the value of top-level ``field`` replaced by ``raw`` (any bytes)."""
    record = dict(record, **{field: "@@PLACEHOLDER@@"})
    return compact(record).replace(b'"@@PLACEHOLDER@@"', raw)


# 1. a bad record never raises out of a reader


def test_invalid_utf8_in_page(tmp_path):
    bad = with_bytes(graph_incident("2"), "displayName", b'"\xff\xfe"')
    data = page_bytes([compact(graph_incident("1")), bad, compact(graph_incident("3"))])
    good, rejected = split(list(read_path(write(tmp_path, "u.json", data))))
    assert [i.id for i in good] == ["1", "3"]
    assert len(rejected) == 1
    assert rejected[0].record == 1
    assert rejected[0].pointer == "/value/1/displayName"
    assert "UTF-8" in rejected[0].reason


def test_invalid_utf8_in_ndjson(tmp_path):
    bad = with_bytes(graph_alert("b"), "title", b'"x\xffy"')
    data = compact(graph_alert("a")) + b"\n" + bad + b"\n" + compact(graph_alert("c")) + b"\n"
    good, rejected = split(list(read_path(write(tmp_path, "u.ndjson", data), "graph-ndjson")))
    assert [a.id for a in good] == ["a", "c"]
    assert (rejected[0].line, rejected[0].record, rejected[0].pointer) == (2, 1, "/title")
    assert "UTF-8" in rejected[0].reason


@pytest.mark.parametrize("gz", [False, True])
def test_deep_nesting_in_page(tmp_path, gz):
    alert = with_bytes(graph_alert("a2"), "customDetails", b'{"x":' + DEEP + b"}")
    bad = compact(graph_incident("2", 0)).replace(b'"alerts":[]', b'"alerts":[' + alert + b"]")
    data = page_bytes([compact(graph_incident("1")), bad, compact(graph_incident("3"))])
    good, rejected = split(list(read_path(write(tmp_path, "d.json", data, gz))))
    assert [i.id for i in good] == ["1", "3"]
    assert len(rejected) == 1  # no tail rejection: the walk reached the end of the document
    assert rejected[0].record == 1
    assert rejected[0].pointer.startswith("/value/1")
    assert "nested too deeply" in rejected[0].reason


def test_deep_nesting_in_ndjson(tmp_path):
    bad = with_bytes(graph_alert("b"), "customDetails", b'{"x":' + DEEP + b"}")
    data = compact(graph_alert("a")) + b"\n" + bad + b"\n" + compact(graph_alert("c")) + b"\n"
    good, rejected = split(list(read_path(write(tmp_path, "d.ndjson", data), "graph-ndjson")))
    assert [a.id for a in good] == ["a", "c"]
    assert (rejected[0].line, rejected[0].record) == (2, 1)
    assert "nested too deeply" in rejected[0].reason


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad value"),
        OverflowError("too big"),
        RecursionError("deep"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ],
)
def test_any_conversion_error_is_a_rejection(exc):
    def convert(raw: bytes):
        raise exc

    item = convert_one(b'{"id":"1"}', convert, file="f.json", record=4, prefix="/value/4", line=None)
    assert isinstance(item, Rejection)
    assert (item.record, item.pointer) == (4, "/value/4")
    assert item.reason


def test_conversion_error_keeps_other_records():
    calls = []

    def convert(raw: bytes):
        calls.append(raw)
        if len(calls) == 2:
            raise OverflowError("too big")
        return raw

    items = list(read_records(io.BytesIO(b'[{"a":1},{"b":2},{"c":3}]'), "f.json", convert))
    assert [type(i).__name__ for i in items] == ["bytes", "Rejection", "bytes"]


# 2. integers out of range


@pytest.mark.parametrize("score", [10**30, 2**40, 2**31, -(2**31) - 1])
def test_priority_score_out_of_range(tmp_path, score):
    records = [graph_incident("1"), graph_incident("2", priorityScore=score), graph_incident("3")]
    good, rejected = split(list(read_path(write(tmp_path, "p.json", dump(page(records))))))
    assert [i.id for i in good] == ["1", "3"]
    assert rejected[0].pointer == "/value/1/priorityScore"
    lines = ndjson([graph_incident("1", priorityScore=score)])
    good, rejected = split(list(read_path(write(tmp_path, "p.ndjson", lines), "graph-ndjson")))
    assert (good, rejected[0].pointer, rejected[0].line) == ([], "/priorityScore", 1)


@pytest.mark.parametrize("score", [2**31 - 1, -(2**31), 0])
def test_priority_score_in_range(tmp_path, score):
    items = list(read_path(write(tmp_path, "p.json", dump(page([graph_incident("1", priorityScore=score)])))))
    assert items[0].priority_score == score


def process_evidence(**fields):
    entry = dict(ALL_EVIDENCE["process"][0])
    entry.update(fields)
    return entry


@pytest.mark.parametrize(
    ("field", "column", "value"),
    [
        ("processId", "process_id", 2**70),
        ("processId", "process_id", 2**63),
        ("processId", "process_id", -(2**63) - 1),
        ("parentProcessId", "parent_process_id", 2**64),
        ("processId", "process_id", "99999999999999999999"),
        ("processId", "process_id", "\u00b2"),  # str.isdigit() is True, int() fails
    ],
)
def test_evidence_pid_out_of_range_kept_in_extra(tmp_path, field, column, value):
    alert = graph_alert("a", evidence=[process_evidence(**{field: value})])
    items = list(read_path(write(tmp_path, "a.json", dump(page([alert], "security/alerts_v2"))), "graph-alerts"))
    assert isinstance(items[0], Alert)
    evidence = items[0].evidence[0]
    assert getattr(evidence, column) is None
    assert json.loads(evidence.extra)[field] == value


@pytest.mark.parametrize("pid", [2**63 - 1, -(2**63), 7])
def test_evidence_pid_in_range(tmp_path, pid):
    alert = graph_alert("a", evidence=[process_evidence(processId=pid)])
    items = list(read_path(write(tmp_path, "a.json", dump(page([alert], "security/alerts_v2"))), "graph-alerts"))
    assert items[0].evidence[0].process_id == pid


def test_mde_entity_pid_out_of_range_kept_in_extra(tmp_path):
    alert = mde_alert("m1")
    alert["evidence"] = [{"entityType": "Process", "processId": 2**70, "parentProcessId": 12}]
    items = list(read_path(write(tmp_path, "m.json", dump({"value": [alert]})), "mde-alerts"))
    evidence = next(e for e in items[0].evidence if e.type == "process")
    assert (evidence.process_id, evidence.parent_process_id) == (None, 12)
    assert json.loads(evidence.extra)["processId"] == 2**70


# 4. no bogus tail rejection after recovery


@pytest.mark.parametrize(
    "record",
    [
        b'{"id":"5","displayName":"x","priorityScore":NaN,"alerts":[]}',
        b'{"id":"4","displayName":"\\ud800","alerts":[]}',
        b'{"id":"4","displayName":"x" "y","alerts":[]}',
    ],
)
def test_one_bad_record_one_rejection(tmp_path, record):
    path = write(tmp_path, "n.json", b'{"value":[' + record + b"]}")
    good, rejected = split(list(read_path(path, "graph-incidents")))
    assert good == []
    assert [(r.record, r.pointer) for r in rejected] == [(0, "/value/0")]


def test_recovery_continues_after_a_bad_record(tmp_path):
    nan = b'{"id":"5","displayName":"x","priorityScore":NaN,"alerts":[]}'
    data = page_bytes([compact(graph_incident("1")), nan, compact(graph_incident("3"))])
    good, rejected = split(list(read_path(write(tmp_path, "n.json", data))))
    assert [i.id for i in good] == ["1", "3"]
    assert [(r.record, r.pointer) for r in rejected] == [(1, "/value/1")]


def test_damage_after_the_value_array_loses_nothing(tmp_path):
    data = page_bytes([compact(graph_incident("1")), compact(graph_incident("2"))])[:-1] + b',"@odata.nextLink":"htt'
    assert [type(i).__name__ for i in read_path(write(tmp_path, "n.json", data))] == ["Incident", "Incident"]


def test_damage_between_records_still_rejects_the_tail(tmp_path):
    data = b"[" + compact(mde_alert("a")) + b" " + compact(mde_alert("b")) + b"]"
    good, rejected = split(list(read_path(write(tmp_path, "m.json", data), "mde-alerts")))
    assert [a.id for a in good] == ["a"]
    assert [(r.record, r.pointer) for r in rejected] == [(1, "/1")]
    assert "damaged JSON" in rejected[0].reason


# 5. truncated or corrupt gzip


def noisy_alerts(n: int) -> list[dict]:
    rng = random.Random(7)  # incompressible text so the compressed stream is long
    return [graph_alert(str(i), description="".join(rng.choices("abcdefXYZ0123456789", k=400))) for i in range(n)]


def test_truncated_gzip_ndjson(tmp_path):
    compressed = gzip.compress(ndjson(noisy_alerts(50)))
    path = tmp_path / "t.ndjson.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    items = list(read_path(path))  # sniffed from the readable head
    good, rejected = split(items)
    assert 5 < len(good) < 50
    assert [a.id for a in good] == [str(i) for i in range(len(good))]
    assert items[-1] is rejected[0]
    assert len(rejected) == 1
    assert (rejected[0].line, rejected[0].record) == (len(good) + 1, len(good))
    assert "truncated" in rejected[0].reason
    assert "compressed" in rejected[0].reason


@pytest.mark.parametrize("fmt", ["graph-alerts", None])
def test_truncated_gzip_page(tmp_path, fmt):
    compressed = gzip.compress(json.dumps(page(noisy_alerts(50), "security/alerts_v2"), indent=1).encode())
    path = tmp_path / "t.json.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    items = list(read_path(path, fmt))
    good, rejected = split(items)
    assert 5 < len(good) < 50
    assert [a.id for a in good] == [str(i) for i in range(len(good))]
    assert items[-1] is rejected[0]
    assert (rejected[0].record, rejected[0].pointer) == (len(good), f"/value/{len(good)}")
    assert "truncated" in rejected[0].reason


@pytest.mark.parametrize("name", ["c.ndjson", "c.json"])
def test_corrupt_gzip_mid_stream(tmp_path, name):
    records = noisy_alerts(50)
    data = ndjson(records) if name.endswith("ndjson") else dump(page(records, "security/alerts_v2"))
    compressed = bytearray(gzip.compress(data))
    middle = len(compressed) // 2
    compressed[middle : middle + 64] = bytes(64)
    path = tmp_path / (name + ".gz")
    path.write_bytes(bytes(compressed))
    fmt = "graph-ndjson" if name.endswith("ndjson") else "graph-alerts"
    items = list(read_path(path, fmt))
    assert isinstance(items[0], Alert)
    assert isinstance(items[-1], Rejection)
    assert "compressed" in items[-1].reason


def test_single_incident_truncated_gzip(tmp_path):
    compressed = gzip.compress(json.dumps(graph_incident("1", 30), indent=1).encode())
    path = tmp_path / "i.json.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    items = list(read_path(path, "graph-incident"))
    assert len(items) == 1
    assert isinstance(items[0], Rejection)
    assert "compressed" in items[0].reason


def test_gzip_trailer_lost_after_complete_page(tmp_path):
    compressed = gzip.compress(dump(page([graph_incident("1"), graph_incident("2")])))
    path = tmp_path / "p.json.gz"
    path.write_bytes(compressed[:-8])  # CRC and size trailer missing, data complete
    good, rejected = split(list(read_path(path, "graph-incidents")))
    assert [i.id for i in good] == ["1", "2"]
    assert len(rejected) == 1
    assert isinstance(good[0], Incident)
    assert "compressed" in rejected[0].reason


def test_range_checked_on_the_wire_struct():
    decoder = msgspec.json.Decoder(WIncident)
    with pytest.raises(msgspec.ValidationError, match=r"priorityScore"):
        decoder.decode(b'{"id":"1","priorityScore":4294967296}')
