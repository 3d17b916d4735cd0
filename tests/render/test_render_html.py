"""The HTML review and index pages: structure, hostile input kept inert, edge cases of the timeline."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from importlib.resources import files

import msgspec
import pytest
from html_checks import assert_safe, parse
from review_fixture import (
    BAD_URLS,
    ESC,
    PAYLOAD,
    RLO,
    T0,
    big_timeline,
    index,
    minimal_review,
    sample_review,
    timeline,
)

from afteraction.analyze.review.model import TimelineEntry
from afteraction.render.html import render_index_html, render_review_html
from afteraction.render.timeline_svg import MAX_MARKERS, layout


def _hrefs(html: str) -> list[str]:
    return [a.get("href") or "" for tag, a in parse(html).tags if tag == "a"]


@pytest.mark.parametrize("hostile", [False, True])
def test_review_page_is_safe_and_has_no_script(hostile: bool) -> None:
    html = render_review_html(sample_review(hostile), index_href="javascript:alert(1)" if hostile else "index.html")
    assert_safe(html, scripts=0)
    assert "<img" not in html
    assert "<script" not in html.lower()
    assert ESC not in html
    assert RLO not in html
    for url in BAD_URLS:
        assert f'href="{url}"' not in html
    assert not any(h.lower().lstrip().startswith(("javascript", "data:", "vbscript")) for h in _hrefs(html))


def test_review_page_shows_hostile_text_as_text() -> None:
    html = render_review_html(sample_review(hostile=True))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\\u202etxt.exe" in html
    assert "\\u001b[31mred" in html


def test_review_page_sections_and_links() -> None:
    html = render_review_html(sample_review(), index_href="../index.html")
    for anchor in ("summary", "metrics", "timeline", "chain", "entities", "detection", "recommendations",
                   "lessons", "actions", "notes"):
        assert f'id="{anchor}"' in html
        assert f'href="#{anchor}"' in html
    hrefs = _hrefs(html)
    assert "../index.html" in hrefs
    assert "https://security.microsoft.com/incidents/4711" in hrefs
    assert "https://attack.mitre.org/techniques/T1059/001/" in hrefs
    assert "https://attack.mitre.org/mitigations/M1040/" in hrefs
    assert "<svg" in html
    assert "Skipped between observed stages" in html
    assert "2 entities remain unremediated" in html
    assert "41 min" in html
    assert "2 d 3 h" in html
    assert "1.9\u00d7 slower" in html
    assert html.count('class="rule"') == 3  # one unanswered question, three ruled lines
    assert "Containment within 2 h" in html
    # Self-contained: nothing is fetched (no src attributes, no CSS urls or imports).
    assert not re.search(r"\b(src|srcset)=", html)
    assert "url(" not in html
    assert "@import" not in html


def test_review_page_rejects_unsafe_index_and_portal_links() -> None:
    html = render_review_html(sample_review(hostile=True), index_href="//evil.example/")
    assert "All incidents" not in html
    portal = [h for h in _hrefs(html) if "security.microsoft.com/incidents" in h]
    assert portal == ["https://security.microsoft.com/incidents/4711"]


def test_minimal_review_renders() -> None:
    html = render_review_html(minimal_review())
    assert_safe(html, scripts=0)
    assert "Untitled incident" in html
    assert "No alerts or comments." in html
    assert "Timeline of alerts" not in html


def test_thousand_alerts_render_bucketed() -> None:
    review = sample_review(timeline_entries=big_timeline(1000))
    html = render_review_html(review)
    assert_safe(html, scripts=0)
    tl = layout(review)
    assert tl.bucketed
    assert tl.plotted == len(review.timeline)
    assert len(tl.markers) <= 16 * 64
    assert sum(m.count for m in tl.markers) == tl.plotted
    assert html.count("<circle") + html.count('class="m m-comment"') == len(tl.markers)
    assert all(m.label == "" for m in tl.markers)


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param(timeline()[:1], id="one-alert"),
        pytest.param(tuple(msgspec.structs.replace(e, time=T0, created=T0) for e in timeline()), id="same-time"),
        pytest.param(tuple(msgspec.structs.replace(e, time=None, created=None) for e in timeline()), id="no-times"),
        pytest.param(tuple(TimelineEntry(time=T0 + timedelta(seconds=i), kind="alert", title="x" * 500,
                                         tactics=(f"tactic {i}",)) for i in range(30)), id="many-lanes"),
    ],
)
def test_timeline_edge_cases(entries: tuple[TimelineEntry, ...]) -> None:
    review = sample_review(timeline_entries=entries)
    html = render_review_html(review)
    assert_safe(html, scripts=0)
    tl = layout(review)
    assert tl.plotted + tl.unplotted == len(entries)
    assert len(tl.lanes) <= 18
    for marker in tl.markers:
        assert tl.left <= marker.x <= tl.right
        assert len(marker.label) <= 42
    for ms in tl.milestones:
        assert tl.left <= ms.x <= tl.right


def test_few_markers_are_numbered_like_the_table() -> None:
    review = sample_review()
    tl = layout(review)
    assert not tl.bucketed
    assert len(tl.markers) <= MAX_MARKERS
    assert sorted(m.number for m in tl.markers if m.number) == [1, 2, 3, 4, 5, 6, 7]  # entry 8 has no time
    assert tl.unplotted == 1


def test_index_has_one_own_script_allowed_by_csp() -> None:
    html = render_index_html(index())
    page = assert_safe(html, scripts=1)
    own = (files("afteraction.render") / "templates" / "index.js").read_text()
    assert page.scripts == [own]
    digest = base64.b64encode(hashlib.sha256(own.encode()).digest()).decode()
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert f"script-src 'sha256-{digest}'" in (csp or "")
    assert "default-src 'none'" in (csp or "")


def test_index_markup_for_filters_and_sort() -> None:
    html = render_index_html(index(n=12))
    page = parse(html)
    ids = {a.get("id") for _, a in page.tags}
    assert {"f-q", "f-type", "f-severity", "f-status", "f-from", "f-to", "f-reset", "f-shown", "incidents"} <= ids
    assert sum(1 for t, a in page.tags if t == "th" and "data-sort" in a) == 11
    rows = [a for t, a in page.tags if t == "tr" and "data-type" in a]
    assert len(rows) == 12
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", r["data-date"] or "") for r in rows)
    assert {"incidents/4700.html", "incidents/4711.html"} <= set(_hrefs(html))
    options = [a.get("value") for t, a in page.tags if t == "option"]
    assert "phishing" in options
    assert "high" in options
    assert "resolved" in options


def test_index_escapes_hostile_rows() -> None:
    html = render_index_html(index(hostile=True))
    page = assert_safe(html, scripts=1)
    assert ESC not in html
    assert RLO not in html
    assert "<img" not in html
    assert page.scripts[0].count("alert") == 0  # no data inside the script
    rows = [a for t, a in page.tags if t == "tr" and "data-type" in a]
    assert all(set(r) <= {"data-type", "data-severity", "data-status", "data-date", "class"} for r in rows)
    hostile = [r["data-type"] or "" for r in rows if (r["data-type"] or "").startswith("phishing <script>alert(1)")]
    assert len(hostile) == 1
    assert "\\u202etxt.exe" in hostile[0]
    hrefs = [h for h in _hrefs(html) if h and not h.startswith("#")]
    assert hrefs
    assert all(h.startswith("incidents/") for h in hrefs)
    assert PAYLOAD.split()[0] not in page.scripts[0]


def test_empty_index_renders() -> None:
    html = render_index_html(msgspec.structs.replace(index(), incidents=()))
    assert_safe(html, scripts=1)
    assert "No incident matches" in html


def test_templates_are_package_data() -> None:
    """Every template ships in the wheel: the package-data globs of pyproject.toml cover them."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["afteraction"]
    folder = root / "src" / "afteraction" / "render" / "templates"
    templates = sorted(p for p in folder.iterdir() if p.is_file())
    assert templates
    for path in templates:
        rel = path.relative_to(root / "src" / "afteraction")
        assert any(rel.match(g) for g in globs), rel
