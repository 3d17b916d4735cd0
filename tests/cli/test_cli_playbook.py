"""``afteraction playbook`` and ``afteraction check-playbook`` end to end, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cli_helpers import run
from cli_helpers import run_main as exit_code

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"
SCHEMAS = REPO.parent / "shared" / "data" / "cacao-schemas"


def test_incident_playbook_in_every_format(ingested: Path) -> None:
    cacao = json.loads(run("playbook", "51007").output)
    assert cacao["type"] == "playbook"
    assert "incident:defender:51007" in cacao["labels"]
    out = ingested / "pb.json"
    run("playbook", "51007", "--automation", "--out", str(out))
    automated = json.loads(out.read_text(encoding="utf-8"))
    commands = {c["type"] for s in automated["workflow"].values() for c in s.get("commands", [])}
    assert "http-api" in commands
    check = run("check-playbook", str(out))
    assert "valid (0 error(s), 0 warning(s)" in check.output
    md = run("playbook", "51007", "--format", "md").output
    assert md.startswith("# ")
    assert "## Containment" in md or "## Eradication" in md or "## Hardening" in md
    html = run("playbook", "51007", "--format", "html").output
    assert html.startswith("<!DOCTYPE html>")
    arm = json.loads(run("playbook", "51007", "--format", "logicapp").output)
    schema = json.loads((REPO / "docs" / "schemas" / "logicapp-arm.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(arm)


def test_template_and_technique_playbooks(isolated: Path) -> None:
    ransomware = json.loads(run("playbook", "--type", "ransomware").output)
    assert "incident-type:ransomware" in ransomware["labels"]
    techniques = json.loads(run("playbook", "--techniques", "T1566.002,T1078", "--type", "phishing").output)
    assert {"attack.t1566.002", "attack.t1078"} <= set(techniques["labels"])
    assert ransomware["id"] != techniques["id"]


@pytest.mark.parametrize(("args", "message"), [
    (["playbook"], "give either INCIDENT_ID"),
    (["playbook", "51007", "--type", "phishing"], "give either INCIDENT_ID"),
    (["playbook", "--type", "nonsense"], "unknown incident type"),
    (["playbook", "--techniques", "T99999"], "not an ATT&CK technique"),
    (["playbook", "nope"], "no incident 'nope'"),
])
def test_usage_errors(ingested: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                      args: list[str], message: str) -> None:
    assert exit_code(args, monkeypatch) == 2
    assert message in capsys.readouterr().err


def test_check_playbook_reports_each_problem(isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    playbook = json.loads(run("playbook", "--type", "phishing").output)
    playbook["workflow_start"] = "start--00000000-0000-4000-8000-000000000000"
    first = next(iter(playbook["workflow"]))
    playbook["workflow"][first]["on_success"] = "end--00000000-0000-4000-8000-000000000001"
    bad = isolated / "bad.json"
    bad.write_text(json.dumps(playbook), encoding="utf-8")
    assert exit_code(["check-playbook", str(bad)], monkeypatch) == 3
    out = capsys.readouterr()
    assert "error: /workflow_start:" in out.out
    assert f"error: /workflow/{first}" in out.out
    assert "bad.json: invalid" in out.out
    assert "validation error(s)" in out.err
    assert exit_code(["check-playbook", "--format", "json", str(bad)], monkeypatch) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert {p["check"] for p in data["problems"]} >= {"reference"}
    garbage = isolated / "garbage.json"
    garbage.write_text("{nope", encoding="utf-8")
    assert exit_code(["check-playbook", str(garbage)], monkeypatch) == 3
    assert "garbage.json" in capsys.readouterr().err


@pytest.mark.shared_data
def test_check_playbook_against_the_official_schemas(isolated: Path) -> None:
    if not (SCHEMAS / "schemas" / "playbook.json").is_file():
        pytest.skip("../shared/data/cacao-schemas is not present")
    out = isolated / "pb.json"
    run("playbook", "--type", "business_email_compromise", "--automation", "--schemas", str(SCHEMAS),
        "--out", str(out))
    assert "and the OASIS schemas" in run("check-playbook", str(out), "--schemas", str(SCHEMAS)).output


def test_power_automate_package_needs_a_file(isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import zipfile

    assert exit_code(["playbook", "--type", "phishing", "--format", "powerautomate"], monkeypatch) == 2
    assert "give --out FILE.zip" in capsys.readouterr().err
    out = isolated / "flow.zip"
    run("playbook", "--type", "phishing", "--format", "powerautomate", "--out", str(out))
    with zipfile.ZipFile(out) as package:
        names = package.namelist()
    assert "manifest.json" in names
    assert any(n.endswith("/definition.json") for n in names)
