"""Campaign clusters: the planted clusters of generated data are found; the linking rule's edge cases."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from afteraction.analyze.attribution.clusters import cluster_incidents, clusters_from_store
from afteraction.analyze.attribution.model import Clusters
from afteraction.attack.kb import KnowledgeBase
from afteraction.model import Classification, Evidence, Incident
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.synth import Options, Truth, generate, load_truth

from .incidents import T0, alert, incident

# Measured with Options(incidents=400, weeks=16) through clusters_from_store:
#   seed 3:  5 of 6 planted clusters matched (Jaccard >= 0.75), 7 of 8 found clusters pure
#            (the missed one is an identity cluster whose incidents each carry a different one of its IPs)
#   seed 11: 6 of 6 matched, 6 of 7 pure
MIN_RECALL = {3: 0.8, 11: 0.8}
MIN_PURITY = {3: 0.75, 11: 0.75}
SEVEN = ["T1566.001", "T1204.002", "T1059.001", "T1547.001", "T1071.001", "T1041", "T1027"]


@pytest.fixture(scope="module", params=[3, 11])
def found(request: pytest.FixtureRequest, kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[int, Truth, Clusters]:
    root = tmp_path_factory.mktemp(f"clusters{request.param}")
    result = generate(Options(incidents=400, weeks=16, seed=request.param), root / "sample", kb)
    store = Store(root / "s.duckdb")
    assert ingest_paths(store, [str(result.export_dir)], kb).rejected == 0
    clusters = clusters_from_store(store, kb, now=T0)
    store.close()
    return request.param, load_truth(result.truth_path), clusters


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def test_planted_clusters_are_found(found: tuple[int, Truth, Clusters]) -> None:
    seed, truth, result = found
    assert len(truth.clusters) >= 4
    sets = [{m.id for m in c.incidents} for c in result.clusters]
    matched = sum(max((_jaccard(set(p.incident_ids), f) for f in sets), default=0.0) >= 0.75 for p in truth.clusters)
    planted_of = {i.id: i.cluster for i in truth.incidents}
    pure = 0
    for members in sets:
        label, n = Counter(planted_of[i] for i in members).most_common(1)[0]
        pure += label is not None and n / len(members) > 0.5
    assert matched / len(truth.clusters) >= MIN_RECALL[seed], (matched, len(truth.clusters))
    assert pure / len(sets) >= MIN_PURITY[seed], (pure, len(sets))


def test_clusters_are_explained_and_ordered(found: tuple[int, Truth, Clusters]) -> None:
    _, _, result = found
    assert result.method
    assert result.incidents > 0
    assert [(c.first, c.id) for c in result.clusters] == sorted((c.first, c.id) for c in result.clusters)  # type: ignore[type-var]
    for c in result.clusters:
        assert c.id.startswith("cluster-")
        assert len(c.incidents) >= 2
        firsts = [m.first_activity for m in c.incidents]
        assert firsts == sorted(firsts)  # type: ignore[type-var]
        assert c.first == firsts[0]
        assert all(s.incidents >= 2 for s in c.shared)
        assert c.statement.startswith(f"These {len(c.incidents)} incidents since ")
        assert c.attribution is not None
        assert set(c.attribution.evidence.incidents) == {m.id for m in c.incidents}


def _inc(iid: str, days: float, *, ips: tuple[str, ...] = (), domains: tuple[str, ...] = (),
         techniques: list[str] | None = None, **kw: Any) -> Incident:
    evidence = tuple(Evidence(type="ip", key=ip, ip_address=ip) for ip in ips) + tuple(
        Evidence(type="url", key=d, domain=d) for d in domains)
    start = T0 + timedelta(days=days)
    a = alert(f"a-{iid}", techniques or ["T1059.001"], evidence=evidence)
    return incident(a, id=iid, first_activity=start, last_activity=start + timedelta(hours=1), **kw)


def _groups(result: Clusters) -> list[list[str]]:
    return [[m.id for m in c.incidents] for c in result.clusters]


def test_shared_public_ip_links(kb: KnowledgeBase) -> None:
    result = cluster_incidents(kb, [_inc("i1", 0, ips=("203.0.113.9",)), _inc("i2", 5, ips=("203.0.113.9",))])
    assert _groups(result) == [["i1", "i2"]]
    assert [(s.kind, s.value, s.incidents) for s in result.clusters[0].shared if s.kind == "ip"] == [
        ("ip", "203.0.113.9", 2)]
    assert result.clusters[0].statement == ("These 2 incidents since 2026-03-04 are likely one campaign: "
                                            "they share 1 external IP.")


@pytest.mark.parametrize("ip", ["10.1.2.3", "192.168.0.10", "172.16.5.5", "127.0.0.1", "169.254.1.1", "fe80::1",
                                "fd00::1", "100.64.0.1", "0.0.0.0", "240.0.0.1", "::ffff:10.0.0.1"])
def test_private_ips_never_link(kb: KnowledgeBase, ip: str) -> None:
    assert cluster_incidents(kb, [_inc("i1", 0, ips=(ip,)), _inc("i2", 1, ips=(ip,))]).clusters == ()


def test_benign_incidents_are_skipped_unless_asked(kb: KnowledgeBase) -> None:
    incs = [_inc("i1", 0, ips=("203.0.113.9",)),
            _inc("i2", 1, ips=("203.0.113.9",), classification=Classification.FALSE_POSITIVE)]
    assert cluster_incidents(kb, incs).clusters == ()
    assert _groups(cluster_incidents(kb, incs, include_benign=True)) == [["i1", "i2"]]


@pytest.mark.parametrize(("sharing", "linked"), [(3, True), (4, False)])
def test_common_indicator_does_not_link(kb: KnowledgeBase, sharing: int, linked: bool) -> None:
    # 60 incidents: 5 % is 3, so an IP in 4 of them is common infrastructure.
    incs = [_inc(f"s{i}", i, ips=("198.51.100.7",), domains=("cdn.example",)) for i in range(sharing)]
    incs += [_inc(f"f{i:02d}", i % 30, ips=(f"203.0.113.{i}",)) for i in range(60 - sharing)]
    groups = _groups(cluster_incidents(kb, incs))
    assert groups == ([[f"s{i}" for i in range(sharing)]] if linked else [])


@pytest.mark.parametrize(("days", "linked"), [(10, True), (100, False)])
def test_technique_similarity_needs_the_time_window(kb: KnowledgeBase, days: int, linked: bool) -> None:
    filler = [_inc(f"f{i}", i, techniques=["T1078.004"]) for i in range(5)]  # gives the techniques an IDF
    incs = [_inc("i1", 0, techniques=SEVEN), _inc("i2", days, techniques=SEVEN), *filler]
    assert _groups(cluster_incidents(kb, incs)) == ([["i1", "i2"]] if linked else [])


@pytest.mark.parametrize("junk", ['evil.example"><script>alert(1)</script>=hyperlink("x")\u202e', "fileserver",
                                  "dc01.corp.local", "intranet.internal", "xn--.example", "a..b.example"])
def test_only_external_dns_names_are_domains(kb: KnowledgeBase, junk: str) -> None:
    result = cluster_incidents(kb, [_inc("i1", 0, domains=(junk,)), _inc("i2", 2, domains=(junk,))])
    assert result.clusters == ()
    ok = cluster_incidents(kb, [_inc("i1", 0, domains=(junk, "cdn-9.example")),
                                _inc("i2", 2, domains=(junk, "CDN-9.example."))])
    (cluster,) = ok.clusters
    assert [s.value for s in cluster.shared if s.kind == "domain"] == ["cdn-9.example"]


def test_cluster_ids_are_stable_and_input_order_free(kb: KnowledgeBase) -> None:
    incs = [_inc(f"i{i}", i, ips=("203.0.113.50",)) for i in range(3)]
    incs += [_inc(f"f{i:02d}", i, ips=(f"198.51.100.{i}",)) for i in range(60)]  # the shared IP stays rare
    a = cluster_incidents(kb, incs, now=T0)
    b = cluster_incidents(kb, list(reversed(incs)), now=T0)
    assert a == b
    assert a.clusters[0].id.startswith("cluster-")
