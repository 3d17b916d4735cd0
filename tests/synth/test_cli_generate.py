"""``afteraction generate`` through click's CliRunner; ``ingest`` reads what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from afteraction.cli import cli, main


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Through the real entry point, so afteraction errors become their exit codes."""
    monkeypatch.setattr("sys.argv", ["afteraction", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


def test_generate_then_ingest(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    code, output = _run("generate", "--incidents", "30", "--seed", "2", "--out", str(out), "--page-size", "20")
    assert code == 0, output
    assert "Generated 30 incidents" in output
    assert f"afteraction ingest {out / 'export'}" in output
    assert sorted(p.name for p in (out / "export").iterdir()) == ["incidents-00001.json", "incidents-00002.json"]
    truth = json.loads((out / "truth.json").read_bytes())
    assert truth["options"]["incidents"] == 30
    code, output = _run("ingest", str(out / "export"), "--strict", "--summary", "json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["rejected"] == 0
    assert summary["incidents"]["new"] == 30


def test_existing_output_needs_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o")
    assert _run("generate", "--incidents", "5", "--out", out)[0] == 0
    code, output = _run_main(["generate", "--incidents", "5", "--out", out], monkeypatch, capsys)
    assert code == 2
    assert "--force" in output
    assert _run("generate", "--incidents", "5", "--out", out, "--force")[0] == 0


def test_ndjson_end_weeks_and_hostile(tmp_path: Path) -> None:
    out = tmp_path / "n"
    code, output = _run("generate", "--incidents", "12", "--weeks", "4", "--end", "2025-03-01", "--format",
                        "ndjson", "--hostile", "--seed", "7", "--workers", "1", "--out", str(out))
    assert code == 0, output
    assert [p.name for p in (out / "export").iterdir()] == ["incidents.ndjson"]
    truth = json.loads((out / "truth.json").read_bytes())
    assert truth["period"] == {"start": "2025-02-01T00:00:00Z", "end": "2025-03-01T00:00:00Z", "weeks": 4}
    assert truth["options"]["hostile"] is True
    assert any(i["hostile"] for i in truth["incidents"])


def test_bad_end_is_a_usage_error(tmp_path: Path) -> None:
    code, output = _run("generate", "--end", "next tuesday", "--out", str(tmp_path / "x"))
    assert code == 2
    assert "ISO-8601" in output
    code, _ = _run("generate", "--incidents", "0", "--out", str(tmp_path / "x"))
    assert code == 2
