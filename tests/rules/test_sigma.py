"""Sigma rules: tags, both tactic spellings, status, multi-document files and collections."""

from __future__ import annotations

from afteraction.rules.sigma import parse_tags

from .samples import SIGMA


def test_tags_tactics_and_redirect(write, load) -> None:
    inv = load(write("r.yml", SIGMA.format(status="stable")))
    assert not inv.errors
    (rule,) = inv.rules
    assert rule.format == "sigma"
    assert rule.id == "11111111-1111-1111-1111-111111111111"
    assert rule.title == "Suspicious PowerShell"
    assert rule.raw_techniques == ("T1086", "T1059.001")
    assert rule.techniques == ("T1059.001",)
    assert rule.redirects == {"T1086": "T1059.001"}
    assert rule.tactics == ("execution", "credential-access")
    assert rule.status == "enabled"
    assert rule.raw_status == "stable"
    assert rule.products == ("windows",)
    assert rule.platforms == ("Windows",)
    assert inv.redirected == {"T1086": "T1059.001"}


def test_parse_tags_ignores_other_namespaces() -> None:
    techniques, tactics = parse_tags(["attack.T1003", "attack.stealth", "cve.2021-1", "tlp.white", "attack.c0001"])
    assert techniques == ["T1003"]
    assert tactics == ["stealth"]


def test_unknown_tactic_is_a_warning(write, load) -> None:
    rule = load(write("r.yml", SIGMA.format(status="test").replace("attack.execution", "attack.stealth"))).rules[0]
    assert "unknown tactic 'stealth'" in rule.warnings
    assert rule.status == "experimental"


def test_status_mapping(write, load) -> None:
    for raw, expected in [("stable", "enabled"), ("test", "experimental"), ("experimental", "experimental"),
                          ("weird", "unknown")]:
        rule = load(write(f"{raw}.yml", SIGMA.format(status=raw))).rules[0]
        assert rule.status == expected, raw
    assert any("unrecognised status" in w for w in rule.warnings)


def test_deprecated_status_only_when_asked(write, load) -> None:
    for raw in ("deprecated", "unsupported"):
        path = write(f"{raw}.yml", SIGMA.format(status=raw))
        inv = load(path)
        assert inv.rules == ()
        assert inv.deprecated_skipped == 1
        (rule,) = load(path, include_deprecated=True).rules
        assert rule.status == "deprecated"
        assert rule.raw_status == raw


def test_multi_document_file(write, load) -> None:
    two = SIGMA.format(status="stable") + "---\n" + SIGMA.format(status="test").replace("1111", "2222")
    inv = load(write("two.yml", two))
    assert [r.index for r in inv.rules] == [0, 1]
    assert inv.rules[1].id.startswith("22222222")
    assert inv.rules[1].line is not None
    assert inv.rules[1].line > 20


def test_collection_global_and_repeat(write, load) -> None:
    text = """\
action: global
title: Global title
status: stable
tags: [attack.t1003.001, attack.credential_access]
detection:
    condition: sel
---
id: a
logsource: {product: windows}
detection:
    sel: {Image: a.exe}
---
action: repeat
id: b
logsource: {product: linux}
"""
    inv = load(write("coll.yml", text))
    assert not inv.errors
    assert [(r.id, r.title, r.techniques, r.products) for r in inv.rules] == [
        ("a", "Global title", ("T1003.001",), ("windows",)),
        ("b", "Global title", ("T1003.001",), ("linux",)),
    ]


def test_malformed_documents_collected(write, load) -> None:
    text = SIGMA.format(status="stable") + "---\n- just\n- a list\n---\ntitle: no detection\nlogsource: {}\n---\n" \
        + "title: bad tags\ndetection: {}\ntags: {a: 1}\n---\n" + SIGMA.format(status="test").replace("1111", "3333")
    inv = load(write("mixed.yml", text))
    assert [r.index for r in inv.rules] == [0, 4]
    assert [(e.index, e.path.endswith("mixed.yml")) for e in inv.errors] == [(1, True), (2, True), (3, True)]
    assert "not a mapping" in inv.errors[0].reason
    assert "without detection" in inv.errors[1].reason


def test_yaml_syntax_error_keeps_earlier_documents(write, load) -> None:
    text = SIGMA.format(status="stable") + "---\ntitle: [unclosed\ndetection: {}\n"
    inv = load(write("broken.yml", text))
    assert len(inv.rules) == 1
    (err,) = inv.errors
    assert err.index == 1
    assert err.line is not None
    assert "invalid YAML" in err.reason
    assert "broken.yml" in str(err)


def test_missing_id_and_title_fall_back(write, load) -> None:
    rule = load(write("noid.yml", "logsource: {product: linux}\ndetection: {condition: x}\n")).rules[0]
    assert rule.id.endswith("noid.yml#0")
    assert rule.title == rule.id
    assert rule.status == "unknown"
    assert rule.raw_status is None
    assert "no rule id: using the file location" in rule.warnings
