"""Small, dependency-free inline SVG charts for the report pages: line charts over time buckets and bar charts.

Usage (from a page renderer; the result is :class:`~markupsafe.Markup` to insert with ``{{ chart }}``)::

    from afteraction.render.charts import LineSeries, Bar, line_chart, bar_chart

    svg = line_chart(["2026-W01", "2026-W02"], [LineSeries("alerts", [12, 30])], title="Alerts per week")
    svg = bar_chart([Bar("T1059", 42), Bar("T1204", 17)], title="Top techniques", horizontal=True)

The SVG is laid out in Python (plain numbers) and written by the templates ``chart_lines.svg.j2`` and
``chart_bars.svg.j2`` through the shared HTML environment, so every label, title and tooltip (which may
come from alerts) is escaped by autoescape and the environment's finalize (control and bidi characters
made visible). Colours come from :data:`PALETTE`; a caller's colour is used only when it is a ``#rrggbb``
literal. No script, no external resource, no ``url()``. Pass ``standalone=True`` for a file of its own
(adds the SVG namespace).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from afteraction.render import fmt

#: Series colours, in order (colour-blind-safe Okabe-Ito-like set on a white background).
PALETTE: tuple[str, ...] = ("#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700",
                            "#495057", "#5c940d", "#d6336c")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
_LABEL_CHARS = 28  # legend and bar labels are truncated to this many characters (the tooltip has all)


@dataclass(frozen=True)
class LineSeries:
    """One line: a label for the legend and one value per x label (None = no value, the line breaks)."""

    label: str
    values: Sequence[float | None]
    color: str | None = None
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value and optional tooltip/colour."""

    label: str
    value: float
    tooltip: str | None = None
    color: str | None = None


