"""HTML pages: the incident review and the report site's index (Jinja2, autoescaped, self-contained).

Every page extends ``base.html.j2`` and inlines ``style.css``; the only script is the index's own
``index.js`` (static, no data inside it), allowed by a hash in the page's Content-Security-Policy.
Every interpolated value passes :func:`_finalize` (control and bidi characters made visible) and then
Jinja2's HTML escaping; URLs become links only when they are http(s).

Other site pages (coverage, trends...) use :func:`environment` and extend ``base.html.j2``: blocks
``title``, ``kicker``, ``header``, ``nav`` (``site_links`` on the index), ``content``, ``scripts``,
``page_class``; context ``generated``, ``attack_version`` and ``script_src`` (``"'none'"`` without a script).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from functools import cache
from statistics import median
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from afteraction.analyze.review.model import Index, Review, TechniqueInfo
from afteraction.render import fmt
from afteraction.render.timeline_svg import layout

_TONES: dict[str, dict[str, str]] = {
    "status": {"resolved": "tone-ok", "active": "tone-danger", "inProgress": "tone-warn", "new": "tone-danger",
               "awaitingAction": "tone-warn", "redirected": "tone-neutral"},
    "classification": {"truePositive": "tone-danger", "falsePositive": "tone-ok",
                       "informationalExpectedActivity": "tone-info"},
    "determination": {"notMalicious": "tone-ok", "securityTesting": "tone-info", "securityPersonnel": "tone-info",
                      "lineOfBusinessApplication": "tone-info"},
    "verdict": {"malicious": "tone-danger", "suspicious": "tone-warn", "noThreatsFound": "tone-ok"},
    "verdict_name": {"malicious": "malicious", "suspicious": "suspicious"},
    "remediation": {"remediated": "tone-ok", "prevented": "tone-ok", "blocked": "tone-ok",
                    "unremediated": "tone-danger", "active": "tone-danger", "declined": "tone-danger",
                    "pendingApproval": "tone-warn", "running": "tone-warn", "partiallyRemediated": "tone-warn"},
    "priority": {"high": "tone-danger", "medium": "tone-warn", "low": "tone-info"},
}
_DEFAULT_TONE = {"determination": "tone-warn", "verdict_name": "other"}


def tone(kind: str, value: str | None) -> str:
    """A CSS class from a fixed set for ``value`` of an enum ``kind`` (never input text)."""
    return _TONES.get(kind, {}).get(value or "", _DEFAULT_TONE.get(kind, "tone-neutral"))


def _finalize(value: Any) -> Any:
    """Applied to every ``{{ }}`` before escaping: None shows as a dash, unsafe characters as escapes."""
    if value is None:
        return "—"
    if isinstance(value, Markup):
        return Markup(fmt.clean(str(value)))  # noqa: S704 - already escaped markup; only control chars change
    if isinstance(value, str):
        return fmt.clean(value)
    return value


@cache
def environment() -> Environment:
    """The shared HTML template environment (autoescape on, strict undefined)."""
    env = Environment(
        loader=PackageLoader("afteraction.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=fmt.bytecode_cache(),
    )
    env.filters.update(
        when=fmt.when, when_precise=fmt.when_precise, clock=fmt.clock, duration=fmt.duration, label=fmt.label,
        count=fmt.count,
        sevclass=fmt.severity_class, http_url=fmt.http_url, href=fmt.relative_href, iso_date=fmt.iso_date,
        epoch=fmt.epoch, truncate_text=fmt.truncate, sevrank=fmt.severity_rank,
    )
    env.globals.update(tone=tone, version=_version())
    return env


def _version() -> str:
    from afteraction import __version__

    return __version__


@cache
def _script(name: str) -> tuple[Markup, str]:
    """A static script shipped with the templates, and its CSP source expression."""
    loader = environment().loader
    assert loader is not None
    source = loader.get_source(environment(), name)[0]
    if "</" in source:
        raise ValueError(f"{name} must not contain '</'")
    digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
    return Markup(source), f"'sha256-{digest}'"  # noqa: S704 - our own static file, no data


def _techniques(review: Review) -> list[TechniqueInfo]:
    found: list[TechniqueInfo] = [t for e in review.timeline for t in e.techniques]
    for stage in review.chain.stages:
        found.extend(stage.techniques)
    for skipped in review.chain.skipped:
        found.extend(lt.technique for lt in skipped.likely)
    found.extend(d.technique for d in review.recommendations.detections)
    return found


def _ref_urls(review: Review) -> dict[str, str]:
    """Technique and mitigation ids to their ATT&CK URLs (http(s) only), for action-item links."""
    urls: dict[str, str] = {}
    for t in _techniques(review):
        if t.url and t.id not in urls and fmt.http_url(t.url):
            urls[t.id] = t.url
    for mit in review.recommendations.mitigations:
        if mit.url and fmt.http_url(mit.url):
            urls.setdefault(mit.id, mit.url)
    return urls


def _delta(value: float | None, peer: float | None, *, lower_is_better: bool = True) -> tuple[str, str]:
    r = fmt.ratio(value, peer)
    if r is None or 0.9 <= r <= 1.1:
        return ("about the same", "") if r is not None else ("", "")
    worse = r > 1 if lower_is_better else r < 1
    text = f"{r:.1f}\u00d7 {'slower' if r > 1 else 'faster'}" if lower_is_better else f"{r:.1f}\u00d7"
    return text, "up" if worse else "down"


def _cards(review: Review) -> list[dict[str, str]]:
    m, p = review.metrics, review.metrics.peers
    cards: list[dict[str, str]] = []
    timed = (
        ("Time to detect", m.time_to_detect, p.time_to_detect if p else None, "first activity → first alert"),
        ("Time to acknowledge", m.time_to_acknowledge, p.time_to_acknowledge if p else None,
         f"by {m.acknowledged_by}" if m.acknowledged_by else ""),
        ("Time to resolve", m.time_to_resolve, p.time_to_resolve if p else None, ""),
        ("Dwell time", m.dwell_time, None, ""),
        ("Activity span", m.activity_span, None, "first to last activity"),
    )
    for key, value, peer, sub in timed:
        delta, cls = _delta(value, peer)
        cards.append({"key": key, "value": fmt.duration(value), "sub": sub,
                      "peer": fmt.duration(peer) if peer is not None else "", "delta": delta, "delta_class": cls})
    alerts_peer = p.alerts if p else None
    cards.append({"key": "Alerts", "value": fmt.count(m.alerts), "sub": "",
                  "peer": fmt.count(alerts_peer) if alerts_peer is not None else "", "delta": "", "delta_class": ""})
    cards.append({"key": "Techniques · tactics", "value": f"{m.techniques} · {m.tactics}", "sub": "ATT&CK",
                  "peer": "", "delta": "", "delta_class": ""})
    ranked = sorted(m.entities_by_type.items(), key=lambda i: (-i[1], i[0]))
    by_type = ", ".join(f"{n} {fmt.label(t).lower()}" for t, n in ranked)
    cards.append({"key": "Entities", "value": fmt.count(m.entities), "sub": fmt.truncate(by_type, 80),
                  "peer": "", "delta": "", "delta_class": ""})
    return cards


_TOC = (("summary", "Summary"), ("metrics", "Metrics"), ("timeline", "Timeline"), ("chain", "ATT&CK chain"),
        ("entities", "Entities"), ("detection", "Detection"), ("recommendations", "Recommendations"),
        ("lessons", "Lessons learned"), ("actions", "Action items"))


def render_review_html(review: Review, *, index_href: str | None = None,
                       playbook_links: Sequence[tuple[str, str]] = ()) -> str:
    """The review of one incident as one self-contained, printable HTML page (no script).

    ``playbook_links`` are (label, relative href) pairs to the incident's remediation playbook files.
    """
    m = review.metrics
    total = sum(review.detection.sources.values()) or 1
    sources = [(name, n, round(100 * n / total, 1))
               for name, n in sorted(review.detection.sources.items(), key=lambda i: (-i[1], i[0]))]
    toc = list(_TOC) + ([("notes", "Notes")] if review.notes else [])
    context = {
        "review": review,
        "generated": review.generated,
        "attack_version": review.header.attack_version,
        "script_src": "'none'",
        "index_href": fmt.relative_href(index_href),
        "playbook_links": [(label, safe) for label, href in playbook_links if (safe := fmt.relative_href(href))],
        "portal_links": [link for link in review.header.links if fmt.http_url(link.url)],
        "toc": toc,
        "cards": _cards(review),
        "key_times": [("First activity", m.first_activity), ("First alert", m.first_alert),
                      ("Acknowledged", m.acknowledged), ("Resolved", m.resolved), ("Last activity", m.last_activity)],
        "tl": layout(review),
        "stages": sorted(review.chain.stages, key=lambda s: s.order),
        "skipped_ids": {s.tactic_id for s in review.chain.skipped},
        "unremediated": [e for e in review.entities if e.unremediated],
        "sources": sources,
        "ref_urls": _ref_urls(review),
    }
    return environment().get_template("review.html.j2").render(context)


def render_index_html(index: Index, *, coverage_href: str | None = None,
                      attribution_href: str | None = None, program_links: Sequence[tuple[str, str]] = ()) -> str:
    """The report site's index: every incident, sortable and filterable in the browser without network.

    ``coverage_href`` and ``attribution_href`` link the site's coverage and incident clusters pages from
    the navigation.
    """
    script, script_src = _script("index.js")
    rows = sorted(index.incidents, key=lambda r: (-(r.created or r.first_activity or index.generated).timestamp(),
                                                  r.source, r.id))
    facets = {
        "type": sorted({(r.incident_type, r.incident_type_label) for r in rows}),
        "severity": sorted({r.severity for r in rows}, key=lambda s: (fmt.severity_rank(s), s)),
        "status": sorted({r.status for r in rows}),
    }
    resolved = [r.time_to_resolve for r in rows if r.time_to_resolve is not None]
    detect = [r.time_to_detect for r in rows if r.time_to_detect is not None]
    stats = {
        "incidents": len(rows),
        "high": sum(1 for r in rows if r.severity == "high"),
        "open": sum(1 for r in rows if r.status != "resolved"),
        "unremediated": sum(r.unremediated for r in rows),
        "mttd": fmt.duration(median(detect) if detect else None),
        "mttr": fmt.duration(median(resolved) if resolved else None),
    }
    context = {
        "index": index,
        "rows": rows,
        "facets": facets,
        "stats": stats,
        "generated": index.generated,
        "attack_version": index.attack_version,
        "script": script,
        "script_src": script_src,
        "coverage_href": fmt.relative_href(coverage_href),
        "attribution_href": fmt.relative_href(attribution_href),
        "program_links": [(label, href) for label, h in program_links if (href := fmt.relative_href(h))],
    }
    return environment().get_template("index.html.j2").render(context)

