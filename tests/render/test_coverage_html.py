"""The coverage page: matrix structure in tactic order, sub-techniques in their parent, hostile text kept inert."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest
from html_checks import assert_safe
from review_fixture import BAD_URLS, ESC, PAYLOAD, RLO

from afteraction.analyze.coverage import coverage
from afteraction.analyze.coverage.model import (
    COVERAGE_SCHEMA_VERSION,
    Coverage,
    Gap,
    Relevance,
    Summary,
    TechniqueCoverage,
)
from afteraction.analyze.review.model import DetectionRec, Link, MitigationRec, TechniqueInfo
from afteraction.attack import load_kb
from afteraction.attack.kb import KnowledgeBase
from afteraction.render.coverage_html import render_coverage_html
from afteraction.render.navigator import COVERAGE_CATEGORIES
from afteraction.store import Store
from afteraction.store.loader import ingest_paths

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"
T0 = datetime(2026, 3, 4, 9, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb("bundled")


@pytest.fixture(scope="module")
def example(kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> Coverage:
    store = Store(tmp_path_factory.mktemp("cov") / "s.duckdb")
    ingest_paths(store, [str(EXAMPLE)], kb)
    return coverage(store, kb, groups=["G0016"])


def _tactics(kb: KnowledgeBase) -> list[tuple[str, str]]:
    return [(t.shortname, t.name) for t in kb.tactics]


def _columns(html: str) -> list[str]:
    return re.findall(r'<div class="mx-col" data-tactic="([^"]*)">', html)


def _details(html: str) -> dict[str, str]:
    """Parent technique id -> the HTML of its sub-technique list (the first column that shows it)."""
    found: dict[str, str] = {}
    for match in re.finditer(r'<details class="mx-cell[^"]*">\s*<summary[^>]*>(.*?)</summary>(.*?)</details>', html,
                             re.S):
        parent = re.search(r"(T\d{4})\b", match.group(1))
        assert parent is not None
        found.setdefault(parent.group(1), match.group(2))
    return found


def _gap_rows(html: str) -> int:
    table = re.search(r'<table class="gaps">.*?<tbody>(.*?)</tbody>', html, re.S)
    return 0 if table is None else table.group(1).count("<tr>")


def test_example_matrix_has_tactic_columns_in_order_and_subtechniques_in_parents(
        example: Coverage, kb: KnowledgeBase) -> None:
    html = render_coverage_html(example, tactics=_tactics(kb), index_href="index.html")
    assert _columns(html) == [t.shortname for t in kb.tactics]
    for _, name in _tactics(kb):
        assert f"<b>{name.replace('&', '&amp;')}</b>" in html
    subs = _details(html)
    assert "T1059.001" in subs["T1059"]  # PowerShell, detected in the example, inside Command and Scripting
    assert re.search(r'class="mx-cell sub cat-detected"[^>]*>.*?T1059\.001', subs["T1059"], re.S)
    assert 'class="mx-cell sub' not in html.split("<details", 1)[0]  # no sub-technique outside a parent
    assert _gap_rows(html) == len(example.gaps) > 0
    for key, cat in COVERAGE_CATEGORIES.items():
        assert f"cat-{key}" in html
        assert cat.color in html
    assert 'href="index.html"' in html
    assert "https://attack.mitre.org/techniques/T1059/001" in html
    page = assert_safe(html, scripts=0)
    csp = next(a.get("content") for t, a in page.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in (csp or "")
    assert "script-src 'none'" in (csp or "")
    counts = {key: len(re.findall(rf'class="(?:mx-cell|mx-cell sub) cat-{key}"', html)) for key in COVERAGE_CATEGORIES}
    assert counts["detected"] >= example.summary.by_category["detected"]  # multi-tactic techniques repeat


def test_category_colours_in_the_stylesheet_are_the_navigator_colours() -> None:
    css = files("afteraction.render").joinpath("templates/style.css").read_text(encoding="utf-8")
    for key, cat in COVERAGE_CATEGORIES.items():
        assert f".cat-{key} {{ --cat: {cat.color}; background: {cat.color};" in css


def _tech(tid: str, category: str, *, parent: str | None = None, tactics: tuple[str, ...] = ("execution",),
          url: str | None = None, hostile: bool = True) -> TechniqueCoverage:
    return TechniqueCoverage(
        id=tid, name=f"{PAYLOAD} {tid}" if hostile else tid, url=url, tactics=tactics, platforms=("Windows",),
        parent=parent, category=category, observed_incidents=("i<1>",) if category != "never_seen" else (),
        alerts=3 if category == "detected" else 0, true_positive_share=0.5 if category == "detected" else None,
        by_source={PAYLOAD: 2}, by_detector={f"{ESC}det{RLO}": 1}, rules=1, rules_enabled=1,
        rule_titles=(PAYLOAD, "=cmd|' /C calc'!A0"),
        relevance=Relevance(score=61.5, groups_using=3, groups_total=9, concern_groups=(PAYLOAD,),
                            explanation=f"because {PAYLOAD}"),
        subtechniques={"detected": 1, "no_rule": 1} if parent is None and tid == "T1059" else {},
    )


def hostile_coverage() -> Coverage:
    techniques = (
        _tech("T1059", "detected", url=BAD_URLS[0]),
        _tech("T1059.001", "detected", parent="T1059", url="https://attack.mitre.org/techniques/T1059/001/"),
        _tech("T1059.003", "no_rule", parent="T1059", url=BAD_URLS[3]),
        _tech("T1003.006", "missed", parent="T1003", tactics=("credential-access",), url=BAD_URLS[6]),  # no parent
        _tech("T9999", "never_seen", tactics=(f"{PAYLOAD}-tactic",), url=BAD_URLS[5]),
        _tech("T1566", "weird<category>", tactics=("initial-access",)),
    )
    gaps = tuple(
        Gap(rank=i + 1, technique=t.id, name=t.name, category=t.category, score=score, why=f"{PAYLOAD} why",
            detections=DetectionRec(
                technique=TechniqueInfo(id=t.id, name=PAYLOAD, url=BAD_URLS[0]), reason=PAYLOAD,
                strategies=(Link(label=PAYLOAD, url=BAD_URLS[i % len(BAD_URLS)]),
                            Link(label="ok", url="https://attack.mitre.org/detectionstrategies/DET0001/")),
                data_components=(PAYLOAD,) * 8, log_sources=(PAYLOAD,)),
            mitigations=(MitigationRec(id="M1038", name=PAYLOAD, url=BAD_URLS[2]),),
            nearby_rules=(PAYLOAD, f"{ESC}rule{RLO}"))
        for i, (t, score) in enumerate(zip(techniques[2:], (250.0, -4.0, 10.0, 0.0), strict=True))
    )
    return Coverage(
        schema_version=COVERAGE_SCHEMA_VERSION, generated=T0, attack_version=PAYLOAD, since=T0, until=None,
        platforms=(PAYLOAD,), include=(PAYLOAD,), exclude=(PAYLOAD,), groups_of_concern=(PAYLOAD,),
        rules_given=True,
        summary=Summary(techniques_in_scope=6, observed=4, by_category={"detected": 2, "missed": 1, "no_rule": 1,
                                                                          "never_seen": 1},
                        detected_share=0.5, alerts=6, rules=6, rules_enabled=5, rule_errors=2),
        techniques=techniques, gaps=gaps, notes=(PAYLOAD, f"{ESC}note{RLO}"),
    )


@pytest.mark.parametrize("index_href", [None, "index.html", *BAD_URLS])
def test_hostile_text_and_urls_stay_inert(index_href: str | None) -> None:
    result = hostile_coverage()
    html = render_coverage_html(result, tactics=[("initial-access", "Initial <Access>"), ("execution", "Execution"),
                                                 ("credential-access", "Credential Access")],
                                index_href=index_href)
    page = assert_safe(html, scripts=0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Initial &lt;Access&gt;</b>" in html
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert "https://attack.mitre.org/techniques/T1059/001/" in hrefs
    assert "https://attack.mitre.org/detectionstrategies/DET0001/" in hrefs
    assert not any(h and ("javascript" in h.lower() or h.startswith(("data:", "file:", "//"))) for h in hrefs)
    # Columns: the given order, then the unknown tactic; the orphan sub-technique shows as a top-level cell.
    cols = _columns(html)
    assert cols[:3] == ["initial-access", "execution", "credential-access"]
    assert len(cols) == 4
    assert "T1059.001" in _details(html)["T1059"]
    assert "T1059.003" in _details(html)["T1059"]
    credential = html.split('data-tactic="credential-access"', 1)[1].split('class="mx-col"', 1)[0]
    assert '<div class="mx-cell cat-missed"' in credential
    assert "T1003.006" in credential
    assert "cat-weird" not in html
    assert "cat-other" in html
    assert _gap_rows(html) == len(result.gaps) == 4
    assert 'style="width:100.0%"' in html
    assert 'style="width:0.0%"' in html
    assert "\\u001b" in html
    assert "\\u202e" in html


def test_empty_coverage_renders() -> None:
    result = hostile_coverage()
    empty = Coverage(
        schema_version=COVERAGE_SCHEMA_VERSION, generated=T0, attack_version="18.1", since=None, until=None,
        platforms=(), include=(), exclude=(), groups_of_concern=(), rules_given=False,
        summary=Summary(techniques_in_scope=0, observed=0, by_category={}, detected_share=None, alerts=0, rules=0,
                        rules_enabled=0, rule_errors=0),
        techniques=(), gaps=(), notes=(),
    )
    html = render_coverage_html(empty)
    assert_safe(html, scripts=0)
    assert "No gaps" in html
    assert "No technique was observed" in html
    assert _columns(html) == []
    assert _gap_rows(render_coverage_html(result)) == 4  # tactics optional: columns in order of appearance
