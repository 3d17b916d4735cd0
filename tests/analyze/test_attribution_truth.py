"""On generated data, attribution ranks the planted actor among the top five candidates (truth.json)."""

from __future__ import annotations

import pytest

from afteraction.analyze.attribution import attributor, from_incidents
from afteraction.attack.kb import KnowledgeBase
from afteraction.model import Incident
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.store.read import load_incidents
from afteraction.synth import Options, Truth, generate, load_truth

TOP = 5
# Measured with Options(incidents=400, weeks=16) (true positives with a group / campaign actor), after
# tools stopped counting in command lines and file names:
#   seed 3:  groups 133/174 = 0.764, campaigns 35/38 = 0.921
#   seed 11: groups 120/187 = 0.642, campaigns 33/37 = 0.892
# (seeds 5 and 7, not used here: groups 0.605 and 0.619, campaigns 0.848 and 0.933)
MIN_GROUP_TOP5 = {3: 0.72, 11: 0.58}
MIN_CAMPAIGN_TOP5 = {3: 0.85, 11: 0.82}


@pytest.fixture(scope="module", params=[3, 11])
def generated(request: pytest.FixtureRequest, kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[int, Truth, dict[str, Incident]]:
    root = tmp_path_factory.mktemp(f"attr{request.param}")
    result = generate(Options(incidents=400, weeks=16, seed=request.param), root / "sample", kb)
    store = Store(root / "s.duckdb")
    assert ingest_paths(store, [str(result.export_dir)], kb).rejected == 0
    truth = load_truth(result.truth_path)
    incidents = load_incidents(store, [i.id for i in truth.incidents])
    store.close()
    return request.param, truth, incidents


def test_planted_actor_in_top_five(generated: tuple[int, Truth, dict[str, Incident]], kb: KnowledgeBase) -> None:
    seed, truth, incidents = generated
    att = attributor(kb)
    hits = {"group": 0, "campaign": 0}
    total = {"group": 0, "campaign": 0}
    for planted in truth.incidents:
        if planted.kind != "true_positive" or planted.actor is None:
            continue
        result = att.attribute(from_incidents(kb, [incidents[planted.id]]))
        ranking = result.groups if planted.actor.kind == "group" else result.campaigns
        total[planted.actor.kind] += 1
        hits[planted.actor.kind] += planted.actor.id in [c.id for c in ranking.candidates[:TOP]]
    assert total["group"] >= 100
    assert total["campaign"] >= 20
    assert hits["group"] / total["group"] >= MIN_GROUP_TOP5[seed], hits
    assert hits["campaign"] / total["campaign"] >= MIN_CAMPAIGN_TOP5[seed], hits


def test_thin_evidence_is_insufficient(generated: tuple[int, Truth, dict[str, Incident]], kb: KnowledgeBase) -> None:
    _, truth, incidents = generated
    att = attributor(kb)
    thin = 0
    for planted in truth.incidents:
        evidence = from_incidents(kb, [incidents[planted.id]])
        if len(evidence.techniques) >= 3 or evidence.software:
            continue
        thin += 1
        result = att.attribute(evidence)
        for ranking in (result.groups, result.campaigns, result.software):
            assert ranking.insufficient, (planted.id, ranking.kind)
            assert ranking.band == "insufficient", (planted.id, ranking.kind)
    assert thin >= 50
