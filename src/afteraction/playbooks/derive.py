"""Build a remediation :class:`Plan` from an incident review, a technique set or an incident type.

Three sources decide the steps: the incident type's template (``rules.TYPE_ACTIONS``), the ATT&CK
techniques seen (``rules.TECHNIQUE_ACTIONS``, matched on the technique or its parent), and the review's
evidence (devices, accounts, addresses, URLs, files and messages with a malicious or suspicious verdict or a
compromised, attacker or command-and-control role). The evidence also supplies each step's targets. Hardening
comes from the ATT&CK mitigations of the techniques. A plan for a technique set or a type has no targets:
the playbooks take them as inputs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from afteraction.analyze.review.incident_type import TYPES
from afteraction.analyze.review.recommend import mitigations as attack_mitigations
from afteraction.errors import UsageError
from afteraction.playbooks.catalog import ACTIONS, FILE_HASH_TYPES
from afteraction.playbooks.model import (
    PHASES,
    PLAN_SCHEMA_VERSION,
    MitigationRef,
    Plan,
    PlanStep,
    Target,
    TechniqueRef,
)
from afteraction.playbooks.rules import (
    MAX_MITIGATION_STEPS,
    MITIGATION_ACTIONS,
    TECHNIQUE_ACTIONS,
    TYPE_ACTIONS,
    condition_for,
)

if TYPE_CHECKING:
    from afteraction.analyze.review.model import Entity, MitigationRec, Review
    from afteraction.attack.kb import KnowledgeBase

_THREAT_VERDICTS = frozenset({"malicious", "suspicious"})
_THREAT_ROLES = frozenset({"compromised", "attacker", "commandAndControl"})
_BENIGN = frozenset({"falsePositive", "informationalExpectedActivity"})
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_MDE_ID = re.compile(r"^[0-9a-fA-F]{40}$")  # Defender for Endpoint machine ids are 40 hex digits
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# What an API may take in a URL path: a user principal name or object id, a mailbox address (no "/", "?",
# "#", "%", spaces or control characters, so a value cannot change the request it is put into).
_PATH_SAFE = re.compile(r"^[A-Za-z0-9@._'+-]{1,256}$")
_KIND_WORDS = {"device": "device", "user": "account", "mailbox": "mailbox", "ip": "public IP address",
               "url": "URL", "domain": "domain", "file": "file hash", "message": "email message"}


@dataclass
class _Need:
    sources: list[str] = field(default_factory=list)
    techniques: set[str] = field(default_factory=set)

    def add(self, source: str, technique: str | None = None) -> None:
        if source not in self.sources:
            self.sources.append(source)
        if technique:
            self.techniques.add(technique)


@dataclass
class _Targets:
    by_kind: dict[str, dict[str, Target]] = field(default_factory=dict)
    user_compromised: bool = False
    notes: list[str] = field(default_factory=list)

    def add(self, target: Target) -> None:
        self.by_kind.setdefault(target.kind, {}).setdefault(target.value.lower(), target)

    def of(self, kind: str | None) -> tuple[Target, ...]:
        return tuple(self.by_kind.get(kind, {}).values()) if kind else ()


def plan_for_review(review: Review, kb: KnowledgeBase) -> Plan:
    """The remediation plan of one reviewed incident, with targets from its evidence."""
    head = review.header
    kind = review.incident_type.type
    needs: dict[str, _Need] = {}
    targets = _Targets()
    benign = head.classification in _BENIGN
    if benign:
        targets.notes.append(f"The incident is classified {head.classification}: no evidence is treated as a "
                             "threat, so the plan has no targets from it.")
    else:
        for entity in review.entities:
            for action in _entity_actions(entity, targets, kind):
                needs.setdefault(action, _Need()).add("evidence")
    techniques = _review_techniques(review)
    _add_template_and_techniques(needs, kind, techniques)
    steps = _steps(needs, targets, kind, concrete=True, mitigations=review.recommendations.mitigations)
    dropped = [] if benign else [a for a in needs
                                 if ACTIONS[a].target_kind and not targets.of(ACTIONS[a].target_kind)]
    notes = [*targets.notes, *(_dropped_note(a) for a in sorted(dropped, key=list(ACTIONS).index))]
    label = review.incident_type.label
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION, key=f"incident:{head.source}:{head.id}", scope="incident",
        name=f"Remediation of incident {head.id}: {head.title}",
        description=(f"Containment, eradication, recovery and hardening for {label.lower()} incident "
                     f"{head.source}:{head.id}, drawn from its review: evidence, ATT&CK techniques and the "
                     f"{label.lower()} template. Review every step before running it."),
        created=_utc(head.last_updated or head.created or review.generated), incident_type=kind,
        incident_type_label=label, source=head.source,
        incident_id=head.id, incident_title=head.title, severity=head.severity, attack_version=kb.version,
        techniques=tuple(_technique_ref(kb, t) for t in techniques),
        mitigations=_mitigation_refs(review.recommendations.mitigations), steps=steps, notes=tuple(notes),
        generated=review.generated)


def plan_for_techniques(techniques: Iterable[str], kb: KnowledgeBase, *, incident_type: str = "other",
                        created: datetime | None = None) -> Plan:
    """A target-free plan for a set of ATT&CK techniques (and optionally an incident type's template)."""
    ids: list[str] = []
    for raw in techniques:
        res = kb.resolve(raw.strip())
        if res.status == "invalid":
            raise UsageError(f"not an ATT&CK technique id: {raw!r}")
        if res.id not in ids:
            ids.append(res.id)
    if not ids:
        raise UsageError("give at least one technique id")
    return _template_plan(kb, ids, _check_type(incident_type), created, scope="techniques",
                          key="techniques:" + ",".join(sorted(ids)))


def plan_for_type(incident_type: str, kb: KnowledgeBase, *, created: datetime | None = None) -> Plan:
    """A target-free plan from an incident type's template."""
    kind = _check_type(incident_type)
    if kind not in TYPE_ACTIONS:
        raise UsageError(f"no playbook template for incident type {kind!r}; templates: "
                         f"{', '.join(sorted(TYPE_ACTIONS))}")
    return _template_plan(kb, [], kind, created, scope="type", key=f"type:{kind}")


def _template_plan(kb: KnowledgeBase, ids: list[str], kind: str, created: datetime | None, *, scope: str,
                   key: str) -> Plan:
    needs: dict[str, _Need] = {}
    _add_template_and_techniques(needs, kind, ids)
    mits = attack_mitigations(kb, ids) if ids else ()
    label = TYPES[kind]
    what = f"ATT&CK techniques {', '.join(ids)}" if ids else f"{label.lower()} incidents"
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION, key=key, scope=scope,
        name=f"Remediation playbook for {what}",
        description=(f"Containment, eradication, recovery and hardening for {what}"
                     + (f" ({label.lower()} template)" if kind in TYPE_ACTIONS and ids else "")
                     + ". The affected devices, accounts and indicators are inputs; review every step before "
                       "running it."),
        created=_utc(created), incident_type=kind, incident_type_label=label, attack_version=kb.version,
        techniques=tuple(_technique_ref(kb, t) for t in ids), mitigations=_mitigation_refs(mits),
        steps=_steps(needs, _Targets(), kind, concrete=False, mitigations=mits))


