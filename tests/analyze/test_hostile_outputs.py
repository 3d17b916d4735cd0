"""Hostile strings planted by the generator are inert in every output: site, review formats, terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from afteraction.analyze.review import ReviewContext, review_incident
from afteraction.attack.kb import KnowledgeBase
from afteraction.cli import cli
from afteraction.commands.review_cmd import render_review
from afteraction.report import build_site
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.synth import Options, generate, load_truth
from afteraction.synth.hostile import ESCAPE, RLO, SCRIPT
from render.html_checks import RAW_UNSAFE, assert_safe


@pytest.fixture(scope="module")
def hostile(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("hostile")
    result = generate(Options(incidents=30, weeks=4, seed=5, hostile=True), root / "sample", kb)
    truth = load_truth(result.truth_path)
    planted = [i.id for i in truth.incidents if i.hostile]
    assert planted, "the generator planted no hostile incident"
    db = root / "s.duckdb"
    with Store(db) as store:
        assert ingest_paths(store, [str(result.export_dir)], kb).rejected == 0
        build_site(store, kb, root / "site")
    return db, root / "site", planted


def test_site_pages_carry_no_markup_or_links_from_the_data(hostile: tuple[Path, Path, list[str]]) -> None:
    _, site, planted = hostile
    index = (site / "index.html").read_text(encoding="utf-8")
    assert_safe(index, scripts=1)  # afteraction's own sort-and-filter script only
    pages = sorted((site / "incidents").glob("*.html"))
    assert len(pages) == 60  # a review page and a runbook per incident
    assert len([p for p in pages if p.name.endswith(".runbook.html")]) == 30
    for page in pages:
        assert_safe(page.read_text(encoding="utf-8"), scripts=0)
    hostile_pages = [p for p in pages if p.name.split("-")[0] in planted and not p.name.endswith(".runbook.html")]
    assert hostile_pages
    text = hostile_pages[0].read_text(encoding="utf-8")
    assert "&lt;script&gt;" in text  # shown as text, not run
    runbook = hostile_pages[0].with_name(hostile_pages[0].name.replace(".html", ".runbook.html"))
    assert SCRIPT not in runbook.read_text(encoding="utf-8")


def test_markdown_json_and_terminal_outputs(hostile: tuple[Path, Path, list[str]], kb: KnowledgeBase,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db, _, planted = hostile
    with Store(db, read_only=True) as store:
        r = review_incident(store, kb, planted[0], context=ReviewContext(kb, store))
    md = render_review(r, "md")
    assert "<script" not in md.lower()
    assert "](javascript:" not in md
    assert not RAW_UNSAFE.search(md)
    raw_json = render_review(r, "json")
    assert ESCAPE not in raw_json
    assert RLO not in raw_json
    assert SCRIPT in json.dumps(json.loads(raw_json))  # kept verbatim as data, escaped on the wire
    monkeypatch.setenv("AFTERACTION_DB", str(db))
    listing = CliRunner().invoke(cli, ["incidents"])
    assert listing.exit_code == 0
    assert not RAW_UNSAFE.search(listing.output.replace("\n", ""))
