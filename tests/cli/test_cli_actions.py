"""``afteraction actions list|add|update|close`` end to end, through the real entry point."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from afteraction.cli import cli
from cli_helpers import run, run_main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"
SCHEMA = REPO / "docs" / "schemas" / "actions.schema.json"
HOSTILE = "=HYPERLINK(\"http://x\")|`rm -rf`*[a](b)\x1b[2J\u202eevil\x9b"


def listed(*args: str) -> list[dict[str, object]]:
    data = json.loads(run("actions", "list", *args, "--format", "json").output)
    assert isinstance(data, list)
    return data


def test_add_update_close_reopen(ingested: Path) -> None:
    out = run("actions", "add", "--what", "Enable MFA for admins", "--why", "phished", "--owner", "alice",
              "--due", "2026-12-31", "--priority", "high", "--link", "T1078,M1032", "--link",
              "entity:user:bob@contoso.com", "--incident", "51007").output
    assert "added #1 [open] Enable MFA for admins (incident 51007, defender)" in out
    (item,) = listed()
    assert {k: item[k] for k in ("id", "what", "why", "owner", "due", "priority", "links", "source", "incident_id",
                                 "origin", "status", "overdue", "closed", "note")} == {
        "id": 1, "what": "Enable MFA for admins", "why": "phished", "owner": "alice", "due": "2026-12-31",
        "priority": "high", "links": ["T1078", "M1032", "entity:user:bob@contoso.com"], "source": "defender",
        "incident_id": "51007", "origin": "user", "status": "open", "overdue": False, "closed": None, "note": None}
    assert list(item) == sorted(item)  # stable key order
    run("actions", "add", "--what", "Program-level item")
    assert [i["id"] for i in listed("--incident", "defender:51007")] == [1]
    assert [i["id"] for i in listed("--owner", "ALICE")] == [1]
    assert [i["id"] for i in listed("--technique", "T1078.004")] == [1]
    out = run("actions", "update", "#1", "--status", "in_progress", "--owner", "", "--link", "step:contain",
              "--note", "started").output
    assert "updated #1 [in_progress]" in out
    (item,) = listed("--incident", "51007")
    assert (item["status"], item["owner"], item["note"]) == ("in_progress", None, "started")
    assert item["links"][-1] == "step:contain"
    out = run("actions", "close", "1", "--note", "rolled out").output
    assert "closed #1 [done]" in out
    first = listed("--status", "closed")
    assert run("actions", "close", "1").output == out  # closing twice: the same result
    assert listed("--status", "closed") == first
    assert first[0]["closed"] is not None
    assert [i["id"] for i in listed()] == [2]
    run("actions", "close", "2", "--wont-do")
    assert [i["status"] for i in listed("--status", "all")] == ["done", "wont_do"]
    run("actions", "update", "1", "--status", "open")
    (item,) = listed()
    assert (item["id"], item["closed"]) == (1, None)


def test_from_review_adopts_suggestions_once(ingested: Path) -> None:
    out = run("actions", "add", "--from-review", "51007").output
    assert "adopted" in out
    assert "0 already tracked" in out
    items = listed()
    assert items
    assert {i["origin"] for i in items} == {"suggested"}
    assert {(i["source"], i["incident_id"]) for i in items} == {("defender", "51007")}
    for item in items:
        for link in item["links"]:
            assert link.startswith(("T", "M", "TA", "control:", "step:", "entity:")), link
    again = run("actions", "add", "--from-review", "defender:51007").output
    assert f"adopted 0 suggested item(s) of incident 51007 (defender); {len(items)} already tracked" in again
    assert listed() == items


def test_json_validates_against_the_schema(ingested: Path) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(listed())  # empty
    run("actions", "add", "--from-review", "51007")
    run("actions", "add", "--what", HOSTILE, "--due", "2020-01-01", "--link", f"control:{HOSTILE}")
    run("actions", "close", "1")
    data = listed("--status", "all")
    validator.validate(data)
    data[0]["status"] = "closed"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(data)


def test_overdue_first_and_flagged(ingested: Path) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    later = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    run("actions", "add", "--what", "later", "--due", later, "--priority", "high")
    run("actions", "add", "--what", "late", "--due", yesterday, "--priority", "low")
    run("actions", "add", "--what", "undated")
    items = listed()
    assert [(i["what"], i["overdue"]) for i in items] == [("late", True), ("later", False), ("undated", False)]
    assert [i["what"] for i in listed("--overdue")] == ["late"]
    table = run("actions", "list").output
    assert "OVERDUE" in table
    assert "3 action item(s), 1 overdue" in table
    md = run("actions", "list", "--format", "md").output
    assert "open (overdue)" in md
    rows = list(csv.DictReader(io.StringIO(run("actions", "list", "--format", "csv").output)))
    assert [r["overdue"] for r in rows] == ["yes", "", ""]


def test_hostile_text_is_escaped_everywhere(ingested: Path, tmp_path: Path) -> None:
    run("actions", "add", "--what", HOSTILE, "--owner", "-2+3", "--link", "control:@SUM(A1)")
    table = run("actions", "list").output
    for raw in ("\x1b", "\u202e", "\x9b"):
        assert raw not in table
    assert "\\u001b" in table
    rows = list(csv.DictReader(io.StringIO(run("actions", "list", "--format", "csv").output)))
    assert rows[0]["what"].startswith("'=HYPERLINK")
    assert rows[0]["owner"] == "'-2+3"
    assert rows[0]["links"].startswith("control:")  # not a formula start
    assert "\x1b" not in rows[0]["what"]
    md = run("actions", "list", "--format", "md").output
    line = next(x for x in md.splitlines() if "HYPERLINK" in x)
    assert line.count(" | ") == 7  # the text's own pipe cannot open a cell
    assert "\\|" in line
    assert "\\`rm -rf\\`" in line
    assert "\\[a\\](b)" in line
    assert "\x1b" not in md
    out = run("actions", "list", "--format", "json").output
    assert "\u202e" not in out
    assert "\x9b" not in out
    assert json.loads(out)[0]["what"] == HOSTILE  # stored verbatim, the same value once decoded
    target = tmp_path / "out" / "items.csv"
    result = CliRunner().invoke(cli, ["actions", "list", "--format", "csv", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith("id,status,overdue")


def test_bad_values_exit_2_with_a_message(ingested: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["actions", "close", "12"], "no action item #12"),
        (["actions", "update", "#12", "--owner", "x"], "no action item #12"),
        (["actions", "update", "twelve", "--owner", "x"], "not an action item id"),
        (["actions", "update", "1"], "nothing to update"),
        (["actions", "add", "--what", "x", "--due", "2026-13-01"], "YYYY-MM-DD"),
        (["actions", "add", "--what", " "], "needs --what"),
        (["actions", "add", "--what", "x", "--link", "mimikatz"], "'mimikatz'"),
        (["actions", "add", "--what", "x", "--incident", "nope-42"], "no incident 'nope-42'"),
        (["actions", "add", "--from-review", "51007", "--what", "x"], "drop --what"),
        (["actions", "list", "--technique", "powershell"], "not an ATT&CK technique id"),
    ]
    for args, message in cases:
        assert run_main(args, monkeypatch) == 2, args
        assert message in capsys.readouterr().err, args
    assert listed("--status", "all") == []


def test_revoked_link_is_reported(ingested: Path) -> None:
    result = CliRunner().invoke(cli, ["actions", "add", "--what", "x", "--link", "T1086,T9999"])
    assert result.exit_code == 0, result.output
    assert "T1086 is revoked" in result.output
    assert "T9999 is not in ATT&CK" in result.output
    assert listed()[0]["links"] == ["T1059.001", "T9999"]


def test_reingest_keeps_items(ingested: Path) -> None:
    run("actions", "add", "--what", "keep", "--incident", "51007")
    before = listed()
    run("ingest", str(EXAMPLE))
    assert listed() == before


def test_listing_without_a_store_is_a_store_error(isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["actions", "list"], monkeypatch) == 5
    assert "no store" in capsys.readouterr().err
