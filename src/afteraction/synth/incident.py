"""Build one incident (a canonical :class:`afteraction.model.Incident`) and its truth record from the plan.

True positives: an actor (or the incident's cluster) drives a chain sampled from its profile; the
detection profile decides which steps raise alerts (an incident exists only when at least one does);
the planted trend techniques are inserted with a probability that changes at the change point. Benign
and false positives: one alert from a planted noisy detector. Each incident has its own random stream
(seeded by the run's seed and its index), so it is the same whatever order incidents are built in.
"""

from __future__ import annotations

from typing import NamedTuple

from afteraction.model import Classification, Comment, Determination, Incident, IncidentStatus, Severity
from afteraction.synth import timing
from afteraction.synth.alerts import (
    AUTOMATION,
    SEVERITIES,
    AlertSpec,
    Handling,
    alert_id,
    dt,
    handle,
    make_alert,
    severity_for,
    when,
)
from afteraction.synth.artifacts import Ctx, ensure_infrastructure, evidence_for
from afteraction.synth.catalog import DLP, ENDPOINT, Actor
from afteraction.synth.detection import SOURCES, product_detector, title_for
from afteraction.synth.entities import domain_name, incident_ip
from afteraction.synth.hostile import harden
from afteraction.synth.plan import TREND_TYPES, ClusterPlan, Plan
from afteraction.synth.scenario import (
    DETERMINATION,
    INSIDER,
    OTHER,
    RANSOMWARE,
    PlannedStep,
    insert_step,
    sample_chain,
)
from afteraction.synth.truth import ActorRef, EntityRef, SoftwareRef, Step, TruthIncident

SOFTWARE_TACTICS = frozenset({"execution", "persistence", "defense-evasion", "credential-access",
                              "lateral-movement", "command-and-control", "impact"})
FORGOTTEN_SHARE = 0.02  # incidents left open (backlog)
MISJUDGED_INCIDENTS = 0.03  # true-positive incidents closed as not enough data
RESOLUTION = {
    "phishing": "Malicious messages purged from all mailboxes; sender and URLs blocked.",
    "identity_compromise": "Password reset, sessions revoked and MFA re-registered; risky sign-ins confirmed.",
    "ransomware": "Affected devices isolated and reimaged; backups restored; privileged credentials rotated.",
    "business_email_compromise": "Inbox and forwarding rules removed, password reset, finance team notified.",
    "malware": "Malware removed and the device scanned clean; indicators blocked.",
    "insider_data_loss": "Access revoked; HR and legal engaged; data recovery requested.",
    "other": "Threat contained and remediated; indicators blocked.",
}
TAGS = {"phishing": "Phishing", "identity_compromise": "Identity", "ransomware": "Ransomware",
        "business_email_compromise": "BEC", "malware": "Malware", "insider_data_loss": "Insider", "other": "APT"}
_STATUS = {s.value: s for s in IncidentStatus}
OUTCOME_VERDICT = {"insufficient_data": ("falsePositive", "notEnoughDataToValidate"), "unknown": ("unknown", "unknown")}


class Built(NamedTuple):
    """An incident, its truth, and counts for the run's statistics."""

    incident: Incident
    truth: TruthIncident
    evidence: int


def build(plan: Plan, index: int) -> Built:
    """Incident number ``index`` of the plan (0 = oldest)."""
    tp = plan.kinds[index] == "tp"
    ctx = Ctx(plan, index, tp)
    return _true_positive(ctx) if tp else _noise(ctx)


