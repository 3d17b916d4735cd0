"""Every JSON output validates against its documented schema in docs/schemas/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from afteraction.cli import cli

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schemas"
EXAMPLE = REPO / "examples" / "defender-incidents.json"


def output(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def validate(data: object, schema_name: str) -> None:
    schema = json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)


def test_ingest_summary_and_incidents(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    summary = output("ingest", str(EXAMPLE), str(bad), "--summary", "json")
    validate(summary, "ingest-summary.schema.json")
    assert summary["redirected_techniques"] == {"T1086": "T1059.001"}
    incidents = output("incidents", "--format", "json")
    validate(incidents, "incidents.schema.json")
    assert incidents["count"] == 3


def test_attack_info_and_lookup() -> None:
    validate(output("attack", "info", "--format", "json"), "attack-info.schema.json")
    for query in ("T1086", "cobalt strike", "TA0011", "G0016", "no such thing"):
        validate(output("attack", "lookup", query, "--format", "json"), "attack-lookup.schema.json")


def test_schemas_reject_wrong_output() -> None:
    summary = output("ingest", str(EXAMPLE), "--summary", "json")
    assert isinstance(summary, dict)
    summary["incidents"]["new"] = -1
    with pytest.raises(jsonschema.ValidationError):
        validate(summary, "ingest-summary.schema.json")


def test_attribution_review_and_site_clusters(isolated: Path) -> None:
    """The review's attribution section, ``attribution.schema.json`` and the site's clusters page JSON."""
    from afteraction.analyze.attribution import attributor, from_lists
    from afteraction.attack import load_kb
    from afteraction.render.json import to_json
    from afteraction.report import build_site
    from afteraction.store import Store

    output("ingest", str(EXAMPLE), "--summary", "json")
    review = output("review", "51007", "--format", "json")
    validate(review, "review.schema.json")
    assert isinstance(review, dict)
    assert review["attribution"]["groups"]["candidates"]
    validate(review["attribution"], "attribution.schema.json")
    kb = load_kb()
    for techniques, software in ((["T1566.001", "T1059.001", "T1486"], ["Cobalt Strike"]), (["T1059.001"], [])):
        result = attributor(kb).attribute(from_lists(kb, techniques, software))
        validate(json.loads(to_json(result)), "attribution.schema.json")
    with Store(isolated / "store.duckdb") as store:
        build_site(store, kb, isolated / "site")
    clusters = json.loads((isolated / "site" / "attribution.json").read_text(encoding="utf-8"))
    validate(clusters, "clusters.schema.json")
    validate(json.loads((isolated / "site" / "index.json").read_text(encoding="utf-8")), "index.schema.json")
    for name in ("trends", "skills", "process"):
        validate(json.loads((isolated / "site" / f"{name}.json").read_text(encoding="utf-8")), f"{name}.schema.json")
        assert (isolated / "site" / f"{name}.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    index_html = (isolated / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="trends.html"' in index_html
