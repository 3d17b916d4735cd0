"""``afteraction annotate`` and ``afteraction annotations`` end to end, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from afteraction.cli import cli
from cli_helpers import run, run_main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"
SCHEMA = REPO / "docs" / "schemas" / "annotations.schema.json"


def listed(*args: str) -> list[dict[str, object]]:
    data = json.loads(run("annotations", *args, "--format", "json").output)
    assert data["count"] == len(data["annotations"])
    return data["annotations"]


def test_annotate_list_and_remove(ingested: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "analyst1")
    result = CliRunner().invoke(cli, ["annotate", "51007", "--technique", "T1003.001,T1021.001",
                                      "--technique", "T1086", "--undetected", "--note", "seen in EDR"])
    assert result.exit_code == 0, result.output
    assert "annotated incident 51007 (defender) as undetected: T1003.001, T1021.001, T1059.001" in result.output
    assert "T1086 is revoked" in result.output
    assert "recorded as T1059.001" in result.output
    rows = listed()
    assert [(r["incident_id"], r["technique_id"], r["raw"]) for r in rows] == [
        ("51007", "T1003.001", "T1003.001"), ("51007", "T1021.001", "T1021.001"), ("51007", "T1059.001", "T1086")]
    assert {r["author"] for r in rows} == {"analyst1"}
    assert {r["note"] for r in rows} == {"seen in EDR"}
    run("annotate", "51112", "--technique", "T1110", "--undetected", "--author", "bob")
    assert [r["technique_id"] for r in listed("51112")] == ["T1110"]
    table = run("annotations").output
    assert "T1059.001" in table
    assert "T1086" in table
    assert "4 annotation(s)" in table
    removed = run("annotate", "51007", "--technique", "T1086", "--technique", "T1003.001", "--undetected",
                  "--remove").output
    assert "removed from incident 51007 (defender): T1003.001, T1059.001" in removed
    assert [r["technique_id"] for r in listed("51007")] == ["T1021.001"]


def test_annotating_again_updates(ingested: Path) -> None:
    run("annotate", "51007", "--technique", "T1059.001", "--undetected", "--note", "one", "--author", "a")
    run("annotate", "51007", "--technique", "T1059.001", "--undetected", "--note", "two", "--author", "b")
    rows = listed()
    assert [(r["note"], r["author"]) for r in rows] == [("two", "b")]


def test_unknown_technique_is_kept_with_a_warning(ingested: Path) -> None:
    result = CliRunner().invoke(cli, ["annotate", "51007", "--technique", "T9999", "--undetected"])
    assert result.exit_code == 0, result.output
    assert "warning: T9999 is not in ATT&CK" in result.output
    assert [r["technique_id"] for r in listed()] == ["T9999"]


def test_invalid_technique_is_exit_2_naming_it(ingested: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["annotate", "51007", "--technique", "T1059,mimikatz", "--undetected"], monkeypatch)
    assert code == 2
    err = capsys.readouterr().err
    assert "not ATT&CK technique ids" in err
    assert "'mimikatz'" in err
    assert listed() == []


def test_unknown_incident_is_exit_2_naming_it(ingested: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["annotate", "nope-42", "--technique", "T1059", "--undetected"], monkeypatch)
    assert code == 2
    assert "no incident 'nope-42'" in capsys.readouterr().err


def test_undetected_is_required(ingested: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["annotate", "51007", "--technique", "T1059"], monkeypatch) == 2
    assert "needs --undetected" in capsys.readouterr().err
    assert run_main(["annotate", "51007", "--undetected"], monkeypatch) == 2
    assert "at least one --technique" in capsys.readouterr().err


def test_reingest_keeps_annotations(ingested: Path) -> None:
    run("annotate", "51007", "--technique", "T1003.001", "--undetected")
    before = listed()
    run("ingest", str(EXAMPLE))
    assert listed() == before


def test_hostile_text_is_escaped_in_the_table(ingested: Path) -> None:
    note = "ok\x1b[2J\x1b]0;pwned\x07\u202eevil\u2028x"
    run("annotate", "51007", "--technique", "T1059", "--undetected", "--note", note, "--author", "m\x9bal")
    table = run("annotations", "51007").output
    for raw in ("\x1b", "\x07", "\u202e", "\u2028", "\x9b"):
        assert raw not in table
    assert "\\u001b" in table
    assert "\\u202e" in table
    out = run("annotations", "--format", "json").output
    assert "\u202e" not in out
    assert "\x9b" not in out
    assert json.loads(out)["annotations"][0]["note"] == note  # the same value once decoded


def test_json_validates_against_the_schema(ingested: Path) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(json.loads(run("annotations", "--format", "json").output))  # empty
    run("annotate", "51007", "--technique", "T1086,T9999", "--undetected", "--note", "n")
    run("annotate", "51190", "--technique", "T1566.001", "--undetected", "--author", "")
    data = json.loads(run("annotations", "--format", "json").output)
    assert data["count"] == 3
    validator.validate(data)
    data["annotations"][0]["kind"] = "detected"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(data)


def test_listing_without_a_store_is_a_store_error(isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["annotations"], monkeypatch) == 5
    assert "no store" in capsys.readouterr().err
