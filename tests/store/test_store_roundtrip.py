"""Hypothesis round-trip through the whole path: canonical Incident -> Graph JSON file -> ingest -> store
-> read back -> the same Incident (times derived, techniques resolved, alerts in stored order)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings

from afteraction.attack import load_kb
from afteraction.ingest.graph_export import incidents_page
from afteraction.model import Incident, TechniqueRef, TechniqueStatus, derive_times
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.store.read import load_incident
from tests_support import incidents

KB = load_kb("bundled")


def _expected(incident: Incident) -> Incident:
    def resolve(ref: TechniqueRef) -> TechniqueRef:
        res = KB.resolve(ref.raw)
        return TechniqueRef(raw=ref.raw, id=res.id, status=TechniqueStatus(res.status))

    alerts = tuple(
        msgspec.structs.replace(a, techniques=tuple(resolve(t) for t in a.techniques))
        for a in sorted(incident.alerts, key=lambda a: (a.created is None, a.created or 0, a.id))
    )
    return msgspec.structs.replace(derive_times(incident), alerts=alerts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(incidents())
def test_ingest_and_read_back(tmp_path: Path, incident: Incident) -> None:
    source = tmp_path / "page.json"
    source.write_text(json.dumps(incidents_page([incident])))
    db = tmp_path / "rt.duckdb"
    db.unlink(missing_ok=True)
    with Store(db) as store:
        summary = ingest_paths(store, [str(source)], KB)
        assert summary.rejected == 0
        got = load_incident(store, incident.id)
    assert got == _expected(incident)


def test_missing_incident_reads_as_none(tmp_path: Path) -> None:
    with Store(tmp_path / "empty.duckdb") as store:
        assert load_incident(store, "nope") is None