def _chain(ctx: Ctx, itype: str, actor: Actor | None) -> tuple[list[PlannedStep], list[bool]]:
    rng, plan, cat = ctx.rng, ctx.plan, ctx.plan.cat
    prob = plan.profile.probability
    steps: list[PlannedStep] = []
    detected: list[bool] = []
    for _ in range(30):  # only detected attacks become incidents
        steps = sample_chain(rng, cat, itype, actor, plan.trend_techniques)
        detected = [rng.random() < prob[s.technique] for s in steps]
        if any(detected):
            break
    else:
        if not steps:
            tech = next(iter(cat.techniques))
            steps = [PlannedStep(tech, cat.primary_tactic(tech), "chain")]
        detected = [False] * len(steps)
        detected[max(range(len(steps)), key=lambda k: prob[steps[k].technique])] = True
    if itype in TREND_TYPES:
        t0 = plan.times[ctx.index]
        for tr in plan.trends:
            if rng.random() < (tr.before if t0 < tr.change_point else tr.after):
                steps = insert_step(cat, steps, tr.technique, tr.direction)
                pos = next(k for k, s in enumerate(steps) if s.technique == tr.technique)
                detected.insert(pos, rng.random() < prob[tr.technique])
    return steps, detected


def _software(ctx: Ctx, itype: str, actor: Actor | None, cluster: ClusterPlan | None) -> tuple[list[str], list[str]]:
    """The incident's software pool and, for ransomware, the encryptors among the actor's software."""
    rng, soft = ctx.rng, ctx.plan.cat.software
    own = actor.software if actor is not None else ()
    if cluster is not None:
        pool = list(cluster.software)
    else:
        preferred = [s for s in own if soft[s].windows and soft[s].kind == "malware"] or list(own)
        pool = sorted(rng.sample(preferred, min(len(preferred), rng.randint(1, 2)))) if preferred else []
    ransom = [s for s in (pool if cluster is not None else own)
              if "T1486" in soft[s].techniques] if itype == RANSOMWARE else []
    return pool, ransom


