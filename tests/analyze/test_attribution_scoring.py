"""Attribution scorer, metrics, explanations and confidence rules on the bundled ATT&CK data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from afteraction.analyze.attribution import attributor, from_lists
from afteraction.analyze.attribution.metrics import RankOutcome, rank_outcome, reliability, wilson
from afteraction.analyze.attribution.profiles import Profiles, binary_matrix
from afteraction.analyze.attribution.scoring import DEFAULT_PARAMS, LikelihoodScorer, idf_cosine_scores, jaccard_scores
from afteraction.attack import load_kb
from afteraction.errors import UsageError


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def profiles(kb):
    return Profiles(kb)


# -- metrics ------------------------------------------------------------------------------------------------


def test_expected_hits_under_random_tie_breaking():
    o = RankOutcome(above=2, tied=3)  # rank uniform on 3..5
    assert o.hit(1) == 0
    assert o.hit(2) == 0
    assert o.hit(3) == pytest.approx(1 / 3)
    assert o.hit(4) == pytest.approx(2 / 3)
    assert o.hit(5) == 1
    assert o.reciprocal_rank() == pytest.approx((1 / 3 + 1 / 4 + 1 / 5) / 3)


def test_rank_outcome_counts_ties_and_takes_best_gold():
    scores = np.array([5.0, 3.0, 3.0, 3.0, 1.0])
    assert rank_outcome(scores, [2]) == RankOutcome(1, 3)
    assert rank_outcome(scores, [4, 0]) == RankOutcome(0, 1)


@pytest.mark.parametrize(("k", "low", "high"), [(1, 0.008, 0.21), (8, 0.19, 0.55), (14, 0.41, 0.78)])
def test_wilson_matches_reference_values(k, low, high):
    p = wilson(k / 23, 23)
    assert p.low == pytest.approx(low, abs=0.006)
    assert p.high == pytest.approx(high, abs=0.006)


def test_reliability_ece():
    conf = np.array([0.9, 0.9, 0.9, 0.9, 0.15, 0.15])
    correct = np.array([1, 1, 1, 0, 0, 0], dtype=float)
    ece, bins = reliability(conf, correct)
    assert ece == pytest.approx((4 * abs(0.9 - 0.75) + 2 * 0.15) / 6, abs=1e-4)
    assert sum(b.count for b in bins) == 6


# -- scorer ---------------------------------------------------------------------------------------------


def _naive_llr(profiles, kind, row, techs, softs, params=DEFAULT_PARAMS):
    """The documented formula, computed one item at a time."""
    cands, v = profiles.sets[kind], profiles.vocab
    a = (cands.techniques.toarray() > 0)
    own = set(np.nonzero(a[row])[0])
    fam = {int(v.tech_parent[t]) for t in own}
    df = a.sum(axis=0) + 1.0
    bg = df / df.sum()
    outside = 1.0 - sum(bg[t] for t in own)
    total = 0.0
    for t in techs:
        exact = (1.0 / len(own)) if t in own else 0.0
        back = (1.0 / (len(fam) * v.family_size[v.tech_parent[t]])) if int(v.tech_parent[t]) in fam else 0.0
        q = (1 - params.beta) * exact + params.beta * back
        noise = 0.0 if t in own else bg[t] / outside
        total += math.log((1 - params.lam) * q + params.lam * noise) - math.log(bg[t])
    s = cands.software.toarray() > 0
    sdf = s.sum(axis=0) + 1.0
    sbg = sdf / sdf.sum()
    mine = set(np.nonzero(s[row])[0])
    soutside = 1.0 - sum(sbg[x] for x in mine)
    for x in softs:
        qs = (1.0 / len(mine)) if x in mine else 0.0
        noise = 0.0 if x in mine else sbg[x] / soutside
        total += params.software_weight * (math.log((1 - params.lam_software) * qs + params.lam_software * noise)
                                           - math.log(sbg[x]))
    return total


def test_vectorised_scores_equal_the_formula(kb, profiles):
    v = profiles.vocab
    techs = v.technique_row(["T1566.001", "T1059.001", "T1003", "T1486", "T1021.002"])
    softs = v.software_row([kb.get_software("Cobalt Strike").id])
    scorer = LikelihoodScorer(profiles.sets["group"], v)
    got = scorer.score(binary_matrix([techs], len(v.techniques)), binary_matrix([softs], len(v.software)))[0]
    for gid in ("G0016", "G0046", "G1046", "G0088"):
        row = profiles.sets["group"].index[gid]
        assert got[row] == pytest.approx(_naive_llr(profiles, "group", row, techs, softs), rel=1e-9, abs=1e-9)


def test_rare_techniques_of_a_group_rank_it_first(kb, profiles):
    groups = profiles.sets["group"]
    scorer = LikelihoodScorer(groups, profiles.vocab)
    hits = 0
    for gid in ("G0016", "G0007", "G0032", "G0034", "G0096"):
        row = groups.index[gid]
        own = groups.techniques[row].indices
        rarest = sorted(own, key=lambda t: (scorer.tech_df[t], t))[:5]
        q = binary_matrix([sorted(int(t) for t in rarest)], len(profiles.vocab.techniques))
        scores = scorer.score(q)[0]
        hits += int(np.argmax(scores) == row)
    assert hits >= 4


def test_parent_back_off_credits_a_sibling(profiles):
    groups, v = profiles.sets["group"], profiles.vocab
    scorer = LikelihoodScorer(groups, v)
    t = v.tech_index["T1059.005"]
    row_sib = next(r for r in range(len(groups)) if groups.techniques[r, v.tech_index["T1059.001"]]
                   and not groups.techniques[r, t] and groups.techniques[r].nnz > 20)
    fam = {int(v.tech_parent[x]) for x in groups.techniques[row_sib].indices}
    assert int(v.tech_parent[t]) in fam
    without_family = next(r for r in range(len(groups)) if groups.techniques[r].nnz > 20 and int(v.tech_parent[t])
                          not in {int(v.tech_parent[x]) for x in groups.techniques[r].indices})
    assert scorer.tech_llr[row_sib, t] > scorer.tech_llr[without_family, t]


def test_baselines_score_identical_profiles_as_best(profiles):
    groups, _v = profiles.sets["group"], profiles.vocab
    row = groups.index["G0016"]
    q = groups.techniques[row]
    assert int(np.argmax(jaccard_scores(groups, q)[0])) == row
    assert idf_cosine_scores(groups, q)[0][row] == pytest.approx(1.0)


# -- explanations and confidence ------------------------------------------------------------------------


def test_explanation_lists_shared_items_with_rarity(kb):
    res = attributor(kb).attribute(from_lists(kb, ["T1566.001", "T1059.001", "T1486", "T1021.002"], ["Cobalt Strike"]))
    top = res.groups.candidates[0]
    assert top.rank == 1
    assert res.groups.candidates[1].score <= top.score
    assert any(c.kind == "software" and c.id == "S0154" for c in top.shared)
    assert all(c.weight > 0 and 1 <= c.used_by <= c.of for c in top.shared)
    assert [c.weight for c in top.shared] == sorted((c.weight for c in top.shared), reverse=True)
    group = kb.group_profile(top.id)
    observed = {t.id for t in res.evidence.techniques}
    for e in top.expected_not_observed:
        assert e.id in group.techniques
        assert e.id not in observed
    probs = [c.probability for c in res.groups.candidates]
    assert all(0 <= p <= 1 for p in probs)
    assert probs == sorted(probs, reverse=True)
    cs = next(s for s in res.evidence.software if s.id == "S0154")
    assert cs.mentions[0].field == "query"
    assert cs.mentions[0].text == "Cobalt Strike"


def test_weak_evidence_is_insufficient(kb):
    a = attributor(kb)
    one = a.attribute(from_lists(kb, ["T1566.001"]))
    assert one.groups.insufficient
    assert one.groups.band == "insufficient"
    assert one.groups.statement.startswith("No confident attribution")
    empty = a.attribute(from_lists(kb, []))
    assert empty.groups.insufficient
    assert any("no known technique" in r for r in empty.groups.reasons)


def test_strong_distinctive_evidence_is_not_insufficient(kb):
    camp = kb.campaigns["C0024"]  # SolarWinds Compromise: many techniques and software
    res = attributor(kb).attribute(from_lists(kb, camp.techniques, camp.software))
    assert not res.groups.insufficient
    assert res.groups.candidates[0].id == "G0016"
    assert "not a finding" in res.groups.statement


def test_unknown_software_is_a_usage_error(kb):
    with pytest.raises(UsageError, match="no ATT&CK software matches: Nonexistent Thing"):
        from_lists(kb, [], ["Nonexistent Thing"])


def test_unknown_technique_is_kept_and_reported(kb):
    ev = from_lists(kb, ["T1059.001", "T9999"])
    assert ev.unknown_techniques == ("T9999",)
    assert [t.id for t in ev.techniques] == ["T1059.001"]


def test_rank_many_agrees_with_single_attribution(kb):
    a = attributor(kb)
    v = a.profiles.vocab
    cases = [(["T1566.001", "T1059.001", "T1486", "T1021.002"], ["Cobalt Strike"]),
             (list(kb.campaigns["C0024"].techniques), list(kb.campaigns["C0024"].software)),
             (["T1078", "T1110.003", "T1098.005"], [])]
    evs = [from_lists(kb, t, s) for t, s in cases]
    rows = [a.query(e) for e in evs]
    qt = binary_matrix([r[0] for r in rows], len(v.techniques))
    qs = binary_matrix([r[1] for r in rows], len(v.software))
    for kind, attr in (("group", "groups"), ("campaign", "campaigns"), ("software", "software")):
        idx, scores, probs = a.rank_many(qt, qs, kind, chunk=2)
        for i, ev in enumerate(evs):
            single = getattr(a.attribute(ev), attr).candidates
            assert [a.profiles.sets[kind].ids[j] for j in idx[i][:3]] == [c.id for c in single[:3]]
            assert probs[i][0] == pytest.approx(single[0].probability, abs=2e-3)
            assert scores[i][0] == pytest.approx(single[0].score, abs=2e-3)


def test_knowledge_base_without_campaigns(kb):
    """Bundles before ATT&CK v12 have no campaigns: attribution still ranks groups and software."""
    import msgspec

    from afteraction.analyze.attribution.build import Attributor
    from afteraction.analyze.attribution.suite import run_evaluation
    from afteraction.attack.kb import KnowledgeBase

    groups = {gid: msgspec.structs.replace(g, campaigns=()) for gid, g in kb.data.groups.items()}
    old = KnowledgeBase(msgspec.structs.replace(kb.data, campaigns={}, groups=groups, source_hash="no-campaigns"))
    a = Attributor(old)
    res = a.attribute(from_lists(old, ["T1566.001", "T1059.001", "T1486"], ["Cobalt Strike"]))
    assert res.campaigns.candidates == ()
    assert res.campaigns.insufficient
    assert res.groups.candidates
    v = a.profiles.vocab
    qt = binary_matrix([v.technique_row(["T1059.001"])], len(v.techniques))
    qs = binary_matrix([[]], len(v.software))
    idx, _, _ = a.rank_many(qt, qs, "campaign")
    assert idx.shape == (1, 0)
    report = run_evaluation(old, ["P1"])
    assert all(s.queries == 0 for s in report.settings)


def test_revoked_ids_in_alerts_are_redirected(kb):
    from afteraction.analyze.attribution.evidence import from_incidents
    from afteraction.model import Alert, Incident, TechniqueRef

    alert = Alert(id="a1", title="t", techniques=(TechniqueRef(raw="T1002", id="T1002"),
                                                  TechniqueRef(raw="T1086", id="T1086")))
    ev = from_incidents(kb, [Incident(id="i1", alerts=(alert,))])
    assert sorted(t.id for t in ev.techniques) == ["T1059.001", "T1560"]
    assert ev.unknown_techniques == ()
