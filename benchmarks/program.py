"""Benchmark: trends, skills and process over a large generated store, against DuckDB's plain aggregations.

    python benchmarks/program.py --store /tmp/prog1m2/store.duckdb [--runs 3]

Prepare the store once (about 9 minutes on two cores; 520,000 incidents with 1,013,407 alerts; the data is
the sample generator's, so detectors, classifications, comments and times are realistic):

    afteraction generate --incidents 520000 --weeks 52 --seed 5 --format ndjson --workers 2 --out /tmp/prog1m2/gen
    AFTERACTION_DB=/tmp/prog1m2/store.duckdb afteraction ingest /tmp/prog1m2/gen/export

Times, in this process, with the compiled-query cache warm (one untimed warm-up run first):

* ``afteraction``: the shared period tables, then ``trends`` + ``skills`` + ``process`` over the whole
  stored period (weekly buckets), each returning its typed result, as the site runs them;
* ``baseline``: DuckDB's own aggregations of the same store that the three need at the least — alerts
  per week and technique, per detector and classification, per severity and classification, and the
  incidents' open/resolved times — with no statistics, no comments and no result types.

Target (issue 6): all three analyses on 1M alerts in at most 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

BASELINE = (
    "SELECT date_trunc('week', a.created) AS w, t.technique_id, count(*) FROM alerts a "
    "JOIN alert_techniques t ON t.source = a.source AND t.alert_id = a.id GROUP BY ALL",
    "SELECT coalesce(detection_source, service_source), detector_id, classification, count(*) FROM alerts GROUP BY ALL",
    "SELECT severity, classification, count(*) FROM alerts GROUP BY ALL",
    "SELECT severity, status, count(*), median(resolved - created) FROM incidents GROUP BY ALL",
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=Path("/tmp/prog1m2/store.duckdb"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not args.store.exists():
        print(f"no store at {args.store}; see the docstring for how to prepare it", file=sys.stderr)
        return 2
    from afteraction.analyze.program.facts import materialise
    from afteraction.analyze.program.period import resolve_period
    from afteraction.analyze.program.process import process
    from afteraction.analyze.program.skills import skills
    from afteraction.analyze.program.trends import trends
    from afteraction.attack import load_kb
    from afteraction.store import Store

    kb = load_kb()
    with Store(args.store, read_only=True) as store:
        alerts, incidents = store.con.execute(
            "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM incidents)").fetchone()

        def ours() -> dict[str, float]:
            store.con.execute("DROP TABLE IF EXISTS aa_program_period")  # nothing kept between runs
            out: dict[str, float] = {}
            t0 = time.perf_counter()
            period = resolve_period(store, None, None, "week")
            materialise(store, period)
            out["period tables"] = time.perf_counter() - t0
            for name, fn in (("trends", trends), ("skills", skills), ("process", process)):
                t = time.perf_counter()
                fn(store, kb, period)
                out[name] = time.perf_counter() - t
            out["total"] = time.perf_counter() - t0
            return out

        def baseline() -> float:
            t0 = time.perf_counter()
            for sql in BASELINE:
                store.con.execute(sql).fetchall()
            return time.perf_counter() - t0

        ours()
        baseline()
        best = min((ours() for _ in range(args.runs)), key=lambda r: r["total"])
        base = min(baseline() for _ in range(args.runs))
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu(s), Python {sys.version.split()[0]}")
    print(f"store: {alerts:,} alerts, {incidents:,} incidents")
    print(f"afteraction, best of {args.runs}: total {best['total']:.2f} s (shared period tables "
          f"{best['period tables']:.2f} s, trends {best['trends']:.2f} s, skills {best['skills']:.2f} s, "
          f"process {best['process']:.2f} s)")
    print(f"baseline DuckDB aggregations, best of {args.runs}: {base:.2f} s; ratio {best['total'] / base:.1f}x")
    print(f"target 10 s: {'met' if best['total'] <= 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
