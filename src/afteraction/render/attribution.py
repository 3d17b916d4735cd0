"""Attribution and incident-cluster pages: HTML (shared autoescaped environment) and Markdown.

The ranking statement comes first and says how sure the ranking is; "No confident attribution" is shown
as prominently as a band. A candidate is always a ranked hypothesis, never presented as a finding.

Every name, alias, mention, incident title and indicator may come from an alert or a third-party ATT&CK
bundle: HTML values pass the environment's finalize and autoescape, Markdown values :func:`~afteraction.
render.markdown.escape` (the cells are assembled here from escaped pieces and :func:`~afteraction.render.
markdown.link`, which links http(s) URLs only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from afteraction.analyze.attribution.model import (
    Attribution,
    Candidate,
    Clusters,
    Contribution,
    ExpectedTechnique,
    Ranking,
)
from afteraction.render import fmt
from afteraction.render.markdown import Md, escape, link

KIND_PLURAL = {"group": "groups", "campaign": "campaigns", "software": "software items"}
MATCH_TEXT = {"exact": "exact match", "parent": "parent back-off (parent or sibling technique)",
              "none": "not in the profile"}
BAND_TEXT = {"high": "High confidence", "moderate": "Moderate confidence", "low": "Low confidence",
             "insufficient": "No confident attribution"}
BAND_TONE = {"high": "tone-ok", "moderate": "tone-info", "low": "tone-warn", "insufficient": "tone-danger"}
_SECTIONS = (("groups", "Groups"), ("campaigns", "Campaigns"), ("software", "Software"))


def rarity(used_by: int, of: int, kind: str) -> str:
    """``used by 3 of 172 groups``: how many candidates of ``kind`` share the item (fewer is more telling)."""
    return f"used by {used_by:,} of {of:,} {KIND_PLURAL.get(kind, 'candidates')}"


def nats(weight: float) -> str:
    """A contribution in nats with its sign: ``+1.80 nats``."""
    return f"{weight:+.2f} nats"


def probability(value: float) -> str:
    """A probability with two decimals, as in the ranking statements."""
    return f"{value:.2f}"


def band_text(band: str) -> str:
    """The band's headline (a fixed set; anything unknown reads as no confident attribution)."""
    return BAND_TEXT.get(band, BAND_TEXT["insufficient"])


def band_tone(band: str) -> str:
    """A CSS class from a fixed set for a band."""
    return BAND_TONE.get(band, "tone-danger")


def rankings(result: Attribution) -> list[tuple[str, str, Ranking]]:
    """``(anchor, title, ranking)`` for groups, campaigns and software, in that order."""
    return [(anchor, title, getattr(result, anchor)) for anchor, title in _SECTIONS]


def _helpers() -> dict[str, Any]:
    return {"rarity": rarity, "nats": nats, "probability": probability, "band_text": band_text,
            "band_tone": band_tone, "match_text": MATCH_TEXT}


def render_attribution_html(result: Attribution, *, index_href: str | None = None) -> str:
    """One self-contained, printable page (no script) for an attribution result."""
    from afteraction.render.html import environment

    context = {
        "result": result,
        "generated": result.generated,
        "attack_version": result.attack_version,
        "script_src": "'none'",
        "index_href": fmt.relative_href(index_href),
        "rankings": rankings(result),
        **_helpers(),
    }
    return environment().get_template("attribution.html.j2").render(context)


def _cluster_pages(pages: Mapping[tuple[str, str], str] | None) -> dict[tuple[str, str], str]:
    return {k: href for k, v in (pages or {}).items() if (href := fmt.relative_href(v))}


def render_clusters_html(clusters: Clusters, index_href: str | None = None, *,
                         pages: Mapping[tuple[str, str], str] | None = None, generated: Any = None) -> str:
    """The clusters page; ``pages`` maps (source, incident id) to its review page (relative link)."""
    from afteraction.render.html import environment

    context = {
        "result": clusters,
        "generated": generated,
        "attack_version": clusters.attack_version,
        "script_src": "'none'",
        "index_href": fmt.relative_href(index_href),
        "pages": _cluster_pages(pages),
        **_helpers(),
    }
    return environment().get_template("clusters.html.j2").render(context)


# ---------------------------------------------------------------------------------------------- Markdown

