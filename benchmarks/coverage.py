"""Coverage over a large store: ``afteraction coverage`` against DuckDB's plain aggregation, same store, same run.

Prepares (or reuses, with ``--reuse``) in ``--workdir``:

* a store of N alerts (default 1,000,000) from ``benchmarks/ingest.py``'s Graph NDJSON generator: an
  ingest store already in the folder (``bench.duckdb``, or ``--from-store PATH``) is copied, else the
  NDJSON file (``graph-N.ndjson``, reused when present) is generated and ingested;
* a few hundred ``undetected`` annotations on its incidents (techniques with and without rules), so
  the missed / no-rule path runs;
* an inventory of R rule files (default 5,000) from ``benchmarks/rules_load.py``'s generator.

Then times, each in a fresh child process, a first run with an empty ``AFTERACTION_CACHE_DIR`` (cold:
ATT&CK compiled from the bundle, queries compiled by Ibis) and the best of ``--runs`` runs with that
cache warm:

* ``afteraction coverage --rules DIR --format json --out /dev/null``, end to end (process wall time);
* the library call alone: ``load_rules`` + ``coverage(store, kb, rules=...)`` (timed inside the child;
  loading the ATT&CK knowledge base is shown apart);
* the baseline: DuckDB's own aggregation of the same store (distinct alerts per technique, alerts
  joined with their techniques) plus reading the bytes of every rule file.

Target (issue 4): coverage over 1M stored alerts and a 5,000-rule inventory takes at most 5 s.

    python benchmarks/coverage.py --workdir /tmp/benchcov --reuse
    python benchmarks/coverage.py --workdir /tmp/benchcov --reuse --profile   # plus a cProfile of the library call
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import _cpu_model
from ingest import generate as generate_alerts
from rules_load import generate as generate_rules

TARGET_S = 5.0
# Techniques analysts "found" without an alert: the first ones have rules in the generated inventory
# (-> missed), the others have none and never fire in the generated alerts (-> no rule).
ANNOTATED = ["T1558.003", "T1021.001", "T1055.012", "T1190", "T1133", "T1098", "T1136.001", "T1562.001"]

LIBRARY = r"""
import json, sys, time
t0 = time.perf_counter()
from afteraction.analyze.coverage import coverage
from afteraction.attack import load_kb
from afteraction.rules import load_rules
from afteraction.store.db import Store
t1 = time.perf_counter()
kb = load_kb()
t2 = time.perf_counter()
inventory = load_rules([sys.argv[2]], kb)
t3 = time.perf_counter()
with Store(sys.argv[1], read_only=True) as store:
    result = coverage(store, kb, rules=inventory)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "kb": t2 - t1, "rules": t3 - t2, "coverage": t4 - t3,
                  "n_rules": len(inventory.rules), "summary": {"alerts": result.summary.alerts,
                  "by_category": result.summary.by_category, "observed": result.summary.observed}}))
"""

BASELINE = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
import duckdb
t1 = time.perf_counter()
con = duckdb.connect(sys.argv[1], read_only=True)
rows = con.execute(
    "SELECT t.technique_id, count(DISTINCT t.alert_id) FROM alert_techniques t JOIN alerts a "
    "ON a.source = t.source AND a.id = t.alert_id WHERE t.technique_id IS NOT NULL GROUP BY 1 ORDER BY 1"
).fetchall()
t2 = time.perf_counter()
size = sum(len(p.read_bytes()) for p in sorted(Path(sys.argv[2]).rglob("*")) if p.is_file())
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "query": t2 - t1, "read": t3 - t2, "techniques": len(rows),
                  "alerts": sum(r[1] for r in rows), "bytes": size}))
"""

PROFILE = r"""
import cProfile, pstats, sys
from afteraction.analyze.coverage import coverage
from afteraction.attack import load_kb
from afteraction.rules import load_rules
from afteraction.store.db import Store
prof = cProfile.Profile()
prof.enable()
kb = load_kb()
inventory = load_rules([sys.argv[2]], kb)
with Store(sys.argv[1], read_only=True) as store:
    coverage(store, kb, rules=inventory)
prof.disable()
stats = pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative")
stats.print_stats(35)
stats.sort_stats("tottime").print_stats(20)
"""


