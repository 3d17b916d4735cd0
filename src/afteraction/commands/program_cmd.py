"""``afteraction trends``, ``afteraction skills`` and ``afteraction process``: program-level analyses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import click

from afteraction.commands.ingest_cmd import _db_option
from afteraction.commands.params import UtcTime
from afteraction.commands.review_cmd import emit

FORMATS = click.Choice(["html", "md", "json", "csv"])


def _period_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--since", type=UtcTime(), default=None,
                     help="Start of the period, by alert creation time (UTC; default: the first stored alert)."),
        click.option("--until", type=UtcTime(), default=None,
                     help="End of the period, exclusive (UTC; default: just after the last stored alert)."),
        click.option("--bucket", type=click.Choice(["day", "week", "month"]), default="week", show_default=True,
                     help="Time buckets for counts and charts (weeks start on Monday, UTC)."),
        click.option("--format", "fmt", type=FORMATS, default="md", show_default=True, help="Output format."),
        click.option("--out", type=click.Path(dir_okay=False), default=None,
                     help="Write to this file instead of stdout."),
    )):
        func = option(func)
    return _db_option(func)


def parse_duration(text: str) -> timedelta:
    """``28d``, ``12h``, ``2w`` or ``90min`` as a timedelta (the SLA parser's syntax)."""
    from afteraction.analyze.program.sla import parse_duration as seconds

    return timedelta(seconds=seconds(text, "--recent duration"))


def _run(app: Any, db_path: str | None, since: datetime | None, until: datetime | None, bucket: str,
         analyse: Callable[[Any, Any, Any], Any]) -> Any:
    from afteraction.analyze.program.period import resolve_period

    app.db = db_path or app.db
    kb = app.kb()
    with app.store(read_only=True) as store:
        period = resolve_period(store, since, until, bucket)  # type: ignore[arg-type]
        return analyse(store, kb, period)


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC).replace(microsecond=0)


@click.command()
@_period_options
@click.option("--recent", default=None, metavar="DURATION",
              help="Recent window for emerging and declining techniques, e.g. 28d (default: the second half).")
@click.option("--fdr", type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True), default=0.05, show_default=True,
              help="False discovery rate for the Benjamini-Hochberg procedure.")
@click.pass_obj
def trends(app: Any, since: datetime | None, until: datetime | None, bucket: str, fmt: str, out: str | None,
           db_path: str | None, recent: str | None, fdr: float) -> None:
    """Trends over a period: counts and rates, emerging and declining techniques, response times.

    Counts per bucket by tactic, technique, severity, source, incident type and determination; techniques
    whose incident rate changed (exact binomial test of the recent window against the baseline, with
    Benjamini-Hochberg control and the rate ratio with its interval); median and p90 time to detect,
    acknowledge and resolve and the true-positive rate per bucket; techniques new to the environment.
    """
    from afteraction.analyze.program.trends import trends as analyse
    from afteraction.render import trends as r

    window = parse_duration(recent) if recent else None
    result = _run(app, db_path, since, until, bucket,
                  lambda store, kb, period: analyse(store, kb, period, recent=window, fdr=fdr, now=_now()))
    emit(result, fmt, out, {"html": r.render_trends_html, "md": r.render_trends_markdown, "csv": r.render_trends_csv})


@click.command()
@_period_options
@click.option("--per-analyst", is_flag=True,
              help="Also break the signals down per analyst (assignedTo); off by default, aggregated by team.")
@click.option("--top", type=click.IntRange(1, 100), default=15, show_default=True,
              help="Skill gaps listed (and planned for training).")
@click.option("--fdr", type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True), default=0.05, show_default=True,
              help="False discovery rate for the Benjamini-Hochberg procedure.")
@click.pass_obj
def skills(app: Any, since: datetime | None, until: datetime | None, bucket: str, fmt: str, out: str | None,
           db_path: str | None, per_analyst: bool, top: int, fdr: float) -> None:
    """Skill gaps per technique and tactic, from how the team handled their alerts, and a training plan.

    Time to acknowledge and resolve against the team's baseline for the same severity, misclassification
    signals (reclassified, false positive later true positive, not enough data, unknown, reopened),
    techniques never handled before; each gap with its evidence, an ATT&CK link, a suggested exercise and
    the detection strategies to study.
    """
    from afteraction.analyze.program.skills import skills as analyse
    from afteraction.render import skills as r

    result = _run(app, db_path, since, until, bucket, lambda store, kb, period: analyse(
        store, kb, period, per_analyst=per_analyst, top=top, fdr=fdr, now=_now()))
    emit(result, fmt, out, {"html": r.render_skills_html, "md": r.render_skills_markdown, "csv": r.render_skills_csv})


@click.command()
@_period_options
@click.option("--sla", default=None, metavar="SEV=ACK/RESOLVE,...",
              help="SLA targets per severity, e.g. high=1h/24h,medium=4h/3d (others keep their defaults).")
@click.option("--top", type=click.IntRange(1, 100), default=15, show_default=True,
              help="Rows listed per table (detectors, oldest open incidents, recommendations).")
@click.pass_obj
def process(app: Any, since: datetime | None, until: datetime | None, bucket: str, fmt: str, out: str | None,
            db_path: str | None, sla: str | None, top: int) -> None:
    """SOC process metrics and configuration recommendations.

    Alert-to-incident ratio; false-positive rate per detector and source with the noisy detectors to tune;
    severity against determination; backlog and ageing; the share remediated automatically; SLA breaches
    against per-severity targets; and recommendations (tune or disable a detector, add a control where
    one mitigation covers repeated techniques).
    """
    from afteraction.analyze.program.process import parse_sla
    from afteraction.analyze.program.process import process as analyse
    from afteraction.render import process as r

    targets = parse_sla(sla) if sla else None
    result = _run(app, db_path, since, until, bucket, lambda store, kb, period: analyse(
        store, kb, period, sla=targets, top=top, now=_now()))
    emit(result, fmt, out,
         {"html": r.render_process_html, "md": r.render_process_markdown, "csv": r.render_process_csv})


__all__ = ["parse_duration", "process", "skills", "trends"]