def _check_type(kind: str) -> str:
    if kind not in TYPES:
        raise UsageError(f"unknown incident type {kind!r}; known: {', '.join(TYPES)}")
    return kind


def _utc(value: datetime | None) -> datetime:
    value = value or datetime.now(UTC)
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


def _add_template_and_techniques(needs: dict[str, _Need], kind: str, techniques: Iterable[str]) -> None:
    for action in TYPE_ACTIONS.get(kind, ()):
        needs.setdefault(action, _Need()).add("template")
    for tid in techniques:
        for key in (tid, tid.split(".")[0]):
            for action in TECHNIQUE_ACTIONS.get(key, ()):
                needs.setdefault(action, _Need()).add("technique", tid)


def _review_techniques(review: Review) -> list[str]:
    seen: list[str] = []
    for stage in review.chain.stages:
        for tech in (*stage.techniques, *stage.undetected):
            if tech.status != "invalid" and tech.id not in seen:
                seen.append(tech.id)
    return sorted(seen)


def _is_threat(entity: Entity) -> bool:
    return entity.verdict in _THREAT_VERDICTS or bool(_THREAT_ROLES & set(entity.roles))


def _entity_actions(entity: Entity, targets: _Targets, kind: str) -> tuple[str, ...]:
    """Register the entity's targets and return the actions it calls for."""
    d, name, ref = entity.details, entity.name, f"{entity.type}:{entity.key}"
    threat = _is_threat(entity)
    if entity.type == "device" and threat:
        device_id = next((x for x in (d.get("device_id"), entity.key) if x and _MDE_ID.match(x)), "")
        targets.add(Target(kind="device", value=device_id or entity.key, label=name, entity=ref,
                           api_ready=bool(device_id)))
        return ("isolate_device", "collect_investigation_package", "run_av_scan", "release_isolation")
    if entity.type == "user" and threat:
        # Graph takes the object id or the UPN; Conditional Access only the object id, so prefer it.
        upn = next((x for x in (d.get("aad_user_id"), d.get("user_principal_name")) if x and _PATH_SAFE.match(x)),
                   None)
        targets.add(Target(kind="user", value=upn or entity.key, label=name, entity=ref, api_ready=bool(upn)))
        targets.user_compromised = True
        return ("revoke_sessions", "reset_password", "review_persistence")
    if entity.type in ("mailbox", "mailboxConfiguration"):
        address = d.get("mailbox_address") or d.get("user_principal_name") or entity.key
        if threat or kind in ("phishing", "business_email_compromise") or entity.type == "mailboxConfiguration":
            safe = bool(_PATH_SAFE.match(address))
            targets.add(Target(kind="mailbox", value=address, label=name, entity=ref, api_ready=safe))
            if kind in ("phishing", "business_email_compromise"):  # recipients may have entered credentials
                targets.add(Target(kind="user", value=address, label=f"{name} (recipient)", entity=ref,
                                   api_ready=safe))
            return ("review_inbox_rules",)
        return ()
    if entity.type == "ip" and threat:
        return _ip_actions(entity, targets, ref)
    if entity.type == "url" and threat:
        targets.add(Target(kind="url", value=entity.key, label=name, entity=ref))
        host = _host(d.get("domain") or entity.key)
        if host:
            targets.add(Target(kind="domain", value=host.lower(), label=host, entity=ref))
        return ("block_url", "block_domain") if host else ("block_url",)
    if entity.type == "file" and threat:
        ready = bool(_HEX.match(entity.key)) and len(entity.key) in FILE_HASH_TYPES
        targets.add(Target(kind="file", value=entity.key, label=name, entity=ref, api_ready=ready))
        return ("quarantine_file",)
    if entity.type == "analyzedMessage" and (threat or kind == "phishing"):
        targets.add(Target(kind="message", value=entity.key, label=name, entity=ref))
        recipient = d.get("recipient")
        if recipient:
            targets.add(Target(kind="mailbox", value=recipient, label=recipient, entity=ref,
                               api_ready=bool(_PATH_SAFE.match(recipient))))
        return ("purge_email", "review_inbox_rules") if recipient else ("purge_email",)
    return ()


