"""One alert: identity, product fields, severity, handling (triage, resolution, classification) and comments.

Handling depends on severity only, times the planted skill-gap factors for the alert's technique; the
classification outcome is drawn from the baseline or the skill-gap rates. See :mod:`afteraction.synth.timing`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from afteraction.model import (
    Alert,
    AlertStatus,
    Classification,
    Comment,
    Determination,
    Evidence,
    Severity,
    TechniqueRef,
)
from afteraction.synth import timing
from afteraction.synth.catalog import CLOUD_APP, CLOUD_IDENTITY, DLP, ENDPOINT, IDENTITY, MAIL
from afteraction.synth.detection import Source
from afteraction.synth.export import gtime

if TYPE_CHECKING:
    from afteraction.synth.artifacts import Ctx

SEVERITIES = ("informational", "low", "medium", "high")
_TACTIC_SEVERITY = {
    "initial-access": 2, "execution": 2, "persistence": 2, "privilege-escalation": 3, "defense-evasion": 2,
    "credential-access": 3, "discovery": 1, "lateral-movement": 3, "collection": 2, "command-and-control": 3,
    "exfiltration": 3, "impact": 3,
}  # fmt: skip
RECOMMENDED = {
    ENDPOINT: "Isolate the device if the activity is confirmed; collect an investigation package; block the file.",
    IDENTITY: "Reset the account's password and review its recent authentications and group changes.",
    CLOUD_IDENTITY: "Confirm the sign-in with the user; if compromised, revoke sessions and reset credentials.",
    CLOUD_APP: "Review the user's recent cloud activity; remove unknown rules, apps and permissions.",
    MAIL: "Purge the message from all mailboxes; block the sender and the URLs; check who clicked.",
    DLP: "Review the file's sensitivity and the user's recent activity with their manager and HR.",
}
AUTOMATION = "Automation"
AUTOMATION_SHARE = 0.10  # endpoint and mail true-positive alerts closed by automated investigation
_SEV = {s.value: s for s in Severity}
_CLS = {c.value: c for c in Classification}
_DET = {d.value: d for d in Determination}
_TECHS: dict[str, tuple[TechniqueRef, ...]] = {}
TRIAGE_NOTES = ("Triage started.", "Reviewed the process tree and timeline.", "Checked sign-in logs.",
                "Escalated to tier 2.", "Contacted the user to confirm.", "Reviewed related alerts.")
OUTCOME_CLASS = {
    "correct": "truePositive", "reclassified": "truePositive", "automation": "truePositive",
    "insufficient_data": "falsePositive", "unknown": "unknown",
}


def dt(ts: float) -> datetime:
    """POSIX seconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def techniques(tech: str | None) -> tuple[TechniqueRef, ...]:
    """The alert's ``mitreTechniques`` (one shared tuple per technique)."""
    if not tech:
        return ()
    refs = _TECHS.get(tech)
    if refs is None:
        refs = _TECHS[tech] = (TechniqueRef(raw=tech, id=tech),)
    return refs


def severity_for(ctx: Ctx, tactic: str) -> str:
    """Severity from the tactic, one level up or down now and then."""
    level = _TACTIC_SEVERITY.get(tactic, 2)
    u = ctx.rng.random()
    level += -1 if u < 0.15 else 1 if u > 0.85 else 0
    return SEVERITIES[min(max(level, 0), 3)]


def alert_id(ctx: Ctx, prefix: str, created: float, seq: int) -> str:
    """Defender-style ids: ``da<.NET ticks>_<int>`` for endpoint, a GUID with the product prefix otherwise."""
    rng = ctx.rng
    if prefix in ("da", "ed"):
        ticks = int(created * 10_000_000) + 621_355_968_000_000_000 + seq
        return f"{prefix}{ticks}_{rng.randrange(-(2**31), 2**31)}"
    h = f"{rng.getrandbits(128):032x}"
    return f"{prefix}{h[2:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Handling(NamedTuple):
    """When an alert was triaged and resolved (POSIX seconds; inf = not yet) and how it was judged."""

    ack: float
    resolved: float
    outcome: str
    owner: str


