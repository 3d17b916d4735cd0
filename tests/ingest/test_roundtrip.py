"""Hypothesis round-trip: canonical Incident -> Graph JSON (graph_export) -> reader -> same Incident."""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings

from afteraction.ingest import READERS
from afteraction.ingest.graph_export import incidents_page
from afteraction.model import derive_times
from tests_support import incidents


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incidents())
def test_graph_round_trip(incident):
    data = json.dumps(incidents_page([incident])).encode()
    (got,) = READERS["graph-incidents"](io.BytesIO(data), file="rt.json")
    assert got == derive_times(incident)
