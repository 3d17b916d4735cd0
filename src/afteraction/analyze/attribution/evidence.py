"""Attribution evidence from incidents: techniques, software mentioned in alert text, actors the provider named.

Software is matched (whole words, names and aliases, rule in :mod:`afteraction.attack.textmatch`) in each
alert's ``threatFamilyName``, ``threatDisplayName``, ``actorDisplayName`` and title, and in the file names,
process command lines of its evidence. ATT&CK *tools* (``cmd``, ``Reg``, ``schtasks``, ``PsExec``...) are
taken only from the alert's own fields, never from file names or command lines, where they are mostly the
operating system's binaries and say nothing about the actor; *malware* is taken from all of them. Every
mention keeps its field, the text that matched and the alert, so the report can show why a software item
is in the evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from afteraction.analyze.attribution.model import (
    Evidence,
    NamedActor,
    ObservedSoftware,
    ObservedTechnique,
    SoftwareMention,
)
from afteraction.analyze.tactics import alert_tactics
from afteraction.errors import UsageError
from afteraction.model import TechniqueStatus

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.model import Alert, Incident

#: mentions kept per software item (further mentions of the same item are not listed)
MAX_MENTIONS = 5
#: evidence fields where only malware (not tools) counts
MALWARE_ONLY_FIELDS = frozenset({"fileName", "processCommandLine"})


def _alert_texts(alert: Alert) -> Iterable[tuple[str, str]]:
    for field, value in (("threatFamilyName", alert.threat_family_name),
                         ("threatDisplayName", alert.threat_display_name),
                         ("actorDisplayName", alert.actor_display_name), ("title", alert.title)):
        if value:
            yield field, value
    for ev in alert.evidence:
        for field, value in (("fileName", ev.file_name), ("processCommandLine", ev.command_line)):
            if value:
                yield field, value


class _Collector:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.techniques: dict[str, int] = {}
        self.unknown: dict[str, None] = {}
        self.software: dict[str, list[SoftwareMention]] = {}
        self.named: dict[str, NamedActor] = {}
        self.tactics: dict[str, None] = {}

    def technique(self, tid: str, alerts: int = 1) -> None:
        resolved = self.kb.resolve(tid)
        tech = self.kb.technique(resolved.id)
        if tech is None or not tech.active:  # unknown to this version, or deprecated with no replacement
            self.unknown[resolved.id] = None
            return
        self.techniques[tech.id] = self.techniques.get(tech.id, 0) + alerts

    def mention(self, sid: str, mention: SoftwareMention) -> None:
        found = self.software.setdefault(sid, [])
        if mention not in found:
            found.append(mention)

    def alert(self, alert: Alert) -> None:
        for ref in alert.techniques:
            if ref.status != TechniqueStatus.INVALID:
                self.technique(ref.id)
        for shortname, _ in alert_tactics(self.kb, alert):
            self.tactics.setdefault(shortname, None)
        for field, text in _alert_texts(alert):
            for m in self.kb.find_software_in_text(text):
                for sid in m.software:
                    soft = self.kb.software.get(sid)
                    if soft is not None and field in MALWARE_ONLY_FIELDS and soft.kind != "malware":
                        continue
                    self.mention(sid, SoftwareMention(field, m.text, alert.id))
        if alert.actor_display_name:
            group = self.kb.group(alert.actor_display_name.strip())
            if group is not None and group.id not in self.named:
                self.named[group.id] = NamedActor(group.id, group.name, alert.actor_display_name, alert.id)

    def evidence(self, incidents: tuple[str, ...]) -> Evidence:
        kb = self.kb
        techs = tuple(ObservedTechnique(tid, kb.techniques[tid].name, kb.techniques[tid].url, n)
                      for tid, n in sorted(self.techniques.items()))
        soft = tuple(ObservedSoftware(sid, kb.software[sid].name, kb.software[sid].kind, kb.software[sid].url,
                                      tuple(ms[:MAX_MENTIONS]))
                     for sid, ms in sorted(self.software.items()) if sid in kb.software)
        return Evidence(incidents=incidents, techniques=techs, software=soft,
                        named_actors=tuple(sorted(self.named.values(), key=lambda a: a.group_id)),
                        unknown_techniques=tuple(sorted(self.unknown)), tactic_order=tuple(self.tactics))


def from_incidents(kb: KnowledgeBase, incidents: Iterable[Incident],
                   extra_techniques: Iterable[str] = ()) -> Evidence:
    """Evidence of one or more incidents; ``extra_techniques`` are ones analysts recorded (annotations)."""
    col = _Collector(kb)
    incidents = list(incidents)
    alerts = sorted((a for inc in incidents for a in inc.alerts), key=_alert_order)
    for alert in alerts:
        col.alert(alert)
    for tid in extra_techniques:
        col.technique(tid, alerts=0)
    return col.evidence(tuple(inc.id for inc in incidents))


def _alert_order(alert: Alert) -> tuple[bool, str, str]:
    return (alert.created is None, alert.created.isoformat() if alert.created else "", alert.id)


def from_lists(kb: KnowledgeBase, techniques: Iterable[str] = (), software: Iterable[str] = ()) -> Evidence:
    """Evidence from explicit technique ids and software ids, names or aliases (unknown ones are reported)."""
    col = _Collector(kb)
    for raw in techniques:
        col.technique(raw)
    missing: list[str] = []
    for raw in software:
        found = kb.software_by_name(raw) or [s for s in (kb.get_software(raw),) if s is not None]
        if not found:
            missing.append(raw)
        for s in found:
            col.mention(s.id, SoftwareMention("query", raw))
    ev = col.evidence(())
    if missing:
        raise UsageError(f"no ATT&CK software matches: {', '.join(missing)} "
                         "(use an id such as S0154, a name or an alias)")
    return ev


__all__ = ["MALWARE_ONLY_FIELDS", "MAX_MENTIONS", "from_incidents", "from_lists"]