def _true_positive(ctx: Ctx) -> Built:
    rng, plan, cat, index = ctx.rng, ctx.plan, ctx.plan.cat, ctx.index
    itype = plan.types[index]
    cluster = plan.cluster_of.get(index)
    fit = plan.fits[itype]
    actor = cluster.actor if cluster else (cat.actors[rng.choice(fit)] if fit else None)
    steps, detected = _chain(ctx, itype, actor)
    if cluster is not None:
        ctx.ips, ctx.domains = list(cluster.ips), list(cluster.domains)
    else:
        ctx.ips, ctx.domains = [incident_ip(index)], [domain_name(1_000_000 + index, plan.seed)]
    pool, ransom = _software(ctx, itype, actor, cluster)
    surfaces = [DLP if itype == INSIDER and s.tactic == "exfiltration" else cat.techniques[s.technique].surface
                for s in steps]
    step_soft: list[str | None] = [None] * len(steps)
    eligible = [j for j, s in enumerate(steps)
                if detected[j] and surfaces[j] == ENDPOINT and s.tactic in SOFTWARE_TACTICS]
    for j in eligible:
        if steps[j].technique == "T1486" and ransom:
            step_soft[j] = rng.choice(ransom)
        elif pool and rng.random() < (0.2 if itype == OTHER else 0.45):
            step_soft[j] = rng.choice(pool)
    if pool and eligible and not any(step_soft):
        step_soft[eligible[0]] = rng.choice(pool)
    # timeline: offsets from the first activity, then placed so the first alert is at the scheduled time
    offs = [0.0]
    for _ in steps[1:]:
        offs.append(offs[-1] + timing.step_gap(rng, itype))
    created_off = {j: offs[j] + timing.detection_delay(rng, surfaces[j]) for j in range(len(steps)) if detected[j]}
    first_off = min(created_off.values())
    last_off = max(max(offs), max(created_off.values()))
    t0 = plan.times[index]
    room = max(plan.t_end - t0 - 1.0, 0.0)
    scale = min(1.0, room / (last_off - first_off)) if last_off > first_off else 1.0

    def at(off: float) -> float:
        return t0 + (off - first_off) * (scale if off > first_off else 1.0)

    owner = rng.choice(plan.analysts)
    forgotten = rng.random() < FORGOTTEN_SHARE
    determination = DETERMINATION[itype]
    actor_names = actor.display_names if actor is not None else ()
    pending: list[tuple[AlertSpec, Handling, str, tuple[str, str]]] = []
    alert_ids: list[str | None] = [None] * len(steps)
    outcomes: list[str | None] = [None] * len(steps)
    for j, s in enumerate(steps):
        if not detected[j]:
            continue
        info = cat.techniques[s.technique]
        created = at(created_off[j])
        first = at(offs[j])
        sw = step_soft[j]
        surface = surfaces[j]
        src_key = "antivirus" if sw and itype != OTHER and rng.random() < 0.6 else surface
        source = SOURCES[src_key]
        sev = severity_for(ctx, s.tactic)
        title, category, display, family = title_for(cat, s.technique, surface), cat.category(s.tactic), None, None
        if sw is not None:
            soft = cat.software[sw]
            kind = "malware" if soft.kind == "malware" else "hacktool"
            title = f"'{soft.name}' {kind} was {'prevented' if rng.random() < 0.3 else 'detected'}"
            family = soft.name
            prefix = "Trojan" if kind == "malware" else "HackTool"
            display = f"{prefix}:Win32/{soft.name.replace(' ', '')}.{'ABCD'[j % 4]}"
            if itype != OTHER:  # an intrusion's tools keep their tactic; malware detections say Malware
                category = "Ransomware" if s.technique == "T1486" else "Malware"
            sev = "high"
        wt = when(created)
        spec = AlertSpec(
            id=alert_id(ctx, source.prefix, created, len(pending)), source=source, title=title,
            description=f"{title}. Activity matches {info.full_name} ({s.technique}).", category=category,
            severity=sev, detector_id=product_detector(surface, s.technique, sw), technique=s.technique,
            first=first, last=min(first + timing.activity_duration(rng), created), created=created,
            evidence=evidence_for(ctx, s.technique, s.tactic, surface, info.os or "windows", sw, wt[0], wt[1]),
            actor=rng.choice(actor_names) if actor_names and rng.random() < 0.12 else None,
            threat_display=display, threat_family=family, created_at=wt[0],
        )
        h = handle(ctx, sev, created, surface=surface, skill=s.technique in plan.skill_set, noise=False,
                   forgotten=forgotten, owner=owner)
        pending.append((spec, h, surface, OUTCOME_VERDICT.get(h.outcome, ("truePositive", determination))))
        alert_ids[j] = spec.id
        outcomes[j] = h.outcome
    ips, domains = ensure_infrastructure(ctx, [p[0].evidence for p in pending], itype != INSIDER)
    alerts = [make_alert(ctx, plan.incident_id(index), *p) for p in pending]
    handlings = [p[1] for p in pending]
    if rng.random() < MISJUDGED_INCIDENTS:
        verdict = ("falsePositive", "notEnoughDataToValidate")
    else:
        verdict = ("truePositive", determination)
    truth_steps = [
        Step(technique=s.technique, name=cat.techniques[s.technique].full_name, tactic=s.tactic,
             tactic_id=cat.tactic_ids[s.tactic], surface=surfaces[j], planted=s.planted,  # type: ignore[arg-type]
             activity=dt(at(offs[j])), detected=detected[j], alert_ids=[alert_ids[j]] if alert_ids[j] else [],
             software=step_soft[j], outcome=outcomes[j], found_in_investigation=False)  # type: ignore[arg-type]
        for j, s in enumerate(steps)
    ]
    actor_ref = ActorRef(kind=actor.kind, id=actor.id, name=actor.name) if actor else None  # type: ignore[arg-type]
    used = sorted({s for s in step_soft if s})
    software = [SoftwareRef(id=s, name=cat.software[s].name) for s in used]
    return _finish(ctx, "true_positive", itype, alerts, handlings, truth_steps, verdict, owner,
                   actor=actor_ref, cluster=cluster.id if cluster else None, detector=None, software=software,
                   t_first=at(offs[0]), infrastructure=(ips, domains))


