"""Large list files are parsed incrementally and give exactly the items of the whole-file path.

The threshold and chunk sizes are patched small so that records straddle chunk boundaries; the
whole-file path (threshold patched huge) is the reference. The last test reads a big page with the
real settings and checks that memory stays bounded.
"""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc

import pytest

from afteraction.errors import FormatError
from afteraction.ingest import Rejection, base, lists, read_path
from afteraction.model import Incident

from .samples import graph_incident, mde_alert, page, write

WHOLE = 1 << 40


@pytest.fixture
def refills(monkeypatch):
    """Calls of the incremental parser's read-more step (0: the whole-file path was taken)."""
    calls = []
    more = lists._ListStream.more

    def counted(self, keep):
        calls.append(keep)
        return more(self, keep)

    monkeypatch.setattr(lists._ListStream, "more", counted)
    return calls


def read(monkeypatch, path, fmt, *, over, chunk=100):
    monkeypatch.setattr(lists, "STREAM_OVER_BYTES", over)
    monkeypatch.setattr(lists, "STREAM_CHUNK", chunk)
    monkeypatch.setattr(base, "_CHUNK", chunk)
    try:
        return list(read_path(path, fmt))
    except FormatError as exc:
        return [f"FormatError: {exc}"]


def both(monkeypatch, refills, path, fmt="graph-incidents", *, chunk=100):
    """(whole-file items, streamed items); asserts that the streamed read really went incrementally."""
    whole = read(monkeypatch, path, fmt, over=WHOLE, chunk=chunk)
    assert not refills
    streamed = read(monkeypatch, path, fmt, over=1024, chunk=chunk)
    assert len(refills) > 1
    return whole, streamed


def incidents(n=6):
    return [graph_incident(str(i), n_alerts=i % 3) for i in range(n)]


def envelope(records, indent=None) -> bytes:
    data = json.dumps(page(records), indent=indent).encode()  # @odata.context first, @odata.nextLink last
    assert data.index(b'"@odata.context"') < data.index(b'"value"') < data.index(b'"@odata.nextLink"')
    return data


# 1. same items as the whole-file path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("indent", [None, 2])
def test_envelope_same_items(tmp_path, monkeypatch, refills, gz, indent):
    path = write(tmp_path, "p.json", envelope(incidents(), indent), gz)
    whole, streamed = both(monkeypatch, refills, path)
    assert streamed == whole
    assert [i.id for i in streamed] == [str(i) for i in range(6)]
    assert all(isinstance(i, Incident) for i in streamed)


@pytest.mark.parametrize("gz", [False, True])
def test_bare_list_same_items(tmp_path, monkeypatch, refills, gz):
    path = write(tmp_path, "l.json", json.dumps([mde_alert(f"a{i}") for i in range(8)]).encode(), gz)
    whole, streamed = both(monkeypatch, refills, path, "mde-alerts")
    assert streamed == whole
    assert [a.id for a in streamed] == [f"a{i}" for i in range(8)]


def test_value_after_other_members_and_bad_records(tmp_path, monkeypatch, refills):
    records = [json.dumps(r).encode() for r in incidents(3)]
    data = (
        b'{"@odata.nextLink": "next", "@odata.count": [1, {"value": 2}], "value": \n['
        + records[0]
        + b", NaN, 7, [[[[]]]], "
        + b'{"id": "\xff", "alerts": []}, '
        + b"[" * 5000
        + b"]" * 5000
        + b", "
        + records[1]
        + b" , "
        + records[2]
        + b'] , "@odata.context": "x"}'
    )
    whole, streamed = both(monkeypatch, refills, write(tmp_path, "b.json", data))
    assert streamed == whole
    assert [type(i).__name__ for i in streamed] == ["Incident"] + ["Rejection"] * 5 + ["Incident"] * 2
    assert [i.record for i in streamed if isinstance(i, Rejection)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "data",
    [
        b'{"value": 5, "x": ' + b"[1]" * 500 + b"}",  # not a list response: read whole, same FormatError
        b'{"@odata.context": "x", "other": [' + b"1," * 600 + b"1]}",  # no value array
        b" " * 2000 + b"\n",  # blank
        b" " * 2000 + b"x",  # not JSON
    ],
)
def test_whole_file_problems_same(tmp_path, monkeypatch, data):
    path = write(tmp_path, "w.json", data)
    whole = read(monkeypatch, path, "graph-incidents", over=WHOLE)
    assert read(monkeypatch, path, "graph-incidents", over=1024) == whole
    assert isinstance(whole[0], str)
    assert whole[0].startswith("FormatError")