def _host(text: str) -> str | None:
    """The host name of a URL or domain, or None when there is none or it is an IP address (a domain
    indicator must be a name; the URL itself is blocked anyway)."""
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname
    except ValueError:
        return None
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


def _ip_actions(entity: Entity, targets: _Targets, ref: str) -> tuple[str, ...]:
    try:
        address = ipaddress.ip_address(entity.key)
    except ValueError:
        targets.notes.append(f"Address {entity.name!r} is not an IP address; it is not blocked.")
        return ()
    if not address.is_global:
        targets.notes.append(f"Address {entity.key} is private or reserved; block it on the internal network "
                             "instead of as an indicator.")
        return ()
    targets.add(Target(kind="ip", value=str(address), label=entity.name, entity=ref))
    return ("block_ip",)


def _steps(needs: dict[str, _Need], targets: _Targets, kind: str, *, concrete: bool,
           mitigations: tuple[MitigationRec, ...]) -> tuple[PlanStep, ...]:
    mitigation_ids = {m.id for m in mitigations}
    for mid, action in MITIGATION_ACTIONS.items():
        if mid in mitigation_ids:
            needs.setdefault(action, _Need()).add("mitigation")
    steps: list[PlanStep] = []
    for name in sorted(needs, key=lambda a: (PHASES.index(ACTIONS[a].phase), list(ACTIONS).index(a))):
        action, need = ACTIONS[name], needs[name]
        chosen = targets.of(action.target_kind)
        if concrete and action.target_kind and not chosen:
            continue
        if name == "enforce_mfa":
            chosen = targets.of("user")
        ready = action.api is not None and all(t.api_ready for t in chosen)
        if name == "enforce_mfa" and concrete:
            # a policy lists the accounts it covers by object id; without them a person scopes it
            ready = bool(chosen) and all(_GUID.match(t.value) for t in chosen)
        steps.append(PlanStep(
            key=f"{action.phase}.{name}", action=name, phase=action.phase, title=action.title,
            instructions=action.instructions, targets=chosen, techniques=tuple(sorted(need.techniques)),
            mitigations=tuple(m for m, a in MITIGATION_ACTIONS.items() if a == name and m in mitigation_ids),
            reason=_reason(need, kind, chosen, action.target_kind),
            condition=condition_for(name, kind, user_compromised=targets.user_compromised),
            automated=ready))
    steps.extend(_mitigation_steps(mitigations))
    return tuple(steps)


