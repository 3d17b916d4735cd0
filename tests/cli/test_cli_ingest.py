"""The CLI end to end: ingest the shipped example, list incidents, strictness, bad input, no tracebacks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from afteraction.cli import cli
from cli_helpers import run_main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"


@pytest.fixture
def env(isolated: Path) -> Path:
    """The test's directory, holding its store (see conftest)."""
    return isolated


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_readme_main_job_on_the_shipped_example(env: Path) -> None:
    result = run("ingest", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "Incidents: 3 new" in result.output
    assert "Alerts: 8 new" in result.output
    assert "T1086 is revoked" in result.output
    assert "T1059.001" in result.output
    assert "Rejected records: 0" in result.output
    listing = run("incidents")
    assert listing.exit_code == 0
    for incident_id in ("51007", "51112", "51190"):
        assert incident_id in listing.output
    assert "3 incident(s)" in listing.output


def test_incidents_json_is_complete_and_ordered(env: Path) -> None:
    run("ingest", str(EXAMPLE))
    data = json.loads(run("incidents", "--format", "json").output)
    assert data["count"] == 3
    assert [i["id"] for i in data["incidents"]] == ["51190", "51112", "51007"]  # newest first
    phishing = next(i for i in data["incidents"] if i["id"] == "51007")
    assert phishing["determination"] == "phishing"
    assert phishing["alerts"] == 3
    assert phishing["first_activity"] == "2024-06-03T07:58:41Z"  # derived from the alerts
    assert phishing["resolved"] is not None


def test_reingest_is_idempotent(env: Path) -> None:
    run("ingest", str(EXAMPLE))
    again = json.loads(run("ingest", str(EXAMPLE), "--summary", "json").output)
    assert again["incidents"]["new"] == 0
    assert again["incidents"]["unchanged"] == 3
    assert again["alerts"]["unchanged"] == 8
    assert json.loads(run("incidents", "--format", "json").output)["count"] == 3


def test_directory_with_gzip_and_non_json_files(env: Path) -> None:
    folder = env / "exports"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "page.json.gz").write_bytes(gzip.compress(EXAMPLE.read_bytes()))
    (folder / "notes.txt").write_text("not an export")
    (folder / ".hidden.json").write_text("{}")
    summary = json.loads(run("ingest", str(folder), "--summary", "json").output)
    assert summary["incidents"]["new"] == 3
    assert summary["skipped"] == [str(folder / "notes.txt")]
    assert [f["status"] for f in summary["files"]] == ["ok"]


def test_bad_files_fail_cleanly_and_strict_exits_7(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    empty = env / "empty.json"
    empty.write_bytes(b"")
    text = env / "readme.json"
    text.write_text("hello, I am not JSON")
    code = run_main(["ingest", str(empty), str(text), str(EXAMPLE), "--strict"], monkeypatch)
    out, err = capsys.readouterr()
    assert code == 7
    assert "Traceback" not in out + err
    assert "empty.json" in err
    assert "readme.json" in err
    assert "Incidents: 3 new" in out  # the good file is stored anyway


def test_rejected_records_are_counted_and_located(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    page = json.loads(EXAMPLE.read_text())
    page["value"][1]["createdDateTime"] = "yesterday"
    del page["value"][2]["id"]
    bad = env / "bad.json"
    bad.write_text(json.dumps(page))
    code = run_main(["ingest", str(bad), "--strict"], monkeypatch)
    out, err = capsys.readouterr()
    assert code == 7
    assert "Traceback" not in out + err
    assert "Rejected records: 2" in out
    assert "Incidents: 1 new" in out
    import duckdb

    con = duckdb.connect(str(env / "store.duckdb"), read_only=True)
    rows = con.execute("SELECT record, pointer, reason FROM rejected_records ORDER BY record").fetchall()
    assert [r[0] for r in rows] == [1, 2]
    assert "createdDateTime" in (rows[0][1] or "") + rows[0][2]


def test_missing_path_is_a_usage_error(env: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["ingest", str(env / "nope.json")], monkeypatch)
    _, err = capsys.readouterr()
    assert code == 2
    assert "nope.json" in err


def test_incidents_without_a_store_explains(env: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["incidents"], monkeypatch)
    _, err = capsys.readouterr()
    assert code == 5
    assert "afteraction ingest" in err


def test_hostile_titles_do_not_reach_the_terminal_raw(env: Path) -> None:
    page = json.loads(EXAMPLE.read_text())
    page["value"][0]["displayName"] = "evil \x1b[2J\x1b]0;pwned\x07 title\u202e"
    hostile = env / "hostile.json"
    hostile.write_text(json.dumps(page))
    run("ingest", str(hostile))
    listing = run("incidents").output
    assert "\x1b" not in listing
    assert "\x07" not in listing
    assert "\u202e" not in listing
    assert "evil" in listing


def test_db_option_after_the_command(env: Path) -> None:
    other = env / "other.duckdb"
    assert run("ingest", str(EXAMPLE), "--db", str(other)).exit_code == 0
    assert other.exists()
    assert json.loads(run("incidents", "--db", str(other), "--format", "json").output)["count"] == 3


def test_hostile_text_is_escaped_in_json_output(env: Path) -> None:
    page = json.loads(EXAMPLE.read_text())
    page["value"][0]["displayName"] = "a\u202eb\u009bc\u2028d"
    hostile = env / "hostile.json"
    hostile.write_text(json.dumps(page))
    run("ingest", str(hostile))
    out = run("incidents", "--format", "json").output
    assert "\u202e" not in out
    assert "\u009b" not in out
    assert "\\u202e" in out
    titles = {i["title"] for i in json.loads(out)["incidents"]}
    assert "a\u202eb\u009bc\u2028d" in titles  # same value once decoded


def test_store_from_a_newer_afteraction_is_refused(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import duckdb

    run("ingest", str(EXAMPLE))
    con = duckdb.connect(str(env / "store.duckdb"))
    con.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    code = run_main(["ingest", str(EXAMPLE)], monkeypatch)
    assert code == 5
    assert "newer afteraction" in capsys.readouterr().err


def test_progress_bar_on_a_terminal(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from afteraction.commands.ingest_cmd import _Progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with _Progress() as progress:
        assert progress.enabled
        progress.file(EXAMPLE, 1000)
        progress.records(10, 400)
        task = progress._progress.tasks[0]
        assert (task.total, task.completed, task.fields["records"]) == (1000, 400, 10)
        progress.merging()
        assert "merging" in task.description
        progress.file(EXAMPLE, 0)  # a file read in parallel: no byte total
        assert progress._progress.tasks[0].total is None


def test_no_progress_output_when_piped(env: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(EXAMPLE)], catch_exceptions=False)
    assert "━" not in result.output
    assert result.output.startswith("Files: 1 ingested")


def test_ctrl_c_exits_130_with_a_message(env: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("afteraction.store.loader.ingest_paths", interrupted)
    code = run_main(["ingest", str(EXAMPLE)], monkeypatch)
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
