"""The skill-gap renderers make hostile strings inert (HTML, Markdown, CSV)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from html_checks import assert_safe

from afteraction.analyze.program.period import Period
from afteraction.analyze.program.skills_model import Entry, NewTechnique, Ref, Signal, Skills, TrainingItem
from afteraction.render.skills import render_skills_csv, render_skills_html, render_skills_markdown

EVIL = "=HYPERLINK(\"http://x\")<script>alert(1)</script>\u202e[x](javascript:alert(1))"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _result() -> Skills:
    sig = Signal(name="resolve_time", n=12, value=5.0, baseline=1.0, effect=5.0, p=1e-6, q=1e-5, significant=True,
                 median_s=90000.0, baseline_median_s=18000.0)
    entry = Entry(key="T1047", name=EVIL, url="javascript:alert(1)", tactics=("execution",), alerts=12, judged=12,
                  signals=(sig,), gap=True, score=2.3, evidence=(EVIL,))
    cell = Entry(key=f"{EVIL}|T1047", name=EVIL, analyst=EVIL, technique="T1047", url="https://attack.mitre.org/x",
                 alerts=12, judged=12, signals=(sig,), gap=True, score=2.3, evidence=(EVIL,))
    return Skills(
        schema_version="1", generated=T0, attack_version="18.1", period=Period(since=T0, until=T0.replace(day=30),
                                                                                bucket="week"),
        per_analyst=True, fdr=0.05, min_alerts=5, top=15, alerts=100, human_handled=90, automated=10, tests=7,
        severity_baselines=(), baseline_rates={"reclassified": 0.02}, skill_gaps=(entry,), skill_gaps_total=1,
        techniques=(entry,), tactics=(), history_before_period=True,
        never_handled=(NewTechnique(id="T1047", name=EVIL, url="javascript:x", first_seen=T0, alerts=3),),
        analysts=(cell,), notes=(EVIL,),
        training_plan=(TrainingItem(rank=1, technique="T1047", name=EVIL, url="javascript:x", why=EVIL,
                                    exercise=EVIL, emulation_url="javascript:x",
                                    detection_strategies=(Ref(id="DET0001", name=EVIL, url="javascript:y"),)),))


def test_html_is_safe():
    html = render_skills_html(_result(), index_href="index.html")
    assert_safe(html, scripts=0)
    assert "<script>alert" not in html
    assert "javascript:" not in html.replace("[x](javascript:", "")


def test_markdown_is_escaped():
    md = render_skills_markdown(_result())
    assert "<script>" not in md
    assert "\u202e" not in md
    assert not re.search(r"(?<!\\)\]\((?:javascript|x)", md)  # no live link: brackets are escaped
    assert "\\[x\\]" in md


def test_csv_is_formula_safe():
    rows = list(csv.reader(io.StringIO(render_skills_csv(_result()))))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)
