"""The generator's fast exporter writes exactly what afteraction.ingest.graph_export writes."""

from __future__ import annotations

import msgspec

from afteraction.attack import KnowledgeBase
from afteraction.ingest.graph_export import incident_to_graph, incidents_page
from afteraction.synth import Options, export
from afteraction.synth.incident import build
from afteraction.synth.plan import Plan


def test_fast_export_equals_the_reference_exporter(kb: KnowledgeBase) -> None:
    plan = Plan(Options(incidents=300, seed=9, hostile=True), kb)
    incidents = [build(plan, i).incident for i in range(300)]
    for incident in incidents:
        fast, reference = export.incident(incident), incident_to_graph(incident)
        assert fast == reference
        assert msgspec.json.encode(fast) == msgspec.json.encode(reference)
    link = "https://graph.microsoft.com/v1.0/security/incidents?$skip=10"
    assert msgspec.json.encode(export.page(incidents[:10], link)) == msgspec.json.encode(
        incidents_page(incidents[:10], link))
