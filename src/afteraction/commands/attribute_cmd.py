"""``afteraction attribute``, ``afteraction clusters`` and ``afteraction eval attribution``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from afteraction.commands.ingest_cmd import _db_option
from afteraction.commands.params import UtcTime
from afteraction.commands.review_cmd import emit
from afteraction.errors import UsageError

FORMATS = click.Choice(["html", "md", "json"])


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


@click.command()
@click.argument("incident_ids", nargs=-1, metavar="[INCIDENT_ID]...")
@click.option("--techniques", multiple=True, metavar="T1566.001,T1059.001",
              help="Observed technique ids (comma-separated; repeatable).")
@click.option("--software", multiple=True, metavar="NAME",
              help="Observed software: ATT&CK id, name or alias (comma-separated; repeatable).")
@click.option("--source", default="defender", show_default=True, help="Source the incidents were ingested from.")
@click.option("--top", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Candidates listed per kind (groups, campaigns, software).")
@click.option("--format", "fmt", type=FORMATS, default="md", show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@_db_option
@click.pass_obj
def attribute(app: Any, incident_ids: tuple[str, ...], techniques: tuple[str, ...], software: tuple[str, ...],
              source: str, top: int, fmt: str, out: str | None, db_path: str | None) -> None:
    """Rank ATT&CK groups, campaigns and software for incidents or for explicit evidence.

    Give one or more stored INCIDENT_IDs (their evidence is pooled), or --techniques and --software,
    or both. Each candidate comes with its probability, the shared techniques and software with their
    contributions and rarity, and distinctive techniques that were expected but not observed. When the
    evidence is weak the answer is "no confident attribution": the list is a shortlist, never a finding.
    """
    from afteraction.analyze.attribution import attributor, from_lists
    from afteraction.analyze.attribution.model import Evidence

    techs, softs = _split(techniques), _split(software)
    if not (incident_ids or techs or softs):
        raise UsageError("give INCIDENT_ID(s), --techniques or --software")
    kb = app.kb()
    evidence: Evidence = from_lists(kb, techs, softs)
    if incident_ids:
        evidence = _merge(stored_evidence(app, db_path, kb, incident_ids, source), evidence)
    result = attributor(kb).attribute(evidence, top=top, now=_now())
    from afteraction.render import attribution as r

    emit(result, fmt, out, {"html": r.render_attribution_html, "md": r.render_attribution_markdown})


def stored_evidence(app: Any, db_path: str | None, kb: Any, ids: tuple[str, ...], source: str) -> Any:
    """Evidence of stored incidents, with the techniques analysts recorded as undetected."""
    from afteraction.analyze.attribution import from_incidents
    from afteraction.store.annotations import list_annotations
    from afteraction.store.read import load_incidents

    app.db = db_path or app.db
    with app.store(read_only=True) as store:
        found = load_incidents(store, list(dict.fromkeys(ids)), source)
        missing = [i for i in ids if i not in found]
        if missing:
            raise UsageError(f"no incident {', '.join(map(repr, missing))} (source {source!r}) in the store; "
                             "see 'afteraction incidents' for what is stored")
        extra = [a.technique_id for i in found for a in list_annotations(store, i, source, kind="undetected")]
    return from_incidents(kb, [found[i] for i in dict.fromkeys(ids)], extra_techniques=extra)


def _merge(a: Any, b: Any) -> Any:
    """Incident evidence plus explicit lists (explicit items are added; nothing is removed)."""
    import msgspec

    known = {t.id for t in a.techniques}
    soft = {s.id for s in a.software}
    return msgspec.structs.replace(
        a, techniques=tuple(sorted((*a.techniques, *(t for t in b.techniques if t.id not in known)),
                                   key=lambda t: t.id)),
        software=tuple(sorted((*a.software, *(s for s in b.software if s.id not in soft)), key=lambda s: s.id)),
        unknown_techniques=tuple(sorted({*a.unknown_techniques, *b.unknown_techniques})))


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC).replace(microsecond=0)


@click.command()
@click.option("--since", type=UtcTime(), default=None, help="Only incidents first active at or after this time (UTC).")
@click.option("--until", type=UtcTime(), default=None, help="Only incidents first active before this time (UTC).")
@click.option("--format", "fmt", type=FORMATS, default="md", show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@_db_option
@click.pass_obj
def clusters(app: Any, since: datetime | None, until: datetime | None, fmt: str, out: str | None,
             db_path: str | None) -> None:
    """Group stored incidents that look like one actor or campaign.

    Incidents are linked by rare shared software, external IPs and domains in their evidence, and by
    similar technique sets close in time; each cluster gets an attribution shortlist.
    """
    from afteraction.analyze.attribution.clusters import clusters_from_store

    app.db = db_path or app.db
    kb = app.kb()
    with app.store(read_only=True) as store:
        result = clusters_from_store(store, kb, since=since, until=until, now=_now())
    from afteraction.render import attribution as r

    emit(result, fmt, out, {"html": r.render_clusters_html, "md": r.render_clusters_markdown})


@click.group(name="eval")
def eval_group() -> None:
    """Reproducible evaluations of afteraction's analyses on the loaded ATT&CK data."""


@eval_group.command(name="attribution")
@click.option("--protocol", type=click.Choice(["P1", "P2", "P3", "all"], case_sensitive=False), default="all",
              show_default=True, help="Which protocol to run (see docs/attribution.md).")
@click.option("--format", "fmt", type=click.Choice(["md", "json", "html"]), default="md", show_default=True,
              help="Output format (html includes the reliability diagram as SVG).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@click.option("--diagrams", type=click.Path(file_okay=False), default=None,
              help="Also write each reliability diagram as a standalone SVG into this directory.")
@click.pass_obj
def eval_attribution(app: Any, protocol: str, fmt: str, out: str | None, diagrams: str | None) -> None:
    """Evaluate attribution: P1 leave-one-campaign-out, P2 partial observation, P3 software.

    Reports expected top-1/3/5 under random tie-breaking and MRR with Wilson 95 % intervals, for
    afteraction's scorer and the Jaccard and IDF-cosine baselines on the same queries, the calibration
    (expected calibration error and reliability bins) and the targets.
    """
    from afteraction.analyze.attribution.evaluate import PROTOCOLS
    from afteraction.analyze.attribution.suite import run_evaluation
    from afteraction.render import attribution_eval as r

    kb = app.kb()
    chosen = PROTOCOLS if protocol.lower() == "all" else (protocol.upper(),)
    report = run_evaluation(kb, chosen, progress=lambda msg: click.echo(f"running {msg}", err=True))
    emit(report, fmt, out, {"html": r.render_eval_html, "md": r.render_eval_markdown})
    if diagrams:
        from pathlib import Path

        from afteraction.render.output import write_output

        Path(diagrams).mkdir(parents=True, exist_ok=True)
        for c in report.calibration:
            path = Path(diagrams) / f"reliability-{r.slug(c.setting)}.svg"
            write_output(path, r.reliability_svg(c))
            click.echo(f"wrote {path}", err=True)


__all__ = ["attribute", "clusters", "eval_attribution", "eval_group"]