def _mitigation_steps(mitigations: tuple[MitigationRec, ...]) -> list[PlanStep]:
    out: list[PlanStep] = []
    for mit in mitigations:
        if mit.id in MITIGATION_ACTIONS or len(out) >= MAX_MITIGATION_STEPS:
            continue
        advice = " ".join(mit.advice) if mit.advice else ACTIONS["apply_mitigation"].instructions
        out.append(PlanStep(
            key=f"hardening.mitigation.{mit.id}", action="apply_mitigation", phase="hardening",
            title=f"Apply mitigation {mit.id} {mit.name}", instructions=advice, techniques=mit.techniques,
            mitigations=(mit.id,),
            reason=f"ATT&CK mitigation for {len(mit.techniques)} technique(s) seen: {', '.join(mit.techniques)}"))
    return out


def _reason(need: _Need, kind: str, chosen: tuple[Target, ...], target_kind: str | None) -> str:
    parts: list[str] = []
    if "evidence" in need.sources and chosen:
        word = _KIND_WORDS.get(target_kind or "", "item")
        parts.append(f"{len(chosen)} {word}{'' if len(chosen) == 1 else 's'} in the evidence")
    if "technique" in need.sources:
        parts.append("technique" + ("s " if len(need.techniques) > 1 else " ") + ", ".join(sorted(need.techniques)))
    if "template" in need.sources:
        parts.append(f"the {TYPES.get(kind, kind).lower()} template")
    if "mitigation" in need.sources:
        parts.append("an ATT&CK mitigation of the techniques seen")
    return "From " + "; ".join(parts) + "." if parts else ""


def _dropped_note(action: str) -> str:
    kind = ACTIONS[action].target_kind or ""
    return f"{ACTIONS[action].title}: no {_KIND_WORDS.get(kind, kind)} in the evidence, so the step is left out."


def _technique_ref(kb: KnowledgeBase, tid: str) -> TechniqueRef:
    tech = kb.technique(tid)
    return TechniqueRef(id=tid, name=tech.name if tech else None, url=(tech.url or None) if tech else None)


def _mitigation_refs(mitigations: tuple[MitigationRec, ...]) -> tuple[MitigationRef, ...]:
    return tuple(MitigationRef(id=m.id, name=m.name, url=m.url, techniques=m.techniques) for m in mitigations)


__all__ = ["plan_for_review", "plan_for_techniques", "plan_for_type"]
