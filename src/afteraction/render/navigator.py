"""ATT&CK Navigator layers (layer format 4.5): a small builder, independent of how scores are computed.

:func:`build_layer` turns :class:`TechniqueEntry` values into one layer dict (keys in spec order, techniques
sorted, so the same input gives the same bytes); :func:`categorical_layer` builds a layer from
``{technique_id: category}`` and a category table (score, colour, label), with a matching legend and
gradient; :func:`write_layers` writes one layer or an array of layers as UTF-8 JSON, atomically.

Strings are attacker-influenced: control, bidi and zero-width characters are removed, long text is cut,
and only http(s) links are kept. The Navigator shows every string as text. The schema is
``docs/schemas/navigator-layer-4.5.schema.json``; ``docs/navigator.md`` explains the contents.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from afteraction.attack.kb import normalize_technique_id
from afteraction.render.fmt import http_url
from afteraction.render.output import write_output
from afteraction.render.terminal import UNSAFE_CHARS

LAYER_VERSION: Final = "4.5"
#: Navigator release whose layer format is 4.5.
NAVIGATOR_VERSION: Final = "5.1.0"
DOMAINS: Final = ("enterprise-attack", "mobile-attack", "ics-attack")
#: Longest technique comment kept; longer comments are cut with an ellipsis.
MAX_COMMENT: Final = 2000
#: Longest name, description, label or metadata value kept.
MAX_TEXT: Final = 500
MAX_DESCRIPTION: Final = 4000
MAX_URL: Final = 2048
#: The Navigator's own default gradient (red -> yellow -> green over 0-100).
DEFAULT_GRADIENT_COLORS: Final = ("#ff6666", "#ffe766", "#8ec843")

Domain = Literal["enterprise-attack", "mobile-attack", "ics-attack"]
Score = int | float

# Unsafe characters (C0/C1 controls, bidi, zero-width, line separators), plus lone surrogates and the
# non-characters U+FFFE/U+FFFF, which cannot be written as UTF-8.
_STRIP = re.compile(f"[{UNSAFE_CHARS}\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_TACTIC = re.compile(r"[a-z]+(?:-[a-z]+)*")
_ATTACK_VERSION = re.compile(r"v?(\d+)(?:\.\d+)*")


@dataclass(frozen=True, slots=True)
class Divider:
    """A divider line between metadata or link items."""


#: The divider item, usable in metadata and link sequences.
DIVIDER: Final = Divider()

MetaItem = tuple[str, object] | Divider
LinkItem = tuple[str, str] | Divider


@dataclass(frozen=True, slots=True)
class TechniqueEntry:
    """One technique (in one tactic, or all of its tactics when ``tactic`` is None) on a layer.

    ``metadata`` holds ``(name, value)`` pairs, ``links`` ``(label, url)`` pairs; links may contain
    :data:`DIVIDER` (dropped from technique metadata: mitreattack-python cannot read it there).
    ``show_subtechniques`` None means: expand when a sub-technique is on the layer.
    """

    technique_id: str
    tactic: str | None = None
    score: Score | None = None
    color: str | None = None
    comment: str | None = None
    metadata: Sequence[MetaItem] = ()
    links: Sequence[LinkItem] = ()
    enabled: bool = True
    show_subtechniques: bool | None = None


@dataclass(frozen=True, slots=True)
class LegendItem:
    """A legend entry: label and ``#RRGGBB`` colour."""

    label: str
    color: str


@dataclass(frozen=True, slots=True)
class Gradient:
    """Score colouring: colours spread evenly from ``min_value`` to ``max_value`` (integers, as tools expect)."""

    colors: Sequence[str]
    min_value: int = 0
    max_value: int = 100


@dataclass(frozen=True, slots=True)
class Category:
    """How one category looks on a layer: score, ``#RRGGBB`` colour and legend label."""

    score: int
    color: str
    label: str


