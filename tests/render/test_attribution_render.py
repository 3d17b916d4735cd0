"""Attribution and cluster pages: statement first, real results render, hostile strings stay inert text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from html_checks import RAW_UNSAFE, assert_safe
from markdown_checks import assert_tables_keep_columns, to_html
from review_fixture import BAD_URLS, ESC, FORMULA, JS_URL, MD, PAYLOAD, RLO, SCRIPT

from afteraction.analyze.attribution import attributor, from_lists
from afteraction.analyze.attribution.model import (
    SCHEMA_VERSION,
    Attribution,
    Candidate,
    Cluster,
    ClusterIncident,
    Clusters,
    Contribution,
    Evidence,
    ExpectedTechnique,
    NamedActor,
    ObservedSoftware,
    ObservedTechnique,
    Ranking,
    SharedIndicator,
    SoftwareMention,
)
from afteraction.attack import load_kb
from afteraction.attack.kb import KnowledgeBase
from afteraction.render.attribution import (
    render_attribution_html,
    render_attribution_markdown,
    render_clusters_html,
    render_clusters_markdown,
)

T0 = datetime(2026, 3, 4, 9, 12, tzinfo=UTC)
BIDI = "\u2066\u2067\u2069\u200f"
FORMULA_CMD = "=cmd|' /C calc'!A0"
HOSTILE = f"{PAYLOAD} {BIDI} {FORMULA_CMD} [click](javascript:alert(1)) <a href='javascript:x'>a</a>"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb("bundled")


@pytest.fixture(scope="module")
def real(kb: KnowledgeBase) -> Attribution:
    ev = from_lists(kb, ["T1566.001", "T1059.001", "T1486", "T1003.001"], ["Cobalt Strike"])
    return attributor(kb).attribute(ev, now=T0)


@pytest.fixture(scope="module")
def weak(kb: KnowledgeBase) -> Attribution:
    return attributor(kb).attribute(from_lists(kb, ["T1059.001"]), now=T0)


def _contribution(i: int, kind: str = "technique") -> Contribution:
    return Contribution(kind=kind, id=f"T10{i} {HOSTILE}", name=HOSTILE, weight=1.5 - i / 10,  # type: ignore[arg-type]
                        match="parent" if i % 2 else "exact", used_by=3, of=172,
                        mentions=(SoftwareMention(field=HOSTILE, text=HOSTILE, alert_id=HOSTILE),)
                        if kind == "software" else ())


def _candidate(rank: int, kind: str, url: str) -> Candidate:
    return Candidate(
        rank=rank, kind=kind, id=f"G{rank} {HOSTILE}", name=HOSTILE, url=url, score=3.2, probability=0.4,  # type: ignore[arg-type]
        aliases=(FORMULA_CMD, HOSTILE, MD), shared=(_contribution(1, "software"), _contribution(2), _contribution(3)),
        unexplained=2, expected_not_observed=(ExpectedTechnique(HOSTILE, HOSTILE, 2, 172),),
        named_by_provider=rank == 1, related=(HOSTILE,))


def _ranking(kind: str, insufficient: bool) -> Ranking:
    cands = tuple(_candidate(i, kind, BAD_URLS[i % len(BAD_URLS)]) for i in range(1, 4))
    return Ranking(kind=kind, candidates=cands, band="insufficient" if insufficient else "moderate",  # type: ignore[arg-type]
                   insufficient=insufficient, statement=HOSTILE, reasons=(HOSTILE,), caveats=(HOSTILE,))


def hostile_attribution(insufficient: bool = False) -> Attribution:
    ev = Evidence(
        incidents=(HOSTILE, "42"),
        techniques=(ObservedTechnique(HOSTILE, HOSTILE, JS_URL, 3),
                    ObservedTechnique("T1059", HOSTILE, " javascript:x")),
        software=(ObservedSoftware(HOSTILE, HOSTILE, HOSTILE, "data:text/html,<script>x</script>",
                                   (SoftwareMention(HOSTILE, HOSTILE, HOSTILE),)),),
        named_actors=(NamedActor(HOSTILE, HOSTILE, HOSTILE, HOSTILE),),
        unknown_techniques=(FORMULA_CMD, HOSTILE, FORMULA),
        tactic_order=(HOSTILE, "execution"),
    )
    return Attribution(schema_version=SCHEMA_VERSION, attack_version=HOSTILE, attack_source=HOSTILE, method=HOSTILE,
                       evidence=ev, groups=_ranking("group", insufficient), campaigns=_ranking("campaign", True),
                       software=_ranking("software", insufficient), generated=T0)


def hostile_clusters(attribution: Attribution | None) -> Clusters:
    inc = (ClusterIncident(HOSTILE, HOSTILE, T0, HOSTILE), ClusterIncident("51007", HOSTILE, None, "high"))
    cluster = Cluster(id=HOSTILE, incidents=inc, first=T0, last=None,
                      shared=(SharedIndicator("ip", HOSTILE, HOSTILE, 2), SharedIndicator("domain", HOSTILE)),
                      statement=HOSTILE, attribution=attribution)
    return Clusters(schema_version=SCHEMA_VERSION, attack_version=HOSTILE, incidents=2,
                    clusters=(cluster, cluster), method=HOSTILE)


def assert_markdown_inert(text: str) -> None:
    assert "<" not in text  # data's < is an entity; the renderer writes no raw HTML
    assert ESC not in text
    assert RLO not in text
    assert not RAW_UNSAFE.search(text)
    for target in re.findall(r"(?<!\\)\]\(([^)]*)\)", text):
        assert target.startswith(("https://", "http://")), target
    assert "\n=cmd" not in text
    assert "| =cmd" not in text
    rendered = to_html(text)
    assert_safe(rendered, scripts=0)
    assert "<img" not in rendered
    assert "<script" not in rendered
    assert "javascript:" not in re.sub(
        r">[^<]*<", "><", rendered)


# --------------------------------------------------------------------------------------------- real results

def test_real_result_html(real: Attribution) -> None:
    html = render_attribution_html(real, index_href="index.html")
    page = assert_safe(html, scripts=0)
    assert html.index("Ranking statement") < html.index('id="groups"')
    assert real.groups.statement.replace("&", "&amp;") in html
    top = real.groups.candidates[0]
    assert top.name in html
    assert top.id in html
    assert "nats" in html
    assert "of 172 groups" in html
    assert "Expected, not observed" in html
    assert "Cobalt Strike" in html
    assert "query" in html
    assert "not a finding" in html
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert "index.html" in hrefs
    assert any(h and h.startswith("https://attack.mitre.org/groups/") for h in hrefs)
    assert real.method.split(" (")[0] in html
    assert "ATT&amp;CK 18" in html or real.attack_version in html


def test_real_result_markdown(real: Attribution) -> None:
    text = render_attribution_markdown(real)
    assert_markdown_inert(text)
    assert_tables_keep_columns(text)
    assert text.index("## Ranking statement") < text.index("## Groups") < text.index("## Campaigns")
    assert "## Evidence" in text
    assert "## Method" in text
    top = real.groups.candidates[0]
    assert f"[{top.id}](https://attack.mitre.org/groups/{top.id})" in text
    assert "of 172 groups" in text
    assert not re.search(r"\n{3,}", text)


def test_insufficient_evidence_says_no_confident_attribution(weak: Attribution) -> None:
    assert weak.groups.insufficient
    html = render_attribution_html(weak)
    assert_safe(html, scripts=0)
    assert "No confident attribution" in html
    assert 'class="callout danger"' in html
    text = render_attribution_markdown(weak)
    assert "> **No confident attribution.**" in text
    assert "Most consistent with" not in text.split("## Groups")[0]


# ------------------------------------------------------------------------------------------ hostile values

@pytest.mark.parametrize("insufficient", [False, True])
def test_hostile_attribution_html_is_inert(insufficient: bool) -> None:
    html = render_attribution_html(hostile_attribution(insufficient), index_href=JS_URL)
    page = assert_safe(html, scripts=0)
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html
    assert "\\u202e" in html
    assert "\\u2066" in html
    for tag, attrs in page.tags:
        if tag == "a":
            assert attrs.get("href", "").startswith(("https://", "http://", "#", "index")), attrs
    assert ("No confident attribution" in html) is True  # campaigns are always insufficient here
    assert "Named by provider" in html
    assert "Caveat: " in html


@pytest.mark.parametrize("insufficient", [False, True])
def test_hostile_attribution_markdown_is_inert(insufficient: bool) -> None:
    text = render_attribution_markdown(hostile_attribution(insufficient))
    assert_markdown_inert(text)
    assert_tables_keep_columns(text)
    assert "\\[click\\](javascript:alert(1))" in text
    assert "\\=cmd\\|" in text
    assert "\\=HYPERLINK" in text
    if insufficient:
        assert text.count("> **No confident attribution.**") >= 2


@pytest.mark.parametrize("with_attribution", [True, False])
def test_hostile_clusters_are_inert(with_attribution: bool) -> None:
    clusters = hostile_clusters(hostile_attribution() if with_attribution else None)
    pages = {("defender", "51007"): "incidents/51007-abc.html", ("defender", HOSTILE): JS_URL}
    html = render_clusters_html(clusters, JS_URL, pages=pages, generated=T0)
    page = assert_safe(html, scripts=0)
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert "incidents/51007-abc.html" in hrefs
    assert JS_URL not in hrefs
    assert SCRIPT not in html
    assert ("Most consistent ATT&amp;CK groups" in html) is with_attribution
    text = render_clusters_markdown(clusters)
    assert_markdown_inert(text)
    assert_tables_keep_columns(text)
    assert text.count("## Cluster ") == 2


def test_clusters_from_real_attribution(real: Attribution, weak: Attribution) -> None:
    inc = (ClusterIncident("1", "Phish", T0, "high"), ClusterIncident("2", "Phish again", T0, "medium"))
    shared = (SharedIndicator("software", "S0154", "Cobalt Strike", 2),)
    clusters = Clusters(schema_version=SCHEMA_VERSION, attack_version="18.1", incidents=5, method="shared indicators",
                        clusters=(Cluster("c1", inc, T0, T0, shared, "These 2 incidents share Cobalt Strike.", real),
                                  Cluster("c2", inc, T0, None, (), "Weak cluster.", weak)))
    html = render_clusters_html(clusters, "index.html", pages={("defender", "1"): "incidents/1-x.html"})
    assert_safe(html, scripts=0)
    assert 'href="incidents/1-x.html"' in html
    assert "Cobalt Strike" in html
    assert "No confident attribution" in html
    assert real.groups.candidates[0].name in html
    text = render_clusters_markdown(clusters)
    assert_markdown_inert(text)
    assert "These 2 incidents share Cobalt Strike." in text
    empty = Clusters(schema_version=SCHEMA_VERSION, attack_version="18.1", incidents=0, clusters=(), method="m")
    assert "No clusters" in render_clusters_html(empty)
    assert "No clusters" in render_clusters_markdown(empty)


@pytest.mark.parametrize("insufficient", [False, True])
def test_review_attribution_section_is_inert(insufficient: bool) -> None:
    import msgspec
    from review_fixture import sample_review

    from afteraction.render.html import render_review_html
    from afteraction.render.markdown import render_review_markdown

    review = msgspec.structs.replace(sample_review(hostile=True), attribution=hostile_attribution(insufficient))
    html = render_review_html(review)
    assert_safe(html, scripts=0)
    assert 'id="attribution"' in html
    assert 'href="#attribution"' in html
    assert SCRIPT not in html
    assert ("No confident attribution" in html) is insufficient
    text = render_review_markdown(review)
    assert_markdown_inert(text)
    section = text.split("## Attribution")[1].split("\n## ")[0]
    assert_tables_keep_columns(section)
    assert section.count("\n| ") == 2 + 3  # header, alignment, three candidates
    assert ("> **No confident attribution.**" in section) is insufficient
    assert "afteraction attribute" in section


def test_review_without_attribution_has_no_section(real: Attribution) -> None:
    from review_fixture import sample_review

    from afteraction.render.html import render_review_html
    from afteraction.render.markdown import render_review_markdown

    review = sample_review()
    assert review.attribution is None
    assert 'id="attribution"' not in render_review_html(review)
    assert "## Attribution" not in render_review_markdown(review)
