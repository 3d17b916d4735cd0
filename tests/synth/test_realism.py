"""What the generator plants is really in the data: chains, evidence, times, types, actors, clusters."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from afteraction.attack import KnowledgeBase
from afteraction.synth.incident import Built
from afteraction.synth.plan import Plan

from .support import Sample, rows

# Evidence a product attaches, per surface: what must be there, and what may be.
REQUIRED = {
    "endpoint": {"device", "process", "user"},
    "identity": {"user", "device", "ip"},
    "cloud_identity": {"user", "ip"},
    "cloud_app": {"user", "ip", "cloudApplication"},
    "mail": {"mailbox", "analyzedMessage"},
    "dlp": {"user", "file"},
}
ALLOWED = {
    "endpoint": {"device", "process", "user", "file", "registryValue", "ip", "url"},
    "identity": {"user", "device", "ip"},
    "cloud_identity": {"user", "ip", "cloudLogonSession"},
    "cloud_app": {"user", "ip", "cloudApplication", "mailboxConfiguration"},
    "mail": {"mailbox", "analyzedMessage", "url", "file", "ip"},
    "dlp": {"user", "file", "url", "device"},
}


def test_chains_follow_kill_chain_order(sample: Sample, kb: KnowledgeBase) -> None:
    order = {t.shortname: i for i, t in enumerate(kb.tactics)}
    for t in sample.truth.incidents:
        tactics = [order[s.tactic] for s in t.steps]
        assert tactics == sorted(tactics), t.id
        times = [s.activity for s in t.steps]
        assert times == sorted(times), t.id
        for s in t.steps:
            assert s.tactic in kb.techniques[s.technique].tactics
            assert s.tactic_id == next(x.id for x in kb.tactics if x.shortname == s.tactic)
        if t.steps:
            assert t.first_activity == t.steps[0].activity
            assert t.first_activity <= t.first_alert


def test_evidence_fits_the_surface(sample: Sample) -> None:
    types: dict[str, set[str]] = defaultdict(set)
    for r in rows(sample.db, "SELECT alert_id, type FROM evidence"):
        types[r["alert_id"]].add(r["type"])
    for t in sample.truth.incidents:
        for s in t.steps:
            for aid in s.alert_ids:
                assert REQUIRED[s.surface] <= types[aid] <= ALLOWED[s.surface], (t.id, s.surface, types[aid])


def test_times_are_realistic(sample: Sample) -> None:
    start, end = sample.truth.period.start, sample.truth.period.end
    alerts = rows(sample.db, "SELECT created, first_activity, resolved, status FROM alerts")
    delays = [(a["created"] - a["first_activity"]).total_seconds() for a in alerts]
    assert min(delays) > 0
    assert statistics.median(delays) < statistics.mean(delays)  # right-skewed
    assert statistics.median(delays) < 3600 < max(delays)  # minutes typically, hours to days at worst
    assert all(start <= a["created"] < end for a in alerts)
    assert all(a["resolved"] is None or a["created"] < a["resolved"] < end for a in alerts)
    status = Counter(t.status for t in sample.truth.incidents)
    assert status["resolved"] > 0.85 * len(sample.truth.incidents)
    assert status["active"] + status["inProgress"] > 0
    for t in sample.truth.incidents:
        if t.acknowledged and t.resolved:
            assert t.first_alert <= t.acknowledged <= t.resolved
        assert t.owner is None or t.owner in (*sample.truth.analysts, "Automation")


def test_every_incident_type_with_its_own_evidence(sample: Sample) -> None:
    by_type: dict[str, list] = defaultdict(list)
    for t in sample.truth.incidents:
        if t.kind == "true_positive":
            by_type[t.incident_type].append(t)
    assert set(by_type) == set(sample.truth.incident_types)
    surfaces = {k: Counter(s.surface for t in v for s in t.steps if s.detected) for k, v in by_type.items()}
    techniques = {k: Counter(s.technique for t in v for s in t.steps) for k, v in by_type.items()}
    assert all(any(s.technique.startswith("T1566") for s in t.steps) for t in by_type["phishing"])
    assert surfaces["phishing"]["mail"] > 0
    assert all(t.steps[0].technique == "T1078.004" for t in by_type["identity_compromise"])
    assert surfaces["identity_compromise"]["cloud_identity"] > 0
    assert all(any(s.technique == "T1486" for s in t.steps) for t in by_type["ransomware"])
    assert techniques["ransomware"]["T1490"] > 0
    bec = by_type["business_email_compromise"]
    assert all({"T1564.008", "T1114.003"} <= {s.technique for s in t.steps} for t in bec)
    assert all(t.actor is None for t in by_type["insider_data_loss"])
    assert surfaces["insider_data_loss"]["dlp"] > 0
    assert all(t.actor is not None for k, v in by_type.items() if k != "insider_data_loss" for t in v)


def test_software_comes_from_the_actor_and_shows_in_alerts(sample: Sample, kb: KnowledgeBase) -> None:
    named = {r["id"]: r["threat_family_name"] for r in rows(sample.db, "SELECT id, threat_family_name FROM alerts")}
    with_software = 0
    for t in sample.truth.incidents:
        if t.actor is None or not t.software:
            continue
        with_software += 1
        profile = (kb.group_profile(t.actor.id).software if t.actor.kind == "group"
                   else kb.campaigns[t.actor.id].software)
        for s in t.steps:
            if s.software:
                assert s.software in profile
                assert named[s.alert_ids[0]] == kb.software[s.software].name
    assert with_software > 20


def test_clusters_share_actor_software_and_infrastructure(sample: Sample) -> None:
    clusters = sample.truth.clusters
    assert len(clusters) >= 3
    truth = {t.id: t for t in sample.truth.incidents}
    ips_by_incident: dict[str, set[str]] = defaultdict(set)
    for r in rows(sample.db, "SELECT a.incident_id, e.ip_address, e.url FROM evidence e JOIN alerts a "
                             "ON a.id = e.alert_id WHERE e.ip_address IS NOT NULL OR e.url IS NOT NULL"):
        ips_by_incident[r["incident_id"]].update(x for x in (r["ip_address"], r["url"]) if x)
    members = set()
    for c in clusters:
        assert 2 <= len(c.incident_ids) <= 7
        assert (c.last - c.first).days <= 8 * 7
        for iid in c.incident_ids:
            t = truth[iid]
            assert t.cluster == c.id
            assert t.actor == c.actor
            assert t.incident_type == c.incident_type
            assert {s.id for s in t.software} <= {s.id for s in c.software}
            assert set(t.ips) <= set(c.ips)
            assert set(t.domains) <= set(c.domains)
            assert t.ips or t.domains, iid
            assert set(t.ips) <= ips_by_incident[iid]
        members |= set(c.incident_ids)
    shared = {ip for c in clusters for ip in c.ips}
    for iid, seen in ips_by_incident.items():
        if iid not in members:
            assert not (seen & shared), iid


def test_undetected_techniques_never_raise_alerts(sample: Sample) -> None:
    profile = {d.technique: d.probability for d in sample.truth.detection_profile}
    gaps = set(sample.truth.undetected_techniques)
    assert gaps == {t for t, p in profile.items() if p == 0}
    steps = [s for t in sample.truth.incidents if t.kind == "true_positive" for s in t.steps]
    assert any(s.technique in gaps for s in steps)  # gaps are visible in incidents
    assert not any(s.detected for s in steps if s.technique in gaps)
    assert any(not s.detected for s in steps if s.technique not in gaps)  # and partial detection too
    stats = sample.truth.stats.techniques
    for tech, st in stats.items():
        assert st.steps == sum(1 for s in steps if s.technique == tech)
        assert st.detected == sum(1 for s in steps if s.technique == tech and s.detected)
    noted = [s for t in sample.truth.incidents for s in t.steps if s.found_in_investigation]
    assert noted
    assert all(not s.detected for s in noted)


def _per_technique(built: list[Built]) -> tuple[dict, dict, Counter, Counter]:
    resolve: dict[tuple[str, str], list[float]] = defaultdict(list)
    baseline: dict[str, list[float]] = defaultdict(list)
    judged: Counter[str] = Counter()
    misjudged: Counter[str] = Counter()
    for b in built:
        for a in b.incident.alerts:
            tech = a.techniques[0].id if a.techniques else None
            if a.resolved is None or tech is None or a.assigned_to == "Automation":
                continue
            seconds = (a.resolved - a.created).total_seconds()
            resolve[(tech, a.severity.value)].append(seconds)
            baseline[a.severity.value].append(seconds)
            judged[tech] += 1
            changed = any("falsePositive to truePositive" in c.text for c in a.comments)
            if changed or (a.determination and a.determination.value in ("notEnoughDataToValidate", "unknown")):
                misjudged[tech] += 1
    return resolve, baseline, judged, misjudged


def test_planted_skill_gaps_are_slow_and_misjudged(big: tuple[Plan, list[Built]]) -> None:
    plan, built = big
    resolve, baseline, judged, misjudged = _per_technique(built)
    ratio: dict[str, float] = {}
    for tech in {k[0] for k in resolve}:
        parts = [statistics.median(v) / statistics.median(baseline[sev])
                 for (t, sev), v in resolve.items() if t == tech and len(v) >= 3]
        if sum(len(v) for (t, _), v in resolve.items() if t == tech) >= 15 and parts:
            ratio[tech] = statistics.median(parts)
    ranked = sorted(ratio, key=ratio.__getitem__, reverse=True)
    assert len(plan.skill) == 3
    assert set(ranked[:3]) == set(plan.skill)
    assert all(ratio[t] > 2.5 for t in plan.skill)  # planted factor 5, medians of small groups
    base = sum(misjudged[t] for t in judged if t not in plan.skill) / sum(judged[t] for t in judged
                                                                          if t not in plan.skill)
    for tech in plan.skill:
        assert misjudged[tech] / judged[tech] > 3 * base


def test_planted_noisy_detectors(big: tuple[Plan, list[Built]]) -> None:
    plan, built = big
    volume: Counter[str] = Counter()
    benign_or_false: Counter[str] = Counter()
    false: Counter[str] = Counter()
    for b in built:
        for a in b.incident.alerts:
            volume[a.detector_id] += 1
            cls = a.classification.value if a.classification else None
            benign_or_false[a.detector_id] += cls in ("falsePositive", "informationalExpectedActivity")
            false[a.detector_id] += cls == "falsePositive"
    noisiest = sorted(volume, key=lambda d: (-benign_or_false[d], d))[:4]
    assert set(noisiest) == {d.detector_id for d in plan.noisy}
    for d in plan.noisy:
        classified = sum(1 for b in built if b.truth.detector == d.detector_id and b.truth.classification)
        assert abs(false[d.detector_id] / classified - d.spec.fp_share) < 0.08


def test_planted_trends_and_nothing_else(big: tuple[Plan, list[Built]]) -> None:
    """Alerts per technique, first half against second half: a two-sided test with Benjamini-Hochberg at 0.05
    finds exactly the rising and the fading technique (for this seed; see docs/generate.md for the rate)."""
    plan, built = big
    mid = (plan.t_start + plan.t_end) / 2
    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    for b in built:
        for a in b.incident.alerts:
            for ref in a.techniques:
                (first if a.created.timestamp() < mid else second)[ref.id] += 1
    rising, fading = plan.trends
    assert second[rising.technique] > 3 * first[rising.technique]
    assert first[fading.technique] > 3 * second[fading.technique]
    pvalues = []
    norm = statistics.NormalDist()
    for tech in set(first) | set(second):
        n = first[tech] + second[tech]
        if n >= 20:
            z = (second[tech] - n / 2) / (n / 4) ** 0.5
            pvalues.append((2 * (1 - norm.cdf(abs(z))), tech))
    pvalues.sort()
    passed = [k for k, (p, _) in enumerate(pvalues, 1) if p <= 0.05 * k / len(pvalues)]
    found = {tech for _, tech in pvalues[:max(passed, default=0)]}
    assert found == {rising.technique, fading.technique}
