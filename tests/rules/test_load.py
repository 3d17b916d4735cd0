"""load_rules over trees: format detection, skipping, errors, guards and deterministic order."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from afteraction.rules import Rule, RuleInventory, load_rules

from .samples import CSV, ELASTIC, SENTINEL, SIGMA, SPLUNK


@pytest.fixture
def tree(write, tmp_path: Path) -> Path:
    write("repo/sigma/rules/windows/ps.yml", SIGMA.format(status="stable"))
    write("repo/sigma/deprecated/old.yml", SIGMA.format(status="stable").replace("1111", "dddd"))
    write("repo/sigma/unsupported/odd.yml", SIGMA.format(status="test").replace("1111", "uuuu"))
    write("repo/elastic/rules/kerb.toml", ELASTIC.format(maturity="production", enabled=""))
    write("repo/elastic/rules/_deprecated/gone.toml", ELASTIC.format(maturity="deprecated", enabled=""))
    write("repo/sentinel/Solutions/AD/Analytic Rules/kerb.yaml", SENTINEL.format(extra="status: Available"))
    write("repo/splunk/detections/kerb.yml", SPLUNK.format(status="production"))
    write("repo/inventory.csv", CSV)
    write("repo/README.md", "# rules\n")
    write("repo/layer.json", "{}")
    write("repo/.git/config.yml", "detection: {}\n")
    write("repo/ci.yml", "jobs: {build: {runs-on: ubuntu}}\n")
    write("repo/broken.yml", "title: [\n")
    write("repo/latin1.yml", "title: caf\xe9\n".encode("latin-1"))
    (tmp_path / "repo" / "empty").mkdir()
    return tmp_path / "repo"


def test_mixed_tree(tree: Path, load) -> None:
    inv = load(tree)
    assert inv.by_format == {"sigma": 1, "elastic": 1, "sentinel": 1, "splunk": 1, "inventory": 3}
    assert inv.by_status == {"enabled": 5, "experimental": 1, "disabled": 1}
    assert inv.deprecated_skipped == 1  # the retired row of the CSV inventory
    rel = {Path(s.path).relative_to(tree).as_posix(): s.reason for s in inv.skipped}
    assert rel == {
        "README.md": "not a rule file (extension)",
        "layer.json": "not a rule file (extension)",
        "ci.yml": "YAML that is not a known rule format",
        "elastic/rules/_deprecated": "deprecated rules folder (include_deprecated to read it)",
        "sigma/deprecated": "deprecated rules folder (include_deprecated to read it)",
        "sigma/unsupported": "deprecated rules folder (include_deprecated to read it)",
    }
    errors = {Path(e.path).relative_to(tree).as_posix(): e.reason for e in inv.errors}
    assert set(errors) == {"broken.yml", "latin1.yml", "inventory.csv"}
    assert errors["latin1.yml"].startswith("not UTF-8 text")
    assert inv.redirected == {"T1086": "T1059.001", "T1208": "T1558.003"}
    assert inv.unknown_techniques == ("T9999",)
    assert inv.attack_version == "18.1"
    assert "T1558.003" in inv.by_technique()


def test_include_deprecated_reads_folders(tree: Path, load) -> None:
    inv = load(tree, include_deprecated=True)
    titles = {(r.format, Path(r.path).parent.name, r.status) for r in inv.rules}
    assert ("sigma", "deprecated", "enabled") in titles  # folder read; the rule's own status is kept
    assert ("sigma", "unsupported", "experimental") in titles
    assert ("elastic", "_deprecated", "deprecated") in titles
    assert not any("deprecated rules folder" in s.reason for s in inv.skipped)


def test_deterministic_order_and_json(tree: Path, load) -> None:
    first, second = load(tree), load(tree)
    assert first == second
    paths = [r.path for r in first.rules]
    assert paths == sorted(paths, key=lambda p: Path(p).relative_to(tree).parts)
    data = msgspec.json.encode(first)
    assert msgspec.json.decode(data, type=RuleInventory) == first


def test_empty_directory_and_missing_path(tmp_path: Path, load) -> None:
    inv = load(tmp_path)
    assert (inv.rules, inv.errors, inv.skipped, inv.files_read) == ((), (), (), 0)
    missing = load(tmp_path / "nope")
    assert missing.skipped[0].reason.startswith("cannot be read")


def test_huge_file_guard(write, load) -> None:
    path = write("big.yml", SIGMA.format(status="stable") + "# " + "x" * 4096 + "\n")
    inv = load(path, max_bytes=1024)
    assert inv.rules == ()
    assert inv.skipped[0].reason == "larger than the size limit (1,024 bytes)"
    assert len(load(path).rules) == 1


def test_empty_file_skipped(write, load) -> None:
    inv = load(write("blank.yml", "\n  \n"))
    assert inv.skipped[0].reason == "empty file"


def test_utf16_with_bom(write, load) -> None:
    inv = load(write("u16.yml", SIGMA.format(status="stable").encode("utf-16")))
    assert len(inv.rules) == 1
    assert not inv.errors


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlink_loop_and_duplicates(write, tmp_path: Path, load) -> None:
    rule = write("root/a/rule.yml", SIGMA.format(status="stable"))
    (tmp_path / "root" / "a" / "loop").symlink_to(tmp_path / "root", target_is_directory=True)
    (tmp_path / "root" / "link.yml").symlink_to(rule)
    inv = load(tmp_path / "root", rule)
    assert [r.path for r in inv.rules] == [str(rule)]
    assert {s.reason for s in inv.skipped} == {"same file already read"}


def test_on_file_callback(tree: Path, kb) -> None:
    seen: list[Path] = []
    inv = load_rules([tree], kb, on_file=seen.append)
    assert len(seen) == inv.files_read
    assert all(p.suffix in {".yml", ".yaml", ".toml", ".csv"} for p in seen)


def test_fixture_files(kb) -> None:
    inv = load_rules([Path(__file__).parent / "fixtures"], kb)
    assert not inv.errors
    assert {r.format for r in inv.rules} == {"sigma", "elastic", "sentinel", "splunk", "inventory"}
    assert all(isinstance(r, Rule) for r in inv.rules)


def test_rule_error_str(write, load) -> None:
    inv = load(write("bad.yml", SIGMA.format(status="stable") + "---\n[1, 2]\n"))
    assert str(inv.errors[0]).endswith("bad.yml, line 22, rule 1: Sigma document is a list, not a mapping")


def test_hostile_inputs_are_errors_not_crashes(write, load, tmp_path: Path) -> None:
    write("h/deep.yml", "tags: " + "[" * 20000 + "]" * 20000 + "\n")
    write("h/deep.toml", "[rule]\nx = " + "[" * 20000 + "]" * 20000 + "\n")
    write("h/field.csv", "technique,rule\nT1003," + "x" * 200_000 + "\n")
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abc", "bcd", strict=True)]
    write("h/bomb.yml", "\n".join(levels) + "\ntags: [*d, *d, *d]\ndetection: {}\n")
    inv = load(tmp_path / "h")
    assert inv.rules == ()
    assert sorted(Path(e.path).name for e in inv.errors) == ["bomb.yml", "deep.toml", "deep.yml", "field.csv"]