def md_candidate(c: Candidate) -> Md:
    """Name and id (linked when the URL is http(s)), aliases and the provider flag, for a table cell."""
    out = f"**{escape(c.name)}** {link(c.id, c.url)}"
    if c.aliases:
        out += f" (aka {', '.join(escape(a) for a in c.aliases)})"
    if c.named_by_provider:
        out += " · **named by provider**"
    if c.related:
        out += f" · related: {', '.join(escape(r) for r in c.related)}"
    return Md(out)


def md_contribution(c: Contribution, kind: str) -> Md:
    """One shared item: id, name, contribution, rarity, how it matched and, for software, its mentions."""
    # numbers and fixed words only in nats/rarity/MATCH_TEXT: no escaping needed (it would only add backslashes)
    out = f"{escape(c.id)} {escape(c.name)} ({nats(c.weight)}, {rarity(c.used_by, c.of, kind)}"
    out += f", {MATCH_TEXT.get(c.match) or escape(c.match)})"
    if c.mentions:
        out += " mentioned in " + ", ".join(f"{escape(m.field)}: “{escape(fmt.truncate(m.text, 80))}”"
                                            + (f" (alert {escape(m.alert_id)})" if m.alert_id else "")
                                            for m in c.mentions)
    return Md(out)


def md_shared(c: Candidate, limit: int | None = None) -> Md:
    """The candidate's shared items (the first ``limit`` when given), separated by semicolons."""
    items = c.shared[:limit] if limit else c.shared
    more = f"; +{len(c.shared) - len(items)} more" if len(c.shared) > len(items) else ""
    return Md(("; ".join(md_contribution(s, c.kind) for s in items) or "nothing shared") + more)


def md_expected(items: tuple[ExpectedTechnique, ...], kind: str) -> Md:
    """Distinctive profile techniques that were not observed."""
    return Md("; ".join(f"{escape(e.id)} {escape(e.name)} ({rarity(e.used_by, e.of, kind)})"
                        for e in items) or "—")


def md_statement(r: Ranking) -> Md:
    """The ranking statement as a block quote, the headline first, then the reasons."""
    if r.insufficient or not r.candidates or r.band not in BAND_TEXT:
        head = "No confident attribution."
    else:
        head = f"{band_text(r.band)} ({probability(r.candidates[0].probability)})."
    lines = [f"> **{head}** {escape(r.statement)}"]
    lines += [f"> - {escape(reason)}" for reason in r.reasons]
    lines += [f"> - Caveat: {escape(caveat)}" for caveat in r.caveats]
    return Md("\n".join(lines))


def md_table(r: Ranking, contributions: int | None = None, expected: bool = True) -> Md:
    """The shortlist of one kind as a table (one row per candidate, cells escaped)."""
    if not r.candidates:
        return Md("_No candidate of this kind._")
    head = ["#", "Candidate", "Probability", "Score", "Shared evidence (contribution, rarity, match)", "Unexplained"]
    align = ["---:", "---", "---:", "---:", "---", "---:"]
    if expected:
        head.append("Expected, not observed")
        align.append("---")
    rows = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for c in r.candidates:
        cells = [str(c.rank), md_candidate(c), probability(c.probability), f"{c.score:.2f}",
                 md_shared(c, contributions), str(c.unexplained)]
        if expected:
            cells.append(md_expected(c.expected_not_observed, c.kind))
        rows.append("| " + " | ".join(cells) + " |")
    return Md("\n".join(rows))


def _md_helpers() -> dict[str, Any]:
    return {**_helpers(), "md_statement": md_statement, "md_table": md_table}


def _render_md(template: str, context: dict[str, Any]) -> str:
    from afteraction import __version__
    from afteraction.render.markdown import environment

    text = environment().get_template(template).render({"version": __version__, **_md_helpers(), **context})
    return re.sub(r"\n{3,}", "\n\n", text)


def render_attribution_markdown(result: Attribution) -> str:
    """An attribution result as GitHub-flavoured Markdown."""
    return _render_md("attribution.md.j2", {"result": result, "rankings": rankings(result)})


def render_clusters_markdown(clusters: Clusters) -> str:
    """Incident clusters as GitHub-flavoured Markdown."""
    return _render_md("clusters.md.j2", {"result": clusters})


__all__ = ["render_attribution_html", "render_attribution_markdown", "render_clusters_html",
           "render_clusters_markdown"]
