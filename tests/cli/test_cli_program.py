"""``afteraction trends``, ``skills`` and ``process`` from the command line, on the example export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_json_schemas import validate

from afteraction.cli import cli, main
from afteraction.commands.program_cmd import parse_duration
from afteraction.errors import UsageError


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", ["trends", "skills", "process"])
def test_every_format(ingested: Path, command: str) -> None:
    code, out, err = run(command, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    validate(data, f"{command}.schema.json")
    assert data["period"]["bucket"] == "week"
    code, md, _ = run(command, "--format", "md", "--bucket", "day")
    assert code == 0
    assert md.startswith("#")
    code, text, _ = run(command, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0]  # a header, then one row per entry (the small example may have none for skills)
    assert all(len(r) == len(rows[0]) for r in rows)
    target = ingested / f"{command}.html"
    code, _, err = run(command, "--format", "html", "--out", str(target), "--since", "2020-01-01")
    assert code == 0, err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_options_reach_the_analyses(ingested: Path) -> None:
    code, out, _ = run("trends", "--recent", "5d", "--fdr", "0.1", "--format", "json")
    assert code == 0
    changes = json.loads(out)["changes"]
    assert changes["fdr"] == 0.1
    code, out, _ = run("process", "--sla", "high=30m/12h", "--format", "json")
    assert code == 0
    sla = json.loads(out)["sla"]
    assert "high" in json.dumps(sla)


def test_usage_errors(ingested: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for args, needle in ((["process", "--sla", "nonsense"], "nonsense"), (["trends", "--recent", "soon"], "soon"),
                         (["trends", "--recent", "30d"], "shorter than the period"),
                         (["trends", "--since", "2030-01-01", "--until", "2020-01-01"], "empty period")):
        monkeypatch.setattr("sys.argv", ["afteraction", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        assert exit_info.value.code == 2, args
        assert needle in capsys.readouterr().err


def test_parse_duration() -> None:
    assert parse_duration("28d") == timedelta(days=28)
    assert parse_duration("6w") == timedelta(weeks=6)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    for bad in ("", "d", "3", "-2d", "0d", "2y"):
        with pytest.raises(UsageError):
            parse_duration(bad)
