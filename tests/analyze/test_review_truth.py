"""On generated incidents, the review recovers what the generator planted (truth.json)."""

from __future__ import annotations

import pytest

from afteraction.analyze.review import Review, ReviewContext, review_incident
from afteraction.attack.kb import KnowledgeBase
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.synth import Options, Truth, generate, load_truth

BENIGN = {"falsePositive", "informationalExpectedActivity"}


@pytest.fixture(scope="module", params=[3, 11])
def generated(request: pytest.FixtureRequest, kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Truth, dict[str, Review]]:
    root = tmp_path_factory.mktemp(f"truth{request.param}")
    result = generate(Options(incidents=80, weeks=10, seed=request.param), root / "sample", kb)
    store = Store(root / "s.duckdb")
    summary = ingest_paths(store, [str(result.export_dir)], kb)
    assert summary.rejected == 0
    truth = load_truth(result.truth_path)
    context = ReviewContext(kb, store)
    return truth, {i.id: review_incident(store, kb, i.id, context=context) for i in truth.incidents}


def _true_positives(truth: Truth) -> list:  # type: ignore[type-arg]
    return [i for i in truth.incidents if i.kind == "true_positive"]


def test_chain_matches_the_detected_steps(generated: tuple[Truth, dict[str, Review]], kb: KnowledgeBase) -> None:
    truth, reviews = generated
    checked = same_tactic = 0
    for planted in _true_positives(truth):
        r = reviews[planted.id]
        detected = [s for s in planted.steps if s.detected]
        placed = {t.id: st.shortname for st in r.chain.stages for t in st.techniques}
        assert set(placed) == {s.technique for s in detected}, planted.id
        for step in detected:
            # Placed under one of its own tactics: the planted one unless the alert's category (e.g.
            # "Malware") does not name a tactic and the technique has several.
            assert placed[step.technique] in kb.technique(step.technique).tactics  # type: ignore[union-attr]
            same_tactic += placed[step.technique] == step.tactic
        order = {t.shortname: i for i, t in enumerate(kb.tactics)}
        seen_tactics = {placed[s.technique] for s in detected}
        lo, hi = min(order[t] for t in seen_tactics), max(order[t] for t in seen_tactics)
        skipped = {s.tactic_id for s in r.chain.skipped}
        for step in planted.steps:
            if not step.detected and step.tactic not in seen_tactics and lo < order[step.tactic] < hi:
                assert step.tactic_id in skipped, (planted.id, step.technique)  # a planted gap is flagged
        assert r.chain.first_detected == planted.first_alert
        checked += len(detected)
    assert checked >= 50
    assert same_tactic / checked >= 0.9


def test_metrics_match_the_planted_times(generated: tuple[Truth, dict[str, Review]], kb: KnowledgeBase) -> None:
    truth, reviews = generated
    for planted in truth.incidents:
        m = reviews[planted.id].metrics
        detected = [s.activity for s in planted.steps if s.detected]
        assert m.first_alert == planted.first_alert, planted.id
        if detected:
            # The data shows only detected activity: earlier undetected steps are invisible to the review.
            assert m.first_activity == min(detected), planted.id
            assert m.time_to_detect == max(0.0, (planted.first_alert - min(detected)).total_seconds())
        assert m.acknowledged == planted.acknowledged, planted.id
        assert m.resolved == planted.resolved, planted.id
        assert m.alerts == sum(len(s.alert_ids) for s in planted.steps), planted.id


def test_unremediated_entities_match(generated: tuple[Truth, dict[str, Review]], kb: KnowledgeBase) -> None:
    truth, reviews = generated
    compared = 0
    for planted in truth.incidents:
        if planted.classification in BENIGN:
            continue  # the analyst said there was nothing to remediate; the data cannot know better
        r = reviews[planted.id]
        got = {(e.type, e.key) for e in r.entities if e.unremediated}
        assert got == {(e.type, e.key) for e in planted.unremediated}, planted.id
        compared += bool(got)
    assert compared >= 5


def test_incident_type_of_true_positives(generated: tuple[Truth, dict[str, Review]], kb: KnowledgeBase) -> None:
    truth, reviews = generated
    planted = _true_positives(truth)
    agree = sum(reviews[p.id].incident_type.type == p.incident_type
                for p in planted)
    assert agree / len(planted) >= 0.85, f"{agree} of {len(planted)}"
