"""``afteraction attribute``, ``clusters`` and ``eval attribution`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_json_schemas import EXAMPLE, validate

from afteraction.cli import cli, main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_attribute_explicit_evidence_in_every_format(tmp_path: Path) -> None:
    code, out, _ = run("attribute", "--techniques", "T1566.001,T1059.001", "--techniques", "T1486",
                       "--software", "Cobalt Strike", "--format", "json")
    assert code == 0
    data = json.loads(out)
    validate(data, "attribution.schema.json")
    assert [t["id"] for t in data["evidence"]["techniques"]] == ["T1059.001", "T1486", "T1566.001"]
    assert data["evidence"]["software"][0]["id"] == "S0154"
    assert len(data["groups"]["candidates"]) == 5
    code, md, _ = run("attribute", "--techniques", "T1566.001", "--format", "md")
    assert code == 0
    assert "No confident attribution" in md
    target = tmp_path / "a.html"
    code, _, err = run("attribute", "--software", "S0154", "--top", "3", "--format", "html", "--out", str(target))
    assert code == 0
    assert "wrote" in err
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "Cobalt Strike" in html


def main_exit(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Through the console entry point, where errors become exit codes."""
    monkeypatch.setattr("sys.argv", ["afteraction", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_attribute_usage_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = main_exit(["attribute"], monkeypatch, capsys)
    assert code == 2
    assert "INCIDENT_ID" in err
    code, err = main_exit(["attribute", "--software", "No Such Malware 9000"], monkeypatch, capsys)
    assert code == 2
    assert "no ATT&CK software matches" in err
    assert run("ingest", str(EXAMPLE))[0] == 0
    code, err = main_exit(["attribute", "does-not-exist"], monkeypatch, capsys)
    assert code == 2
    assert "does-not-exist" in err


def test_attribute_stored_incident_and_clusters() -> None:
    assert run("ingest", str(EXAMPLE))[0] == 0
    code, out, _ = run("attribute", "51007", "--format", "json")
    assert code == 0
    data = json.loads(out)
    validate(data, "attribution.schema.json")
    assert data["evidence"]["incidents"] == ["51007"]
    assert data["evidence"]["techniques"]
    code, out, _ = run("clusters", "--format", "json")
    assert code == 0
    validate(json.loads(out), "clusters.schema.json")
    code, md, _ = run("clusters", "--since", "2020-01-01", "--format", "md")
    assert code == 0
    assert "cluster" in md.lower()


def test_eval_attribution_p3_json_validates() -> None:
    code, out, err = run("eval", "attribution", "--protocol", "p3", "--format", "json")
    assert code == 0, err
    assert "running P3" in err
    data = json.loads(out)
    validate(data, "attribution-eval.schema.json")
    (setting,) = data["settings"]
    assert setting["protocol"] == "P3"
    assert setting["queries"] >= 2000
    assert {r["scorer"] for r in setting["scorers"]} == {"afteraction", "jaccard", "idf-cosine"}
