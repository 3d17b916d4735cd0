"""GitHub-flavoured Markdown for the incident review, escaped by default.

The template environment's ``finalize`` escapes every interpolated value (:func:`escape`) unless it is
an :class:`Md`, which only this module's helpers make (links to http(s) URLs, technique references).
Escaped text cannot open a link, image, emphasis, code span, table cell, heading, list or raw HTML, and
control/bidi characters are shown as visible ``\\uXXXX`` escapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from afteraction.analyze.review.model import Link, Review, TechniqueInfo
from afteraction.render import fmt


class Md(str):
    """Markdown made by this module's helpers; the template inserts it verbatim."""

    __slots__ = ()


# Inline metacharacters escaped anywhere: emphasis, code, links/images, tables, strike, math, autolinks.
_INLINE = re.compile(r"([\\`*_\[\]|~$@!{}])")
# Block openers at the start of the text: headings, lists, quotes, setext/thematic lines, formulas.
_LEADING = re.compile(r"^([#+\-=]|\d+(?=[.)](?:\s|$)))")
_SPACE = re.compile(r"\s+")
# Only an ampersand that would start a character reference needs escaping; a bare one ("ATT&CK") is text.
_ENTITY_START = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def escape(value: object) -> Md:
    """``value`` as inert Markdown text on one line (safe in paragraphs, headings, lists and table cells)."""
    if value is None:
        return Md("—")
    text = _SPACE.sub(" ", fmt.clean(value, keep_newlines=False)).strip()
    text = _ENTITY_START.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(r"\\\1", text)
    match = _LEADING.match(text)
    if match:
        end = match.end()
        text = (text[:end] + "\\" + text[end:]) if match.group(1)[0].isdigit() else "\\" + text
    return Md(text)


def _finalize(value: Any) -> Md:
    return value if isinstance(value, Md) else escape(value)


def link(label: object, url: str | None) -> Md:
    """``[label](url)`` when ``url`` is http(s); otherwise the escaped label alone."""
    safe_url = fmt.http_url(url)
    text = escape(label)
    if not safe_url:
        return text
    encoded = quote(safe_url, safe=":/?#@!$&'*+,;=%~-._[]")
    return Md(f"[{text}]({encoded})")


def tech(t: TechniqueInfo, with_name: bool = True) -> Md:
    """A technique id linked to ATT&CK, its name and, when not active, its status."""
    out = link(t.id, t.url)
    if with_name and t.name:
        out = Md(f"{out} {escape(t.name)}")
    if t.status != "active":
        was = f", was {escape(t.raw)}" if t.raw else ""
        out = Md(f"{out} ({escape(t.status)}{was})")
    return out


def link_item(item: Link) -> Md:
    """A :class:`Link` as a Markdown link (http(s) only)."""
    return link(item.label, item.url)


def join(items: Any, sep: str = ", ", each: Callable[[Any], Any] | None = None) -> Md:
    """Items (through ``each`` when given) joined by ``sep`` (a template constant, not data), each escaped
    unless it is already :class:`Md`."""
    return Md(sep.join(_finalize(each(item) if each else item) for item in items))


@cache
def environment() -> Environment:
    """The Markdown template environment: no HTML autoescape, Markdown escaping by ``finalize``."""
    env = Environment(
        loader=PackageLoader("afteraction.render", "templates"),
        autoescape=False,  # noqa: S701 - Markdown output; every value is escaped by ``finalize``
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=fmt.bytecode_cache(),
        keep_trailing_newline=True,
    )
    env.filters.update(when=fmt.when, duration=fmt.duration, label=fmt.label, count=fmt.count,
                       truncate_text=fmt.truncate, http_url=fmt.http_url)
    env.globals.update(link=link, link_item=link_item, tech=tech, join=join)
    return env


def _refs(review: Review) -> dict[str, Md]:
    """Technique and mitigation ids as links, for action items and mitigation coverage."""
    refs: dict[str, Md] = {}
    techniques = [t for e in review.timeline for t in e.techniques]
    techniques += [t for s in review.chain.stages for t in s.techniques]
    techniques += [d.technique for d in review.recommendations.detections]
    for t in techniques:
        if t.id not in refs and fmt.http_url(t.url):
            refs[t.id] = link(t.id, t.url)
    for mit in review.recommendations.mitigations:
        if mit.id not in refs and fmt.http_url(mit.url):
            refs[mit.id] = link(mit.id, mit.url)
    return refs


def render_review_markdown(review: Review) -> str:
    """The review of one incident as GitHub-flavoured Markdown."""
    from afteraction import __version__

    refs = _refs(review)
    m = review.metrics
    p = m.peers
    metrics = [
        ("Time to detect", fmt.duration(m.time_to_detect), fmt.duration(p.time_to_detect) if p else ""),
        ("Time to acknowledge", fmt.duration(m.time_to_acknowledge), fmt.duration(p.time_to_acknowledge) if p else ""),
        ("Time to resolve", fmt.duration(m.time_to_resolve), fmt.duration(p.time_to_resolve) if p else ""),
        ("Dwell time", fmt.duration(m.dwell_time), ""),
        ("Activity span", fmt.duration(m.activity_span), ""),
        ("Alerts", fmt.count(m.alerts), fmt.count(p.alerts) if p else ""),
        ("Techniques", fmt.count(m.techniques), ""),
        ("Tactics", fmt.count(m.tactics), ""),
        ("Entities", fmt.count(m.entities), ""),
    ]
    context = {
        "review": review,
        "version": __version__,
        "metrics": metrics,
        "stages": sorted(review.chain.stages, key=lambda s: s.order),
        "skipped_ids": {s.tactic_id for s in review.chain.skipped},
        "unremediated": [e for e in review.entities if e.unremediated],
        "sources": sorted(review.detection.sources.items(), key=lambda i: (-i[1], i[0])),
        "ref": lambda key: refs.get(key) or escape(key),
    }
    text = environment().get_template("review.md.j2").render(context)
    return re.sub(r"\n{3,}", "\n\n", text)
