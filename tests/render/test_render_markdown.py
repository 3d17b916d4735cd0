"""The Markdown review: readable structure, and hostile text that stays text whatever renders it."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from html_checks import assert_safe
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_checks import to_html
from review_fixture import ESC, RLO, big_timeline, minimal_review, sample_review

from afteraction.render import fmt
from afteraction.render.markdown import Md, escape, link, render_review_markdown

markdown_it = pytest.importorskip("markdown_it")


@pytest.mark.parametrize("hostile", [False, True])
def test_markdown_is_inert(hostile: bool) -> None:
    text = render_review_markdown(sample_review(hostile))
    assert "<" not in text  # no raw HTML at all: data's < is an entity
    assert ESC not in text
    assert RLO not in text
    for target in re.findall(r"(?<!\\)\]\(([^)]*)\)", text):
        assert target.startswith(("https://", "http://")), target
    assert_safe(to_html(text), scripts=0)
    rendered = to_html(text)
    assert "<img" not in rendered
    assert "<script" not in rendered


def test_markdown_structure() -> None:
    text = render_review_markdown(sample_review())
    for heading in ("# Post-incident review: ", "## Summary", "## Metrics", "## Timeline", "## ATT&CK chain",
                    "## Entities", "## Detection", "## Recommendations", "## Lessons learned (NIST SP 800-61)",
                    "## Action items", "## Notes on the data"):
        assert f"\n{heading}" in "\n" + text, heading
    assert "| Time to detect | 41 min | 22 min |" in text
    assert "[T1059.001](https://attack.mitre.org/techniques/T1059/001/) PowerShell" in text
    assert "> **Answer:** _to be completed in the review meeting_" in text
    assert "- [ ] **High:** Enable the LSASS ASR rule" in text
    assert "**skipped: review**" in text
    assert "**observed** · earliest activity" in text
    assert not re.search(r"\n{3,}", text)


def test_hostile_table_cells_keep_their_columns() -> None:
    text = render_review_markdown(sample_review(hostile=True))
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    rows: list[int] = []
    for tok in tokens:
        if tok.type == "tr_open":
            rows.append(0)
        elif tok.type in ("td_open", "th_open"):
            rows[-1] += 1
    tables = text.count("\n| --- |") + text.count("\n| ---: |")
    assert tables >= 7
    assert rows
    headers = [len(re.findall(r"(?<!\\)\|", line)) - 1 for line in text.splitlines() if line.startswith("| #")]
    assert 8 in headers  # the timeline table has eight columns...
    html = to_html(text)
    timeline = html.split("<h2>Timeline</h2>")[1].split("</table>")[0]
    assert all(row.count("<td") == 8 for row in timeline.split("<tr>")[2:])  # ...in every hostile row


def test_minimal_and_large_reviews_render() -> None:
    small = render_review_markdown(minimal_review())
    assert "_No alerts or comments._" in small
    assert "Untitled incident" in small
    large = render_review_markdown(sample_review(timeline_entries=big_timeline(1000)))
    assert large.count("\n| ") > 1000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a|b", "a\\|b"),
        ("line\nbreak", "line break"),
        ("<script>", "&lt;script&gt;"),
        ("&lt;", "&amp;lt;"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        ("`code`", "\\`code\\`"),
        ("# title", "\\# title"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("2.5 h", "2.5 h"),
        ('=HYPERLINK("http://x")', '\\=HYPERLINK("http://x")'),
        ("+1", "\\+1"),
        ("@bob", "\\@bob"),
        ("\x1b[31m", "\\\\u001b\\[31m"),
        ("\u202eexe", "\\\\u202eexe"),
        (None, "—"),
    ],
)
def test_escape(raw: str | None, expected: str) -> None:
    assert escape(raw) == expected
    assert isinstance(escape(raw), Md)


def test_links_only_http_and_encoded() -> None:
    assert link("x", "https://ex.com/a b(1)") == "[x](https://ex.com/a%20b%281%29)"
    assert link("x", "https://ex.com/<i>") == "[x](https://ex.com/%3Ci%3E)"
    for bad in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:x", "data:text/html,x", "//x.example",
                "java\nscript:x", "mailto:a@b.c", "file:///etc/passwd", None):
        assert link("label", bad) == "label"


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
@example("1) x")
@example("- [ ] task")
@example("***")
@example("> quote")
@example("    indented code")
@example("<div onclick=x>")
@example("[ref]: javascript:alert(1)")
@example("![i](http://x/i.png)")
@example("a\\")
@example("~~~")
@example("$x$")
@example("Setext\n===")
@example("x &copy; &#60;")
@settings(max_examples=300, deadline=None)
def test_escaped_text_renders_back_as_the_same_plain_text(text: str) -> None:
    """Whatever the input, the escaped Markdown renders to one paragraph holding exactly the (cleaned) text."""
    expected = " ".join(fmt.clean(text, keep_newlines=False).split())
    out = escape(text)
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    html = md.render(out)
    if not expected:
        assert html == ""
        return
    assert html.startswith("<p>"), html
    assert html.endswith("</p>\n"), html
    assert html.count("<") == 2, html
    assert htmllib.unescape(html[3:-5]) == expected
    cell = md.render(f"| a | b |\n| --- | --- |\n| {out} | z |\n")
    assert htmllib.unescape(re.findall(r"<td>(.*?)</td>", cell)[0]) == expected
