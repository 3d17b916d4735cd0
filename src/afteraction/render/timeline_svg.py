"""Geometry of the review's SVG timeline: lanes by tactic, a time axis, markers, milestones.

Only numbers and hostile-but-unescaped strings come out of here; the template writes the SVG markup, so
autoescaping applies to every label. Past ``MAX_MARKERS`` plotted entries, markers are bucketed per lane
so that 1,000 alerts stay readable and the SVG stays small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from afteraction.analyze.review.model import Review, TimelineEntry
from afteraction.render import fmt

WIDTH = 1080
GUTTER = 170  # left column with lane names
RIGHT = 24
LANE = 30
BOTTOM = 34  # tick labels
MAX_MARKERS = 40
BUCKETS = 64
MAX_LANES = 16
_TICKS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000)


@dataclass(frozen=True, slots=True)
class Lane:
    label: str
    y: float
    comment: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    r: float
    severity: str  # a fixed CSS class suffix
    comment: bool
    count: int
    number: int | None  # row number in the timeline table (individual markers)
    tooltip: str
    label: str = ""  # short label drawn next to the marker ('' for none)


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Milestone:
    x: float
    label: str
    kind: str  # activity | detected | acknowledged | resolved
    row: int  # label row, so that close labels do not overlap
    anchor: str = "start"  # SVG text-anchor of the label


@dataclass(slots=True)
class Layout:
    width: int = WIDTH
    height: int = 0
    left: int = GUTTER
    right: int = WIDTH - RIGHT
    top: int = 18
    bottom: int = 0
    lanes: list[Lane] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    gap: tuple[float, float] | None = None  # x range between first activity and first alert
    bucketed: bool = False
    plotted: int = 0
    unplotted: int = 0


def _when(entry: TimelineEntry) -> datetime | None:
    value = entry.time or entry.created
    return fmt.utc(value) if value is not None else None


def _lane_key(entry: TimelineEntry) -> str:
    if entry.kind == "comment":
        return "\0comment"
    return entry.tactics[0] if entry.tactics else "\0unmapped"


def _lanes(review: Review, keys: set[str], top: float) -> dict[str, float]:
    order = {stage.tactic: stage.order for stage in review.chain.stages}
    tactics = sorted((k for k in keys if not k.startswith("\0")), key=lambda k: (order.get(k, 999), k))
    if len(tactics) > MAX_LANES:
        tactics = [*tactics[:MAX_LANES - 1], "\x00other"]
    names = [*tactics, *(k for k in ("\0unmapped", "\0comment") if k in keys)]
    return {name: top + LANE * (i + 0.5) for i, name in enumerate(names)}


def _lane_label(key: str) -> str:
    return {"\0comment": "Comments", "\0unmapped": "Unmapped", "\0other": "Other tactics"}.get(
        key, fmt.truncate(key, 24)
    )


def _ticks(start: datetime, span: float, x_of) -> list[Tick]:  # type: ignore[no-untyped-def]
    step = next((s for s in _TICKS if span / s <= 8), _TICKS[-1] * max(1, math.ceil(span / _TICKS[-1] / 8)))
    base = start.timestamp()
    first = math.ceil(base / step) * step
    ticks: list[Tick] = []
    previous_day = ""
    t = first
    while t <= base + span + 1e-6:
        moment = datetime.fromtimestamp(t, tz=start.tzinfo)
        day = moment.strftime("%Y-%m-%d")
        if step >= 86400:
            text = moment.strftime("%b %d")
        elif day != previous_day:
            text = moment.strftime("%b %d %H:%M")
        else:
            text = moment.strftime("%H:%M")
        previous_day = day
        ticks.append(Tick(x_of(moment), text))
        t += step
    return ticks


def _domain(core: list[datetime], extra: list[datetime]) -> tuple[datetime, float]:
    """Start and span (seconds) of the axis: the entries, plus milestones that are not far outside them."""
    start, end = min(core), max(core)
    reach = max((end - start).total_seconds() * 0.35, 3600.0)
    for moment in extra:
        if (start - moment).total_seconds() <= reach and (moment - end).total_seconds() <= reach:
            start, end = min(start, moment), max(end, moment)
    span = (end - start).total_seconds()
    if span < 60:  # one moment (or nearly): centre it in an hour
        return start - timedelta(minutes=30), 3600.0
    return start - timedelta(seconds=span * 0.02), span * 1.04


def _milestones(review: Review, start: datetime, span: float, x_of) -> list[Milestone]:  # type: ignore[no-untyped-def]
    m = review.metrics
    items = (("First activity", "activity", m.first_activity), ("First alert", "detected", m.first_alert),
             ("Acknowledged", "acknowledged", m.acknowledged), ("Resolved", "resolved", m.resolved))
    end = start + timedelta(seconds=span)
    rows: list[float] = []  # right end of the last label on each row
    out: list[Milestone] = []
    for text, kind, value in items:
        if value is None:
            continue
        moment = fmt.utc(value)
        if moment > end:
            text, x = f"{text} {fmt.duration((moment - end).total_seconds())} later →", float(WIDTH - RIGHT)
        elif moment < start:
            text, x = f"← {text} {fmt.duration((start - moment).total_seconds())} earlier", float(GUTTER)
        else:
            x = x_of(moment)
        width = 6.6 * len(text) + 10
        anchor = "end" if x + width > WIDTH - 4 else "start"
        left = x - width if anchor == "end" else x
        row = next((i for i, right in enumerate(rows) if left > right + 6), len(rows))
        if row == len(rows):
            rows.append(0.0)
        rows[row] = left + width
        out.append(Milestone(x, text, kind, row, anchor))
    return out


def layout(review: Review) -> Layout:
    """Place every timed entry of ``review`` on lanes and a time axis."""
    out = Layout()
    m = review.metrics
    timed = [(i, e, t) for i, e in enumerate(review.timeline, start=1) if (t := _when(e)) is not None]
    out.unplotted = len(review.timeline) - len(timed)
    out.plotted = len(timed)
    core = [t for _, _, t in timed] + [fmt.utc(v) for v in (m.first_activity, m.first_alert) if v is not None]
    extra = [fmt.utc(v) for v in (m.acknowledged, m.resolved) if v is not None]
    if not core and not extra:
        return out
    start, span = _domain(core or extra, extra)
    plot = out.right - out.left

    def x_of(moment: datetime) -> float:
        return round(out.left + plot * (moment - start).total_seconds() / span, 1)

    out.milestones = _milestones(review, start, span, x_of)
    out.top = 18 + 15 * max((ms.row + 1 for ms in out.milestones), default=0)
    lanes = _lanes(review, {_lane_key(e) for _, e, _ in timed} or {"\0unmapped"}, out.top)
    out.lanes = [Lane(_lane_label(k), y, k == "\0comment") for k, y in lanes.items()]
    out.bottom = out.top + LANE * len(lanes)
    out.height = out.bottom + BOTTOM
    out.ticks = _ticks(start, span, x_of)
    if m.first_activity is not None and m.first_alert is not None and m.first_alert > m.first_activity:
        left, right = x_of(fmt.utc(m.first_activity)), x_of(fmt.utc(m.first_alert))
        out.gap = (max(left, out.left), min(right, out.right))

    def lane_y(entry: TimelineEntry) -> float:
        return lanes.get(_lane_key(entry), lanes.get("\0other", out.top + LANE / 2))

    if len(timed) <= MAX_MARKERS:
        out.markers = _individual(timed, lane_y, x_of, out.right)
    else:
        out.bucketed = True
        out.markers = _buckets(timed, lane_y, x_of, plot, out.left, start, span)
    return out


def _tooltip(number: int, entry: TimelineEntry, moment: datetime) -> str:
    kind = "Comment" if entry.kind == "comment" else f"Alert · {fmt.label(entry.severity)}"
    return f"#{number} {fmt.when(moment)} · {kind} · {fmt.truncate(entry.title, 120)}"


def _individual(timed, lane_y, x_of, right: float) -> list[Marker]:  # type: ignore[no-untyped-def]
    placed: list[Marker] = []
    last_x: dict[float, float] = {}
    for number, entry, moment in sorted(timed, key=lambda item: (item[2], item[0])):
        y = lane_y(entry)
        x = x_of(moment)
        x = min(max(x, last_x.get(y, -99.0) + 21), right)  # dodge identical times along the lane
        last_x[y] = x
        comment = entry.kind == "comment"
        sev = "comment" if comment else fmt.severity_class(entry.severity)
        placed.append(Marker(x, y, 9, sev, comment, 1, number, _tooltip(number, entry, moment)))
    # Labels only where the lane leaves room before the next marker.
    by_lane: dict[float, list[int]] = {}
    for i, marker in enumerate(placed):
        by_lane.setdefault(marker.y, []).append(i)
    titles = {number: entry.title for number, entry, _ in timed}
    for indexes in by_lane.values():
        for pos, i in enumerate(indexes):
            marker = placed[i]
            limit = (placed[indexes[pos + 1]].x if pos + 1 < len(indexes) else right + 20) - marker.x - 18
            chars = int(limit / 6.2)
            if chars >= 8:
                text = fmt.truncate(titles[marker.number], min(chars, 42))
                placed[i] = replace(marker, label=text)
    return placed


def _buckets(timed, lane_y, x_of, plot, left, start, span) -> list[Marker]:  # type: ignore[no-untyped-def]
    groups: dict[tuple[float, int], list[tuple[int, TimelineEntry, datetime]]] = {}
    for item in timed:
        entry, moment = item[1], item[2]
        column = min(BUCKETS - 1, int(BUCKETS * (moment - start).total_seconds() / span))
        groups.setdefault((lane_y(entry), column), []).append(item)
    markers: list[Marker] = []
    for (y, column), items in sorted(groups.items()):
        comment = all(e.kind == "comment" for _, e, _ in items)
        worst = min((e.severity for _, e, _ in items if e.kind != "comment"), key=fmt.severity_rank, default=None)
        sev = "comment" if comment else fmt.severity_class(worst)
        x = round(left + plot * (column + 0.5) / BUCKETS, 1)
        first = min(t for _, _, t in items)
        last = max(t for _, _, t in items)
        noun = "comments" if comment else "alerts"
        if len(items) == 1:
            tip = _tooltip(items[0][0], items[0][1], items[0][2])
        else:
            tip = f"{len(items)} {noun} · {fmt.when(first)} \u2013 {fmt.when(last)}"
            if not comment:
                tip += f" · worst severity {fmt.label(worst)}"
        r = round(min(12.0, 5 + 2.2 * math.sqrt(len(items) - 1)), 1)
        markers.append(Marker(x, y, r, sev, comment, len(items), None, tip))
    return markers