def handle(ctx: Ctx, severity: str, created: float, *, surface: str, skill: bool, noise: bool,
           forgotten: bool, owner: str) -> Handling:
    """Draw triage and resolution times and the classification outcome of one alert."""
    rng, plan = ctx.rng, ctx.plan
    end = plan.t_end
    if not noise and surface in (ENDPOINT, MAIL) and rng.random() < AUTOMATION_SHARE:
        done = created + timing.lognormal(rng, timing.AUTOMATION_RESOLVE, 0.8, 12 * timing.HOUR)
        return Handling(done, done, "automation" if done <= end else "open", AUTOMATION)
    ack_f, res_f = (plan.skill_ack, plan.skill_resolve) if skill else (1.0, 1.0)
    if noise:
        res_f = timing.NOISE_RESOLVE_FACTOR
    ack = created + timing.ack_delay(rng, severity, ack_f)
    resolved = float("inf") if forgotten else ack + timing.resolve_delay(rng, severity, res_f)
    if resolved > end:
        return Handling(ack, resolved, "open", owner)
    if noise:
        return Handling(ack, resolved, "correct", owner)
    rates = plan.skill_outcomes if skill else plan.base_outcomes
    u = rng.random()
    outcome = "correct"
    for name, share in rates.items():
        u -= share
        if u < 0:
            outcome = name
            break
    return Handling(ack, resolved, outcome, owner)


class AlertSpec(NamedTuple):
    """What an alert says, before its handling."""

    id: str
    source: Source
    title: str
    description: str
    category: str
    severity: str
    detector_id: str
    technique: str | None
    first: float
    last: float
    created: float
    evidence: list[Evidence]
    actor: str | None = None
    threat_display: str | None = None
    threat_family: str | None = None
    web_url: str | None = None
    created_at: datetime | None = None  # ``created`` as a datetime, when the caller has it already


def make_alert(ctx: Ctx, incident_id: str, spec: AlertSpec, h: Handling, surface: str,
               cls: tuple[str | None, str | None]) -> Alert:
    """The canonical alert as the export shows it at the end of the period."""
    end = ctx.plan.t_end
    tenant = ctx.plan.env.tenant_id
    acked, resolved = h.ack <= end, h.resolved <= end
    status = AlertStatus.RESOLVED if resolved else AlertStatus.IN_PROGRESS if acked else AlertStatus.NEW
    comments: list[Comment] = []
    if acked and h.owner != AUTOMATION and ctx.rng.random() < 0.5:
        comments.append(Comment(text=ctx.rng.choice(TRIAGE_NOTES), author=h.owner, created=dt(h.ack)))
    if h.outcome == "reclassified":
        comments.append(Comment(
            text="Classification changed from falsePositive to truePositive: further investigation confirmed "
                 "the activity was malicious.", author=h.owner, created=dt(h.resolved)))
    elif h.outcome == "automation":
        comments.append(Comment(text="Automated investigation remediated the threat.", author=AUTOMATION,
                                created=dt(h.resolved)))
    last_update = h.resolved if resolved else h.ack if acked else spec.created
    state = None
    if spec.source.service in ("microsoftDefenderForEndpoint", "microsoftDefenderForOffice365"):
        state = ("successfullyRemediated" if h.outcome == "automation" else
                 "terminatedByUser" if resolved else "pendingApproval" if acked else "running")
    classification, determination = cls if resolved else (None, None)
    return Alert(
        id=spec.id, incident_id=incident_id, provider_alert_id=spec.id, tenant_id=tenant, title=spec.title,
        description=spec.description, recommended_actions=RECOMMENDED.get(surface),
        severity=_SEV[spec.severity], status=status,
        classification=_CLS[classification] if classification else None,
        determination=_DET[determination] if determination else None,
        service_source=spec.source.service, detection_source=spec.source.detection, detector_id=spec.detector_id,
        product_name=spec.source.product, category=spec.category, categories=(spec.category,),
        techniques=techniques(spec.technique), actor_display_name=spec.actor,
        threat_display_name=spec.threat_display, threat_family_name=spec.threat_family,
        assigned_to=h.owner if acked else None, investigation_state=state,
        web_url=spec.web_url or f"https://security.microsoft.com/alerts/{spec.id}?tid={tenant}",
        created=spec.created_at or dt(spec.created), last_updated=dt(last_update),
        resolved=dt(h.resolved) if resolved else None, first_activity=dt(spec.first),
        last_activity=dt(spec.last), comments=tuple(comments),
        evidence=tuple(spec.evidence),
    )


def when(ts: float) -> tuple[datetime, str]:
    """A time as datetime and as Graph text."""
    d = dt(ts)
    return d, gtime(d) or ""


SURFACE_LABEL = {ENDPOINT: "endpoint", IDENTITY: "identity", CLOUD_IDENTITY: "identity", CLOUD_APP: "cloud",
                 MAIL: "mail", DLP: "data"}
