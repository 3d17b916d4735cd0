"""Parsing STIX 2.0/2.1 bundles (plain and gzip), version rules, bad files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from afteraction.attack import load_kb
from afteraction.errors import AttackDataError


@pytest.mark.parametrize("spec", ["2.0", "2.1"])
@pytest.mark.parametrize("gz", [False, True])
def test_parses_both_spec_versions_plain_and_gz(bundle_file, spec, gz):
    kb = load_kb(bundle_file(spec=spec, gz=gz))
    assert [t.id for t in kb.tactics] == ["TA0002", "TA0011", "TA0010"]
    assert kb.tactics[1].shortname == "command-and-control"
    assert set(kb.techniques) == {"T1059", "T1059.001", "T1071", "T1041", "T1100", "T1200", "T1064"}
    ps = kb.techniques["T1059.001"]
    assert ps.is_subtechnique
    assert ps.parent == "T1059"
    assert ps.name == "PowerShell"
    assert ps.url == "https://attack.mitre.org/techniques/T1059/001"
    assert ps.platforms == ("Windows",)
    # tactics in matrix order (command-and-control before exfiltration), not source order
    assert kb.techniques["T1071"].tactics == ("command-and-control", "exfiltration")
    assert kb.counts().techniques == 3
    assert kb.counts().subtechniques == 1


def test_description_is_short_and_citation_free(kb):
    desc = kb.techniques["T1059"].description
    assert desc == "Adversaries may use Command and Scripting Interpreter."
    assert "Citation" not in kb.mitigations_for("T1059.001")[0].advice


def test_version_from_collection(bundle_file):
    kb = load_kb(bundle_file(spec="2.1"))
    assert (kb.version, kb.version_origin) == ("17.0", "x-mitre-collection")


def test_version_stix20_rules(bundle_file):
    # no collection: caller's label > number in the file name > unknown (bundle id)
    assert load_kb(bundle_file(spec="2.0"), version="16.1").version == "16.1"
    named = load_kb(bundle_file(spec="2.0", name="enterprise-attack-15.1.json.gz", gz=True))
    assert (named.version, named.version_origin) == ("15.1", "file name")
    anon = load_kb(bundle_file(spec="2.0"))
    assert anon.version == "unknown (bundle--test-0001)"
    assert anon.version_origin == "unknown"


def test_source_and_hash(bundle_file):
    path = bundle_file()
    kb = load_kb(path)
    assert kb.source == str(path.resolve())
    import hashlib

    assert kb.source_hash == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not an ATT&CK STIX bundle"),
        (b'{"type": "report", "id": "x"}', "not a STIX bundle"),
        (b'{"hello": 1}', "not an ATT&CK STIX bundle"),
        (b'{"type": "bundle", "id": "bundle--1", "objects": []}', "no ATT&CK techniques"),
        (
            b'{"type": "bundle", "objects": [{"type": "attack-pattern", "id": 5}]}',
            "not an ATT&CK STIX bundle",
        ),
        (b"\x1f\x8b\x08garbage", "corrupt gzip"),
    ],
)
def test_bad_files_raise_attack_data_error_naming_the_file(tmp_path: Path, content, needle):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(AttackDataError) as err:
        load_kb(path)
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_gzipped_garbage_and_missing_file(tmp_path: Path):
    path = tmp_path / "bad.json.gz"
    path.write_bytes(gzip.compress(b"\xff\xfe not json"))
    with pytest.raises(AttackDataError, match=r"bad\.json\.gz"):
        load_kb(path)
    with pytest.raises(AttackDataError, match="not found"):
        load_kb(tmp_path / "nope.json")
    with pytest.raises(AttackDataError, match="not found"):
        load_kb(tmp_path)  # a directory


def test_older_bundle_without_detection_model_or_subtechniques(tmp_path: Path, make_bundle):
    bundle = make_bundle(spec="2.0")
    drop = {"x-mitre-detection-strategy", "x-mitre-analytic"}
    bundle["objects"] = [
        o
        for o in bundle["objects"]
        if o["type"] not in drop and not o["id"].startswith("attack-pattern--t1059-001")
    ]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(bundle))
    kb = load_kb(path)
    assert kb.counts().subtechniques == 0
    assert kb.counts().detection_strategies == 0
    det = kb.detections_for("T1059")
    assert det.strategies == ()
    assert [d.id for d in det.legacy_data_components] == ["DC0032"]
    # the revoked chain now ends at a missing technique: still reported as revoked, kept
    res = kb.resolve("T1100")
    assert res.status == "revoked"