#: Coverage categories (higher score = better covered; ``never_seen`` is neutral grey at 0).
COVERAGE_CATEGORIES: Final[Mapping[str, Category]] = {
    "detected": Category(3, "#1a9850", "Detected: an alert mapped to it fired"),
    "missed": Category(2, "#fdae61", "Rule exists but missed: a rule maps to it, no alert fired"),
    "no_rule": Category(1, "#d73027", "No rule: no rule in the inventory maps to it"),
    "never_seen": Category(0, "#bdbdbd", "Never seen in the incidents of the period"),
}


def clean_text(value: object, limit: int = MAX_TEXT, *, multiline: bool = False) -> str:
    """``value`` without control, bidi and zero-width characters, cut to ``limit`` characters.

    Line breaks (CR, LF, NEL, U+2028...) become newlines when ``multiline``, spaces otherwise; tabs become spaces.
    """
    text = _LINE_BREAKS.sub("\n", "" if value is None else str(value)).replace("\t", " ")
    if not multiline:
        text = text.replace("\n", " ")
    text = _STRIP.sub(lambda m: "\n" if m.group() == "\n" else "", text)
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def normalize_color(color: str) -> str:
    """``#RRGGBB`` in lower case; ValueError for anything else."""
    if not isinstance(color, str) or not _COLOR.fullmatch(color.strip()):
        raise ValueError(f"not a #RRGGBB colour: {color!r}")
    return color.strip().lower()


def technique_id(raw: str) -> str:
    """A normalised technique id (``t1059/001`` -> ``T1059.001``); ValueError when not technique-shaped."""
    norm = normalize_technique_id(raw) if isinstance(raw, str) else None
    if norm is None:
        raise ValueError(f"not an ATT&CK technique id: {raw!r}")
    return norm


def attack_major(version: str | int | None) -> str | None:
    """The major ATT&CK version the Navigator expects (``"18.1"`` -> ``"18"``); ValueError if not numeric."""
    if version is None:
        return None
    match = _ATTACK_VERSION.fullmatch(str(version).strip())
    if not match:
        raise ValueError(f"not a numeric ATT&CK version: {version!r}")
    return str(int(match.group(1)))


def _tactic(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().lower().replace("_", "-").replace(" ", "-")
    if not _TACTIC.fullmatch(value):
        raise ValueError(f"not a tactic shortname: {raw!r}")
    return value


def _score(score: Score | None) -> Score | None:
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise ValueError(f"not a finite number: {score!r}")
    return int(score) if float(score).is_integer() else float(score)


def _metadata(items: Iterable[MetaItem], *, dividers: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Divider):
            if dividers:
                out.append({"divider": True})
        else:
            name, value = item
            out.append({"name": clean_text(name), "value": clean_text(value, MAX_COMMENT, multiline=True)})
    return out


def _links(items: Iterable[LinkItem]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Divider):
            out.append({"divider": True})
            continue
        label, url = item
        safe_url = http_url(url.strip()) if isinstance(url, str) and len(url) <= MAX_URL else None
        if safe_url is None:
            continue  # only http(s) links of sane length survive
        out.append({"label": clean_text(label) or clean_text(safe_url), "url": safe_url})
    return out


def _with_parents(entries: list[TechniqueEntry]) -> list[TechniqueEntry]:
    """Entries keyed and checked; parents of sub-techniques added or marked to show their sub-techniques."""
    by_key: dict[tuple[str, str | None], TechniqueEntry] = {}
    for entry in entries:
        norm = replace(entry, technique_id=technique_id(entry.technique_id), tactic=_tactic(entry.tactic))
        key = (norm.technique_id, norm.tactic)
        if key in by_key:
            raise ValueError(f"technique {key[0]} appears twice for tactic {key[1] or '(all)'}")
        by_key[key] = norm
    for tid, tactic in sorted(by_key, key=lambda k: (k[0], k[1] or "")):
        if "." not in tid:
            continue
        parent = tid.split(".", 1)[0]
        matches = [k for k in by_key if k[0] == parent and (k[1] == tactic or k[1] is None or tactic is None)]
        if not matches:
            by_key[(parent, tactic)] = TechniqueEntry(parent, tactic, show_subtechniques=True)
        for key in matches:
            if by_key[key].show_subtechniques is None:
                by_key[key] = replace(by_key[key], show_subtechniques=True)
    return [by_key[k] for k in sorted(by_key, key=lambda k: (k[0], k[1] or ""))]


def _technique(entry: TechniqueEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"techniqueID": entry.technique_id}
    if entry.tactic is not None:
        out["tactic"] = entry.tactic
    score = _score(entry.score)
    if score is not None:
        out["score"] = score
    if entry.color is not None:
        out["color"] = normalize_color(entry.color)
    if entry.comment:
        out["comment"] = clean_text(entry.comment, MAX_COMMENT, multiline=True)
    out["enabled"] = bool(entry.enabled)
    # mitreattack-python cannot read dividers in technique metadata (layer metadata and links are fine)
    out["metadata"] = _metadata(entry.metadata, dividers=False)
    out["links"] = _links(entry.links)
    out["showSubtechniques"] = bool(entry.show_subtechniques)
    return out


def _gradient(gradient: Gradient | None, scores: list[Score]) -> dict[str, Any]:
    if gradient is None:
        low, high = (math.floor(min(scores)), math.ceil(max(scores))) if scores else (0, 100)
        gradient = Gradient(DEFAULT_GRADIENT_COLORS, low, high if high > low else low + 1)
    colors = [normalize_color(c) for c in gradient.colors]
    if len(colors) < 2:
        raise ValueError("a gradient needs at least two colours")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (gradient.min_value, gradient.max_value)):
        raise ValueError("gradient bounds must be integers")
    if gradient.max_value <= gradient.min_value:
        raise ValueError("gradient max_value must be above min_value")
    return {"colors": colors, "minValue": gradient.min_value, "maxValue": gradient.max_value}


