"""``afteraction demo``: sample -> fresh store -> site, repeatable, without touching the default store."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from afteraction.cli import cli


def test_demo_builds_the_site_and_can_run_again(isolated: Path) -> None:
    out = isolated / "demo"
    for _ in range(2):  # the second run replaces the sample and recreates the store
        result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--incidents", "12", "--weeks", "3"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"Open {(out / 'site' / 'index.html').resolve()}" in result.output
    index = json.loads((out / "site" / "index.json").read_text(encoding="utf-8"))
    assert len(index["incidents"]) == 12
    for row in index["incidents"]:
        assert (out / "site" / row["page"]).is_file()
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "index.schema.json")
                        .read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(index)


def test_report_removes_only_its_own_stale_pages(isolated: Path) -> None:
    runner = CliRunner()
    out = isolated / "demo"
    assert runner.invoke(cli, ["demo", "--out", str(out), "--incidents", "8", "--weeks", "2"]).exit_code == 0
    pages = out / "site" / "incidents"
    mine = pages / "my-notes.json"
    mine.write_text("{}", encoding="utf-8")
    result = runner.invoke(cli, ["demo", "--out", str(out), "--incidents", "5", "--weeks", "2"])
    assert result.exit_code == 0, result.output
    assert mine.is_file()  # not ours: kept
    index = json.loads((out / "site" / "index.json").read_text(encoding="utf-8"))
    assert len(index["incidents"]) == 5
    # The pages of the three incidents no longer stored are gone; exactly the indexed pages remain.
    reviews = {f"incidents/{p.name}" for p in pages.glob("*.html") if not p.name.endswith(".runbook.html")}
    assert reviews == {r["page"] for r in index["incidents"]}
    runbooks = {f"incidents/{p.name}" for p in pages.glob("*.runbook.html")}
    assert runbooks == {r["page"].replace(".html", ".runbook.html") for r in index["incidents"]}
    assert len(list(pages.glob("*.cacao.json"))) == len(list(pages.glob("*.logicapp.json"))) == 5
    assert (out / "sample" / "truth.json").is_file()
    assert not (isolated / "store.duckdb").exists()  # the default (global --db) store is untouched


def test_site_has_the_coverage_page_linked_from_the_index(isolated: Path) -> None:
    out = isolated / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--incidents", "6", "--weeks", "2"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    site = out / "site"
    page = (site / "coverage.html").read_text(encoding="utf-8")
    assert 'href="coverage.html"' in (site / "index.html").read_text(encoding="utf-8")
    assert 'href="index.html"' in page
    assert "<script" not in page
    assert page.count('class="mx-col"') == 14  # the enterprise matrix's tactic columns
    data = json.loads((site / "coverage.json").read_text(encoding="utf-8"))
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "coverage.schema.json")
                        .read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["summary"]["observed"] > 0
    assert data["rules_given"] is False
    assert "coverage.html" not in (site / ".afteraction-site.json").read_text(encoding="utf-8")
