"""The attribution evaluation report as Markdown and as a self-contained HTML page with a reliability diagram."""

from __future__ import annotations

from afteraction.analyze.attribution.evaluate import Calibration, SettingResult
from afteraction.analyze.attribution.suite import EvalReport
from afteraction.render.html import environment
from afteraction.render.markdown import escape

_PLURAL = {"group": "groups", "campaign": "campaigns", "software": "software"}
#: reliability diagram geometry (SVG user units)
SIZE, PAD = 260, 34


def _cell(p: object) -> str:
    return f"{p.value:.3f} [{p.low:.2f}, {p.high:.2f}]"  # type: ignore[attr-defined]


def _setting_rows(s: SettingResult) -> list[str]:
    rows = []
    for r in s.scorers:
        mark = " (target)" if r.scorer == "afteraction" and s.target else ""
        rows.append(f"| {escape(r.scorer)}{mark} | {_cell(r.top1)} | {_cell(r.top3)} | {_cell(r.top5)} | {r.mrr:.3f} |")
    return rows


def _temps(report: EvalReport) -> str:
    p = report.params
    return ", ".join(f"{kind} {p.temperature_of(kind)} (refitted in this run: {fitted})"
                     for kind, fitted in report.fitted_temperatures.items())


def _bars(c: Calibration) -> list[str]:
    out = ["| confidence bin | queries | mean confidence | accuracy | gap |", "|---|---:|---:|---:|---:|"]
    for b in c.bins:
        if b.count:
            out.append(f"| {b.low:.1f} to {b.high:.1f} | {b.count} | {b.confidence:.3f} | {b.accuracy:.3f} | "
                       f"{b.accuracy - b.confidence:+.3f} |")
    return out


def render_eval_markdown(report: EvalReport) -> str:
    """The report as GitHub-flavoured Markdown (tables; the reliability diagram as a table of bins)."""
    lines = [f"# Attribution evaluation (ATT&CK {escape(report.attack_version)})", "",
             f"Source: {escape(report.attack_source)}. Scorer: {escape(report.method)}.", "",
             "Expected top-k under uniform random tie-breaking and MRR; brackets are Wilson 95 % intervals. "
             f"Development seed {report.dev_seed}, calibration measured on held-out seed {report.test_seed}.", ""]
    if report.targets:
        lines += ["## Targets", "", "| protocol | setting | measure | target | measured | met | reference baseline |",
                  "|---|---|---|---:|---|---|---:|"]
        for t in report.targets:
            base = "" if t.baseline is None else f"{t.baseline:.2f}"
            lines.append(f"| {t.protocol} | {escape(t.setting)} | {t.measure} | ≥ {t.target:.2f} | "
                         f"{t.value:.3f} [{t.low:.2f}, {t.high:.2f}] | {'yes' if t.met else 'no'} | {base} |")
        for c in report.calibration:
            if c.target is not None:
                lines.append(f"| calibration | {escape(c.setting)} | ECE | ≤ {c.target:.2f} | {c.ece:.3f} | "
                             f"{'yes' if c.ece <= c.target else 'no'} | |")
        lines.append("")
    for proto in ("P1", "P2", "P3"):
        settings = [s for s in report.settings if s.protocol == proto]
        if not settings:
            continue
        lines += [f"## {proto}", ""]
        for s in settings:
            target = f" — target {s.target[0]} ≥ {s.target[1]:.2f}" if s.target else ""
            kinds = _PLURAL.get(s.candidates, s.candidates)
            lines += [f"### {proto} {escape(s.setting)} ({s.queries} queries, candidates: {kinds}){target}", "",
                      "| scorer | top-1 | top-3 | top-5 | MRR |", "|---|---|---|---|---:|", *_setting_rows(s), ""]
    if report.calibration:
        lines += ["## Calibration", ""]
        if report.fitted_temperatures:
            lines += ["Softmax temperatures in use: " + _temps(report) + ".", ""]
        for c in report.calibration:
            lines += [f"### {escape(c.setting)}: ECE {c.ece:.3f} over {c.queries} queries", "", *_bars(c), ""]
    return "\n".join(lines).rstrip() + "\n"


def reliability_points(c: Calibration) -> list[dict[str, float]]:
    """Bin markers for the SVG diagram: position, radius by count, and the gap bar."""
    total = max(1, sum(b.count for b in c.bins))
    scale = SIZE - 2 * PAD
    out = []
    for b in c.bins:
        if not b.count:
            continue
        x = PAD + b.confidence * scale
        out.append({"x": round(x, 1), "y": round(SIZE - PAD - b.accuracy * scale, 1),
                    "ydiag": round(SIZE - PAD - b.confidence * scale, 1),
                    "r": round(2.5 + 6 * (b.count / total) ** 0.5, 1), "count": b.count,
                    "confidence": b.confidence, "accuracy": b.accuracy})
    return out


def render_eval_html(report: EvalReport) -> str:
    """The report as one self-contained HTML page, with an SVG reliability diagram per calibration set."""
    diagrams = [(c, reliability_points(c)) for c in report.calibration]
    return environment().get_template("attribution_eval.html.j2").render(
        report=report, generated=None, attack_version=report.attack_version, script_src="'none'",
        diagrams=diagrams, size=SIZE, pad=PAD, protocols=("P1", "P2", "P3"), temps=_temps(report))


def reliability_svg(c: Calibration) -> str:
    """A standalone SVG reliability diagram (for docs)."""
    return environment().get_template("reliability.svg.j2").render(
        c=c, points=reliability_points(c), size=SIZE, pad=PAD, standalone=True)


def slug(text: str) -> str:
    """A file-name-safe slug of a setting name."""
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())[:60]


__all__ = ["reliability_points", "reliability_svg", "render_eval_html", "render_eval_markdown", "slug"]
