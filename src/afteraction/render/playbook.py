"""The runbook: a remediation :class:`~afteraction.playbooks.model.Plan` for people, as HTML and Markdown.

Responders work through it in order and sign each step off: a header that says what the plan is for, a
"before you start" section (notes, API permissions, the yes/no decisions), one section per NIST phase with
numbered steps (condition, reason, instructions, targets, ATT&CK references, how to verify, how to automate),
then the techniques and mitigations the plan answers. Both formats are printable and need no script.

Plan text is hostile (incident titles, target labels and values, ATT&CK text): HTML values pass the shared
environment's finalize and autoescape, Markdown values :func:`~afteraction.render.markdown.escape`; the
pieces assembled here are escaped before they become :class:`~afteraction.render.markdown.Md`. Only
http(s) URLs become links; the ``links`` of the HTML page are relative or http(s) hrefs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from afteraction.playbooks.catalog import ACTIONS, SERVICE_NAMES, SERVICES
from afteraction.playbooks.model import (
    PHASE_TITLES,
    PHASES,
    Condition,
    MitigationRef,
    Plan,
    PlanStep,
    Target,
    TechniqueRef,
)
from afteraction.render import fmt
from afteraction.render.markdown import Md, escape, link

#: Labels of the related files the site links from a runbook, in display order; other keys use fmt.label.
LINK_LABELS: dict[str, str] = {
    "review": "Incident review",
    "cacao": "CACAO 2.0 playbook (JSON)",
    "logicapp": "Azure Logic Apps workflow (ARM template)",
    "powerautomate": "Power Automate flow",
    "json": "Plan (JSON)",
}
KIND_WORDS: dict[str, str] = {"device": "devices", "user": "accounts", "mailbox": "mailboxes", "ip": "IP addresses",
                              "url": "URLs", "domain": "domains", "file": "file hashes", "message": "email messages"}
KIND_LABELS: dict[str, str] = {"device": "Device", "user": "Account", "mailbox": "Mailbox", "ip": "IP address",
                               "url": "URL", "domain": "Domain", "file": "File hash", "message": "Email message"}
SCOPE_TEXT: dict[str, str] = {"incident": "Incident", "techniques": "ATT&CK techniques", "type": "Incident type"}
_SAFE_SEGMENT = "@"  # besides letters, digits and "-._~": user principal names stay readable


@dataclass(frozen=True)
class Automate:
    """How a step's request looks: method, URL (target filled in when there is exactly one), body, permission."""

    method: str
    url: str
    service: str
    permission: str
    docs: str | None
    body: str | None  # JSON text, HTML-safe (no < > &), ASCII only
    per_target: bool  # the request runs once per target ({target} left in place)


@dataclass(frozen=True)
class StepView:
    """One step as the runbook shows it, with its number across the whole plan."""

    number: int
    step: PlanStep
    condition: str | None
    target_words: str | None  # "accounts": what the step acts on, when its targets are not listed
    techniques: tuple[TechniqueRef, ...]
    mitigations: tuple[MitigationRef, ...]
    verify: str
    automate: Automate | None


@dataclass(frozen=True)
class Decision:
    """A yes/no question asked once, with the steps that run on each answer."""

    variable: str
    question: str
    yes: tuple[int, ...]
    no: tuple[int, ...]


@dataclass(frozen=True)
class Permission:
    """An application permission the automated steps need, and which steps need it."""

    service: str
    base_url: str
    permission: str
    steps: tuple[int, ...]


def condition_text(condition: Condition | None) -> str | None:
    """``Only if: <question> — answer Yes`` (or No, when the step is the "no" branch)."""
    if condition is None:
        return None
    return f"Only if: {condition.question} — answer {'Yes' if condition.expect else 'No'}"


def _fill(text: str, target: str | None) -> str:
    return text if target is None else text.replace("{target}", target)


def _fill_body(value: Any, target: str | None) -> Any:
    if isinstance(value, str):
        return _fill(value, target)
    if isinstance(value, dict):
        return {k: _fill_body(v, target) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_body(v, target) for v in value]
    return value


