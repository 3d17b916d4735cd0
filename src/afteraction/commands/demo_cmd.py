"""``afteraction demo``: sample data -> fresh store -> report site, in one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from afteraction.render.terminal import safe


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="afteraction-demo", show_default=True,
              help="Directory for the sample data, the demo store and the site.")
@click.option("--incidents", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of sample incidents.")
@click.option("--weeks", type=click.IntRange(min=1), default=26, show_default=True, help="Weeks they span.")
@click.option("--seed", type=click.IntRange(min=0), default=7, show_default=True, help="Random seed.")
@click.pass_obj
def demo(app: Any, out_dir: str, incidents: int, weeks: int, seed: int) -> None:
    """Generate a seeded sample, ingest it into a fresh store and build the report site.

    Everything goes under --out (sample/, demo.duckdb, site/); the global --db store is not touched.
    Open site/index.html in a browser when it is done.
    """
    from afteraction.report import build_site
    from afteraction.store import Store
    from afteraction.store.loader import ingest_paths
    from afteraction.synth import Options, generate

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    kb = app.kb()
    started = time.perf_counter()

    def step(text: str) -> None:
        click.echo(f"[{time.perf_counter() - started:5.1f} s] {text}", err=True)

    step(f"generating {incidents} sample incidents over {weeks} weeks (seed {seed}, ATT&CK {safe(kb.version)})")
    sample = generate(Options(incidents=incidents, weeks=weeks, seed=seed), root / "sample", kb, force=True)
    db_path = root / "demo.duckdb"
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    step(f"ingesting {sample.alerts:,} alerts into a fresh store ({safe(db_path)})")
    with Store(db_path) as store:
        summary = ingest_paths(store, [str(sample.export_dir)], kb)
        stored = summary.counts.incidents.get("new", 0)
        rejected = f", {summary.rejected} rejected record(s)" if summary.rejected else ""
        step(f"stored {stored:,} incidents{rejected}")
        found = _record_findings(store, kb, sample.truth_path)
        step(f"recorded {found} technique(s) analysts found without an alert (as 'afteraction annotate' "
             "would); building the site")
        index = build_site(store, kb, root / "site")
    step("done")
    click.echo(f"Open {safe(index.resolve())} in a browser.")
    click.echo(f"Planted truth: {safe(sample.truth_path)}; store: {safe(db_path)} "
               f"(use --db {safe(db_path)} with the other commands)")


def _record_findings(store: Any, kb: Any, truth_path: Path) -> int:
    """Annotate what the sample's analysts found in investigation but no alert caught (their comments
    name these techniques; the demo records them as a team would with ``afteraction annotate``)."""
    from afteraction.store.annotations import annotate
    from afteraction.synth import load_truth

    count = 0
    for incident in load_truth(truth_path).incidents:
        missed = sorted({s.technique for s in incident.steps if s.found_in_investigation and not s.detected})
        if missed:
            annotate(store, incident.id, missed, kb, note="found during the investigation", author="demo")
            count += len(missed)
    return count
