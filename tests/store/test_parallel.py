"""Reading a big NDJSON file with several processes stores exactly what a serial read stores."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from afteraction.attack import load_kb
from afteraction.ingest.graph_export import incident_to_graph
from afteraction.model import Alert, Evidence, Incident, IncidentStatus, Severity, TechniqueRef
from afteraction.store import Store
from afteraction.store import parallel as par
from afteraction.store.loader import ingest_paths

T0 = datetime(2024, 3, 1, tzinfo=UTC)
QUERIES = (
    "SELECT source, id, title, content_hash, is_stub, first_activity FROM incidents ORDER BY ALL",
    "SELECT id, incident_id, content_hash FROM alerts ORDER BY ALL",
    "SELECT alert_id, seq, raw, technique_id, status FROM alert_techniques ORDER BY ALL",
    "SELECT alert_id, seq, type, key FROM evidence ORDER BY ALL",
    "SELECT record, line, pointer, reason FROM rejected_records ORDER BY ALL",
)


def _incident(i: int) -> Incident:
    t = T0 + timedelta(minutes=i)
    techniques = (TechniqueRef(raw="T1086", id="T1086"), TechniqueRef(raw="T1059.001", id="T1059.001"))
    alerts = tuple(
        Alert(id=f"a{i}-{k}", incident_id=str(i % 40), title=f"alert {i}-{k}", severity=Severity.HIGH,
              created=t, last_updated=t + timedelta(seconds=i), first_activity=t - timedelta(minutes=5),
              techniques=techniques,
              evidence=(Evidence(type="ip", key=f"203.0.113.{i % 250}", ip_address=f"203.0.113.{i % 250}"),))
        for k in range(2)
    )
    # ids repeat (i % 40) so duplicates meet across the ranges the file is cut into
    return Incident(id=str(i % 40), title=f"incident v{i}", severity=Severity.HIGH, status=IncidentStatus.ACTIVE,
                    created=T0, last_updated=t, alerts=alerts)


@pytest.fixture
def ndjson(tmp_path: Path) -> Path:
    lines = [json.dumps(incident_to_graph(_incident(i))) for i in range(300)]
    lines[150] = "this line is not JSON"  # lands near a range boundary: must be a rejection, not a failure
    lines[151] = json.dumps({**json.loads(lines[151]), "createdDateTime": "yesterday"})
    lines[220] = ""  # blank lines are skipped but still counted
    path = tmp_path / "big.ndjson"
    path.write_text("\n".join(lines) + "\n")
    # The line that starts the second of three ranges becomes garbage of the same length (so the ranges
    # do not move): a reader refuses a range that starts that way, and the file must still be read.
    data = path.read_bytes()
    start = par.split_ranges(path, 3)[1][0]
    index = data[:start].count(b"\n")
    lines[index] = "x" * len(lines[index])
    path.write_text("\n".join(lines) + "\n")
    assert path.read_bytes()[start:start + 1] == b"x"
    return path


def _store_rows(db: Path, source: Path, monkeypatch: pytest.MonkeyPatch, *, parallel: bool) -> list[list[tuple]]:
    monkeypatch.setattr(par, "PARALLEL_MIN_BYTES", 1 if parallel else 10**15)
    with Store(db) as store:
        summary = ingest_paths(store, [str(source)], load_kb())
        assert summary.redirected_techniques == {"T1086": "T1059.001"}
        return [store.con.execute(q).fetchall() for q in QUERIES]


def test_parallel_read_stores_what_a_serial_read_stores(
    ndjson: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFTERACTION_INGEST_WORKERS", "3")
    serial = _store_rows(tmp_path / "serial.duckdb", ndjson, monkeypatch, parallel=False)
    parallel = _store_rows(tmp_path / "parallel.duckdb", ndjson, monkeypatch, parallel=True)
    assert parallel == serial
    incidents, _, _, _, rejected = serial
    assert len(incidents) == 40
    lines = [r[1] for r in rejected]
    assert len(lines) == 3  # the garbage range start, the non-JSON line and the bad timestamp
    assert {151, 152} <= set(lines)  # file line numbers, not range-local ones


def test_ranges_cover_the_file_and_end_on_line_boundaries(ndjson: Path) -> None:
    data = ndjson.read_bytes()
    for parts in (1, 2, 3, 7):
        ranges = par.split_ranges(ndjson, parts)
        assert ranges[0][0] == 0
        assert ranges[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(data[end - 1 : end] == b"\n" for _, end in ranges)