def _color(color: str | None, i: int) -> str:
    return color if color and _HEX.fullmatch(color) else PALETTE[i % len(PALETTE)]


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Evenly spaced round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if not top or top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def number(value: float) -> str:
    """A compact axis number: 1200 -> 1.2k, 0.25 -> 0.25."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def percent(value: float) -> str:
    """An axis share as a percentage: 0.25 -> 25%."""
    return f"{value * 100:.0f}%"


def _render(template: str, context: dict[str, Any]) -> Markup:
    from afteraction.render.html import environment

    return Markup(environment().get_template(template).render(context))  # noqa: S704 - autoescaped template


def line_chart(x_labels: Sequence[str], series: Sequence[LineSeries], *, title: str, y_label: str = "",
               width: int = 720, height: int = 260, y_format: Callable[[float], str] = number,
               value_format: Callable[[float], str] | None = None, max_x_labels: int = 12,
               standalone: bool = False) -> Markup:
    """A multi-series line chart over ordered x labels (time buckets), with axes, gridlines and a legend.

    ``y_format`` writes the axis ticks, ``value_format`` the point tooltips (default: ``y_format``).
    At most ``max_x_labels`` x labels are written (evenly spaced); every point has a tooltip.
    """
    value_format = value_format or y_format
    legend_rows = math.ceil(len(series) / 3) if len(series) > 1 else 0
    left, right, top, bottom = 56, 16, 28, 40 + 16 * legend_rows
    plot_w, plot_h = max(width - left - right, 10), max(height - top - bottom, 10)
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    ticks = nice_ticks(max(values, default=0.0))
    y_max = ticks[-1] or 1.0
    n = len(x_labels)

    def x(i: int) -> float:
        return round(left + (plot_w * (i + 0.5) / n if n else 0), 2)

    def y(v: float) -> float:
        return round(top + plot_h - plot_h * v / y_max, 2)

    every = max(1, math.ceil(n / max_x_labels))
    lines = []
    for k, s in enumerate(series):
        segments: list[list[tuple[float, float]]] = [[]]
        points = []
        for i, v in enumerate(s.values[:n]):
            if v is None or not math.isfinite(v):
                segments.append([])
                continue
            segments[-1].append((x(i), y(v)))
            points.append({"x": x(i), "y": y(v), "tip": f"{s.label} · {x_labels[i]}: {value_format(v)}"})
        lines.append({
            "label": fmt.truncate(s.label, _LABEL_CHARS), "full": s.label, "color": _color(s.color, k),
            "dashed": s.dashed, "points": points,
            "paths": [" ".join(f"{px},{py}" for px, py in seg) for seg in segments if len(seg) > 1],
            "legend_x": left + (k % 3) * (plot_w / 3), "legend_y": height - 12 - 16 * (legend_rows - 1 - k // 3),
        })
    return _render("chart_lines.svg.j2", {
        "title": title, "y_label": y_label, "width": width, "height": height, "left": left, "top": top,
        "plot_w": plot_w, "plot_h": plot_h, "standalone": standalone, "legend": len(series) > 1,
        "ticks": [{"y": y(t), "text": y_format(t)} for t in ticks],
        "xlabels": [{"x": x(i), "text": fmt.truncate(label, 14)} for i, label in enumerate(x_labels) if i % every == 0],
        "lines": lines,
    })


def bar_chart(bars: Sequence[Bar], *, title: str, horizontal: bool = True, width: int = 720,
              bar_size: int = 18, height: int = 240, value_format: Callable[[float], str] = number,
              standalone: bool = False) -> Markup:
    """A bar chart: horizontal (one labelled row per bar, height grows with the bars) or vertical.

    Values must be non-negative; each bar has a tooltip (its ``tooltip`` or label and value).
    """
    ticks = nice_ticks(max((b.value for b in bars if math.isfinite(b.value)), default=0.0))
    v_max = ticks[-1] or 1.0
    items = []
    if horizontal:
        left, right, top = 200, 56, 28
        plot_w = max(width - left - right, 10)
        height = top + len(bars) * (bar_size + 6) + 24
        for i, b in enumerate(bars):
            length = round(plot_w * max(b.value, 0.0) / v_max, 2)
            items.append({"x": left, "y": top + i * (bar_size + 6), "w": length, "h": bar_size,
                          "label": fmt.truncate(b.label, _LABEL_CHARS), "value": value_format(b.value),
                          "tip": b.tooltip or f"{b.label}: {value_format(b.value)}", "color": _color(b.color, 0),
                          "lx": left - 6, "ly": top + i * (bar_size + 6) + bar_size * 0.7,
                          "vx": left + length + 4, "vy": top + i * (bar_size + 6) + bar_size * 0.7})
        grid = [{"x": round(left + plot_w * t / v_max, 2), "text": value_format(t)} for t in ticks]
        return _render("chart_bars.svg.j2", {
            "title": title, "width": width, "height": height, "horizontal": True, "bars": items, "grid": grid,
            "top": top, "bottom": height - 20, "left": left, "plot_w": plot_w, "standalone": standalone})
    left, right, top, bottom = 56, 16, 28, 56
    plot_w, plot_h = max(width - left - right, 10), max(height - top - bottom, 10)
    slot = plot_w / max(len(bars), 1)
    size = min(bar_size * 2, slot * 0.8)
    for i, b in enumerate(bars):
        length = round(plot_h * max(b.value, 0.0) / v_max, 2)
        cx = left + slot * (i + 0.5)
        items.append({"x": round(cx - size / 2, 2), "y": round(top + plot_h - length, 2), "w": round(size, 2),
                      "h": length, "label": fmt.truncate(b.label, 14), "value": value_format(b.value),
                      "tip": b.tooltip or f"{b.label}: {value_format(b.value)}", "color": _color(b.color, 0),
                      "lx": round(cx, 2), "ly": top + plot_h + 14})
    grid = [{"y": round(top + plot_h - plot_h * t / v_max, 2), "text": value_format(t)} for t in ticks]
    return _render("chart_bars.svg.j2", {
        "title": title, "width": width, "height": height, "horizontal": False, "bars": items, "grid": grid,
        "top": top, "left": left, "plot_w": plot_w, "plot_h": plot_h, "standalone": standalone})


__all__ = ["PALETTE", "Bar", "LineSeries", "bar_chart", "line_chart", "nice_ticks", "number", "percent"]
