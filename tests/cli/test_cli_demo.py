"""``afteraction demo``: sample -> fresh store -> site, repeatable, without touching the default store."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert (out / "sample" / "truth.json").is_file()
    assert not (isolated / "store.duckdb").exists()  # the default (global --db) store is untouched