def _noise(ctx: Ctx) -> Built:
    rng, plan, cat, index = ctx.rng, ctx.plan, ctx.plan.cat, ctx.index
    det = rng.choices(plan.noisy, [d.spec.weight for d in plan.noisy])[0]
    spec_ = det.spec
    fp = rng.random() < spec_.fp_share
    tech = det.technique
    tactic = cat.primary_tactic(tech) if tech else None
    ctx.ips, ctx.domains = [incident_ip(index)], [domain_name(1_000_000 + index, plan.seed)]
    created = plan.times[index]
    first = created - timing.lognormal(rng, 10 * timing.MINUTE, 1.0, timing.DAY)
    source = SOURCES[spec_.source]
    wt = when(created)
    owner = rng.choice(plan.analysts)
    spec = AlertSpec(
        id=alert_id(ctx, source.prefix, created, 0), source=source, title=spec_.title,
        description=f"Custom rule '{spec_.title}' matched.", category=cat.category(tactic) if tactic else
        "SuspiciousActivity", severity=spec_.severity, detector_id=det.detector_id, technique=tech, first=first,
        last=min(first + timing.activity_duration(rng), created), created=created,
        evidence=evidence_for(ctx, tech or "", tactic or "execution", spec_.surface, "windows", None, wt[0], wt[1]),
        created_at=wt[0],
    )
    h = handle(ctx, spec_.severity, created, surface=spec_.surface, skill=False, noise=True,
               forgotten=rng.random() < FORGOTTEN_SHARE, owner=owner)
    if fp:
        cls = ("falsePositive", "notMalicious" if rng.random() < 0.9 else "other")
    else:
        cls = ("informationalExpectedActivity", rng.choice(spec_.benign))
    alert = make_alert(ctx, plan.incident_id(index), spec, h, spec_.surface, cls)
    steps = [Step(technique=tech, name=cat.techniques[tech].full_name, tactic=tactic or "",
                  tactic_id=cat.tactic_ids.get(tactic or "", ""), surface=spec_.surface, planted="noise",
                  activity=dt(first), detected=True, alert_ids=[spec.id], software=None,
                  outcome=h.outcome, found_in_investigation=False)] if tech else []  # type: ignore[arg-type]
    return _finish(ctx, "false_positive" if fp else "benign_positive", spec_.incident_type, [alert], [h], steps,
                   cls, owner, actor=None, cluster=None, detector=det.detector_id, software=[], t_first=first,
                   infrastructure=([], []))


