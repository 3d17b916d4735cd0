"""SOC process metrics over a period: volume, detector noise, severity accuracy, backlog, automation, SLA.

``process(store, kb, period)`` materialises the period's facts (``program.facts``), runs the group-bys of
``process_queries`` in the engine and reasons in Python over the small results: which detectors are noisy
(:data:`NOISY_MIN_CLASSIFIED`, :data:`NOISY_MIN_SHARE`), which severities mislead, which incidents are
overdue, and which configuration changes the evidence supports. Outcomes: ``truePositive`` is a true
positive, ``falsePositive`` a false positive, ``informationalExpectedActivity`` a benign positive; no
classification, ``unknown`` or ``other`` is unclassified. See docs/process.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from afteraction.analyze.program import process_queries as q
from afteraction.analyze.program.facts import materialise
from afteraction.analyze.program.period import Period
from afteraction.analyze.program.process_model import (
    PROCESS_SCHEMA_VERSION,
    Backlog,
    BacklogRow,
    BucketRatio,
    Callout,
    DetectorStats,
    NoisyDetector,
    OpenIncident,
    Outcomes,
    Process,
    Recommendation,
    RepeatedTechnique,
    SeverityRow,
    SlaRow,
    SourceStats,
    Summary,
    Thresholds,
)
from afteraction.analyze.program.sla import DEFAULT_TARGETS, SEVERITIES, SlaTarget, SlaTargets, parse_sla

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.store.db import Store

NOISY_MIN_CLASSIFIED = 20
NOISY_MIN_SHARE = 0.5
REPEATED_MIN_INCIDENTS = 3
MITIGATION_MIN_TECHNIQUES = 2
MAX_MITIGATIONS = 6
HIGH, LOW = ("high",), ("low", "informational")
#: Mitigations that are not a configuration change (detective, organisational or out of the team's reach).
NOT_CONFIGURATION = frozenset({"M1013", "M1016", "M1017", "M1019", "M1047", "M1055", "M1056"})

#: The concrete control to name for an ATT&CK mitigation (Microsoft-centric, as the inputs are).
CONTROLS = {
    "M1040": "Microsoft Defender attack surface reduction (ASR) rules in block mode",
    "M1032": "Conditional Access requiring multi-factor authentication (phishing-resistant where possible)",
    "M1036": "Conditional Access sign-in and user risk policies, smart lockout and session limits",
    "M1038": "application control (App Control for Business / AppLocker) on endpoints",
    "M1026": "Privileged Identity Management: just-in-time, approved admin roles",
    "M1018": "account reviews and least-privilege user rights",
    "M1027": "password protection (banned passwords) and passwordless sign-in",
    "M1042": "disabling the unused feature or protocol (e.g. macros from the internet, legacy authentication)",
    "M1049": "Defender Antivirus cloud-delivered protection and tamper protection",
    "M1050": "Defender exploit protection",
    "M1021": "web content filtering and SmartScreen / Safe Links",
    "M1031": "network protection in block mode",
    "M1037": "host and network firewall rules",
    "M1017": "user awareness training with phishing simulations",
    "M1054": "hardened software configuration (e.g. Office macro and add-in policies)",
    "M1028": "operating-system hardening baselines (security baselines in Intune)",
    "M1047": "audit logging of the activity (unified audit log, advanced hunting retention)",
    "M1051": "prompt software updates",
    "M1030": "network segmentation",
    "M1041": "encryption of sensitive information (sensitivity labels)",
    "M1057": "data loss prevention policies",
}


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _outcomes(r: dict[str, Any]) -> Outcomes:
    n, tp, fp, bn = (int(r.get(k) or 0) for k in ("alerts", "true_positives", "false_positives", "benign"))
    classified = tp + fp + bn
    return Outcomes(alerts=n, true_positives=tp, false_positives=fp, benign=bn, unclassified=n - classified,
                    false_positive_share=_share(fp, classified), benign_share=_share(bn, classified))


def _classified(o: Outcomes) -> int:
    return o.true_positives + o.false_positives + o.benign


def _severity_key(severity: str) -> tuple[int, str]:
    return (SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES), severity)


def _noisy(detectors: list[DetectorStats], total: Outcomes, top: int) -> list[NoisyDetector]:
    wasted_total = total.false_positives + total.benign
    found = []
    for d in detectors:
        o = d.outcomes
        wasted, classified = o.false_positives + o.benign, _classified(o)
        if classified >= NOISY_MIN_CLASSIFIED and wasted / classified >= NOISY_MIN_SHARE:
            found.append((d, wasted, classified))
    found.sort(key=lambda x: (-x[1], -x[0].outcomes.alerts, x[0].source_name, x[0].detector_id, x[0].title))
    return [NoisyDetector(
        rank=i, source_name=d.source_name, detector_id=d.detector_id, title=d.title, alerts=d.outcomes.alerts,
        wasted=wasted, noise_share=wasted / classified, false_positive_share=d.outcomes.false_positives / classified,
        benign_share=d.outcomes.benign / classified, volume_share=d.outcomes.alerts / total.alerts,
        wasted_share=wasted / wasted_total if wasted_total else 0.0,
    ) for i, (d, wasted, classified) in enumerate(found[:top], 1)]


def _callouts(rows: list[SeverityRow]) -> list[Callout]:
    out = []
    high = [r.outcomes for r in rows if r.severity in HIGH]
    wasted = sum(o.false_positives + o.benign for o in high)
    if wasted:
        share = _share(wasted, sum(_classified(o) for o in high))
        out.append(Callout(kind="high_severity_false_positives", alerts=wasted, share=share, text=(
            f"{wasted} high-severity alerts were false or benign positives ({share:.0%} of the classified "
            "high-severity alerts): each one pulled an analyst off the queue. Lower the severity of the rules "
            "behind them or tune them.")))
    low = [r.outcomes for r in rows if r.severity in LOW]
    missed = sum(o.true_positives for o in low)
    if missed:
        share = _share(missed, sum(_classified(o) for o in low))
        out.append(Callout(kind="low_severity_true_positives", alerts=missed, share=share, text=(
            f"{missed} low or informational alerts were true positives ({share:.0%} of the classified ones): "
            "real attacks that the queue ranked last. Raise the severity of the rules behind them.")))
    return out


def _sla_rows(rows: list[dict[str, Any]], sla: SlaTargets) -> list[SlaRow]:
    by = {r["severity"]: r for r in rows}
    out = []
    for t in sla.targets:
        r = by.get(t.severity, {})
        ack_n, ack_b = int(r.get("acknowledge_measured") or 0), int(r.get("acknowledge_breaches") or 0)
        unack = int(r.get("unacknowledged_breaches") or 0)  # never acknowledged and past the target by the end
        ack_n, ack_b = ack_n + unack, ack_b + unack
        resolved, late, open_b = (int(r.get(k) or 0) for k in ("resolved", "resolve_late", "open_breaches"))
        out.append(SlaRow(
            severity=t.severity, acknowledge_seconds=t.acknowledge_seconds, resolve_seconds=t.resolve_seconds,
            incidents=int(r.get("incidents") or 0), acknowledge_measured=ack_n, acknowledge_breaches=ack_b,
            acknowledge_breach_share=_share(ack_b, ack_n), unacknowledged_breaches=unack,
            resolve_measured=resolved + open_b,
            resolve_breaches=late + open_b, open_breaches=open_b,
            resolve_breach_share=_share(late + open_b, resolved + open_b)))
    return out


def _recommendations(kb: KnowledgeBase, noisy: list[NoisyDetector], repeated: list[RepeatedTechnique]
                     ) -> list[Recommendation]:
    out = []
    for n in noisy:
        label = n.title or n.detector_id or "(untitled)"
        action = ("disable it or rewrite it" if n.noise_share >= 0.9 else "tune it (exclusions, thresholds, scope)")
        out.append(Recommendation(
            kind="tune_detector", title=f"Tune or disable detector {label}", action=action,
            evidence=(f"{n.wasted} of its {n.alerts} alerts were false or benign positives "
                      f"({n.noise_share:.0%} of the classified: {n.false_positive_share:.0%} false, "
                      f"{n.benign_share:.0%} benign)",
                      f"{n.volume_share:.1%} of all alerts; {n.wasted_share:.0%} of all false and benign positives",
                      f"source {n.source_name}, detector id {n.detector_id or 'none'}")))
    covers: dict[str, tuple[str, str, list[RepeatedTechnique]]] = {}
    for t in repeated:
        for m in kb.mitigations_for(t.technique):
            if m.mitigation_id not in NOT_CONFIGURATION:
                covers.setdefault(m.mitigation_id, (m.name, m.url, []))[2].append(t)
    # Greedy cover: each next mitigation is the one whose repeated techniques not yet covered by an earlier
    # pick add up to the most true-positive incidents (ties: more techniques, then the id).
    covered: set[str] = set()
    for _ in range(MAX_MITIGATIONS):
        def gain(kv: tuple[str, tuple[str, str, list[RepeatedTechnique]]]) -> tuple[int, int, str]:
            new = [t for t in kv[1][2] if t.technique not in covered]
            return (-sum(t.incidents for t in new), -len(new), kv[0])
        candidates = [kv for kv in covers.items() if len(kv[1][2]) >= MITIGATION_MIN_TECHNIQUES]
        if not candidates:
            break
        mid, (name, url, techs) = min(candidates, key=gain)
        fresh = [t for t in techs if t.technique not in covered]
        if not fresh:
            break
        del covers[mid]
        covered.update(t.technique for t in techs)
        control = CONTROLS.get(mid)
        action = f"Add {control} ({mid} {name})" if control else f"Apply {mid} {name}"
        out.append(Recommendation(
            kind="mitigation", title=f"{mid} {name}: covers {len(techs)} repeated techniques", action=action,
            evidence=(f"{len(fresh)} of them not covered by an earlier recommendation, seen in "
                      f"{sum(t.incidents for t in fresh)} true-positive incident(s) of the period",
                      *(f"{t.technique} {t.name}: {t.incidents} true-positive incidents" for t in techs)),
            mitigation_id=mid, url=url or None, techniques=tuple(t.technique for t in techs)))
    return out


def process(store: Store, kb: KnowledgeBase, period: Period, *, sla: SlaTargets | None = None, top: int = 15,
            now: datetime | None = None) -> Process:
    """The process metrics of ``period`` (alerts by creation time; backlog and SLA at the period's end)."""
    sla = sla or DEFAULT_TARGETS
    generated = (now or datetime.now(UTC)).astimezone(UTC)
    as_of = min(period.until, generated)
    materialise(store, period)
    q.set_params(store, period.since, period.until, as_of, sla)
    try:
        overall = q.rows(store, "overall")[0]
        buckets = q.bucket_rows(store, period.bucket)
        source_rows = q.rows(store, "source")
        severity_rows = q.rows(store, "severity")
        detector_rows, n_detectors = q.detector_rows(store, max(4 * top, 200))
        repeated_rows = q.rows(store, "repeated")
        backlog_rows = q.rows(store, "backlog")
        oldest = q.oldest_rows(store, top)
        sla_rows = q.rows(store, "sla")
    finally:
        q.drop(store)
    total = _outcomes(overall)
    incidents = int(overall["incidents"] or 0)
    automated = int(overall["automated"] or 0)
    detectors = [DetectorStats(source_name=r["source_name"], detector_id=r["detector_id"], title=r["title"] or "",
                               outcomes=_outcomes(r), automated=int(r["automated"] or 0)) for r in detector_rows]
    noisy = _noisy(detectors, total, top) if total.alerts else []
    severity = sorted((SeverityRow(severity=r["severity"], outcomes=(o := _outcomes(r)),
                                   true_positive_share=_share(o.true_positives, _classified(o)))
                       for r in severity_rows), key=lambda r: _severity_key(r.severity))
    repeated = []
    for r in repeated_rows:
        if r["incidents"] < REPEATED_MIN_INCIDENTS:
            break
        tech = kb.technique(r["technique_id"])
        repeated.append(RepeatedTechnique(technique=r["technique_id"], name=tech.name if tech else "",
                                          incidents=int(r["incidents"]), url=tech.url if tech else ""))
    notes = []
    if n_detectors > len(detectors):
        notes.append(f"{n_detectors} distinct detectors: the {len(detectors)} busiest by alerts or by false and "
                     "benign positives were compared; noisy detectors are chosen among them.")
    unknown = sorted({r["severity"] for r in severity_rows} - {t.severity for t in sla.targets})
    if unknown:
        notes.append("No SLA target for severity " + ", ".join(unknown) + ": those incidents are not measured.")
    return Process(
        schema_version=PROCESS_SCHEMA_VERSION, attack_version=kb.version, generated=generated, period=period,
        sla=sla, thresholds=Thresholds(
            noisy_min_classified=NOISY_MIN_CLASSIFIED, noisy_min_share=NOISY_MIN_SHARE,
            repeated_min_incidents=REPEATED_MIN_INCIDENTS, mitigation_min_techniques=MITIGATION_MIN_TECHNIQUES,
            max_mitigations=MAX_MITIGATIONS),
        summary=Summary(alerts=total.alerts, incidents=incidents, alerts_per_incident=_share(total.alerts, incidents),
                        outcomes=total, automated=automated, automated_share=_share(automated, total.alerts),
                        detectors=max(n_detectors, len(detectors)), sources=len(source_rows)),
        ratio_by_bucket=tuple(BucketRatio(start=r["start"], alerts=int(r["alerts"]), incidents=int(r["incidents"]),
                                          ratio=_share(int(r["alerts"]), int(r["incidents"]))) for r in buckets),
        detectors=tuple(detectors[:top]),
        sources=tuple(SourceStats(source_name=r["source_name"], outcomes=_outcomes(r),
                                  automated=int(r["automated"] or 0),
                                  automated_share=_share(int(r["automated"] or 0), int(r["alerts"])))
                      for r in source_rows),
        noisy_detectors=tuple(noisy), severity=tuple(severity), callouts=tuple(_callouts(severity)),
        backlog=Backlog(
            as_of=as_of, open=sum(int(r["total"]) for r in backlog_rows),
            by_severity=tuple(sorted((BacklogRow(severity=r["severity"], **{k: int(r[k] or 0) for k in (
                "under_1d", "days_1_7", "days_7_30", "over_30d", "total")}) for r in backlog_rows),
                key=lambda r: _severity_key(r.severity))),
            oldest=tuple(OpenIncident(source=r["source"], id=r["id"], title=r["title"], severity=r["severity"],
                                      status=r["status"], opened=r["opened"], age_seconds=float(r["age"]))
                         for r in oldest)),
        sla_breaches=tuple(_sla_rows(sla_rows, sla)), repeated_techniques=tuple(repeated),
        recommendations=tuple(_recommendations(kb, noisy, repeated)), notes=tuple(notes),
    )


__all__ = ["CONTROLS", "DEFAULT_TARGETS", "MAX_MITIGATIONS", "MITIGATION_MIN_TECHNIQUES", "NOISY_MIN_CLASSIFIED",
           "NOISY_MIN_SHARE", "NOT_CONFIGURATION", "REPEATED_MIN_INCIDENTS", "Process", "SlaTarget", "SlaTargets",
           "parse_sla", "process"]
