"""Coverage: categories from alerts, annotations and rules; filters; ranking; outputs; the CLI gate."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from afteraction.analyze.coverage import coverage
from afteraction.attack.kb import KnowledgeBase
from afteraction.cli import cli
from afteraction.render.coverage import csv_cell, render_coverage_csv, render_coverage_markdown
from afteraction.render.coverage_layers import coverage_layer, coverage_layers
from afteraction.rules import load_rules
from afteraction.store import Store
from afteraction.store.annotations import annotate
from afteraction.store.loader import ingest_paths

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"


@pytest.fixture
def store(tmp_path: Path, kb: KnowledgeBase) -> Store:
    s = Store(tmp_path / "s.duckdb")
    ingest_paths(s, [str(EXAMPLE)], kb)
    return s


def _alert_techniques(store: Store) -> set[str]:
    rows = store.con.execute("SELECT DISTINCT technique_id FROM alert_techniques WHERE status IN "
                             "('active', 'revoked')").fetchall()
    return {r[0] for r in rows}


def test_detected_means_an_alert_fired_in_the_period(store: Store, kb: KnowledgeBase) -> None:
    result = coverage(store, kb)
    detected = {t.id for t in result.techniques if t.category == "detected"}
    assert detected == _alert_techniques(store)
    assert result.summary.observed == len(detected)
    assert result.summary.detected_share == 1.0
    by_id = {t.id: t for t in result.techniques}
    assert by_id["T1059.001"].alerts == 2  # one alert names T1059.001, another the revoked T1086
    assert by_id["T1566.002"].observed_incidents == ("51007",)
    later = coverage(store, kb, since=datetime(2030, 1, 1, tzinfo=UTC))
    assert later.summary.by_category["detected"] == 0


def test_filters_and_roll_up(store: Store, kb: KnowledgeBase) -> None:
    only = coverage(store, kb, include=["credential-access"])
    assert only.techniques
    assert all("credential-access" in t.tactics for t in only.techniques)
    no_ps = coverage(store, kb, exclude=["T1059"])
    assert not any(t.id == "T1059" or (t.parent == "T1059") for t in no_ps.techniques)
    linux = coverage(store, kb, platforms=["Linux"])
    assert all("Linux" in t.platforms for t in linux.techniques)
    parent = next(t for t in coverage(store, kb).techniques if t.id == "T1059")
    assert parent.subtechniques["detected"] >= 1


def test_rules_turn_annotated_gaps_into_missed_and_rank_by_relevance(store: Store, kb: KnowledgeBase,
                                                                      tmp_path: Path) -> None:
    annotate(store, "51112", ["T1003.006", "T1558.003"], kb, note="found in the investigation")
    inventory = tmp_path / "rules.csv"
    inventory.write_text("technique,rule,status\nT1003.006,DCSync detection,enabled\nT1003.001,LSASS,enabled\n",
                         encoding="utf-8")
    rules = load_rules([inventory], kb)
    result = coverage(store, kb, rules=rules, groups=["G0016"])
    by_id = {t.id: t for t in result.techniques}
    assert by_id["T1003.006"].category == "missed"
    assert by_id["T1003.006"].annotated_incidents == ("51112",)
    assert by_id["T1558.003"].category == "no_rule"
    observed_gaps = [g for g in result.gaps if g.category in ("missed", "no_rule")]
    assert {g.technique for g in observed_gaps} == {"T1003.006", "T1558.003"}
    assert result.gaps[0].category in ("missed", "no_rule")  # seen gaps rank before unseen ones
    assert [g.rank for g in result.gaps] == list(range(1, len(result.gaps) + 1))
    unseen = [g.score for g in result.gaps if g.category == "never_seen"]
    assert unseen == sorted(unseen, reverse=True)
    dcsync = next(g for g in result.gaps if g.technique == "T1003.006")
    assert "LSASS" in dcsync.nearby_rules  # a rule on a sibling sub-technique
    assert dcsync.detections is not None
    assert dcsync.detections.strategies


def test_layers_validate_and_load_in_strict_mode(store: Store, kb: KnowledgeBase) -> None:
    from mitreattack.navlayers import Layer

    result = coverage(store, kb)
    schema = json.loads((REPO / "docs" / "schemas" / "navigator-layer-4.5.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    single = coverage_layer(result)
    validator.validate(single)
    several = coverage_layers(result)
    validator.validate(several)
    assert [layer["name"] for layer in several] == ["afteraction observed", "afteraction detected",
                                                   "afteraction rules", "afteraction gaps"]
    loaded = Layer(strict=True)
    loaded.from_dict(single)
    assert loaded.layer is not None
    assert loaded.layer.name == "afteraction coverage"


def test_csv_and_markdown_are_inert(store: Store, kb: KnowledgeBase) -> None:
    assert csv_cell('=HYPERLINK("http://x")') == "'=HYPERLINK(\"http://x\")"
    assert csv_cell("-2+3") == "'-2+3"
    assert csv_cell("T1059") == "T1059"
    result = coverage(store, kb)
    rows = list(csv.reader(io.StringIO(render_coverage_csv(result))))
    assert len(rows) == 1 + len(result.techniques)
    md = render_coverage_markdown(result)
    assert "# ATT&CK coverage" in md
    assert "<" not in md.replace("&lt;", "")


def test_cli_formats_and_fail_under_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERACTION_DB", str(tmp_path / "cli.duckdb"))
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(EXAMPLE)]).exit_code == 0
    layer = tmp_path / "layer.json"
    result = runner.invoke(cli, ["coverage", "--format", "json", "--layer", str(layer), "--fail-under", "90"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    schema = json.loads((REPO / "docs" / "schemas" / "coverage.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)
    assert json.loads(layer.read_text(encoding="utf-8"))["versions"]["layer"] == "4.5"
    future = runner.invoke(cli, ["coverage", "--since", "2030-01-01", "--fail-under", "50", "--format", "csv"])
    from afteraction.commands.coverage_cmd import CoverageGateError

    assert isinstance(future.exception, CoverageGateError)
    assert future.exception.exit_code == 8
    assert "--fail-under 50" in str(future.exception)
    page = runner.invoke(cli, ["coverage", "--format", "html"])
    assert page.exit_code == 0
    assert "ATT&amp;CK matrix" in page.output
    bad = runner.invoke(cli, ["coverage", "--groups", "No Such Group"])
    from afteraction.errors import UsageError

    assert isinstance(bad.exception, UsageError)  # exit code 2 through the CLI's error boundary
    assert "No Such Group" in str(bad.exception)


def test_compare_to_lists_category_changes(store: Store, kb: KnowledgeBase) -> None:
    june_10 = datetime(2024, 6, 10, tzinfo=UTC)
    result = coverage(store, kb, since=june_10, compare_to=(None, june_10))
    cmp = result.comparison
    assert cmp is not None
    before = {t.id for t in coverage(store, kb, until=june_10).techniques if t.category == "detected"}
    after = {t.id for t in result.techniques if t.category == "detected"}
    changes = {c.technique: c for c in cmp.changes}
    assert {t for t, c in changes.items() if c.direction == "newly_seen"} == after - before
    assert {t for t, c in changes.items() if c.direction == "no_longer_seen"} == before - after
    assert cmp.counts["newly_seen"] == len(after - before)
    assert "Compared with the earlier period" in render_coverage_markdown(result)


def test_cli_compare_to_period_syntax(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERACTION_DB", str(tmp_path / "cli.duckdb"))
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(EXAMPLE)]).exit_code == 0
    ok = runner.invoke(cli, ["coverage", "--since", "2024-06-10", "--compare-to", "/2024-06-10", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["comparison"]["counts"]["newly_seen"] >= 1
    bad = runner.invoke(cli, ["coverage", "--compare-to", "2024-06-10"])
    assert bad.exit_code == 2
    assert "START/END" in bad.output


def test_detectors_ever_agrees_with_and_without_a_period(store: Store, kb: KnowledgeBase) -> None:
    whole = {t.id: t.detectors_ever for t in coverage(store, kb).techniques}
    bounded = coverage(store, kb, since=datetime(1990, 1, 1, tzinfo=UTC), until=datetime(2100, 1, 1, tzinfo=UTC))
    assert whole == {t.id: t.detectors_ever for t in bounded.techniques}
    assert whole["T1059.001"] >= 1


def test_rules_may_be_given_as_a_callable(store: Store, kb: KnowledgeBase, tmp_path: Path) -> None:
    inventory = tmp_path / "rules.csv"
    inventory.write_text("technique,rule,status\nT1566.002,Link phish,enabled\n", encoding="utf-8")
    rules = load_rules([inventory], kb)
    direct = coverage(store, kb, rules=rules)
    deferred = coverage(store, kb, rules=lambda: rules)
    assert [t.rules for t in direct.techniques] == [t.rules for t in deferred.techniques]
    assert next(t for t in direct.techniques if t.id == "T1566.002").rules_enabled == 1
