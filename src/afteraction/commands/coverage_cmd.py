"""``afteraction coverage``: what happened vs what fired vs what rules exist, per ATT&CK technique."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from afteraction.commands.ingest_cmd import _db_option
from afteraction.commands.params import UtcTime
from afteraction.commands.review_cmd import write_text
from afteraction.errors import AfteractionError


class CoverageGateError(AfteractionError):
    """``--fail-under``: the detected share of observed techniques is below the gate."""

    exit_code = 8


Period = tuple[datetime | None, datetime | None]


class _Period(click.ParamType):
    """``START/END`` (ISO-8601 dates or times; either side may be empty for an open end)."""

    name = "START/END"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> tuple[datetime | None, datetime | None]:
        if isinstance(value, tuple):
            return value
        start, sep, end = str(value).partition("/")
        if not sep:
            self.fail(f"{value!r} is not a period START/END such as 2026-01-01/2026-04-01", param, ctx)
        times = UtcTime()
        return (times.convert(start, param, ctx) if start.strip() else None,
                times.convert(end, param, ctx) if end.strip() else None)


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@click.command()
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(exists=True),
              help="Rule inventory: files or directories (Sigma, Elastic TOML, Sentinel YAML, Splunk YAML, "
                   "CSV/YAML). Repeatable.")
@click.option("--include-deprecated-rules", is_flag=True, help="Also read deprecated/unsupported rules.")
@click.option("--groups", multiple=True, help="Groups of concern (ids, names or aliases; comma-separated or "
                                               "repeated) to weight the ranking.")
@click.option("--since", type=UtcTime(), default=None, help="Start of the period (alert creation time).")
@click.option("--until", type=UtcTime(), default=None, help="End of the period (exclusive).")
@click.option("--platform", "platforms", multiple=True, help="Only techniques for these ATT&CK platforms.")
@click.option("--include", multiple=True, help="Only these techniques or tactics (ids, shortnames).")
@click.option("--exclude", multiple=True, help="Leave out these techniques or tactics.")
@click.option("--top", type=click.IntRange(min=0), default=15, show_default=True, help="Number of ranked gaps.")
@click.option("--compare-to", "compare_to", type=_Period(), default=None,
              help="Also compare with another period START/END (e.g. 2026-01-01/2026-04-01).")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json", "csv"]), default="md", show_default=True,
              help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file, not stdout.")
@click.option("--layer", "layer_path", type=click.Path(dir_okay=False), default=None,
              help="Also write an ATT&CK Navigator layer (4.5) coloured by category.")
@click.option("--layers", "layers_path", type=click.Path(dir_okay=False), default=None,
              help="Also write four Navigator layers in one file: observed, detected, rules, gaps.")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None,
              help="Exit with status 8 when the detected share of observed techniques is below PCT.")
@_db_option
@click.pass_obj
def coverage(app: Any, rule_paths: tuple[str, ...], include_deprecated_rules: bool, groups: tuple[str, ...],
             since: datetime | None, until: datetime | None, platforms: tuple[str, ...], include: tuple[str, ...],
             exclude: tuple[str, ...], top: int, compare_to: Period | None, fmt: str, out: str | None,
             layer_path: str | None,
             layers_path: str | None, fail_under: float | None, db_path: str | None) -> None:
    """Coverage per ATT&CK technique: detected, rule exists but missed, no rule, or never seen.

    Joins the techniques seen in incidents (alerts, and techniques analysts recorded with 'annotate')
    with the alerts that fired and the rule inventory, ranks the gaps by threat relevance and says
    what would close them. See docs/coverage.md.
    """
    from afteraction.analyze.coverage import coverage as analyse
    from afteraction.render.json import to_json

    app.db = db_path or app.db
    kb = app.kb()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool, app.store(read_only=True) as store:
        rules = None
        if rule_paths:
            from afteraction.rules import load_rules

            # Parse the rule files while DuckDB runs the store's queries (it releases the GIL meanwhile).
            rules = pool.submit(load_rules, rule_paths, kb, include_deprecated=include_deprecated_rules).result
        result = analyse(store, kb, rules=rules, since=since, until=until, platforms=_split(platforms),
                         include=_split(include), exclude=_split(exclude), groups=_split(groups), top=top,
                         compare_to=compare_to)
    if fmt == "json":
        text = to_json(result) + "\n"
    elif fmt == "html":
        from afteraction.render.coverage_html import render_coverage_html

        text = render_coverage_html(result, tactics=[(t.shortname, t.name) for t in kb.tactics])
    elif fmt == "csv":
        from afteraction.render.coverage import render_coverage_csv

        text = render_coverage_csv(result)
    else:
        from afteraction.render.coverage import render_coverage_markdown

        text = render_coverage_markdown(result)
    write_text(text, out)
    if layer_path or layers_path:
        from afteraction.render.coverage_layers import coverage_layer, coverage_layers
        from afteraction.render.navigator import write_layers

        if layer_path:
            write_layers(layer_path, coverage_layer(result))
        if layers_path:
            write_layers(layers_path, coverage_layers(result))
    share = result.summary.detected_share
    if fail_under is not None and (share is None or share * 100 < fail_under):
        shown = "no observed techniques" if share is None else f"{share:.1%}"
        raise CoverageGateError(f"--fail-under {fail_under:g}: detected share of observed techniques is {shown}")
