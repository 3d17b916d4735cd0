"""The report site carries every incident's playbook and the tracked action items, overdue ones flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from afteraction.analyze.review import ReviewContext, incident_facts, review_incident
from afteraction.attack.kb import KnowledgeBase
from afteraction.playbooks.cacao import to_cacao
from afteraction.playbooks.derive import plan_for_review
from afteraction.playbooks.logicapp_schema import check_template
from afteraction.playbooks.validate import validate_playbook
from afteraction.report import build_site, page_name
from afteraction.store import Store
from afteraction.store.actions import add_item
from afteraction.store.loader import ingest_paths

from .plans import SCHEMAS

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_site_has_playbooks_and_action_items(tmp_path: Path, kb: KnowledgeBase) -> None:
    store = Store(tmp_path / "s.duckdb")
    ingest_paths(store, [str(REPO / "examples" / "defender-incidents.json")], kb)
    late = add_item(store, what="Block <b>macros</b>", owner="Ana", due="2026-05-01", links=["T1566"],
                    source="defender", incident_id="51007", kb=kb)
    add_item(store, what="Later", due="2026-12-01", links=["T1486"], kb=kb)
    site = tmp_path / "site"
    build_site(store, kb, site, now=NOW)
    for fact in incident_facts(store):
        name = page_name(fact.source, fact.id)
        page = (site / "incidents" / f"{name}.html").read_text(encoding="utf-8")
        for suffix in ("runbook.html", "cacao.json", "logicapp.json"):
            assert f'href="{name}.{suffix}"' in page
            assert (site / "incidents" / f"{name}.{suffix}").is_file()
        playbook = json.loads((site / "incidents" / f"{name}.cacao.json").read_text(encoding="utf-8"))
        assert validate_playbook(playbook).ok
        assert f"incident:{fact.source}:{fact.id}" in playbook["labels"]
        assert check_template(json.loads((site / "incidents" / f"{name}.logicapp.json").read_text("utf-8"))) == []
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="actions.html">Action items (1 overdue)</a>' in index
    actions = (site / "actions.html").read_text(encoding="utf-8")
    assert f"#{late.id}" in actions
    assert "Overdue" in actions
    assert "&lt;b&gt;macros&lt;/b&gt;" in actions
    assert f'href="incidents/{page_name("defender", "51007")}.html"' in actions
    rows = json.loads((site / "actions.json").read_text(encoding="utf-8"))
    assert (rows[0]["id"], rows[0]["overdue"]) == (late.id, True)
    manifest = json.loads((site / ".afteraction-site.json").read_text(encoding="utf-8"))
    assert f"{page_name('defender', '51007')}.cacao.json" in manifest  # removed with its incident later


@pytest.mark.shared_data
def test_every_demo_playbook_passes_the_official_schemas(tmp_path: Path, kb: KnowledgeBase) -> None:
    """Every incident of the demo (its default size and seed), with and without http-api commands."""
    if not (SCHEMAS / "schemas" / "playbook.json").is_file():
        pytest.skip("../shared/data/cacao-schemas is not present")
    from afteraction.commands.demo_cmd import demo
    from afteraction.synth import Options, generate

    defaults = {p.name: p.default for p in demo.params}  # exactly what `afteraction demo` generates
    options = Options(incidents=defaults["incidents"], weeks=defaults["weeks"], seed=defaults["seed"])
    sample = generate(options, tmp_path / "sample", kb)
    store = Store(tmp_path / "demo.duckdb")
    ingest_paths(store, [str(sample.export_dir)], kb)
    context = ReviewContext(kb, store, now=NOW)
    facts = incident_facts(store)
    assert len(facts) == options.incidents
    for fact in facts:
        plan = plan_for_review(review_incident(store, kb, fact.id, source=fact.source, context=context), kb)
        for automation in (False, True):
            result = validate_playbook(to_cacao(plan, automation=automation), schemas=SCHEMAS)
            assert result.schema_checked
            assert result.problems == (), (fact.id, automation, result.problems[:3])