def _child(args: list[str], cache: Path) -> tuple[float, str]:
    """Run a fresh process with ``AFTERACTION_CACHE_DIR=cache``; (wall seconds, its stdout)."""
    env = {**os.environ, "AFTERACTION_CACHE_DIR": str(cache)}
    env.pop("AFTERACTION_DB", None)
    start = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, out.stdout


def _last_json(out: str) -> dict:  # type: ignore[type-arg]
    """The JSON object a timing script prints last (anything the library prints before it is ignored)."""
    return json.loads(out.strip().splitlines()[-1])


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("afteraction")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "afteraction.cli"]


def prepare_store(work: Path, alerts: int, reuse: bool, from_store: Path | None, annotations: int) -> Path:
    """The store to measure: N alerts plus ``annotations`` undetected annotations (reused when present)."""
    store = work / "coverage.duckdb"
    if reuse and store.exists():
        return store
    store.unlink(missing_ok=True)
    source = from_store or work / "bench.duckdb"
    t = time.perf_counter()
    if source.exists():
        shutil.copyfile(source, store)
        print(f"copied the ingest store {source} in {time.perf_counter() - t:.1f} s", flush=True)
    else:
        data = work / f"graph-{alerts}.ndjson"
        if not (reuse and data.exists()):
            generate_alerts(data, alerts)
            print(f"generated {data} in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        env = {**os.environ, "AFTERACTION_CACHE_DIR": str(work / "cache-prepare")}
        subprocess.run([*_cli(), "--db", str(store), "ingest", str(data), "--summary", "json"], check=True,
                       env=env, stdout=subprocess.DEVNULL)
        print(f"ingested {alerts:,} alerts in {time.perf_counter() - t:.1f} s", flush=True)
    _annotate(store, annotations)
    return store


def _annotate(path: Path, count: int) -> None:
    """Annotate ``count`` incidents spread over the store with one or two techniques that raised no alert."""
    from afteraction.attack import load_kb
    from afteraction.store.annotations import annotate
    from afteraction.store.db import Store

    kb = load_kb("bundled")
    t = time.perf_counter()
    with Store(path) as store:  # writable: migrates an older ingest store first
        ids = [r[0] for r in store.con.execute(
            "SELECT id FROM incidents WHERE source = 'defender' ORDER BY created, id").fetchall()]
        step = max(1, len(ids) // max(count, 1))
        done = 0
        for k, incident in enumerate(ids[::step][:count]):
            techniques = [ANNOTATED[k % len(ANNOTATED)]]
            if k % 3 == 0:
                techniques.append(ANNOTATED[(k + 3) % len(ANNOTATED)])
            annotate(store, incident, techniques, kb, note="found during the investigation", author="bench")
            done += 1
        total = store.con.execute("SELECT count(*) FROM annotations").fetchone()
    print(f"annotated {done} incidents ({total[0] if total else 0} annotations) "
          f"in {time.perf_counter() - t:.1f} s", flush=True)


def prepare_rules(work: Path, count: int, reuse: bool) -> Path:
    root = work / f"rules-{count}"
    if reuse and root.exists() and sum(1 for p in root.rglob("*") if p.is_file()) == count:
        return root
    shutil.rmtree(root, ignore_errors=True)
    t = time.perf_counter()
    generate_rules(root, count)
    print(f"generated {count:,} rule files in {time.perf_counter() - t:.1f} s", flush=True)
    return root


def _cold_cache(work: Path, name: str) -> Path:
    cache = work / name
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    return cache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=5000)
    parser.add_argument("--annotations", type=int, default=300, help="incidents to annotate as undetected")
    parser.add_argument("--runs", type=int, default=3, help="warm runs of each kind (best is reported)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to keep the store and rules")
    parser.add_argument("--reuse", action="store_true", help="reuse the store and rules prepared earlier")
    parser.add_argument("--from-store", type=Path, default=None,
                        help="copy this store made by benchmarks/ingest.py instead of ingesting")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the library call")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="afteraction-cov-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    store = prepare_store(work, args.alerts, args.reuse, args.from_store, args.annotations)
    rules = prepare_rules(work, args.rules, args.reuse)

    cli = [*_cli(), "--db", str(store), "coverage", "--rules", str(rules), "--format", "json", "--out", os.devnull]
    lib = [sys.executable, "-c", LIBRARY, str(store), str(rules)]
    base = [sys.executable, "-c", BASELINE, str(store), str(rules)]

    _child(base, work / "cache-base")  # untimed: the store's and the rules' pages into the OS file cache
    # cold: empty cache dir each; warm: best of --runs with the cache the cold run filled, interleaved.
    cli_cold, _ = _child(cli, _cold_cache(work, "cache-cli"))
    lib_cold_wall, out = _child(lib, _cold_cache(work, "cache-lib"))
    lib_cold = _last_json(out)
    cli_warm = lib_warm_wall = base_wall = float("inf")
    lib_warm: dict[str, float] = {}
    base_in: dict[str, float] = {}
    for _ in range(args.runs):
        cli_warm = min(cli_warm, _child(cli, work / "cache-cli")[0])
        wall, out = _child(lib, work / "cache-lib")
        if wall < lib_warm_wall:
            lib_warm_wall, lib_warm = wall, _last_json(out)
        wall, out = _child(base, work / "cache-base")
        if wall < base_wall:
            base_wall, base_in = wall, _last_json(out)

    base_work = base_in["query"] + base_in["read"]
    print(f"\nmachine: {os.cpu_count()} cores, {_cpu_model()}, Python {platform.python_version()}")
    print(f"store: {store} ({store.stat().st_size / 1e6:,.0f} MB), {lib_warm['summary']['alerts']:,} "
          f"technique-alert pairs counted; rules: {lib_warm['n_rules']:,} from {args.rules:,} files "
          f"({base_in['bytes'] / 1e6:.1f} MB)")
    print(f"categories: {lib_warm['summary']['by_category']}")
    print(f"baseline: {base_in['techniques']} techniques, {base_in['alerts']:,} technique-alert pairs\n")

    def lib_work(d: dict[str, float]) -> float:
        return d["rules"] + d["coverage"]

    rows = [
        ("`afteraction coverage ... --format json` (process), cold cache", cli_cold, base_wall),
        (f"`afteraction coverage ... --format json` (process), warm, best of {args.runs}", cli_warm, base_wall),
        ("library `load_rules` + `coverage()`, cold cache", lib_work(lib_cold), base_work),
        (f"library `load_rules` + `coverage()`, warm, best of {args.runs}", lib_work(lib_warm), base_work),
    ]
    print("| run | seconds | baseline s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, secs, ref in rows:
        print(f"| {label} | {secs:.2f} | {ref:.2f} | {secs / ref:.1f}x |")
    print(f"| baseline: DuckDB aggregation + read rule bytes (process), best of {args.runs} | {base_wall:.2f} | | |")
    print(f"| baseline: the same, query {base_in['query']:.2f} s + read {base_in['read']:.2f} s "
          f"(inside the process) | {base_work:.2f} | | |")
    print("\nlibrary parts (s): " + "; ".join(
        f"{name}: import {d['import']:.2f}, load_kb {d['kb']:.2f}, load_rules {d['rules']:.2f}, "
        f"coverage {d['coverage']:.2f} (process {wall:.2f})"
        for name, d, wall in (("cold", lib_cold, lib_cold_wall), ("warm", lib_warm, lib_warm_wall))))
    for label, secs in (("end to end, warm", cli_warm), ("end to end, cold", cli_cold),
                        ("library call, warm", lib_work(lib_warm))):
        print(f"target <= {TARGET_S:g} s ({label}): {secs:.2f} s, {'met' if secs <= TARGET_S else 'NOT met'}")

    if args.profile:
        print("\n## cProfile of load_kb + load_rules + coverage (warm cache)\n")
        print(_child([sys.executable, "-c", PROFILE, str(store), str(rules)], work / "cache-lib")[1])
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
