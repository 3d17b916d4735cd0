"""On generated data, coverage recovers the planted detection gaps (truth.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from afteraction.analyze.coverage import coverage
from afteraction.attack.kb import KnowledgeBase
from afteraction.store import Store
from afteraction.store.annotations import annotate
from afteraction.store.loader import ingest_paths
from afteraction.synth import Options, generate, load_truth


@pytest.mark.parametrize("seed", [4, 9])
def test_gaps_found_equal_the_planted_ones(tmp_path: Path, kb: KnowledgeBase, seed: int) -> None:
    result = generate(Options(incidents=120, weeks=12, seed=seed), tmp_path / "sample", kb)
    truth = load_truth(result.truth_path)
    store = Store(tmp_path / "s.duckdb")
    ingest_paths(store, [str(result.export_dir)], kb)
    # What analysts found during the investigations, recorded as they would with `afteraction annotate`.
    found: dict[str, set[str]] = {}
    for incident in truth.incidents:
        missed = sorted({s.technique for s in incident.steps if s.found_in_investigation and not s.detected})
        if missed:
            annotate(store, incident.id, missed, kb)
            for tid in missed:
                found.setdefault(tid, set()).add(incident.id)
    assert found, "the generator planted no undetected step found in an investigation"
    detected_anywhere = {s.technique for i in truth.incidents for s in i.steps if s.detected}
    planted_gaps = {t for t in found if t not in detected_anywhere}
    assert planted_gaps, "no planted gap to recover"
    result_cov = coverage(store, kb)
    by_id = {t.id: t for t in result_cov.techniques}
    gaps = {t.id for t in result_cov.techniques if t.category in ("missed", "no_rule")}
    assert gaps == planted_gaps
    for tid in found:  # annotated but detected elsewhere: still detected, with the annotation kept
        assert set(by_id[tid].annotated_incidents) == found[tid]
    # Techniques the detection profile never detects can only ever be gaps or unseen.
    never = set(truth.undetected_techniques)
    assert not {t.id for t in result_cov.techniques if t.category == "detected"} & never
    assert {t.id for t in result_cov.techniques if t.category == "detected"} == detected_anywhere & set(by_id)
    ranked = [g.technique for g in result_cov.gaps if g.category in ("missed", "no_rule")]
    assert set(ranked) <= planted_gaps
    assert len(ranked) == min(len(planted_gaps), len(result_cov.gaps))  # observed gaps rank first