def _json(value: Any) -> str:
    """JSON with one top-level member a line (nested values compact), ASCII only and without < > &."""
    if isinstance(value, dict) and value:
        lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in value.items()]
        text = "{\n" + ",\n".join(lines) + "\n}"
    else:
        text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def automate(step: PlanStep) -> Automate | None:
    """The request that automates ``step`` (None for manual steps or actions without an API)."""
    action = ACTIONS.get(step.action)
    if not step.automated or action is None or action.api is None:
        return None
    api = action.api
    single = step.targets[0].value if len(step.targets) == 1 else None
    path = _fill(api.path, quote(single, safe=_SAFE_SEGMENT) if single is not None else None)
    per_target = single is None and "{target}" in (api.path + json.dumps(api.body or {}))
    return Automate(
        method=api.method, url=SERVICES.get(api.service, "") + path,
        service=SERVICE_NAMES.get(api.service, api.service), permission=api.permission,
        docs=fmt.http_url(api.docs), body=_json(_fill_body(api.body, single)) if api.body else None,
        per_target=per_target)


def step_views(plan: Plan) -> dict[str, list[StepView]]:
    """The plan's steps by phase (every phase of PHASES, in order), numbered 1.. across the plan."""
    techniques = {t.id: t for t in plan.techniques}
    mitigations = {m.id: m for m in plan.mitigations}
    views: dict[str, list[StepView]] = {phase: [] for phase in PHASES}
    ordered = [s for phase in PHASES for s in plan.phase_steps(phase)]
    ordered += [s for s in plan.steps if s.phase not in PHASES]  # unknown phases last, never dropped
    for number, step in enumerate(ordered, 1):
        action = ACTIONS.get(step.action)
        views.setdefault(step.phase, []).append(StepView(
            number=number, step=step, condition=condition_text(step.condition),
            target_words=KIND_WORDS.get(action.target_kind or "") if action else None,
            techniques=tuple(techniques.get(t) or TechniqueRef(id=t) for t in step.techniques),
            mitigations=tuple(mitigations.get(m) or MitigationRef(id=m, name="") for m in step.mitigations),
            verify=action.verify if action else "", automate=automate(step)))
    return views


def phase_title(phase: str) -> str:
    """The phase's title (unknown phases read as their label)."""
    return PHASE_TITLES.get(phase) or fmt.label(phase)


def decisions(views: dict[str, list[StepView]]) -> list[Decision]:
    """The distinct conditions (by variable, in step order) with the steps each answer runs."""
    found: dict[str, tuple[str, list[int], list[int]]] = {}
    for view in (v for vs in views.values() for v in vs):
        cond = view.step.condition
        if cond is None:
            continue
        _, yes, no = found.setdefault(cond.variable, (cond.question, [], []))
        (yes if cond.expect else no).append(view.number)
    return [Decision(var, q, tuple(yes), tuple(no)) for var, (q, yes, no) in found.items()]


def permissions(views: dict[str, list[StepView]]) -> list[Permission]:
    """The permissions of the automated steps, grouped by service (sorted by service, then permission)."""
    found: dict[tuple[str, str], list[int]] = {}
    for view in (v for vs in views.values() for v in vs):
        action = ACTIONS.get(view.step.action)
        if view.automate is None or action is None or action.api is None or not action.api.permission:
            continue
        found.setdefault((action.api.service, action.api.permission), []).append(view.number)
    return [Permission(SERVICE_NAMES.get(svc, svc), SERVICES.get(svc, ""), perm, tuple(steps))
            for (svc, perm), steps in sorted(found.items(), key=lambda i: (SERVICE_NAMES.get(i[0][0], i[0][0]),
                                                                           i[0][1]))]


def steps_text(numbers: tuple[int, ...]) -> str:
    """``step 3`` or ``steps 1, 4``."""
    if not numbers:
        return "no step"
    return ("step " if len(numbers) == 1 else "steps ") + ", ".join(str(n) for n in numbers)


def scope_text(plan: Plan) -> str:
    """What the plan was built from, in words (plain text; the templates escape it)."""
    if plan.scope == "incident":
        ident = ":".join(p for p in (plan.source, plan.incident_id) if p)
        return f"Incident {ident}" if ident else "Incident"
    if plan.scope == "techniques":
        return "ATT&CK techniques " + ", ".join(t.id for t in plan.techniques)
    if plan.scope == "type":
        return f"Template for {plan.incident_type_label.lower()} incidents (targets are inputs)"
    return fmt.label(plan.scope)


