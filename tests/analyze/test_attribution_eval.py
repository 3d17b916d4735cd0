"""The evaluation command reproduces the recorded results (docs/attribution-evaluation.md) and its metrics hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from afteraction.analyze.attribution.evaluate import oracle, p2_queries, run_setting, scorers
from afteraction.analyze.attribution.profiles import Profiles
from afteraction.analyze.attribution.suite import run_evaluation
from afteraction.attack import load_kb
from afteraction.render.attribution_eval import render_eval_markdown

RECORDED = Path(__file__).resolve().parents[2] / "docs" / "attribution-evaluation.md"


def _section(markdown: str, name: str) -> str:
    match = re.search(rf"^## {name}\n(.*?)(?=^## |\Z)", markdown, flags=re.MULTILINE | re.DOTALL)
    assert match, f"no section {name}"
    return match.group(1).strip()


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def p1(kb):
    return run_evaluation(kb, ["P1"])


def test_p1_reproduces_the_recorded_results(p1):
    assert p1.attack_version == "18.1"
    recorded = RECORDED.read_text(encoding="utf-8")
    assert _section(render_eval_markdown(p1), "P1") == _section(recorded, "P1")


def test_p1_scorer_beats_both_baselines_and_checks_targets(p1):
    by_setting = {s.setting: {r.scorer: r for r in s.scorers} for s in p1.settings}
    assert set(by_setting) == {"techniques, direct", "techniques, +campaigns", "+software, direct",
                               "+software, +campaigns"}
    for setting, rows in by_setting.items():
        ours = rows["afteraction"]
        assert ours.mrr >= rows["idf-cosine"].mrr, setting
        assert ours.mrr >= rows["jaccard"].mrr, setting
    checks = {(t.setting, t.measure): t for t in p1.targets}
    tech = checks[("techniques, +campaigns", "top5")]
    assert tech.met
    assert tech.value >= 0.45
    assert tech.low <= tech.value <= tech.high
    assert all(s.queries == 23 for s in p1.settings)


def test_protocol_ceiling_bounds_every_scorer(kb):
    prof = Profiles(kb)
    queries = p2_queries(prof, 5, noisy=True, samples=4)
    result = run_setting(prof, "P2", "k=5 noisy", "group", queries, {**scorers(), "ceiling": oracle(2)})
    rows = {r.scorer: r for r in result.scorers}
    for name in ("afteraction", "jaccard", "idf-cosine"):
        assert rows[name].top1.value <= rows["ceiling"].top1.value + 0.02, name
    assert rows["afteraction"].top1.value > rows["idf-cosine"].top1.value


def test_recorded_targets_table_is_honest():
    recorded = RECORDED.read_text(encoding="utf-8")
    targets = _section(recorded, "Targets")
    assert "| P2 | k=5 noisy | top1 | ≥ 0.60 |" in targets
    rows = [line for line in targets.splitlines() if line.startswith("| P")]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        target = float(cells[3].lstrip("≥ "))
        value = float(cells[4].split()[0])
        assert (cells[5] == "yes") == (value >= target), row


def test_html_report_has_safe_reliability_diagrams(p1):
    from afteraction.render.attribution_eval import reliability_svg, render_eval_html
    from render.html_checks import assert_safe

    html = render_eval_html(p1)
    assert_safe(html, scripts=0)
    assert html.count("<svg") >= 3  # brand icon + one diagram per P1 calibration set
    svg = reliability_svg(p1.calibration[0])
    assert svg.startswith("<svg xmlns=")
    assert "ECE" in svg
