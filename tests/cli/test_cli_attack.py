"""``afteraction attack``: offline info, lookups, and switching to an official bundle with ``update --from``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from afteraction.cli import cli
from stix_fixtures import build_bundle, write_bundle


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_info_works_offline_with_the_bundled_data(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*_a: object, **_k: object) -> None:
        raise AssertionError("attack info must not use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    info = json.loads(invoke("attack", "info", "--format", "json"))
    assert info["version"] == "18.1"
    assert "bundled" in info["source"]
    assert info["counts"]["tactics"] == 14
    assert info["counts"]["techniques"] == 216
    assert info["counts"]["subtechniques"] == 475


def test_lookup_redirects_revoked_and_finds_aliases() -> None:
    hits = json.loads(invoke("attack", "lookup", "t1086", "--format", "json"))["results"]
    assert hits[0]["id"] == "T1086"
    assert hits[0]["redirected_to"] == "T1059.001"
    text = invoke("attack", "lookup", "Sodinokibi")
    assert "S0496" in text
    assert "REvil" in text


def test_update_from_file_switches_the_default(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "enterprise-attack.json", build_bundle("2.1", collection="17.0"))
    out = invoke("attack", "update", "--from", str(bundle))
    assert "17.0" in out
    info = json.loads(invoke("attack", "info", "--format", "json"))
    assert info["version"] == "17.0"
    assert info["counts"]["tactics"] == 3
    # an explicit --attack still wins over the recorded default
    bundled = json.loads(invoke("--attack", "bundled", "attack", "info", "--format", "json"))
    assert bundled["version"] == "18.1"


def test_update_rejects_a_file_that_is_not_a_bundle(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    result = CliRunner().invoke(cli, ["attack", "update", "--from", str(bad)])
    assert result.exit_code != 0
    info = json.loads(invoke("attack", "info", "--format", "json"))
    assert info["version"] == "18.1"  # the default did not change


def test_lookup_understands_defender_and_sigma_tactic_names() -> None:
    for spelling in ("CommandAndControl", "command_and_control", "command-and-control"):
        hits = json.loads(invoke("attack", "lookup", spelling, "--format", "json"))["results"]
        assert [h["id"] for h in hits if h["kind"] == "tactic"] == ["TA0011"], spelling