def related_links(links: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """``(label, href)`` for the safe hrefs of ``links`` (relative or http(s)), known keys first."""
    safe = {key: href for key, value in (links or {}).items() if (href := fmt.relative_href(value))}
    order = [k for k in LINK_LABELS if k in safe] + sorted(k for k in safe if k not in LINK_LABELS)
    return [(LINK_LABELS.get(key) or fmt.label(key), safe[key]) for key in order]


_Refs = dict[str, tuple[int, ...]]


def _step_refs(views: dict[str, list[StepView]]) -> tuple[_Refs, _Refs]:
    """Technique and mitigation ids to the numbers of the steps that answer or implement them."""
    by_tech: dict[str, list[int]] = {}
    by_mit: dict[str, list[int]] = {}
    for view in (v for vs in views.values() for v in vs):
        for t in view.step.techniques:
            by_tech.setdefault(t, []).append(view.number)
        for m in view.step.mitigations:
            by_mit.setdefault(m, []).append(view.number)
    return ({k: tuple(v) for k, v in by_tech.items()}, {k: tuple(v) for k, v in by_mit.items()})


def _context(plan: Plan) -> dict[str, Any]:
    views = step_views(plan)
    by_tech, by_mit = _step_refs(views)
    return {
        "plan": plan,
        "views": views,
        "phases": list(views),
        "phase_title": phase_title,
        "decisions": decisions(views),
        "permissions": permissions(views),
        "steps_text": steps_text,
        "scope": scope_text(plan),
        "automated": sum(1 for vs in views.values() for v in vs if v.automate),
        "tech_steps": by_tech,
        "mit_steps": by_mit,
        "kind_label": lambda kind: KIND_LABELS.get(kind) or fmt.label(kind),
    }


def render_runbook_html(plan: Plan, *, links: Mapping[str, str] | None = None) -> str:
    """The runbook as one self-contained, printable HTML page (no script); ``links`` maps keys such as
    ``review``, ``cacao`` and ``logicapp`` to relative or http(s) hrefs of related files (others are dropped)."""
    from afteraction.render.html import environment

    context = {
        **_context(plan),
        "generated": plan.generated or plan.created,
        "attack_version": plan.attack_version,
        "script_src": "'none'",
        "links": related_links(links),
        "review_href": fmt.relative_href((links or {}).get("review")),
    }
    return environment().get_template("playbook.html.j2").render(context)


# ---------------------------------------------------------------------------------------------- Markdown

def md_code(text: str) -> Md:
    """``text`` as an inline code span on one line, fenced so that no backtick inside can close it."""
    value = " ".join(fmt.clean(text, keep_newlines=False).split())
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return Md(f"{fence}{pad}{value}{pad}{fence}")


def md_block(text: str, info: str = "", indent: int = 0) -> Md:
    """``text`` as a fenced code block (each line indented by ``indent`` spaces) whose fence is longer than
    any backtick run inside it."""
    value = fmt.clean(text)
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * max(3, longest + 1)
    pad = " " * indent
    return Md("\n".join(pad + line for line in [fence + info, *value.splitlines(), fence]))


def md_technique(t: TechniqueRef) -> Md:
    """Technique id linked to ATT&CK (http(s) only) and its name."""
    return Md(f"{link(t.id, t.url)} {escape(t.name)}" if t.name else link(t.id, t.url))


def md_mitigation(m: MitigationRef) -> Md:
    """Mitigation id linked to ATT&CK (http(s) only) and its name."""
    return Md(f"{link(m.id, m.url)} {escape(m.name)}" if m.name else link(m.id, m.url))


def md_targets(targets: tuple[Target, ...]) -> Md:
    """The targets as a table; every cell escaped on one line; not-API-ready targets flagged."""
    rows = ["| Kind | Target | Identifier |", "| --- | --- | --- |"]
    for t in targets:
        value = escape(t.value) if t.value else Md("—")
        flag = "" if t.api_ready else " **(identify manually)**"
        rows.append(f"| {escape(KIND_LABELS.get(t.kind) or fmt.label(t.kind))} | {escape(t.label)} | {value}{flag} |")
    return Md("\n".join(rows))


def render_runbook_markdown(plan: Plan) -> str:
    """The runbook as GitHub-flavoured Markdown, with a ``- [ ]`` sign-off per step."""
    from afteraction import __version__
    from afteraction.render.markdown import environment

    context = {**_context(plan), "version": __version__, "md_code": md_code, "md_block": md_block,
               "md_technique": md_technique, "md_mitigation": md_mitigation, "md_targets": md_targets}
    text = environment().get_template("playbook.md.j2").render(context)
    return re.sub(r"\n{3,}", "\n\n", text)


__all__ = ["render_runbook_html", "render_runbook_markdown"]
