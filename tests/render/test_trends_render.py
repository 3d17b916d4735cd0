"""The trends page, Markdown and CSV: structure, charts, and hostile text from alerts kept inert."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from html_checks import assert_safe
from review_fixture import BAD_URLS, ESC, PAYLOAD, RLO

from afteraction.analyze.program.period import Period
from afteraction.analyze.program.trends_model import (
    TRENDS_SCHEMA_VERSION,
    BucketTotal,
    ChangeTest,
    Durations,
    NewTechnique,
    Point,
    ResponsePoint,
    Series,
    TechniqueChange,
    Trends,
)
from afteraction.render.charts import Bar, LineSeries, bar_chart, line_chart, nice_ticks
from afteraction.render.trends import CSV_COLUMNS, render_trends_csv, render_trends_html, render_trends_markdown

T0 = datetime(2026, 3, 2, tzinfo=UTC)
WEEKS = [T0 + timedelta(weeks=i) for i in range(4)]
FORMULAS = ("=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)")


def _series(dim: str, value: str, label: str, counts: list[int]) -> Series:
    return Series(dimension=dim, value=value, label=label, alerts=sum(counts), incidents=sum(counts),
                  points=tuple(Point(bucket=w, alerts=n, incidents=n, alert_rate=n / 10 if n else None,
                                     incident_rate=n / 10 if n else None) for w, n in zip(WEEKS, counts, strict=True)))


def _change(tid: str, direction: str, url: str | None, ratio: float | None) -> TechniqueChange:
    return TechniqueChange(technique=tid, name=PAYLOAD, url=url, tactics=(PAYLOAD,), direction=direction,
                           baseline_incidents=2, recent_incidents=9, baseline_rate=0.02, recent_rate=0.09,
                           rate_ratio=ratio, ratio_low=1.5, ratio_high=None if ratio is None else 9.0,
                           p_value=0.0001, q_value=0.002, flagged=True)


def _response(bucket: datetime, n: int) -> ResponsePoint:
    d = Durations(known=n, median=3600.0 * n if n else None, p90=7200.0 * n if n else None)
    return ResponsePoint(bucket=bucket, incidents=n, time_to_detect=d, time_to_acknowledge=d, time_to_resolve=d,
                         classified=n, true_positives=n // 2, true_positive_rate=(n // 2) / n if n else None)


def hostile_trends() -> Trends:
    series = [
        _series("source", PAYLOAD, PAYLOAD, [3, 0, 5, 2]),  # a hostile source name
        _series("source", FORMULAS[0], FORMULAS[0], [1, 1, 0, 0]),
        _series("technique", "T1059", f"T1059 {PAYLOAD}", [0, 2, 4, 6]),
        _series("tactic", f"{ESC}tactic{RLO}", PAYLOAD, [1, 2, 3, 4]),
        _series("severity", "high", "high", [1, 0, 0, 1]),
        _series("incident_type", FORMULAS[1], FORMULAS[1], [0, 0, 0, 1]),
        _series("determination", FORMULAS[3], FORMULAS[3], [1, 0, 0, 0]),
    ]
    flagged = (_change("T1059", "rising", BAD_URLS[0], None),
               _change("T1204", "declining", "https://attack.mitre.org/x", 0.3))
    changes = ChangeTest(baseline_since=T0, baseline_until=WEEKS[2], recent_since=WEEKS[2],
                         recent_until=T0 + timedelta(weeks=4), baseline_incidents=100, recent_incidents=100, fdr=0.05,
                         min_count=5, tested=2, skipped=1, flagged=flagged, techniques=flagged)
    return Trends(
        schema_version=TRENDS_SCHEMA_VERSION, generated=T0, attack_version=PAYLOAD,
        period=Period(since=T0, until=T0 + timedelta(weeks=4), bucket="week"),
        buckets=(*(BucketTotal(bucket=w, alerts=10, incidents=10 - i) for i, w in enumerate(WEEKS[:3])),
                 BucketTotal(bucket=WEEKS[3], alerts=0, incidents=0)),
        series=tuple(series), changes=changes,
        response=tuple(_response(w, n) for w, n in zip(WEEKS, (4, 3, 2, 0), strict=True)),
        response_overall=_response(T0, 9),
        new_techniques=(NewTechnique(technique=f"T1{PAYLOAD}", name=PAYLOAD, url=BAD_URLS[3], tactics=(),
                                     first_seen=WEEKS[1], alerts=3, incidents=2),),
        notes=(PAYLOAD, f"{ESC}note{RLO}"))


@pytest.mark.parametrize("index_href", [None, "index.html", "javascript:alert(1)"])
def test_html_is_safe_and_has_charts(index_href: str | None) -> None:
    html = render_trends_html(hostile_trends(), index_href=index_href)
    page = assert_safe(html, scripts=0)
    assert "<script>" not in html
    assert "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    assert html.count("<svg class=\"chart\"") >= 5  # volume, flagged, response, true-positive rate, tactic...
    assert html.count("<polyline") >= 3
    hrefs = [a["href"] for t, a in page.tags if t == "a" and "href" in a]
    assert "https://attack.mitre.org/x" in hrefs
    assert not any(h and "javascript" in h.lower() for h in hrefs)
    assert ("index.html" in hrefs) == (index_href == "index.html")
    assert "\u221e (1.50\u2013\u221e)" in html
    assert "0.30 (1.50\u20139.00)" in html
    for anchor in ("changes", "volume", "response", "breakdowns", "new", "method"):
        assert f'id="{anchor}"' in html


def test_markdown_escapes_hostile_text() -> None:
    md = render_trends_markdown(hostile_trends())
    assert "<script>" not in md
    assert "<img" not in md
    assert not re.search(r"(?<!\\)\]\((?:javascript|data|vbscript|file)", md, re.IGNORECASE)
    assert "[T1204](https://attack.mitre.org/x)" in md
    assert ESC not in md
    assert RLO not in md
    for line in md.splitlines():  # no injected heading or table row
        assert not line.startswith("# heading")
    rows = [line for line in md.splitlines() if line.startswith("| T")]
    head = "| Technique | Direction | Baseline | Recent | Rate ratio (95 % CI) | p | q |"
    assert all(line.count("|") - line.count("\\|") == head.count("|") for line in rows if "rising" in line)
    assert "## By source" in md
    assert "## Techniques new to the environment" in md


def test_csv_is_formula_safe_and_complete() -> None:
    result = hostile_trends()
    text = render_trends_csv(result)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + len(result.buckets) * (1 + len(result.series))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), row
    assert ESC not in text
    assert RLO not in text
    assert any(r[1] == "source" and r[2] == "'" + FORMULAS[0] for r in rows)
    totals = [r for r in rows if r[1] == "total"]
    assert [int(r[4]) for r in totals] == [10, 10, 10, 0]


def test_charts_api() -> None:
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(0.37)[-1] >= 0.37
    svg = line_chart(["a", "b", "c"], [LineSeries(PAYLOAD, [1, None, 3], color="red;x:url(y)"),
                                       LineSeries("two", [0, 5, 2], color="#123456")], title=PAYLOAD)
    assert "<script" not in svg
    assert "url(" not in svg
    assert 'stroke="#123456"' in svg
    assert svg.count("<circle") == 5
    assert svg.count("<polyline") == 1
    bars = bar_chart([Bar(PAYLOAD, 3), Bar("b", 10)], title="t")
    vertical = bar_chart([Bar("a", 3), Bar("b", 0)], title="t", horizontal=False)
    for out in (svg, bars, vertical):
        assert_safe(f"<html><body>{out}</body></html>", scripts=0)
    assert bars.count("<rect") == 2
    assert re.search(r'width="\d', bars)
