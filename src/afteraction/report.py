"""The static report site: an index of stored incidents; one review page (with a JSON twin) each, next to
the incident's remediation playbook (runbook page, CACAO 2.0 JSON, Logic Apps ARM template); the ATT&CK
coverage page (``coverage.html`` + ``coverage.json``); the incident clusters page with their attribution
shortlists (``attribution.html`` + ``attribution.json``); the trends, skill-gap and process pages; and the
tracked action items (``actions.html`` + ``actions.json``, overdue ones flagged).

Runs the analyses and hands their typed results to the renderers; writes nothing but files under the
chosen directory, so the site opens from disk with no network.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from afteraction.analyze.review import Index, IndexRow, PeerIndex, ReviewContext, incident_facts, review
from afteraction.analyze.review.model import REVIEW_SCHEMA_VERSION, Review
from afteraction.analyze.review.peers import IncidentFacts
from afteraction.model import Incident
from afteraction.render.json import to_json
from afteraction.store.read import load_incidents

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.rules import RuleInventory
    from afteraction.store.db import Store

PAGES = "incidents"
COVERAGE = "coverage"  # DIR/coverage.html and DIR/coverage.json, rewritten by every build
ATTRIBUTION = "attribution"  # DIR/attribution.html and DIR/attribution.json (incident clusters), likewise
ACTIONS = "actions"  # DIR/actions.html and DIR/actions.json (tracked action items), likewise
#: the program pages (DIR/<name>.html and .json, rewritten by every build) and their labels in the index
PROGRAM = (("trends", "Trends"), ("skills", "Skill gaps"), ("process", "Process metrics"))
#: site-level files recorded in the manifest (next to the index, not under PAGES)
SITE_FILES = frozenset({f"{ATTRIBUTION}.html", f"{ATTRIBUTION}.json"})
CHUNK = 250  # incidents read from the store per round of queries
MANIFEST = ".afteraction-site.json"  # the pages the last build wrote, so a rebuild removes only its own
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def page_name(source: str, incident_id: str) -> str:
    """A file name for an incident's page: readable, filesystem-safe and unique per (source, id)."""
    digest = hashlib.sha256(f"{source}\0{incident_id}".encode()).hexdigest()[:10]
    stem = _UNSAFE_NAME.sub("_", incident_id).strip("._")[:60] or "incident"
    return f"{stem}-{digest}"


def build_site(store: Store, kb: KnowledgeBase, directory: Path, *,
               on_page: Callable[[int, int], None] | None = None, now: datetime | None = None,
               rules: RuleInventory | None = None) -> Path:
    """Write ``index.html`` (+ ``index.json``), ``incidents/<page>.html|.json`` with the incident's playbook
    (``<page>.runbook.html``, ``<page>.cacao.json``, ``<page>.logicapp.json``), ``coverage.html|.json``,
    ``attribution.html|.json`` (clusters of related incidents, each with its group shortlist), the program
    pages and ``actions.html|.json``.

    The coverage page covers every stored incident, against the rule inventory ``rules`` when given.
    Returns the index path.

    Pages this function wrote before (listed in ``DIR/.afteraction-site.json``) for incidents no longer
    in the store are removed; no other file is touched.
    """
    from afteraction.render.html import render_index_html, render_review_html

    now = now or datetime.now(UTC)
    facts = incident_facts(store)
    context = ReviewContext(kb, store, now=now, peers=PeerIndex(facts))
    pages = directory / PAGES
    pages.mkdir(parents=True, exist_ok=True)
    rows: list[IndexRow] = []
    written: set[str] = set()
    done = 0
    for start in range(0, len(facts), CHUNK):
        chunk = facts[start: start + CHUNK]
        loaded: dict[tuple[str, str], Incident] = {}
        for source in sorted({f.source for f in chunk}):
            ids = [f.id for f in chunk if f.source == source]
            loaded.update(((source, i), inc) for i, inc in load_incidents(store, ids, source).items())
        for fact in chunk:
            incident = loaded.get((fact.source, fact.id))
            done += 1
            if incident is None:  # removed between the two reads
                continue
            result = review(incident, context)
            name = page_name(fact.source, fact.id)
            playbook_links = _write_playbook(result, kb, pages, name)
            (pages / f"{name}.html").write_text(
                render_review_html(result, index_href="../index.html", playbook_links=playbook_links),
                encoding="utf-8")
            (pages / f"{name}.json").write_text(to_json(result) + "\n", encoding="utf-8")
            written.update((f"{name}.html", f"{name}.json", *(href for _, href in playbook_links)))
            rows.append(_row(fact, f"{PAGES}/{name}.html"))
            if on_page is not None:
                on_page(done, len(facts))
    written.update(_write_attribution(store, kb, directory, rows, now))
    _remove_stale(directory, written)
    index = Index(schema_version=REVIEW_SCHEMA_VERSION, generated=now, attack_version=kb.version,
                  incidents=tuple(rows))
    (directory / "index.json").write_text(to_json(index) + "\n", encoding="utf-8")
    _write_coverage(store, kb, directory, rules, now)
    links = [*_write_program(store, kb, directory, now), _write_actions(store, directory, rows, now)]
    target = directory / "index.html"
    target.write_text(render_index_html(index, coverage_href=f"{COVERAGE}.html",
                                        attribution_href=f"{ATTRIBUTION}.html", program_links=links),
                      encoding="utf-8")
    return target


