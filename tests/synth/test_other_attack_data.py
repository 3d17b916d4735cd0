"""The generator works with any loaded ATT&CK data, even a tiny bundle without its preferred techniques."""

from __future__ import annotations

from pathlib import Path

from afteraction.attack import load_kb
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.synth import Options, generate, load_truth
from stix_fixtures import build_bundle, write_bundle


def test_tiny_bundle(tmp_path: Path) -> None:
    kb = load_kb(write_bundle(tmp_path / "tiny.json", build_bundle()))
    result = generate(Options(incidents=120, seed=3), tmp_path / "out", kb)
    truth = load_truth(result.truth_path)
    assert truth.attack.version == "17.0"
    usable = {"T1041", "T1059", "T1059.001", "T1071"}
    assert {d.technique for d in truth.detection_profile} == usable
    assert {s.technique for i in truth.incidents for s in i.steps} <= usable
    assert truth.stats.alerts > 0
    with Store(tmp_path / "s.duckdb") as store:
        summary = ingest_paths(store, [str(result.export_dir)], kb)
    assert summary.rejected == 0
    assert summary.counts.incidents["new"] == 120
