"""Elastic TOML, Sentinel YAML, Splunk YAML and homegrown CSV/YAML inventories."""

from __future__ import annotations

import pytest

from .samples import CSV, ELASTIC, SENTINEL, SPLUNK


@pytest.mark.parametrize(("maturity", "enabled", "expected"), [
    ("production", "", "enabled"), ("development", "", "experimental"), ("production", "enabled = false", "disabled"),
    ("production", "enabled = true", "enabled"), ("odd", "", "unknown"),
])  # fmt: skip
def test_elastic(write, load, maturity: str, enabled: str, expected: str) -> None:
    inv = load(write("rule.toml", ELASTIC.format(maturity=maturity, enabled=enabled)))
    assert not inv.errors
    (rule,) = inv.rules
    assert (rule.format, rule.id, rule.title, rule.kind) == ("elastic", "e1", "Kerberoasting via Rubeus", "eql")
    assert rule.raw_techniques == ("T1558", "T1558.003", "T1208")
    assert rule.techniques == ("T1558", "T1558.003")
    assert rule.redirects == {"T1208": "T1558.003"}
    assert rule.tactics == ("credential-access", "lateral-movement")
    assert rule.platforms == ("Windows",)
    assert rule.status == expected
    assert rule.raw_status == maturity
    assert "threat framework 'Other' ignored" in rule.warnings


def test_elastic_deprecated(write, load) -> None:
    path = write("rule.toml", ELASTIC.format(maturity="deprecated", enabled="enabled = false"))
    assert load(path).rules == ()
    assert load(path, include_deprecated=True).rules[0].status == "deprecated"


def test_elastic_malformed(write, load) -> None:
    bad_shape = write("a/shape.toml", '[rule]\nrule_id = "x"\nthreat = "T1003"\n')
    bad_toml = write("a/syntax.toml", '[rule\nrule_id = "x"\n')
    other = write("a/pyproject.toml", '[project]\nname = "x"\n')
    good = write("a/zgood.toml", ELASTIC.format(maturity="production", enabled=""))
    inv = load(bad_shape.parent)
    assert [r.path for r in inv.rules] == [str(good)]
    assert sorted(e.path for e in inv.errors) == sorted([str(bad_shape), str(bad_toml)])
    assert [(s.path, s.reason) for s in inv.skipped] == [(str(other), "TOML without a [rule] table")]
    assert next(e for e in inv.errors if e.path == str(bad_toml)).reason.startswith("invalid TOML")


@pytest.mark.parametrize(("extra", "expected"), [
    ("status: Available", "enabled"), ("status: Disabled", "disabled"), ("", "unknown"),
    ("status: Available\nenabled: false", "disabled"), ("status: Preview", "experimental"),
])  # fmt: skip
def test_sentinel(write, load, extra: str, expected: str) -> None:
    inv = load(write("Detections/SecurityEvent/PotentialKerberoast.yaml", SENTINEL.format(extra=extra)))
    assert not inv.errors
    (rule,) = inv.rules
    assert rule.format == "sentinel"
    assert rule.kind == "Scheduled"
    assert rule.techniques == ("T1558.003", "T1078.004")
    assert rule.redirects == {"T1208": "T1558.003"}
    assert rule.tactics == ("credential-access", "privilege-escalation")
    assert rule.status == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("production", "enabled"), ("experimental", "experimental"), ("validation", "experimental"),
])  # fmt: skip
def test_splunk(write, load, raw: str, expected: str) -> None:
    inv = load(write("detections/endpoint/kerb.yml", SPLUNK.format(status=raw)))
    assert not inv.errors
    (rule,) = inv.rules
    assert rule.format == "splunk"
    assert rule.kind == "TTP"
    assert rule.techniques == ("T1558.003", "T9999")
    assert rule.unknown_techniques == ("T9999",)
    assert rule.products == ("Splunk Enterprise", "Splunk Enterprise Security")
    assert rule.status == expected
    assert inv.unknown_techniques == ("T9999",)
    assert any("T9999 is unknown" in w for w in rule.warnings)


def test_splunk_deprecated_and_malformed(write, load) -> None:
    assert load(write("dep.yml", SPLUNK.format(status="deprecated"))).deprecated_skipped == 1
    inv = load(write("bad.yml", SPLUNK.format(status="production").replace(
        "  mitre_attack_id:\n    - T1558.003\n    - T9999\n", "  mitre_attack_id: {a: 1}\n")))
    assert inv.rules == ()
    assert "mitre_attack_id" in inv.errors[0].reason


def test_inventory_csv(write, load) -> None:
    inv = load(write("inv.csv", CSV), include_deprecated=True)
    assert [(r.title, r.status, r.techniques, r.platforms) for r in inv.rules] == [
        ("LSASS access", "enabled", ("T1003.001",), ("Windows",)),
        ("Script hosts", "disabled", ("T1059.001", "T1059.003"), ("Windows", "Linux")),
        ("=cmd|' /C calc'!A0", "experimental", ("T1021.001", "T9999"), ()),
        ("Old scripting", "deprecated", ("T1064",), ()),
    ]
    assert inv.retired_techniques == ("T1064",)
    (err,) = inv.errors
    assert err.reason == "row has no technique"
    assert err.line == 7
    assert err.path.endswith("inv.csv")
    assert inv.rules[0].line == 2


def test_inventory_csv_malformed_and_unrelated(write, load) -> None:
    write("d/a.csv", 'technique,rule\nT1003,"unterminated\n')
    write("d/b.csv", "technique,rule\nT1003,one,extra\nT1005,two\n")
    write("d/c.csv", "name,value\nx,1\n")
    inv = load(write("d/e.csv", "technique,rule\n").parent)
    assert [r.title for r in inv.rules] == ["two"]
    assert [(e.path.rsplit("/", 1)[-1], e.line) for e in inv.errors] == [("a.csv", 2), ("b.csv", 2)]
    assert [s.reason for s in inv.skipped] == ["CSV without technique and rule columns"]


def test_inventory_yaml(write, load) -> None:
    text = """\
- technique: [T1003.001, T1208]
  rule: LSASS dump
  status: enabled
  platform: Windows
- {Technique: T1110, Rule: Brute force, Status: testing}
- not a mapping
- {technique: T1110}
"""
    inv = load(write("inventory.yaml", text))
    assert [(r.title, r.techniques, r.status) for r in inv.rules] == [
        ("LSASS dump", ("T1003.001", "T1558.003"), "enabled"),
        ("Brute force", ("T1110",), "experimental"),
    ]
    assert [(e.index, e.reason) for e in inv.errors] == [
        (2, "inventory entry is a str, not a mapping"), (3, "row has no rule name")]
    wrapped = load(write("wrapped.yml", "rules:\n  - {technique: T1110, rule: x}\n"))
    assert [r.title for r in wrapped.rules] == ["x"]