def build_layer(
    name: str,
    techniques: Iterable[TechniqueEntry],
    *,
    description: str = "",
    attack_version: str | int | None = None,
    domain: Domain = "enterprise-attack",
    legend: Iterable[LegendItem] = (),
    gradient: Gradient | None = None,
    platforms: Iterable[str] = (),
    metadata: Iterable[MetaItem] = (),
    links: Iterable[LinkItem] = (),
    sorting: int = 0,
    aggregate_function: Literal["average", "min", "max", "sum"] = "average",
    show_aggregate_scores: bool = False,
    hide_disabled: bool = False,
) -> dict[str, Any]:
    """One Navigator 4.5 layer as a dict: keys in spec order, techniques sorted by (id, tactic).

    Without ``gradient`` the Navigator's default colours span the scores present (0-100 when none).
    ``attack_version`` is reduced to its major number (the Navigator picks its data by it).
    Raises ValueError for malformed ids, tactics, colours, scores or options.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain: {domain!r}")
    if sorting not in (0, 1, 2, 3) or isinstance(sorting, bool):
        raise ValueError(f"sorting must be 0-3, not {sorting!r}")
    if aggregate_function not in ("average", "min", "max", "sum"):
        raise ValueError(f"unknown aggregate function: {aggregate_function!r}")
    entries = _with_parents(list(techniques))
    scores = [s for s in (_score(e.score) for e in entries) if s is not None]
    versions: dict[str, str] = {}
    major = attack_major(attack_version)
    if major is not None:
        versions["attack"] = major
    versions["navigator"] = NAVIGATOR_VERSION
    versions["layer"] = LAYER_VERSION
    layer: dict[str, Any] = {
        "name": clean_text(name),
        "versions": versions,
        "domain": domain,
        "description": clean_text(description, MAX_DESCRIPTION, multiline=True),
    }
    platform_list = sorted({clean_text(p) for p in platforms} - {""})
    if platform_list:
        layer["filters"] = {"platforms": platform_list}
    layer["sorting"] = sorting
    layer["layout"] = {
        "layout": "side",
        "aggregateFunction": aggregate_function,
        "showID": True,
        "showName": True,
        "showAggregateScores": bool(show_aggregate_scores),
        "countUnscored": False,
        "expandedSubtechniques": "none",
    }
    layer["hideDisabled"] = bool(hide_disabled)
    layer["techniques"] = [_technique(e) for e in entries]
    layer["gradient"] = _gradient(gradient, scores)
    layer["legendItems"] = [{"label": clean_text(i.label), "color": normalize_color(i.color)} for i in legend]
    layer["showTacticRowBackground"] = False
    layer["tacticRowBackground"] = "#dddddd"
    layer["selectTechniquesAcrossTactics"] = True
    layer["selectSubtechniquesWithParent"] = False
    layer["selectVisibleTechniques"] = False
    layer["metadata"] = _metadata(metadata)
    layer["links"] = _links(links)
    return layer


def _gradient_for(table: Mapping[str, Category]) -> Gradient:
    """Evenly spaced stops from the lowest to the highest category score, each category on its own colour."""
    if not table:
        raise ValueError("the category table is empty")
    by_score: dict[int, str] = {}
    for cat in sorted(table.values(), key=lambda c: (c.score, c.color)):
        by_score.setdefault(cat.score, normalize_color(cat.color))
    scores = sorted(by_score)
    if len(scores) == 1:
        return Gradient((by_score[scores[0]], by_score[scores[0]]), scores[0], scores[0] + 1)
    low, high = scores[0], scores[-1]
    step = math.gcd(*(s - low for s in scores[1:]))
    if (high - low) // step > 100:  # too many stops: the legend and explicit colours carry the meaning
        step = (high - low) / 100
    stops = round((high - low) / step)
    colors = [_color_at(low + i * step, scores, by_score) for i in range(stops + 1)]
    return Gradient(tuple(colors), low, high)


def _color_at(value: float, scores: list[int], by_score: Mapping[int, str]) -> str:
    """The category colour at ``value``, linearly interpolated between neighbouring categories."""
    for low, high in itertools.pairwise(scores):
        if low <= value <= high:
            frac = (value - low) / (high - low)
            a, b = by_score[low], by_score[high]
            mixed = (round(int(a[i : i + 2], 16) * (1 - frac) + int(b[i : i + 2], 16) * frac) for i in (1, 3, 5))
            return "#" + "".join(f"{c:02x}" for c in mixed)
    return by_score[scores[-1]]


def categorical_layer(
    name: str,
    categories: Mapping[str, str],
    table: Mapping[str, Category] = COVERAGE_CATEGORIES,
    *,
    details: Mapping[str, TechniqueEntry] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A layer colouring each technique by its category, with a legend and a gradient matching the table.

    ``categories`` maps technique id -> category key of ``table``. ``details`` may give, per technique id,
    an entry whose tactic, comment, metadata, links and flags are kept (score and colour come from the
    category). Every category of the table is in the legend (highest score first), so layers built from
    the same table compare side by side. ``options`` are passed to :func:`build_layer`.
    """
    for key, cat in table.items():
        if isinstance(cat.score, bool) or not isinstance(cat.score, int):
            raise ValueError(f"category {key!r}: scores must be integers")
    details = {technique_id(k): v for k, v in (details or {}).items()}
    entries: list[TechniqueEntry] = []
    for raw_id, key in categories.items():
        if key not in table:
            raise ValueError(f"unknown category {key!r} for {raw_id}")
        cat = table[key]
        tid = technique_id(raw_id)
        base = details.get(tid, TechniqueEntry(tid))
        entries.append(
            replace(
                base,
                technique_id=tid,
                score=cat.score,
                color=cat.color,
                metadata=(("category", cat.label), *base.metadata),
            )
        )
    legend = [LegendItem(c.label, c.color) for c in sorted(table.values(), key=lambda c: (-c.score, c.label))]
    return build_layer(name, entries, legend=legend, gradient=_gradient_for(table), **options)


def dumps_layers(layers: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """One layer (a mapping) as a JSON object, or a sequence of layers as a JSON array; ends with a newline."""
    data: Any = dict(layers) if isinstance(layers, Mapping) else [dict(layer) for layer in layers]
    return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def write_layers(path: str | os.PathLike[str], layers: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Path:
    """Write one layer or an array of layers to ``path`` as UTF-8 JSON, atomically (temp file + rename)."""
    return write_output(path, dumps_layers(layers))