def _finish(ctx: Ctx, kind: str, itype: str, alerts: list, handlings: list[Handling], steps: list[Step],
            verdict: tuple[str, str], owner: str, *, actor: ActorRef | None, cluster: str | None,
            detector: str | None, software: list[SoftwareRef], t_first: float,
            infrastructure: tuple[list[str], list[str]]) -> Built:
    """Incident-level handling, comments, title and the truth record."""
    rng, plan, index = ctx.rng, ctx.plan, ctx.index
    end = plan.t_end
    iid = plan.incident_id(index)
    t_alert = min(a.created.timestamp() for a in alerts)
    created = t_alert + min(rng.uniform(5, 120), (end - t_alert) / 2)
    if all(h.owner == AUTOMATION for h in handlings):
        owner = AUTOMATION
    ack = min(h.ack for h in handlings)
    resolved = max(h.resolved for h in handlings)  # the incident closes with its last alert
    acked, closed = ack <= end, resolved <= end
    status = "resolved" if closed else "inProgress" if acked else "active"
    comments: list[Comment] = []
    if acked and owner != AUTOMATION:
        comments.append(Comment(text=f"Assigned to {owner}; triage started.", author=owner, created=dt(ack)))
    missed = [s for s in steps if not s.detected]
    if kind == "true_positive" and missed and acked and rng.random() < 0.5:
        t_note = ack + ((min(resolved, end) - ack) * 0.5 if closed else min(2 * timing.HOUR, (end - ack) / 2))
        for s in missed:
            s.found_in_investigation = True
        comments.append(Comment(
            text="Investigation found activity that raised no alert: "
                 + "; ".join(f"{s.technique} ({s.name})" for s in missed) + ".", author=owner, created=dt(t_note)))
    resolving = None
    if closed:
        resolving = RESOLUTION[itype] if kind == "true_positive" else (
            "False positive: the rule matched legitimate activity." if kind == "false_positive"
            else "Benign positive: expected activity, confirmed with the asset owner.")
        comments.append(Comment(text=resolving, author=owner, created=dt(resolved)))
    severity = max((a.severity.value for a in alerts), key=SEVERITIES.index)
    tags = [TAGS[itype]] if kind == "true_positive" and rng.random() < 0.35 else []
    incident = Incident(
        id=iid, tenant_id=plan.env.tenant_id, title=_title(ctx, alerts), severity=Severity(severity),
        status=_STATUS[status], classification=Classification(verdict[0]) if closed else None,
        determination=Determination(verdict[1]) if closed else None, assigned_to=owner if acked else None,
        last_modified_by=owner if acked else None, resolving_comment=resolving,
        web_url=f"https://security.microsoft.com/incidents/{iid}?tid={plan.env.tenant_id}",
        priority_score=_priority(ctx, severity), created=dt(created),
        last_updated=dt(max(t for t in (created, ack, resolved, max(a.last_updated.timestamp() for a in alerts))
                            if t <= end)),
        custom_tags=tuple(tags), comments=tuple(sorted(comments, key=lambda c: c.created)), alerts=tuple(alerts),
    )
    if ctx.hostile:
        incident = harden(ctx, incident)
    truth = TruthIncident(
        id=iid, kind=kind, incident_type=itype, actor=actor, cluster=cluster, detector=detector,  # type: ignore[arg-type]
        hostile=ctx.hostile, software=software, ips=infrastructure[0], domains=infrastructure[1], steps=steps,
        first_activity=dt(t_first),
        first_alert=dt(t_alert), acknowledged=dt(ack) if acked else None, resolved=dt(resolved) if closed else None,
        status=status, severity=severity, classification=verdict[0] if closed else None,
        determination=verdict[1] if closed else None, owner=owner if acked else None,
        unremediated=[EntityRef(type="ip" if t == "internal_ip" else t, key=k) for t, k in ctx.unremediated],
    )
    return Built(incident, truth, ctx.evidence)


def _priority(ctx: Ctx, severity: str) -> int:
    low, high = {"high": (70, 95), "medium": (35, 75), "low": (10, 40), "informational": (0, 15)}[severity]
    return ctx.rng.randint(low, high)


def _title(ctx: Ctx, alerts: list) -> str:
    """Defender-style incident name from the alerts' categories, devices and sources."""
    devices = {e.device_id for a in alerts for e in a.evidence if e.type == "device" and "destination" not in e.roles}
    users = {e.user_sid for a in alerts for e in a.evidence if e.type == "user"}
    scope = (" on multiple endpoints" if len(devices) > 1 else " on one endpoint" if devices
             else " involving multiple users" if len(users) > 1 else " involving one user")
    if len(alerts) == 1:
        return alerts[0].title + scope
    sources = {a.service_source for a in alerts}
    if any(a.category == "Ransomware" for a in alerts):
        head = "Ransomware activity"
    else:
        cats = list(dict.fromkeys(a.category for a in alerts if a.category not in ("Malware", "Ransomware")))
        labels = [ctx.plan.cat.tactic_label(_tactic_of(c)) for c in cats] or ["Malware"]
        head = "Multi-stage incident involving " + (f"{labels[0]} & {labels[-1]}" if len(labels) > 1 else labels[0])
    return head + scope + (" reported by multiple sources" if len(sources) > 1 else "")


def _tactic_of(category: str) -> str:
    return "".join("-" + ch.lower() if ch.isupper() else ch for ch in category).lstrip("-")