# 2. damage: same items as the whole-file path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cut", [0.35, 0.6, 0.9, "in the last record"])
def test_truncated_page_same_items(tmp_path, monkeypatch, refills, gz, cut):
    data = envelope(incidents(), indent=1)
    end = data.rindex(b'"Incident 5"') if isinstance(cut, str) else int(len(data) * cut)
    path = write(tmp_path, "t.json", data[:end], gz)
    whole, streamed = both(monkeypatch, refills, path)
    assert streamed == whole
    assert isinstance(streamed[-1], Rejection)
    assert "records from here on are unreadable" in streamed[-1].reason


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.95, 0.9999])
def test_truncated_gzip_same_items(tmp_path, monkeypatch, refills, cut):
    compressed = gzip.compress(envelope(incidents(40), indent=1))  # even 30% of it is over the threshold
    path = tmp_path / "t.json.gz"
    path.write_bytes(compressed[: int(len(compressed) * cut)])
    whole, streamed = both(monkeypatch, refills, path)
    assert streamed == whole
    assert isinstance(streamed[-1], Rejection)
    assert "truncated or corrupt compressed data" in streamed[-1].reason


def test_corrupt_gzip_crc_same_items(tmp_path, monkeypatch, refills):
    compressed = bytearray(gzip.compress(envelope(incidents())))
    compressed[-6] ^= 0xFF  # CRC: every record is readable, the check fails at the end
    path = tmp_path / "c.json.gz"
    path.write_bytes(bytes(compressed))
    whole, streamed = both(monkeypatch, refills, path)
    assert streamed == whole
    assert streamed[-1].reason.endswith("after the end of the JSON document")


@pytest.mark.parametrize("damage", [b"} {", b"]]", b",,", b'"unterminated'])
def test_broken_structure_same_items(tmp_path, monkeypatch, refills, damage):
    records = [json.dumps(r, indent=1).encode() for r in incidents(4)]
    data = b'{"value": [' + b",\n".join(records[:2]) + b", " + damage + b",\n".join(records[2:]) + b"]}"
    whole, streamed = both(monkeypatch, refills, write(tmp_path, "d.json", data))
    assert streamed == whole
    assert [i.id for i in streamed[:2]] == ["0", "1"]
    assert isinstance(streamed[-1], Rejection)
    assert streamed[-1].record >= 2
    assert streamed[-1].line > 1


# 3. a record larger than the chunk size (and than the threshold)


@pytest.mark.parametrize("gz", [False, True])
def test_record_larger_than_chunk(tmp_path, monkeypatch, refills, gz):
    big = graph_incident("big", n_alerts=12, description="x" * 5000)
    records = [graph_incident("a"), big, graph_incident("b")]
    path = write(tmp_path, "r.json", envelope(records), gz)
    assert len(json.dumps(big)) > 40 * 100
    whole, streamed = both(monkeypatch, refills, path, chunk=100)
    assert streamed == whole
    assert [i.id for i in streamed] == ["a", "big", "b"]
    assert len(streamed[1].alerts) == 12


# 4. memory stays bounded with the real settings


def test_big_page_memory_bounded(tmp_path):
    template = json.dumps(graph_incident("@ID@", n_alerts=3, description="d" * 12_000)).encode()
    count = 60_000_000 // len(template)
    head = b'{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents", "value": ['
    body = b",\n".join(template.replace(b"@ID@", str(i).encode()) for i in range(count))
    path = tmp_path / "big.json"
    path.write_bytes(head + body + b'], "@odata.nextLink": "next"}')
    size = path.stat().st_size
    del body
    assert size > 4 * lists.STREAM_OVER_BYTES
    started = time.perf_counter()
    tracemalloc.start()
    try:
        seen = 0
        for item in read_path(path, "graph-incidents"):
            assert isinstance(item, Incident)
            seen += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert seen == count
    assert peak < size / 4, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB page"
    assert elapsed < 120  # generous: a slow machine under load; typically a few seconds
