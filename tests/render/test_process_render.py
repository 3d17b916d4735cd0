"""The process report keeps hostile detector titles, sources and incident titles inert in HTML, Markdown and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from html_checks import assert_safe
from review_fixture import ESC, FORMULA, JS_URL, PAYLOAD, RLO, SCRIPT

from afteraction.analyze.program.period import Period
from afteraction.analyze.program.process_model import (
    PROCESS_SCHEMA_VERSION,
    Backlog,
    BacklogRow,
    BucketRatio,
    Callout,
    DetectorStats,
    NoisyDetector,
    OpenIncident,
    Outcomes,
    Process,
    Recommendation,
    RepeatedTechnique,
    SeverityRow,
    SlaRow,
    SourceStats,
    Summary,
    Thresholds,
)
from afteraction.analyze.program.sla import DEFAULT_TARGETS
from afteraction.render.process import CSV_COLUMNS, render_process_csv, render_process_html, render_process_markdown

T0 = datetime(2026, 3, 2, tzinfo=UTC)
OUT = Outcomes(alerts=10, true_positives=2, false_positives=6, benign=1, unclassified=1, false_positive_share=6 / 9,
               benign_share=1 / 9)


def hostile_result() -> Process:
    bad = f"{FORMULA} {PAYLOAD}"
    noisy = NoisyDetector(rank=1, source_name=bad, detector_id=f"@{ESC}id{RLO}", title=bad, alerts=10, wasted=7,
                          noise_share=7 / 9, false_positive_share=6 / 9, benign_share=1 / 9, volume_share=0.5,
                          wasted_share=1.0)
    return Process(
        schema_version=PROCESS_SCHEMA_VERSION, attack_version="18.1", generated=T0 + timedelta(days=8),
        period=Period(since=T0, until=T0 + timedelta(days=7), bucket="week"), sla=DEFAULT_TARGETS,
        thresholds=Thresholds(noisy_min_classified=20, noisy_min_share=0.5, repeated_min_incidents=3,
                              mitigation_min_techniques=2, max_mitigations=6),
        summary=Summary(alerts=20, incidents=8, alerts_per_incident=2.5, outcomes=OUT, automated=3,
                        automated_share=0.15, detectors=2, sources=1),
        ratio_by_bucket=(BucketRatio(start=T0, alerts=20, incidents=8, ratio=2.5),),
        detectors=(DetectorStats(source_name=bad, detector_id=f"-{SCRIPT}", title=bad, outcomes=OUT, automated=1),),
        sources=(SourceStats(source_name=bad, outcomes=OUT, automated=3, automated_share=0.3),),
        noisy_detectors=(noisy,),
        severity=(SeverityRow(severity="high", outcomes=OUT, true_positive_share=2 / 9),
                  SeverityRow(severity=bad, outcomes=OUT, true_positive_share=None)),
        callouts=(Callout(kind="high_severity_false_positives", alerts=7, share=7 / 9, text=f"7 alerts {SCRIPT}"),),
        backlog=Backlog(as_of=T0 + timedelta(days=7), open=1, by_severity=(
            BacklogRow(severity="high", under_1d=0, days_1_7=1, days_7_30=0, over_30d=0, total=1),),
            oldest=(OpenIncident(source=bad, id=f"+{SCRIPT}", title=bad, severity=bad, status=bad, opened=T0,
                                 age_seconds=5 * 86400),)),
        sla_breaches=(SlaRow(severity="high", acknowledge_seconds=3600, resolve_seconds=86400, incidents=3,
                             acknowledge_measured=2, acknowledge_breaches=1, acknowledge_breach_share=0.5,
                             resolve_measured=3, resolve_breaches=2, open_breaches=1, resolve_breach_share=2 / 3),),
        repeated_techniques=(RepeatedTechnique(technique="T1059.001", name="PowerShell", incidents=4,
                                               url="https://attack.mitre.org/techniques/T1059/001"),),
        recommendations=(
            Recommendation(kind="tune_detector", title=f"Tune or disable detector {bad}", action="tune it",
                           evidence=(bad,)),
            Recommendation(kind="mitigation", title="M1040 Behavior Prevention on Endpoint", action=bad,
                           evidence=(bad,), mitigation_id="M1040", url=JS_URL, techniques=("T1059.001",)),
        ),
        notes=(bad,),
    )


def test_html_is_safe() -> None:
    html = render_process_html(hostile_result(), index_href="javascript:alert(1)")
    page = assert_safe(html, scripts=0)
    assert SCRIPT not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert JS_URL not in hrefs
    assert "javascript:alert(1)" not in hrefs
    for anchor in ("recommendations", "noisy", "severity", "backlog", "sla", "sources"):
        assert f'id="{anchor}"' in html


def test_html_links_index_when_relative() -> None:
    html = render_process_html(hostile_result(), index_href="index.html")
    assert 'href="index.html"' in html


def _pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_is_escaped() -> None:
    md = render_process_markdown(hostile_result())
    assert SCRIPT not in md
    assert "<img" not in md
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # no live link
    assert ESC not in md
    assert RLO not in md
    assert "\\[x\\]" in md
    assert "\\|" in md
    header = 0
    for line in md.splitlines():  # hostile text never adds a table cell
        if not line.startswith("|"):
            header = 0
        elif not header:
            header = _pipes(line)
        else:
            assert _pipes(line) == header, line


def test_csv_is_formula_safe() -> None:
    text = render_process_csv(hostile_result())
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r[0] for r in rows[1:]} >= {"summary", "ratio", "noisy", "detector", "source", "severity", "backlog",
                                        "open_incident", "sla", "recommendation"}
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
            assert ESC not in cell
            assert RLO not in cell
