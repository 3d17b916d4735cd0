"""Reviews read from a real store: the shipped example, peers from the engine, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from afteraction.analyze.review import incident_facts, review_incident
from afteraction.attack.kb import KnowledgeBase
from afteraction.cli import cli
from afteraction.errors import UsageError
from afteraction.store import Store
from afteraction.store.loader import ingest_paths

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"


@pytest.fixture
def store(tmp_path: Path, kb: KnowledgeBase) -> Store:
    s = Store(tmp_path / "s.duckdb")
    ingest_paths(s, [str(EXAMPLE)], kb)
    return s


def test_facts_match_the_per_incident_review(store: Store, kb: KnowledgeBase) -> None:
    facts = {f.id: f for f in incident_facts(store)}
    assert sorted(facts) == ["51007", "51112", "51190"]
    for fid, fact in facts.items():
        r = review_incident(store, kb, fid)
        # The engine-side facts and the Python review agree on type and times.
        assert fact.incident_type == r.incident_type.type, fid
        assert fact.time_to_detect == r.metrics.time_to_detect
        assert fact.time_to_acknowledge == r.metrics.time_to_acknowledge
        assert fact.time_to_resolve == r.metrics.time_to_resolve
        assert fact.alerts == r.metrics.alerts
        assert fact.techniques == r.metrics.techniques
        assert fact.unremediated == sum(e.unremediated for e in r.entities)


def test_example_incidents(store: Store, kb: KnowledgeBase) -> None:
    phish = review_incident(store, kb, "51007")
    assert phish.incident_type.type == "phishing"
    assert "business_email_compromise" in phish.incident_type.also
    assert phish.header.links[0].url.startswith("https://security.microsoft.com/incidents/51007")
    assert phish.header.attack_version == kb.version
    assert [s.tactic for s in phish.chain.stages if s.observed] == ["Initial Access", "Defense Evasion",
                                                                     "Collection"]
    assert phish.recommendations.type_steps  # the phishing investigation path
    intrusion = review_incident(store, kb, "51112")
    # T1086 was revoked in favour of T1059.001: shown under the current id, with the raw id kept.
    techs = {t.id: t for e in intrusion.timeline for t in e.techniques}
    assert techs["T1059.001"].name == "PowerShell"
    assert any(t.raw == "T1086" for t in techs.values())
    assert intrusion.metrics.resolved is None
    with pytest.raises(UsageError, match="no incident"):
        review_incident(store, kb, "nope")


def test_cli_review_formats_and_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERACTION_DB", str(tmp_path / "cli.duckdb"))
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(EXAMPLE)]).exit_code == 0
    result = runner.invoke(cli, ["review", "51007", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    schema = json.loads((REPO / "docs" / "schemas" / "review.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)
    out = tmp_path / "r.md"
    result = runner.invoke(cli, ["review", "51112", "--format", "md", "--out", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("#")
    missing = runner.invoke(cli, ["review", "nope"])
    assert missing.exit_code != 0


def test_committed_schemas_match_the_result_types() -> None:
    from afteraction.analyze.review.model import json_schemas
    from afteraction.analyze.review.schemas import attribution_schemas, program_schemas

    for name, schema in {**json_schemas(), **attribution_schemas(), **program_schemas()}.items():
        committed = json.loads((REPO / "docs" / "schemas" / name).read_text(encoding="utf-8"))
        hint = f"regenerate {name}: python -m afteraction.analyze.review.schemas"
        assert committed == json.loads(json.dumps(schema)), hint


def test_incidents_known_only_from_alerts_are_reviewed_and_listed(tmp_path: Path, kb: KnowledgeBase) -> None:
    from afteraction.ingest.graph_export import alert_to_graph
    from afteraction.model import Alert, TechniqueRef

    alerts = {"value": [alert_to_graph(Alert(id=f"a{i}", incident_id="stub-9", title="Alert only",
                                              techniques=(TechniqueRef(raw="T1059.001", id="T1059.001"),)))
                        for i in range(2)]}
    page = tmp_path / "alerts.json"
    page.write_text(json.dumps(alerts), encoding="utf-8")
    store = Store(tmp_path / "s.duckdb")
    ingest_paths(store, [str(page)], kb)
    r = review_incident(store, kb, "stub-9")
    assert r.metrics.alerts == 2
    assert "stub-9" in {f.id for f in incident_facts(store)}


def test_index_facts_agree_with_reviews_on_generated_data(tmp_path: Path, kb: KnowledgeBase) -> None:
    from afteraction.analyze.review import ReviewContext
    from afteraction.synth import Options, generate

    result = generate(Options(incidents=60, weeks=6, seed=21), tmp_path / "sample", kb)
    store = Store(tmp_path / "g.duckdb")
    ingest_paths(store, [str(result.export_dir)], kb)
    context = ReviewContext(kb, store)
    for fact in incident_facts(store):
        r = review_incident(store, kb, fact.id, context=context)
        assert fact.incident_type == r.incident_type.type, fact.id
        assert fact.time_to_detect == r.metrics.time_to_detect, fact.id
        assert fact.time_to_acknowledge == r.metrics.time_to_acknowledge, fact.id
        assert fact.unremediated == sum(e.unremediated for e in r.entities), fact.id


def test_annotated_undetected_techniques_are_known_gaps(store: Store, kb: KnowledgeBase) -> None:
    from afteraction.analyze.review import ReviewContext
    from afteraction.commands.review_cmd import render_review
    from afteraction.store.annotations import annotate

    before = review_incident(store, kb, "51112")
    assert "Discovery" in {s.tactic for s in before.chain.skipped}
    annotate(store, "51112", ["T1087.002"], kb)  # Domain Account discovery, found in the investigation
    r = review_incident(store, kb, "51112", context=ReviewContext(kb, store))
    discovery = next(s for s in r.chain.stages if s.tactic == "Discovery")
    assert [t.id for t in discovery.undetected] == ["T1087.002"]
    assert "Discovery" not in {s.tactic for s in r.chain.skipped}  # a known gap, not a question any more
    assert r.chain.undetected == ("T1087.002",)
    assert r.recommendations.detections[0].technique.id == "T1087.002"
    assert any("T1087.002" in i.what and i.priority == "high" for i in r.action_items)
    assert "T1087.002" in render_review(r, "md")
    assert "Recorded as undetected" in render_review(r, "html")