def _write_playbook(result: Review, kb: KnowledgeBase, pages: Path, name: str) -> list[tuple[str, str]]:
    """The incident's remediation playbook: runbook page, CACAO 2.0 JSON and the Logic Apps ARM template.

    Returns (label, file name) pairs, relative to the incident's review page.
    """
    import json

    from afteraction.playbooks.derive import plan_for_review
    from afteraction.playbooks.export import checked_cacao
    from afteraction.playbooks.logicapp import arm_template
    from afteraction.render.playbook import render_runbook_html

    plan = plan_for_review(result, kb)
    files = {"runbook": f"{name}.runbook.html", "cacao": f"{name}.cacao.json", "logicapp": f"{name}.logicapp.json"}
    (pages / files["cacao"]).write_text(json.dumps(checked_cacao(plan), indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    (pages / files["logicapp"]).write_text(json.dumps(arm_template(plan), indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    html = render_runbook_html(plan, links={"review": f"{name}.html", "cacao": files["cacao"],
                                            "logicapp": files["logicapp"]})
    (pages / files["runbook"]).write_text(html, encoding="utf-8")
    return [("runbook", files["runbook"]), ("CACAO 2.0", files["cacao"]),
            ("Logic Apps (ARM)", files["logicapp"])]


def _write_coverage(store: Store, kb: KnowledgeBase, directory: Path, rules: RuleInventory | None,
                    now: datetime) -> None:
    from afteraction.analyze.coverage import coverage
    from afteraction.render.coverage_html import render_coverage_html

    result = coverage(store, kb, rules=rules, now=now)
    (directory / f"{COVERAGE}.json").write_text(to_json(result) + "\n", encoding="utf-8")
    html = render_coverage_html(result, tactics=[(t.shortname, t.name) for t in kb.tactics],
                                index_href="index.html")
    (directory / f"{COVERAGE}.html").write_text(html, encoding="utf-8")


def _write_program(store: Store, kb: KnowledgeBase, directory: Path, now: datetime) -> list[tuple[str, str]]:
    """Trends, skill gaps and process metrics over the whole stored period (weekly buckets), with JSON twins.

    Returns the index links; none when the store holds no alerts.
    """
    from afteraction.analyze.program.period import data_extent, resolve_period
    from afteraction.analyze.program.process import process
    from afteraction.analyze.program.skills import skills
    from afteraction.analyze.program.trends import trends
    from afteraction.render.process import render_process_html
    from afteraction.render.skills import render_skills_html
    from afteraction.render.trends import render_trends_html

    if data_extent(store)[0] is None:
        return []
    period = resolve_period(store, None, None, "week")
    pages = {"trends": (trends, render_trends_html), "skills": (skills, render_skills_html),
             "process": (process, render_process_html)}
    links = []
    for name, label in PROGRAM:
        analyse, render = pages[name]
        result = analyse(store, kb, period, now=now)
        (directory / f"{name}.json").write_text(to_json(result) + "\n", encoding="utf-8")
        (directory / f"{name}.html").write_text(render(result, index_href="index.html"), encoding="utf-8")
        links.append((label, f"{name}.html"))
    return links


def _write_actions(store: Store, directory: Path, rows: list[IndexRow], now: datetime) -> tuple[str, str]:
    """Every tracked action item (open ones first, overdue flagged) with its JSON twin; returns the index link."""
    from afteraction.render.actions import render_actions_html, render_json
    from afteraction.store.actions import is_overdue, list_items

    today = now.date()
    found = list_items(store, status="all", today=today)
    (directory / f"{ACTIONS}.json").write_text(render_json(found, today), encoding="utf-8")
    pages = {(row.source, row.id): row.page for row in rows}
    (directory / f"{ACTIONS}.html").write_text(
        render_actions_html(found, today, generated=now, index_href="index.html", pages=pages), encoding="utf-8")
    overdue = sum(is_overdue(item, today) for item in found)
    return (f"Action items ({overdue} overdue)" if overdue else "Action items"), f"{ACTIONS}.html"


def _write_attribution(store: Store, kb: KnowledgeBase, directory: Path, rows: list[IndexRow],
                       now: datetime) -> set[str]:
    """The clusters page and its JSON twin; returns the file names written (for the manifest)."""
    from afteraction.analyze.attribution.clusters import clusters_from_store
    from afteraction.render.attribution import render_clusters_html

    result = clusters_from_store(store, kb, now=now)
    pages = {(row.source, row.id): row.page for row in rows}
    (directory / f"{ATTRIBUTION}.json").write_text(to_json(result) + "\n", encoding="utf-8")
    html = render_clusters_html(result, "index.html", pages=pages, generated=now)
    (directory / f"{ATTRIBUTION}.html").write_text(html, encoding="utf-8")
    return set(SITE_FILES)


def _row(fact: IncidentFacts, page: str) -> IndexRow:
    return IndexRow(
        source=fact.source, id=fact.id, title=fact.title, incident_type=fact.incident_type,
        incident_type_label=fact.incident_type_label, severity=fact.severity, status=fact.status,
        classification=fact.classification, determination=fact.determination, owner=fact.owner,
        created=fact.created, first_activity=fact.first_activity, resolved=fact.resolved,
        alerts=fact.alerts, techniques=fact.techniques, time_to_detect=fact.time_to_detect,
        time_to_resolve=fact.time_to_resolve, unremediated=fact.unremediated, page=page,
    )


def _remove_stale(directory: Path, written: set[str]) -> None:
    """Delete pages listed in the previous run's manifest and not written now; record the new list."""
    manifest = directory / MANIFEST
    try:
        before = msgspec.json.decode(manifest.read_bytes(), type=list[str])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        before = []
    for name in before:
        if name not in written and _UNSAFE_NAME.sub("", name) == name:  # plain names only, never a path
            (directory / name if name in SITE_FILES else directory / PAGES / name).unlink(missing_ok=True)
    manifest.write_bytes(msgspec.json.encode(sorted(written)))


__all__ = ["ACTIONS", "ATTRIBUTION", "COVERAGE", "MANIFEST", "PAGES", "build_site", "page_name"]
